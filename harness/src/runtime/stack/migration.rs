//! The ZooKeeper → KRaft migration (KIP-866) as Kafka's operations guide runs it, one phase per
//! step. Each phase waits for what Kafka itself reports: the active controller's migration driver
//! logs its state changes ("... transitioning from X to Y state"), the completed metadata copy,
//! and, once finalized, "Completing the ZK migration"; `kafka-metadata-quorum describe --status`
//! shows the quorum once KRaft brokers can answer it.
//!
//! Until `finalize` ZooKeeper must serve: the controllers write every metadata change to it and
//! ZooKeeper-mode brokers need it. Every phase checks that first, and a phase whose predecessor
//! did not finish does not start.

use std::time::{Duration, Instant};

use futures::future::try_join_all;

use super::{
    create_and_start, kafka_spec, unix_s, wait_controller, zookeeper_mode, Live, NodeImage,
    NodeUpgrade, RunningStack, StartError,
};
use crate::components::kafka::{self, Mode};
use crate::progress::Progress;
use crate::scenario::{MigrationPhase, NodeId};

/// What the step reports: its detail and evidence, on success or failure.
pub type PhaseOutcome = Result<(String, Vec<String>), (String, Vec<String>)>;

/// The migration driver's line once the quorum can migrate (all controllers ready).
const QUORUM_READY: &str = "to WAIT_FOR_BROKERS state";
/// Once every ZooKeeper broker registered, the metadata was copied and dual write began.
const DUAL_WRITE: &str = "to DUAL_WRITE state";
const METADATA_COPIED: &str = "Completed migration of metadata from ZooKeeper to KRaft";
/// A controller started without the migration flag became active and finalized the migration.
const COMPLETED: &str = "Completing the ZK migration";
/// The driver could not write to ZooKeeper.
const ZOOKEEPER_ERROR: &str = "Encountered ZooKeeper error";
/// What a node's ZooKeeper client logs (a lost connection among it).
const ZOOKEEPER_CLIENT: &str = "(org.apache.zookeeper.ClientCnxn)";

impl RunningStack {
    /// The cluster id a KRaft node is formatted with: ZooKeeper's, once a migration has begun.
    pub(super) fn kraft_cluster_id(&self) -> String {
        self.live
            .lock()
            .ok()
            .and_then(|l| l.cluster_id.clone())
            .unwrap_or_else(|| self.cluster_id.clone())
    }

    fn live<T>(&self, f: impl FnOnce(&mut Live) -> T) -> Option<T> {
        self.live.lock().ok().map(|mut l| f(&mut l))
    }

    /// Runs one phase; `controllers` is the quorum size phase `controllers` provisions.
    pub async fn migrate(
        &self,
        phase: MigrationPhase,
        controllers: u8,
        timeout: Duration,
        progress: &Progress,
    ) -> PhaseOutcome {
        let before = MigrationPhase::ALL
            .into_iter()
            .take_while(|p| *p < phase)
            .last();
        let finished = self.live(|l| l.finished).flatten();
        if finished != before {
            return Err((
                format!(
                    "phase `{}` needs phase `{}` to have finished first{}",
                    phase.name(),
                    before.map_or("", MigrationPhase::name),
                    finished.map_or_else(
                        || "; no phase has".to_owned(),
                        |f| format!("; the last one that did is `{}`", f.name())
                    )
                ),
                vec![],
            ));
        }
        // A ZooKeeper gone too early is the mistake this rehearsal is there to catch.
        if let Err(e) = self.zookeeper_serving().await {
            // What Kafka saw of it: each node's last word from its ZooKeeper client.
            let mut evidence = vec![e.clone()];
            let mut nodes = self.current().kafka.voters();
            nodes.extend(self.kafka_ports.keys().map(|&n| NodeId::Kafka(n)));
            for node in nodes {
                evidence.extend(self.lines_of(&[node], ZOOKEEPER_CLIENT, 0, 1).await);
            }
            evidence.extend(self.controller_lines(ZOOKEEPER_ERROR, 0, 3).await);
            return Err((
                format!(
                    "ZooKeeper is not serving ({e}), but the migration is not finalized: until `finalize` the controllers write every metadata change to ZooKeeper{}. Stop ZooKeeper only after `finalize`.",
                    if phase <= MigrationPhase::KraftBrokers {
                        " and the brokers still in migration mode are ZooKeeper brokers"
                    } else {
                        ""
                    }
                ),
                evidence,
            ));
        }
        let since = unix_s();
        let t0 = Instant::now();
        let result = match phase {
            MigrationPhase::Controllers => {
                self.start_controllers(controllers, timeout, since, progress)
                    .await
            }
            MigrationPhase::Brokers => {
                self.roll_brokers(Mode::ZooKeeperMigrating, timeout, since, progress)
                    .await
            }
            MigrationPhase::KraftBrokers => {
                self.roll_brokers(Mode::Kraft, timeout, since, progress)
                    .await
            }
            MigrationPhase::Finalize => self.finalize(timeout, since, progress).await,
        };
        let (detail, mut evidence) = result?;
        // Errors the driver logged and retried past are evidence, not a failure.
        evidence.extend(self.controller_lines(ZOOKEEPER_ERROR, since, 3).await);
        self.live(|l| l.finished = Some(phase));
        Ok((
            format!("{detail} ({:.1}s)", t0.elapsed().as_secs_f64()),
            evidence,
        ))
    }

    /// Phase 1: the controllers, formatted with ZooKeeper's cluster id, started together; done
    /// when the active one reports the quorum ready for the migration.
    async fn start_controllers(
        &self,
        n: u8,
        timeout: Duration,
        since: i32,
        progress: &Progress,
    ) -> PhaseOutcome {
        let fail = |e: StartError| (e.to_string(), vec![]);
        let cluster_id = self.zookeeper_cluster_id().await.map_err(|e| (e, vec![]))?;
        progress.say(format!(
            "  ZooKeeper's cluster id is {cluster_id}; starting {n} controller(s) in migration mode"
        ));
        let broker = self.node_image(NodeId::Kafka(1));
        self.live(|l| {
            l.controllers = n;
            l.cluster_id = Some(cluster_id.clone());
        });
        let stack = self.current();
        let controllers: Vec<NodeId> = (1..=n).map(NodeId::Controller).collect();
        let on = NodeImage {
            image: broker.image.clone(),
            version: broker.version,
            pin_protocol: None,
            mode: Mode::KraftMigrating,
        };
        if let Ok(mut nodes) = self.nodes.lock() {
            for &c in &controllers {
                nodes.insert(c, on.clone());
            }
        }
        try_join_all(controllers.iter().map(|&c| {
            let (spec, _) = kafka_spec(&self.run, &stack, c, 0, &on, &self.creds, &cluster_id);
            async move { create_and_start(&self.run, &spec).await }
        }))
        .await
        .map_err(|e| fail(e.into()))?;
        try_join_all(
            controllers
                .iter()
                .map(|&c| wait_controller(&self.run, c, since, timeout)),
        )
        .await
        .map_err(fail)?;
        let line = self
            .wait_controller_line(QUORUM_READY, since, timeout)
            .await?;
        Ok((
            format!(
                "{n} controller(s) up on {}, the quorum ready to migrate",
                broker.version
            ),
            vec![line],
        ))
    }

    /// Phases 2 and 3: every broker rolled into `mode`, one at a time, each back in sync before
    /// the next stops. Phase 2 is done when the controllers copied the metadata and write to both.
    async fn roll_brokers(
        &self,
        mode: Mode,
        timeout: Duration,
        since: i32,
        progress: &Progress,
    ) -> PhaseOutcome {
        let brokers: Vec<NodeId> = self.kafka_ports.keys().map(|&n| NodeId::Kafka(n)).collect();
        let count = brokers.len();
        let mut evidence = self.roll_into(brokers, mode, timeout, progress).await?;
        if mode == Mode::ZooKeeperMigrating {
            self.then_line(&mut evidence, DUAL_WRITE, since, timeout)
                .await?;
            let copied = self.controller_lines(METADATA_COPIED, since, 1).await;
            let at = evidence.len() - 1;
            evidence.splice(at..at, copied);
            return Ok((
                format!(
                    "{count} broker(s) in migration mode; ZooKeeper's metadata copied, the controllers dual-write"
                ),
                evidence,
            ));
        }
        evidence.extend(self.quorum_status().await);
        Ok((format!("{count} broker(s) now KRaft brokers"), evidence))
    }

    /// Phase 4: every controller rolled without the migration flag (each back in the quorum and
    /// caught up), the migration completed by the active one, then ZooKeeper stopped.
    async fn finalize(&self, timeout: Duration, since: i32, progress: &Progress) -> PhaseOutcome {
        let controllers: Vec<NodeId> = self.current().kafka.voters();
        let count = controllers.len();
        let mut evidence = self
            .roll_into(controllers, Mode::Kraft, timeout, progress)
            .await?;
        self.then_line(&mut evidence, COMPLETED, since, timeout)
            .await?;
        let zookeeper: Vec<NodeId> = self
            .zookeeper_ports
            .keys()
            .map(|&n| NodeId::ZooKeeper(n))
            .collect();
        for &z in &zookeeper {
            progress.say(format!(
                "  stopping {z}: the cluster no longer needs ZooKeeper"
            ));
            self.run
                .docker
                .stop(&self.run.container(z), Duration::from_secs(30))
                .await
                .map_err(|e| (e.to_string(), evidence.clone()))?;
        }
        self.live(|l| l.zookeeper_retired = true);
        evidence.extend(self.quorum_status().await);
        Ok((
            format!(
                "{count} controller(s) out of migration mode, the migration completed, {} ZooKeeper node(s) stopped",
                zookeeper.len()
            ),
            evidence,
        ))
    }

    /// Rolls `nodes` into `mode` on the release they run, one at a time; the evidence has a line
    /// per node rolled, also when one does not come back.
    async fn roll_into(
        &self,
        nodes: Vec<NodeId>,
        mode: Mode,
        timeout: Duration,
        progress: &Progress,
    ) -> Result<Vec<String>, (String, Vec<String>)> {
        let Some(&first) = nodes.first() else {
            return Ok(Vec::new());
        };
        let version = self.node_image(first).version;
        match self
            .roll(nodes, version, Some(mode), None, timeout, progress)
            .await
        {
            Ok(done) => Ok(roll_evidence(&done)),
            Err((e, done)) => Err((e.to_string(), roll_evidence(&done))),
        }
    }

    /// Waits for a controller's line after what `evidence` holds, and adds it; on a timeout the
    /// failure carries that evidence and the controllers' log tails.
    async fn then_line(
        &self,
        evidence: &mut Vec<String>,
        needle: &str,
        since: i32,
        timeout: Duration,
    ) -> Result<(), (String, Vec<String>)> {
        match self.wait_controller_line(needle, since, timeout).await {
            Ok(line) => {
                evidence.push(line);
                Ok(())
            }
            Err((e, tails)) => {
                let mut all = std::mem::take(evidence);
                all.extend(tails);
                Err((e, all))
            }
        }
    }

    /// Every ZooKeeper node answers `srvr` in a serving mode.
    async fn zookeeper_serving(&self) -> Result<(), String> {
        let ensemble = self.zookeeper_ports.len() > 1;
        for (&n, &port) in &self.zookeeper_ports {
            match zookeeper_mode(port).await {
                Ok(m) if (ensemble && (m == "leader" || m == "follower")) || m == "standalone" => {}
                Ok(m) => return Err(format!("zookeeper-{n} answers mode `{m}`")),
                Err(e) => return Err(format!("zookeeper-{n}: {e}")),
            }
        }
        Ok(())
    }

    /// The id the ZooKeeper brokers registered (`cluster.id` in their meta.properties, which
    /// ZooKeeper's `/cluster/id` holds too).
    async fn zookeeper_cluster_id(&self) -> Result<String, String> {
        let name = self.run.container(NodeId::Kafka(1));
        let cmd = [
            "cat".to_owned(),
            format!("{}/meta.properties", kafka::DATA_DIR),
        ];
        let (code, out) = self
            .run
            .docker
            .exec(&name, &cmd)
            .await
            .map_err(|e| e.to_string())?;
        out.lines()
            .find_map(|l| l.strip_prefix("cluster.id="))
            .map(|id| id.trim().to_owned())
            .filter(|_| code == 0)
            .ok_or_else(|| {
                format!(
                    "kafka-1's meta.properties names no cluster.id: {}",
                    out.trim()
                )
            })
    }

    /// Waits until a controller logs a line containing `needle` after `since`; returns it.
    async fn wait_controller_line(
        &self,
        needle: &str,
        since: i32,
        timeout: Duration,
    ) -> Result<String, (String, Vec<String>)> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.controller_lines(needle, since, 1).await.pop() {
                return Ok(line);
            }
            if Instant::now() >= deadline {
                let mut evidence = Vec::new();
                for c in self.current().kafka.voters() {
                    let tail = self.run.docker.log_tail(&self.run.container(c), 8).await;
                    evidence.push(format!(
                        "--- last lines of {c}'s log ---\n{}",
                        tail.trim_end()
                    ));
                }
                return Err((
                    format!(
                        "no controller logged `{needle}` within {}s",
                        timeout.as_secs()
                    ),
                    evidence,
                ));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The last `max` lines containing `needle` the controllers logged since `since`.
    async fn controller_lines(&self, needle: &str, since: i32, max: usize) -> Vec<String> {
        self.lines_of(&self.current().kafka.voters(), needle, since, max)
            .await
    }

    /// The last `max` lines containing `needle` that `nodes` logged since `since`, each prefixed
    /// with its node.
    async fn lines_of(
        &self,
        nodes: &[NodeId],
        needle: &str,
        since: i32,
        max: usize,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for node in nodes {
            let log = self
                .run
                .docker
                .log_since(&self.run.container(*node), since)
                .await;
            out.extend(
                log.lines()
                    .filter(|l| l.contains(needle))
                    .map(|l| format!("{node}: {}", l.trim())),
            );
        }
        let skip = out.len().saturating_sub(max);
        out.split_off(skip)
    }

    /// `kafka-metadata-quorum describe --status` through a KRaft broker, as evidence.
    async fn quorum_status(&self) -> Vec<String> {
        match self
            .admin_tool("kafka-metadata-quorum", &["describe", "--status"], None)
            .await
        {
            Ok(out) => vec![format!(
                "kafka-metadata-quorum describe --status: {}",
                out.split_whitespace().collect::<Vec<_>>().join(" ")
            )],
            Err(e) => vec![format!(
                "kafka-metadata-quorum describe --status failed: {e}"
            )],
        }
    }
}

fn roll_evidence(done: &[NodeUpgrade]) -> Vec<String> {
    done.iter().map(NodeUpgrade::evidence).collect()
}
