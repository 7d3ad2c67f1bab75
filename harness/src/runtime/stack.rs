//! Bringing a stack up along its dependency graph, starting what can start in parallel, and calling
//! a node ready only once it answers a real request.
//! - ZooKeeper mode: ZooKeeper, then the SCRAM/ACL bootstrap, then the brokers.
//! - KRaft mode: controllers and brokers together (each formats its storage with the SCRAM
//!   credentials first), then the ACLs through a broker.
//! - A ZooKeeper stack can move to KRaft while it runs (`migration.rs`): nodes are then rendered
//!   in the mode the migration has put them in.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::docker::{
    ContainerSpec, Docker, DockerError, Removed, LABEL_NODE, LABEL_PID, LABEL_RUN,
};
use super::images::ImageError;
use super::logs::{self, LogStore};
use crate::client::{self, Auth};
use crate::components::kafka::{self, Overridden};
use crate::components::{registry, zookeeper};
use crate::progress::Progress;
use crate::scenario::{
    Component, Controllers, Flavor, ImageRef, KafkaMode, MigrationPhase, NodeId, Stack, Topic,
    Version, ADMIN_USER,
};
use crate::secrets::Credentials;

/// The uid the harness's own images run as; files placed into them belong to it.
const HARNESS_IMAGE_UID: u64 = 1000;
const LOG_TAIL_LINES: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the schema registry did not accept {what}: {error}")]
    Registry { what: String, error: String },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("{node} did not become ready within {secs}s: {reason}\n--- last lines of {node}'s log ---\n{log}")]
    NotReady {
        node: String,
        secs: u64,
        reason: String,
        log: String,
    },
    #[error(
        "{node} exited with code {code} while starting\n--- last lines of {node}'s log ---\n{log}"
    )]
    Exited {
        node: String,
        code: i64,
        log: String,
    },
    #[error("writing SCRAM credentials and ACLs into ZooKeeper failed (exit code {code})\n--- last lines of its log ---\n{log}")]
    Bootstrap { code: i64, log: String },
    #[error("{what} failed (exit code {code}): {output}")]
    AdminTool {
        what: String,
        code: i64,
        output: String,
    },
    #[error("creating topics: {0}")]
    Topics(String),
    #[error("PostgreSQL: {what} failed: {error}")]
    Postgres { what: String, error: String },
    #[error("Kafka Connect: {what}: {error}")]
    Connect { what: String, error: String },
    #[error("ClickHouse: {what}: {error}")]
    ClickHouse { what: String, error: String },
}

/// One run's identity on the Docker engine.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub docker: Docker,
    /// Logs of containers removed during the run, and of all of them at its end.
    pub logs: LogStore,
    /// Prepended to the node names of a blue/green stack's second cluster (`green-`).
    pub prefix: &'static str,
}

impl Run {
    pub fn new(docker: Docker) -> Self {
        let id = rand::distr::SampleString::sample_string(
            &rand::distr::Alphanumeric,
            &mut rand::rng(),
            8,
        )
        .to_ascii_lowercase();
        Self {
            id,
            docker,
            logs: LogStore::default(),
            prefix: "",
        }
    }

    pub fn network(&self) -> String {
        format!("kh-{}", self.id)
    }

    pub fn container(&self, node: NodeId) -> String {
        format!("kh-{}-{}{node}", self.id, self.prefix)
    }

    /// The same run, for the nodes of a blue/green stack's other cluster (`prefix` is prepended to
    /// their container and host names; they share the run's network, labels and logs).
    pub fn for_cluster(&self, prefix: &'static str) -> Self {
        Self {
            prefix,
            ..self.clone()
        }
    }

    pub fn labels(&self, node: Option<&str>) -> HashMap<String, String> {
        let mut l = HashMap::from([
            (LABEL_RUN.to_owned(), self.id.clone()),
            (LABEL_PID.to_owned(), std::process::id().to_string()),
        ]);
        if let Some(n) = node {
            l.insert(LABEL_NODE.to_owned(), n.to_owned());
        }
        l
    }

    /// Removes everything labelled with this run's id. A request the engine had already accepted
    /// when the run was interrupted can still create something after the first pass, so passes
    /// repeat until one finds nothing left.
    pub async fn teardown(&self) -> Result<Removed, DockerError> {
        let mut total = Removed::default();
        let mut last_error = None;
        for _ in 0..10 {
            match self
                .docker
                .remove_runs(std::slice::from_ref(&self.id))
                .await
            {
                Ok(r) if r == Removed::default() => return Ok(total),
                Ok(r) => {
                    total.containers += r.containers;
                    total.networks += r.networks;
                    total.volumes += r.volumes;
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match last_error {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }
}

/// A stack that is up: where to reach each node, and with which credentials.
#[derive(Debug)]
pub struct RunningStack {
    pub run: Run,
    /// The stack as declared; `current()` is the stack as it runs (a migration changes it).
    pub stack: Stack,
    pub creds: Credentials,
    pub zookeeper_ports: BTreeMap<u8, u16>,
    pub kafka_ports: BTreeMap<u8, u16>,
    /// The schema registry's published API port, when the stack has one.
    pub registry_port: Option<u16>,
    /// PostgreSQL's published port, when the stack has one.
    pub postgres_port: Option<u16>,
    /// Kafka Connect's published REST port, when the stack has it.
    pub connect_port: Option<u16>,
    /// ClickHouse's published HTTP port, when the stack has it.
    pub clickhouse_port: Option<u16>,
    /// Production keys the harness replaced (the same for every broker).
    pub overridden: Vec<Overridden>,
    /// KRaft: the cluster id every node's storage was formatted with.
    pub cluster_id: String,
    /// What each node runs now; rolling upgrades and migrations change it.
    nodes: Mutex<BTreeMap<NodeId, NodeImage>>,
    /// What a ZooKeeper → KRaft migration has changed so far.
    live: Mutex<Live>,
    /// A blue/green stack's green cluster, once started (`start_green`).
    pub green: Option<Box<RunningStack>>,
}

/// The image, release, protocol pin and mode a node runs.
#[derive(Debug, Clone)]
pub struct NodeImage {
    pub image: ImageRef,
    pub version: Version,
    pub pin_protocol: Option<String>,
    pub mode: kafka::Mode,
}

impl NodeImage {
    /// What a Kafka node of `stack` runs at start.
    fn declared(stack: &Stack) -> Self {
        Self {
            image: stack.kafka.image.clone(),
            version: stack.kafka.version,
            pin_protocol: None,
            mode: kafka::Mode::declared(stack),
        }
    }
}

/// The stack's shape once a migration has begun.
#[derive(Debug, Default)]
struct Live {
    /// Controllers the migration started (0: none).
    controllers: u8,
    zookeeper_retired: bool,
    /// The ZooKeeper cluster's id, which the controllers are formatted with.
    cluster_id: Option<String>,
    /// The last phase that finished.
    finished: Option<MigrationPhase>,
    /// Blue/green: this (blue) cluster was retired.
    blue_retired: bool,
}

/// One node's part in a rolling upgrade.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct NodeUpgrade {
    pub node: String,
    pub from: String,
    pub to: String,
    /// The version the node itself reports once it is back.
    pub read_back: String,
    /// From the graceful stop until the node is back in sync.
    pub took_s: f64,
    /// The harness's own time between the previous node being back in sync and this node's stop.
    pub harness_gap_ms: u64,
    /// Where `took_s` went.
    pub phases: RollPhases,
}

/// Where one node's roll spent its time, in seconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, schemars::JsonSchema)]
pub struct RollPhases {
    /// The graceful stop (a broker's controlled shutdown) until the container exited.
    pub stop_s: f64,
    /// The new container's start until the node answered (broker registered, controller started,
    /// ZooKeeper serving, registry answering).
    pub ready_s: f64,
    /// A broker: until no partition was under-replicated.
    pub in_sync_s: f64,
    /// A KRaft voter: until it caught up with the quorum leader.
    pub caught_up_s: f64,
}

impl NodeUpgrade {
    /// The line a step's evidence gives this node.
    pub fn evidence(&self) -> String {
        format!(
            "{}: {} -> {}, reports {} after {:.1}s ({}); harness time before its stop: {} ms",
            self.node,
            self.from,
            self.to,
            self.read_back,
            self.took_s,
            self.phases,
            self.harness_gap_ms
        )
    }
}

impl std::fmt::Display for RollPhases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stop {:.1}s, ready {:.1}s", self.stop_s, self.ready_s)?;
        if self.in_sync_s > 0.0 {
            write!(f, ", in sync {:.1}s", self.in_sync_s)?;
        }
        if self.caught_up_s > 0.0 {
            write!(f, ", caught up {:.1}s", self.caught_up_s)?;
        }
        Ok(())
    }
}

impl RunningStack {
    /// The stack as it runs now: the declared one until a ZooKeeper → KRaft migration gives it
    /// dedicated controllers (and, once finalized, takes ZooKeeper away).
    pub fn current(&self) -> Stack {
        let mut s = self.stack.clone();
        if let Ok(live) = self.live.lock() {
            if live.controllers > 0 {
                s.kafka.mode = KafkaMode::Kraft(Controllers::Dedicated(live.controllers));
            }
            if live.zookeeper_retired {
                s.zookeeper = None;
            }
        }
        s
    }

    /// The Confluent Schema Registry API of the stack's registry, reached from this host.
    pub fn registry_url(&self) -> Option<String> {
        let spec = self.stack.registry.as_ref()?;
        Some(registry::api_url(spec, self.registry_port?))
    }

    pub fn bootstrap_servers(&self) -> String {
        self.kafka_ports
            .values()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn auth(&self, user: &str) -> Auth {
        Auth::Scram {
            user: user.to_owned(),
            password: self
                .creds
                .password(user)
                .cloned()
                .unwrap_or_else(crate::secrets::Secret::generate),
        }
    }

    pub fn admin(&self) -> Auth {
        self.auth(ADMIN_USER)
    }

    /// Starts a stopped or killed node on its own container (same volume, same identity) and waits
    /// until it answers again.
    pub async fn start_node(
        &self,
        node: NodeId,
        timeout: Duration,
        progress: &Progress,
    ) -> Result<(), StartError> {
        let since = unix_s();
        self.run.docker.start(&self.run.container(node)).await?;
        self.wait_ready(node, since, timeout).await?;
        progress.say(format!("{node} is back"));
        Ok(())
    }

    /// Waits until `node`, started at `since` (unix seconds), answers again.
    async fn wait_ready(
        &self,
        node: NodeId,
        since: i32,
        timeout: Duration,
    ) -> Result<(), StartError> {
        match node {
            NodeId::ZooKeeper(n) => {
                wait_zookeeper(&self.run, &self.stack, n, self.zookeeper_ports[&n], timeout).await
            }
            NodeId::Controller(_) => wait_controller(&self.run, node, since, timeout).await,
            NodeId::Registry(_) => {
                let url = self.registry_url().unwrap_or_default();
                wait_registry(&self.run, &crate::avro::RegistryClient::new(&url), timeout).await
            }
            NodeId::Postgres(_) => self.wait_postgres(timeout).await,
            NodeId::Connect(_) => self.wait_connect(timeout).await,
            NodeId::ClickHouse(_) => self.wait_clickhouse(timeout).await,
            // Others may be down on purpose (a fault scenario): this broker only has to be back.
            NodeId::Kafka(n) => {
                wait_broker(
                    &self.run,
                    node,
                    1,
                    self.kafka_ports[&n],
                    &self.admin(),
                    timeout,
                )
                .await
            }
        }
    }

    /// Replaces each node of `component` in turn by the same node on `to`: graceful stop, the same
    /// identity, ports and data volume on the new image, then wait until it is back in sync (a broker:
    /// registered and no partition under-replicated; a ZooKeeper node: serving in the quorum).
    /// Returns what was done so far with the error when a node does not come back.
    pub async fn rolling_upgrade(
        &self,
        component: Component,
        to: Version,
        pin_protocol: Option<&str>,
        node_timeout: Duration,
        progress: &Progress,
    ) -> Result<Vec<NodeUpgrade>, (StartError, Vec<NodeUpgrade>)> {
        let targets: Vec<NodeId> = self
            .current()
            .nodes()
            .into_iter()
            .filter(|n| n.component() == component)
            .collect();
        self.roll(targets, to, None, pin_protocol, node_timeout, progress)
            .await
    }

    /// Replaces each of `targets` in turn by the same node on release `to` and in `mode` (its
    /// current mode when `None`), waiting until each is back in sync before the next one stops.
    async fn roll(
        &self,
        targets: Vec<NodeId>,
        to: Version,
        mode: Option<kafka::Mode>,
        pin_protocol: Option<&str>,
        node_timeout: Duration,
        progress: &Progress,
    ) -> Result<Vec<NodeUpgrade>, (StartError, Vec<NodeUpgrade>)> {
        let mut done = Vec::new();
        let mut last_in_sync: Option<Instant> = None;
        for node in targets {
            let component = node.component();
            let before = self.node_image(node);
            let image = before.image.for_version(component, to);
            let mode = mode.unwrap_or(before.mode);
            let harness_gap_ms = last_in_sync.map_or(0, |t| {
                u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
            });
            let t0 = Instant::now();
            // A migration rolls nodes into another mode on the same release: say which.
            let (from_label, to_label) = if mode == before.mode {
                (before.version.to_string(), to.to_string())
            } else {
                (
                    format!("{} ({})", before.version, before.mode.describe()),
                    format!("{to} ({})", mode.describe()),
                )
            };
            progress.say(format!(
                "  {node}: {from_label} -> {to_label}: {}",
                // Only a broker hands its partitions over before it stops.
                if component == Component::Kafka {
                    "controlled shutdown"
                } else {
                    "graceful stop"
                }
            ));
            let after = NodeImage {
                image,
                version: to,
                pin_protocol: pin_protocol.map(str::to_owned),
                mode,
            };
            let phases = match self.replace_node(node, &after, node_timeout).await {
                Ok(phases) => phases,
                Err(e) => return Err((e, done)),
            };
            let read_back = self
                .read_version(node)
                .await
                .unwrap_or_else(|e| format!("unknown ({e})"));
            last_in_sync = Some(Instant::now());
            if let Ok(mut nodes) = self.nodes.lock() {
                nodes.insert(node, after);
            }
            let took_s = t0.elapsed().as_secs_f64();
            progress.say(format!(
                "  {node}: back in sync on {read_back} after {took_s:.1}s ({phases})"
            ));
            done.push(NodeUpgrade {
                node: node.to_string(),
                from: from_label,
                to: to_label,
                read_back,
                took_s,
                harness_gap_ms,
                phases,
            });
        }
        Ok(done)
    }

    fn node_image(&self, node: NodeId) -> NodeImage {
        self.nodes
            .lock()
            .ok()
            .and_then(|n| n.get(&node).cloned())
            .unwrap_or_else(|| NodeImage::declared(&self.stack))
    }

    async fn replace_node(
        &self,
        node: NodeId,
        on: &NodeImage,
        timeout: Duration,
    ) -> Result<RollPhases, StartError> {
        let image = &on.image;
        let mut phases = RollPhases::default();
        let mut lap = Instant::now();
        let mut took = move || {
            let now = Instant::now();
            (now - std::mem::replace(&mut lap, now)).as_secs_f64()
        };
        let name = self.run.container(node);
        self.run.docker.stop(&name, Duration::from_secs(60)).await?;
        phases.stop_s = took();
        logs::keep(
            &self.run.docker,
            &self.run.logs,
            &name,
            &self.stack.host(node),
        )
        .await;
        self.run.docker.remove_container(&name).await?;
        let spec = match node {
            NodeId::ZooKeeper(n) => {
                zookeeper_spec(&self.run, &self.stack, n, self.zookeeper_ports[&n], image)
            }
            NodeId::Controller(_) | NodeId::Kafka(_) => {
                kafka_spec(
                    &self.run,
                    &self.current(),
                    node,
                    self.kafka_port(node),
                    on,
                    &self.creds,
                    &self.kraft_cluster_id(),
                )
                .0
            }
            NodeId::Registry(_) => registry_spec(
                &self.run,
                &self.stack,
                self.registry_port.unwrap_or(0),
                image,
                &self.creds,
            ),
            NodeId::Postgres(_) => postgres::container(
                &self.run,
                &self.stack,
                self.postgres_port.unwrap_or(0),
                &self.creds,
            )
            .ok_or_else(|| StartError::Postgres {
                what: "re-creating postgres-1".into(),
                error: "the stack has no postgres".into(),
            })?,
            NodeId::Connect(_) => connect::container(
                &self.run,
                &self.stack,
                self.connect_port.unwrap_or(0),
                &self.creds,
            )
            .ok_or_else(|| StartError::Connect {
                what: "re-creating connect-1".into(),
                error: "the stack has no connect".into(),
            })?,
            NodeId::ClickHouse(_) => clickhouse::container(
                &self.run,
                &self.stack,
                self.clickhouse_port.unwrap_or(0),
                &self.creds,
            )
            .ok_or_else(|| StartError::ClickHouse {
                what: "re-creating clickhouse-1".into(),
                error: "the stack has no clickhouse".into(),
            })?,
        };
        let since = unix_s();
        create_and_start(&self.run, &spec).await?;
        self.wait_ready(node, since, timeout).await?;
        phases.ready_s = took();
        if matches!(node, NodeId::Kafka(_)) {
            self.wait_in_sync(node, timeout).await?;
            phases.in_sync_s = took();
        }
        if self.current().kafka.voters().contains(&node) {
            self.wait_voter_caught_up(node, timeout).await?;
            phases.caught_up_s = took();
        }
        Ok(phases)
    }

    /// The published port of a broker (0 for a controller, which publishes none).
    fn kafka_port(&self, node: NodeId) -> u16 {
        match node {
            NodeId::Kafka(n) => self.kafka_ports.get(&n).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// Runs a Kafka admin tool inside a running broker other than `avoid`, as the harness's admin
    /// (KRaft stacks, whose brokers carry the admin client settings).
    pub async fn admin_tool(
        &self,
        tool: &str,
        args: &[&str],
        avoid: Option<NodeId>,
    ) -> Result<String, StartError> {
        let mut last = None;
        for &n in self.kafka_ports.keys() {
            let node = NodeId::Kafka(n);
            if Some(node) == avoid {
                continue;
            }
            let name = self.run.container(node);
            if self.run.docker.exit_code(&name).await.ok() != Some(None) {
                continue; // not running
            }
            let flavor = self.node_image(node).image.flavor();
            let cmd = kafka::admin_tool(flavor, tool, &self.stack.host(node), args);
            let (code, output) = self.run.docker.exec(&name, &cmd).await?;
            if code == 0 {
                return Ok(output);
            }
            last = Some(StartError::AdminTool {
                what: format!("{tool} {}", args.join(" ")),
                code,
                output: self.creds.redact(output.trim()),
            });
        }
        Err(last.unwrap_or_else(|| StartError::AdminTool {
            what: tool.to_owned(),
            code: -1,
            output: "no running broker to run it in".to_owned(),
        }))
    }

    /// Waits until a KRaft voter has caught up with the quorum leader's log (lag 0, as
    /// `kafka-metadata-quorum describe --replication` reports it).
    async fn wait_voter_caught_up(
        &self,
        node: NodeId,
        timeout: Duration,
    ) -> Result<(), StartError> {
        let id = node.kafka_id().to_string();
        wait_until(&self.run, node, timeout, || {
            let id = id.clone();
            async move {
                let out = self
                    .admin_tool(
                        "kafka-metadata-quorum",
                        &["describe", "--replication"],
                        Some(node),
                    )
                    .await
                    .map_err(|e| e.to_string())?;
                match quorum_lag(&out, &id) {
                    Some(0) => Ok(()),
                    Some(lag) => Err(format!(
                        "voter {id} lags the quorum leader by {lag} record(s)"
                    )),
                    None => Err(format!(
                        "voter {id} not in the quorum's replication status yet"
                    )),
                }
            }
        })
        .await
    }

    /// KRaft: finalizes `metadata.version` of release `to` ("4.1") and returns the level the cluster
    /// reports afterwards (e.g. "4.1-IV1").
    pub async fn bump_metadata_version(&self, to: &str) -> Result<String, StartError> {
        self.admin_tool("kafka-features", &["upgrade", "--metadata", to], None)
            .await?;
        self.metadata_version().await
    }

    /// The finalized `metadata.version` the cluster reports.
    pub async fn metadata_version(&self) -> Result<String, StartError> {
        let out = self
            .admin_tool("kafka-features", &["describe"], None)
            .await?;
        finalized_level(&out, "metadata.version").ok_or_else(|| StartError::AdminTool {
            what: "kafka-features describe".to_owned(),
            code: 0,
            output: format!("no finalized metadata.version in: {}", out.trim()),
        })
    }

    /// Waits until no partition of the cluster is under-replicated.
    async fn wait_in_sync(&self, node: NodeId, timeout: Duration) -> Result<(), StartError> {
        let bootstrap = self.bootstrap_servers();
        let admin = self.admin();
        wait_until(&self.run, node, timeout, || {
            let (bootstrap, admin) = (bootstrap.clone(), admin.clone());
            async move {
                match client::under_replicated(bootstrap, admin).await? {
                    0 => Ok(()),
                    n => Err(format!("{n} partition(s) still under-replicated")),
                }
            }
        })
        .await
    }

    /// The version a node reports itself: ZooKeeper's `srvr` answer, a broker's own start-up line.
    pub async fn read_version(&self, node: NodeId) -> Result<String, String> {
        match node {
            NodeId::ZooKeeper(n) => {
                let answer = zookeeper_srvr(self.zookeeper_ports[&n]).await?;
                answer
                    .lines()
                    .find_map(|l| l.strip_prefix("Zookeeper version: "))
                    .map(|v| v.split(['-', ',']).next().unwrap_or(v).trim().to_owned())
                    .ok_or_else(|| "srvr did not say".to_owned())
            }
            NodeId::Controller(_) | NodeId::Kafka(_) => {
                let log = self
                    .run
                    .docker
                    .log_tail(&self.run.container(node), 5000)
                    .await;
                log.lines()
                    .rev()
                    .find_map(|l| l.split("Kafka version: ").nth(1))
                    .map(|v| v.split_whitespace().next().unwrap_or(v).to_owned())
                    .ok_or_else(|| "the broker's log has no version line".to_owned())
            }
            NodeId::Registry(_) => {
                let url = self
                    .registry_url()
                    .ok_or_else(|| "the stack has no registry".to_owned())?;
                crate::avro::RegistryClient::new(&url)
                    .server_version()
                    .await
                    .map_err(|e| e.to_string())
            }
            NodeId::Postgres(_) => self.postgres_version().await,
            NodeId::Connect(_) => self.connect_version().await,
            NodeId::ClickHouse(_) => self.clickhouse_version().await,
        }
    }

    /// Every node's self-reported version, a blue/green stack's green nodes included (by their
    /// host names); a retired blue's nodes say so.
    pub async fn read_versions(&self) -> BTreeMap<String, String> {
        let mut out = self.own_versions().await;
        if let Some(green) = &self.green {
            out.extend(green.own_versions().await);
        }
        out
    }

    async fn own_versions(&self) -> BTreeMap<String, String> {
        let retired = self.live.lock().is_ok_and(|l| l.blue_retired);
        let mut out = BTreeMap::new();
        for node in self.current().nodes() {
            let v = if retired {
                "(retired)".to_owned()
            } else {
                self.read_version(node)
                    .await
                    .unwrap_or_else(|e| format!("unknown ({e})"))
            };
            out.insert(self.stack.host(node), v);
        }
        out
    }

    /// Graceful stop (controlled shutdown), start on the same container, wait until ready again.
    pub async fn restart(
        &self,
        node: NodeId,
        timeout: Duration,
        progress: &Progress,
    ) -> Result<(), StartError> {
        let name = self.run.container(node);
        progress.say(format!("stopping {node}"));
        self.run.docker.stop(&name, Duration::from_secs(60)).await?;
        progress.say(format!("starting {node}"));
        self.start_node(node, timeout, progress).await
    }
}

pub mod clickhouse;
mod connect;
mod migration;
mod mirror;
pub mod postgres;

/// Starts the whole stack; its images must be present (`images::ensure`). On error the caller
/// still owns the run and must tear it down.
pub async fn start(
    run: &Run,
    stack: &Stack,
    creds: Credentials,
    progress: &Progress,
) -> Result<RunningStack, StartError> {
    // A blue/green stack's second cluster joins the network its first one made.
    if run.prefix.is_empty() {
        run.docker
            .create_network(&run.network(), &run.labels(None))
            .await?;
    }

    let zk_nodes = stack.zookeeper.as_ref().map_or(0, |z| z.nodes);
    let mut ports = free_ports(
        usize::from(zk_nodes)
            + usize::from(stack.kafka.brokers)
            + usize::from(stack.registry.is_some())
            + usize::from(stack.postgres.is_some())
            + usize::from(stack.connect.is_some())
            + usize::from(stack.clickhouse.is_some()),
    )
    .into_iter();
    let zookeeper_ports: BTreeMap<u8, u16> = (1..=zk_nodes)
        .map(|n| (n, ports.next().unwrap_or(0)))
        .collect();
    let kafka_ports: BTreeMap<u8, u16> = (1..=stack.kafka.brokers)
        .map(|n| (n, ports.next().unwrap_or(0)))
        .collect();
    let registry_port = stack.registry.as_ref().map(|_| ports.next().unwrap_or(0));
    let postgres_port = stack.postgres.as_ref().map(|_| ports.next().unwrap_or(0));
    let connect_port = stack.connect.as_ref().map(|_| ports.next().unwrap_or(0));
    let clickhouse_port = stack.clickhouse.as_ref().map(|_| ports.next().unwrap_or(0));
    // PostgreSQL needs nothing of Kafka: it starts first and is waited for after the brokers.
    if let Some(spec) = postgres::container(run, stack, postgres_port.unwrap_or(0), &creds) {
        progress.say("starting PostgreSQL");
        create_and_start(run, &spec).await?;
    }
    let cluster_id = kafka::new_cluster_id();

    if let Some(zk) = &stack.zookeeper {
        start_zookeeper(run, stack, zk, &zookeeper_ports, &creds, progress).await?;
    }

    let kraft = stack.kafka.is_kraft();
    let controllers = stack.kafka.dedicated_controllers();
    // A blue/green stack's second cluster says so in every line.
    let which = if run.prefix.is_empty() { "" } else { "green " };
    progress.say(format!(
        "starting {which}Kafka {} ({} broker(s){}, SASL_PLAINTEXT/{}, ACLs on)",
        stack.kafka.version,
        stack.kafka.brokers,
        match (kraft, controllers) {
            (false, _) => ", ZooKeeper mode".to_owned(),
            (true, 0) => ", KRaft, every broker also a controller".to_owned(),
            (true, n) => format!(", KRaft, {n} dedicated controller(s)"),
        },
        kafka::SCRAM
    ));
    let kafka_nodes: Vec<NodeId> = stack
        .nodes()
        .into_iter()
        .filter(|n| matches!(n, NodeId::Controller(_) | NodeId::Kafka(_)))
        .collect();
    let port_of = |node: NodeId| match node {
        NodeId::Kafka(n) => kafka_ports[&n],
        _ => 0,
    };
    let mut overridden = Vec::new();
    let since = unix_s();
    try_join_all(kafka_nodes.iter().map(|&node| {
        let (spec, props) = kafka_spec(
            run,
            stack,
            node,
            port_of(node),
            &NodeImage::declared(stack),
            &creds,
            &cluster_id,
        );
        if node == NodeId::Kafka(1) {
            overridden.clone_from(&props.overridden);
        }
        async move { create_and_start(run, &spec).await }
    }))
    .await?;
    for o in &overridden {
        progress.say(format!(
            "  overrode {} from {:?} ({} -> {})",
            o.key, o.from, o.user_value, o.harness_value
        ));
    }
    let admin = Auth::Scram {
        user: ADMIN_USER.to_owned(),
        password: creds
            .password(ADMIN_USER)
            .cloned()
            .unwrap_or_else(crate::secrets::Secret::generate),
    };
    try_join_all(kafka_nodes.iter().map(|&node| {
        let admin = admin.clone();
        async move {
            match node {
                NodeId::Controller(_) => {
                    wait_controller(run, node, since, stack.kafka.start_timeout).await
                }
                _ => {
                    wait_broker(
                        run,
                        node,
                        usize::from(stack.kafka.brokers),
                        port_of(node),
                        &admin,
                        stack.kafka.start_timeout,
                    )
                    .await
                }
            }
        }
    }))
    .await?;
    progress.say(format!(
        "all {} {which}broker(s) registered and answering",
        stack.kafka.brokers
    ));

    let mut nodes: BTreeMap<NodeId, NodeImage> = BTreeMap::new();
    for node in stack.nodes() {
        let (image, version) = match (node, &stack.zookeeper, &stack.registry) {
            (NodeId::ZooKeeper(_), Some(zk), _) => (zk.image.clone(), zk.version),
            (NodeId::Registry(_), _, Some(r)) => (r.image.clone(), r.version),
            _ => (stack.kafka.image.clone(), stack.kafka.version),
        };
        nodes.insert(
            node,
            NodeImage {
                image,
                version,
                pin_protocol: None,
                mode: kafka::Mode::declared(stack),
            },
        );
    }
    let running = RunningStack {
        run: run.clone(),
        stack: stack.clone(),
        creds,
        zookeeper_ports,
        kafka_ports,
        registry_port,
        postgres_port,
        connect_port,
        clickhouse_port,
        overridden,
        cluster_id,
        nodes: Mutex::new(nodes),
        live: Mutex::new(Live::default()),
        green: None,
    };
    if kraft {
        let acls = kafka::acl_commands(stack);
        if !acls.is_empty() {
            progress.say(format!(
                "creating {} ACL(s) through {} (StandardAuthorizer)",
                acls.len(),
                stack.host(NodeId::Kafka(1))
            ));
        }
        for (_, args) in &acls {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            running.admin_tool("kafka-acls", &args, None).await?;
        }
    }
    if let Some(spec) = &stack.registry {
        start_registry(&running, spec, progress).await?;
    }
    running.start_postgres(progress).await?;
    running.start_connect(progress).await?;
    running.start_clickhouse(progress).await?;
    Ok(running)
}

/// The registry's topics (when it keeps its data in Kafka), then the registry itself; ready when a
/// real request answers, then the stack's global compatibility level is set through the API.
async fn start_registry(
    running: &RunningStack,
    spec: &crate::scenario::RegistrySpec,
    progress: &Progress,
) -> Result<(), StartError> {
    let topics = registry::topics(&running.stack);
    if !topics.is_empty() {
        client::create_topics(&running.bootstrap_servers(), &running.admin(), &topics)
            .await
            .map_err(StartError::Topics)?;
    }
    progress.say(format!(
        "starting schema registry {} {} (storage: {})",
        if matches!(spec.image, ImageRef::Upstream { .. }) {
            "cp-schema-registry"
        } else {
            "Apicurio Registry"
        },
        spec.version,
        match spec.storage {
            crate::scenario::RegistryStorage::Kafka => format!(
                "Kafka topic(s) {} as {}",
                topics
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                crate::scenario::REGISTRY_USER
            ),
            crate::scenario::RegistryStorage::Memory => "memory".to_owned(),
        }
    ));
    let container = registry_spec(
        &running.run,
        &running.stack,
        running.registry_port.unwrap_or(0),
        &spec.image,
        &running.creds,
    );
    create_and_start(&running.run, &container).await?;
    let url = running.registry_url().unwrap_or_default();
    let client = crate::avro::RegistryClient::new(&url);
    wait_registry(&running.run, &client, spec.start_timeout).await?;
    client
        .set_compatibility(None, &spec.compatibility)
        .await
        .map_err(|e| StartError::Registry {
            what: format!("the global compatibility level {}", spec.compatibility),
            error: e.to_string(),
        })?;
    progress.say(format!(
        "schema registry answering at {url} (global compatibility {})",
        spec.compatibility
    ));
    Ok(())
}

fn registry_spec(
    run: &Run,
    stack: &Stack,
    port: u16,
    image: &ImageRef,
    creds: &Credentials,
) -> ContainerSpec {
    let node = NodeId::Registry(1);
    let r_flavor = image.flavor();
    let spec = stack.registry.as_ref();
    ContainerSpec {
        name: run.container(node),
        alias: node.to_string(),
        image: image.reference().to_owned(),
        cmd: spec.map(registry::command).unwrap_or_default(),
        env: registry::env(stack, creds),
        labels: run.labels(Some(&node.to_string())),
        network: run.network(),
        volume: None,
        publish: spec
            .map(|s| vec![(port, registry::container_port(s))])
            .unwrap_or_default(),
        user: run_as(r_flavor),
        files: registry::config_files(stack, creds),
        files_owner: owner(r_flavor),
    }
}

/// Ready = listing subjects through the Confluent API answers 200 with a JSON array (an open port
/// is not enough: Apicurio answers 500 while its storage is not usable).
async fn wait_registry(
    run: &Run,
    client: &crate::avro::RegistryClient,
    timeout: Duration,
) -> Result<(), StartError> {
    wait_until(run, NodeId::Registry(1), timeout, || async {
        client.ready().await.map_err(|e| e.to_string())
    })
    .await
}

/// The ZooKeeper ensemble, then the one-shot container writing credentials and ACLs into it.
async fn start_zookeeper(
    run: &Run,
    stack: &Stack,
    zk: &crate::scenario::ZooKeeperSpec,
    zookeeper_ports: &BTreeMap<u8, u16>,
    creds: &Credentials,
    progress: &Progress,
) -> Result<(), StartError> {
    // All nodes together, since a quorum needs its peers.
    progress.say(format!(
        "starting ZooKeeper {} ({} node(s))",
        zk.version, zk.nodes
    ));
    try_join_all(zookeeper_ports.iter().map(|(&n, &port)| {
        let spec = zookeeper_spec(run, stack, n, port, &zk.image);
        async move { create_and_start(run, &spec).await }
    }))
    .await?;
    try_join_all(
        zookeeper_ports
            .iter()
            .map(|(&n, &port)| wait_zookeeper(run, stack, n, port, zk.start_timeout)),
    )
    .await?;
    progress.say("ZooKeeper is serving");

    // Credentials before brokers: a broker authenticates to its peers with SCRAM from its first second.
    let k_flavor = stack.kafka.image.flavor();
    let (files, cmd) = kafka::bootstrap(stack, k_flavor, creds);
    let bootstrap_name = format!("kh-{}-bootstrap", run.id);
    progress.say(format!(
        "writing SCRAM credentials for {} user(s) and their ACLs into ZooKeeper",
        stack.users.len() + 1
    ));
    let spec = ContainerSpec {
        name: bootstrap_name.clone(),
        alias: "bootstrap".into(),
        image: stack.kafka.image.reference().to_owned(),
        cmd,
        env: vec![("KAFKA_HEAP_OPTS".into(), "-Xmx128m".into())],
        labels: run.labels(Some("bootstrap")),
        network: run.network(),
        user: run_as(k_flavor),
        files,
        files_owner: owner(k_flavor),
        ..Default::default()
    };
    create_and_start(run, &spec).await?;
    let code = run.docker.wait(&bootstrap_name).await?;
    if code != 0 {
        let log = run.docker.log_tail(&bootstrap_name, LOG_TAIL_LINES).await;
        return Err(StartError::Bootstrap { code, log });
    }
    logs::keep(&run.docker, &run.logs, &bootstrap_name, "bootstrap").await;
    run.docker.remove_container(&bootstrap_name).await?;
    Ok(())
}

fn zookeeper_spec(run: &Run, stack: &Stack, n: u8, port: u16, image: &ImageRef) -> ContainerSpec {
    let node = NodeId::ZooKeeper(n);
    let zk_flavor = image.flavor();
    let (heap, jit) = stack.zookeeper.as_ref().map_or_else(
        || ("128m".to_owned(), ""),
        |z| (z.heap.clone(), z.jit.flags()),
    );
    ContainerSpec {
        name: run.container(node),
        alias: node.to_string(),
        image: image.reference().to_owned(),
        cmd: zookeeper::command(zk_flavor),
        env: vec![
            ("ZOO_MY_ID".into(), n.to_string()),
            (
                "JVMFLAGS".into(),
                format!("-Xmx{heap} {jit}").trim_end().to_owned(),
            ),
            ("ZOOKEEPER_HEAP".into(), heap),
        ],
        labels: run.labels(Some(&node.to_string())),
        network: run.network(),
        volume: Some((
            format!("{}-data", run.container(node)),
            "/var/lib/zookeeper".into(),
        )),
        publish: vec![(port, zookeeper::CLIENT_PORT)],
        user: run_as(zk_flavor),
        files: zookeeper::config_files(stack),
        files_owner: owner(zk_flavor),
    }
}

/// The container of Kafka node `node` of `stack` (as it runs now) on `on`: its image, release,
/// protocol pin and mode.
fn kafka_spec(
    run: &Run,
    stack: &Stack,
    node: NodeId,
    port: u16,
    on: &NodeImage,
    creds: &Credentials,
    cluster_id: &str,
) -> (ContainerSpec, kafka::ServerProperties) {
    let (image, mode) = (&on.image, on.mode);
    let k_flavor = image.flavor();
    let props = kafka::server_properties(
        stack,
        node,
        mode,
        on.version,
        port,
        on.pin_protocol.as_deref(),
    );
    let spec = ContainerSpec {
        name: run.container(node),
        alias: stack.host(node),
        image: image.reference().to_owned(),
        cmd: kafka::command(mode, k_flavor),
        env: kafka::broker_env(stack),
        labels: run.labels(Some(&stack.host(node))),
        network: run.network(),
        volume: Some((
            format!("{}-data", run.container(node)),
            kafka::VOLUME_DIR.into(),
        )),
        // Controllers are reached on the docker network only.
        publish: if port == 0 {
            vec![]
        } else {
            vec![(port, kafka::EXTERNAL_PORT)]
        },
        user: run_as(k_flavor),
        files: kafka::broker_files(&props, node, mode, creds, cluster_id, k_flavor),
        files_owner: owner(k_flavor),
    };
    (spec, props)
}

pub async fn create_topics(
    running: &RunningStack,
    topics: &[Topic],
    progress: &Progress,
) -> Result<(), StartError> {
    if topics.is_empty() {
        return Ok(());
    }
    client::create_topics(&running.bootstrap_servers(), &running.admin(), topics)
        .await
        .map_err(StartError::Topics)?;
    progress.say(format!(
        "created topic(s) {}",
        topics
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(())
}

async fn create_and_start(run: &Run, spec: &ContainerSpec) -> Result<(), DockerError> {
    if let Some((volume, _)) = &spec.volume {
        run.docker.create_volume(volume, &spec.labels).await?;
    }
    run.docker.create(spec).await?;
    run.docker.start(&spec.name).await
}

/// The container of one of the data platform's services (the harness's own image, its own user
/// owning the files): on the run's network under its node name, `port` of the container published
/// on 127.0.0.1:`host_port`, a data volume at `data_dir` when it keeps state.
fn service_container(
    run: &Run,
    node: NodeId,
    image: &ImageRef,
    cmd: &str,
    data_dir: Option<&str>,
    (host_port, port): (u16, u16),
    files: Vec<crate::components::ConfigFile>,
) -> ContainerSpec {
    ContainerSpec {
        name: run.container(node),
        alias: node.to_string(),
        image: image.reference().to_owned(),
        cmd: vec![cmd.to_owned()],
        env: Vec::new(),
        labels: run.labels(Some(&node.to_string())),
        network: run.network(),
        volume: data_dir.map(|d| (format!("{}-data", run.container(node)), d.to_owned())),
        publish: vec![(host_port, port)],
        user: None,
        files,
        files_owner: owner(Flavor::Harness),
    }
}

/// Upstream images run as root so the data volumes are writable whatever their own user is.
fn run_as(flavor: Flavor) -> Option<String> {
    (flavor != Flavor::Harness).then(|| "0".to_owned())
}

fn owner(flavor: Flavor) -> u64 {
    if flavor == Flavor::Harness {
        HARNESS_IMAGE_UID
    } else {
        0
    }
}

/// Polls `probe` until it says ready, failing fast if the container exits.
async fn wait_until<F, Fut>(
    run: &Run,
    node: NodeId,
    timeout: Duration,
    probe: F,
) -> Result<(), StartError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    wait_for_container(run, &run.container(node), &node.to_string(), timeout, probe).await
}

/// `wait_until` for any container of the run: `label` names it in errors.
async fn wait_for_container<F, Fut>(
    run: &Run,
    name: &str,
    label: &str,
    timeout: Duration,
    mut probe: F,
) -> Result<(), StartError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + timeout;
    let mut reason = "no answer yet".to_owned();
    while Instant::now() < deadline {
        if let Some(code) = run.docker.exit_code(name).await? {
            return Err(StartError::Exited {
                node: label.to_owned(),
                code,
                log: run.docker.log_tail(name, LOG_TAIL_LINES).await,
            });
        }
        match probe().await {
            Ok(()) => return Ok(()),
            Err(e) => reason = e,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StartError::NotReady {
        node: label.to_owned(),
        secs: timeout.as_secs(),
        reason,
        log: run.docker.log_tail(name, LOG_TAIL_LINES).await,
    })
}

/// Ready = the `srvr` command answers with a serving mode (in an ensemble: leader or follower).
async fn wait_zookeeper(
    run: &Run,
    stack: &Stack,
    n: u8,
    port: u16,
    timeout: Duration,
) -> Result<(), StartError> {
    let ensemble = stack.zookeeper.as_ref().is_some_and(|z| z.nodes > 1);
    wait_until(run, NodeId::ZooKeeper(n), timeout, || async move {
        let mode = zookeeper_mode(port).await?;
        match mode.as_str() {
            "leader" | "follower" if ensemble => Ok(()),
            "standalone" if !ensemble => Ok(()),
            other => Err(format!("srvr answers mode `{other}`")),
        }
    })
    .await
}

/// Sends ZooKeeper's `srvr` four-letter command and returns the `Mode:` it reports.
pub async fn zookeeper_mode(port: u16) -> Result<String, String> {
    let buf = zookeeper_srvr(port).await?;
    buf.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_owned())
        .ok_or_else(|| {
            let first = buf.lines().next().unwrap_or("empty answer");
            format!("srvr answered without a mode: {first}")
        })
}

/// ZooKeeper's whole answer to `srvr`.
async fn zookeeper_srvr(port: u16) -> Result<String, String> {
    let mut s = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .map_err(|_| "connect timed out".to_owned())?
    .map_err(|e| e.to_string())?;
    s.write_all(b"srvr").await.map_err(|e| e.to_string())?;
    let mut buf = String::new();
    tokio::time::timeout(Duration::from_secs(2), s.read_to_string(&mut buf))
        .await
        .map_err(|_| "srvr timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Ready = an authenticated metadata request to this broker lists it and at least `expected` brokers
/// (all of them at start-up; only itself when others may be down on purpose).
async fn wait_broker(
    run: &Run,
    node: NodeId,
    expected: usize,
    port: u16,
    admin: &Auth,
    timeout: Duration,
) -> Result<(), StartError> {
    let id = i32::try_from(node.kafka_id()).unwrap_or(i32::MAX);
    wait_until(run, node, timeout, || {
        let admin = admin.clone();
        async move {
            let md = client::metadata(format!("127.0.0.1:{port}"), admin, Duration::from_secs(5))
                .await?;
            if md.brokers.len() >= expected && md.brokers.contains(&id) {
                Ok(())
            } else {
                Err(format!(
                    "{} of {expected} brokers registered",
                    md.brokers.len()
                ))
            }
        }
    })
    .await
}

/// The line a KRaft node logs once it serves.
const KRAFT_STARTED: &str = "Kafka Server started";

/// Now, in whole seconds since the epoch (what the engine's `since` takes).
fn unix_s() -> i32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX))
}

/// Ready = a controller's log says it started, in what it wrote since `since` (unix seconds, taken
/// just before the container was started: a restarted container keeps the lines of its earlier
/// starts). Whether it caught up with the quorum is checked separately.
async fn wait_controller(
    run: &Run,
    node: NodeId,
    since: i32,
    timeout: Duration,
) -> Result<(), StartError> {
    let name = run.container(node);
    wait_until(run, node, timeout, || {
        let name = name.clone();
        async move {
            if run
                .docker
                .log_since(&name, since)
                .await
                .contains(KRAFT_STARTED)
            {
                Ok(())
            } else {
                Err(format!("its log does not say `{KRAFT_STARTED}` yet"))
            }
        }
    })
    .await
}

/// `count` distinct ports on 127.0.0.1 nothing listens on right now. All listeners are held until
/// every port is chosen, so the system cannot hand the same port out twice.
fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .filter_map(|_| std::net::TcpListener::bind("127.0.0.1:0").ok())
        .collect();
    listeners
        .iter()
        .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
        .collect()
}

/// The `Lag` of voter `id` in `kafka-metadata-quorum describe --replication` (columns found by
/// their header: 3.5-3.8 have no DirectoryId column, 3.9+ do).
fn quorum_lag(output: &str, id: &str) -> Option<u64> {
    let mut lines = output.lines().filter(|l| !l.trim().is_empty());
    let header = lines.find(|l| l.trim_start().starts_with("NodeId"))?;
    let cols: Vec<&str> = header.split_whitespace().collect();
    let node_col = cols.iter().position(|c| *c == "NodeId")?;
    let lag_col = cols.iter().position(|c| *c == "Lag")?;
    lines.find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(node_col) == Some(&id)).then(|| f.get(lag_col)?.parse().ok())?
    })
}

/// `FinalizedVersionLevel` of `feature` in `kafka-features describe`.
fn finalized_level(output: &str, feature: &str) -> Option<String> {
    output
        .lines()
        .find(|l| l.contains(&format!("Feature: {feature}")))?
        .split('\t')
        .flat_map(|f| f.split("  "))
        .find_map(|f| f.trim().strip_prefix("FinalizedVersionLevel:"))
        .map(|v| v.trim().to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn quorum_lag_by_header() {
        let v39 = "NodeId  DirectoryId             LogEndOffset  Lag  LastFetchTimestamp  LastCaughtUpTimestamp  Status\n101     pqbW9hm6QGyTp1sCgvWjKw  1203          0    1763790000000       1763790000000          Leader\n102     x2bW9hm6QGyTp1sCgvWjKw  1190          13   1763790000000       1763790000000          Follower\n";
        assert_eq!(super::quorum_lag(v39, "101"), Some(0));
        assert_eq!(super::quorum_lag(v39, "102"), Some(13));
        assert_eq!(super::quorum_lag(v39, "103"), None);
        let v36 = "NodeId\tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus\n1\t57\t0\t1\t1\tLeader\n";
        assert_eq!(super::quorum_lag(v36, "1"), Some(0));
    }

    #[test]
    fn finalized_metadata_version() {
        let out = "Feature: kraft.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 1\tFinalizedVersionLevel: 0\tEpoch: 55\nFeature: metadata.version\tSupportedMinVersion: 3.0-IV1\tSupportedMaxVersion: 3.9-IV0\tFinalizedVersionLevel: 3.9-IV0\tEpoch: 55\n";
        assert_eq!(
            super::finalized_level(out, "metadata.version").as_deref(),
            Some("3.9-IV0")
        );
        assert_eq!(super::finalized_level(out, "group.version"), None);
    }
}
