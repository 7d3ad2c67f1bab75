//! Bringing a stack up along its dependency graph — ZooKeeper, then the SCRAM/ACL bootstrap, then
//! the brokers — starting what can start in parallel, and calling a node ready only once it answers
//! a real request.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::try_join_all;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::docker::{
    ContainerSpec, Docker, DockerError, Removed, LABEL_NODE, LABEL_PID, LABEL_RUN,
};
use super::images::{self, ImageError};
use crate::client::{self, Auth};
use crate::components::kafka::{self, Overridden};
use crate::components::zookeeper;
use crate::progress::Progress;
use crate::scenario::{Component, Flavor, ImageRef, NodeId, Stack, Topic, Version, ADMIN_USER};
use crate::secrets::Credentials;

/// The uid the harness's own images run as; files placed into them belong to it.
const HARNESS_IMAGE_UID: u64 = 1000;
const LOG_TAIL_LINES: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
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
    #[error("creating topics: {0}")]
    Topics(String),
}

/// One run's identity on the Docker engine.
#[derive(Debug, Clone)]
pub struct Run {
    pub id: String,
    pub docker: Docker,
    /// Logs of containers removed during the run, and of all of them at its end.
    pub logs: crate::logscan::LogStore,
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
            logs: crate::logscan::LogStore::default(),
        }
    }

    pub fn network(&self) -> String {
        format!("kh-{}", self.id)
    }

    pub fn container(&self, node: NodeId) -> String {
        format!("kh-{}-{node}", self.id)
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
    pub stack: Stack,
    pub creds: Credentials,
    pub zookeeper_ports: BTreeMap<u8, u16>,
    pub kafka_ports: BTreeMap<u8, u16>,
    /// Production keys the harness replaced (the same for every broker).
    pub overridden: Vec<Overridden>,
    /// What each node runs now; rolling upgrades change it.
    nodes: Mutex<BTreeMap<NodeId, NodeImage>>,
}

/// The image, release and protocol pin a node runs.
#[derive(Debug, Clone)]
pub struct NodeImage {
    pub image: ImageRef,
    pub version: Version,
    pub pin_protocol: Option<String>,
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
}

impl RunningStack {
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
        self.run.docker.start(&self.run.container(node)).await?;
        self.wait_ready(node, timeout).await?;
        progress.say(format!("{node} is back"));
        Ok(())
    }

    async fn wait_ready(&self, node: NodeId, timeout: Duration) -> Result<(), StartError> {
        match node {
            NodeId::ZooKeeper(n) => {
                wait_zookeeper(&self.run, &self.stack, n, self.zookeeper_ports[&n], timeout).await
            }
            // Others may be down on purpose (a fault scenario): this broker only has to be back.
            NodeId::Kafka(n) => {
                wait_broker(
                    &self.run,
                    n,
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
        let targets: Vec<NodeId> = match component {
            Component::ZooKeeper => self
                .zookeeper_ports
                .keys()
                .map(|&n| NodeId::ZooKeeper(n))
                .collect(),
            Component::Kafka => self.kafka_ports.keys().map(|&n| NodeId::Kafka(n)).collect(),
        };
        let mut done = Vec::new();
        let mut last_in_sync: Option<Instant> = None;
        for node in targets {
            let before = self.node_image(node);
            let image = before.image.for_version(component, to);
            let harness_gap_ms = last_in_sync.map_or(0, |t| {
                u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
            });
            let t0 = Instant::now();
            progress.say(format!(
                "  {node}: {} -> {to}: {}",
                before.version,
                // Only a broker hands its partitions over before it stops.
                if component == Component::Kafka {
                    "controlled shutdown"
                } else {
                    "graceful stop"
                }
            ));
            if let Err(e) = self
                .replace_node(node, &image, pin_protocol, node_timeout)
                .await
            {
                return Err((e, done));
            }
            let read_back = self
                .read_version(node)
                .await
                .unwrap_or_else(|e| format!("unknown ({e})"));
            last_in_sync = Some(Instant::now());
            if let Ok(mut nodes) = self.nodes.lock() {
                nodes.insert(
                    node,
                    NodeImage {
                        image: image.clone(),
                        version: to,
                        pin_protocol: pin_protocol.map(str::to_owned),
                    },
                );
            }
            let took_s = t0.elapsed().as_secs_f64();
            progress.say(format!(
                "  {node}: back in sync on {read_back} after {took_s:.1}s"
            ));
            done.push(NodeUpgrade {
                node: node.to_string(),
                from: before.version.to_string(),
                to: to.to_string(),
                read_back,
                took_s,
                harness_gap_ms,
            });
        }
        Ok(done)
    }

    fn node_image(&self, node: NodeId) -> NodeImage {
        self.nodes
            .lock()
            .ok()
            .and_then(|n| n.get(&node).cloned())
            .unwrap_or_else(|| NodeImage {
                image: self.stack.kafka.image.clone(),
                version: self.stack.kafka.version,
                pin_protocol: None,
            })
    }

    async fn replace_node(
        &self,
        node: NodeId,
        image: &ImageRef,
        pin: Option<&str>,
        timeout: Duration,
    ) -> Result<(), StartError> {
        let name = self.run.container(node);
        self.run.docker.stop(&name, Duration::from_secs(60)).await?;
        crate::logscan::keep(&self.run, &name, &node.to_string()).await;
        self.run.docker.remove_container(&name).await?;
        let spec = match node {
            NodeId::ZooKeeper(n) => {
                zookeeper_spec(&self.run, &self.stack, n, self.zookeeper_ports[&n], image)
            }
            NodeId::Kafka(n) => {
                kafka_spec(
                    &self.run,
                    &self.stack,
                    n,
                    self.kafka_ports[&n],
                    image,
                    pin,
                    &self.creds,
                )
                .0
            }
        };
        create_and_start(&self.run, &spec).await?;
        self.wait_ready(node, timeout).await?;
        if matches!(node, NodeId::Kafka(_)) {
            self.wait_in_sync(node, timeout).await?;
        }
        Ok(())
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
            NodeId::Kafka(_) => {
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
        }
    }

    /// Every node's self-reported version.
    pub async fn read_versions(&self) -> BTreeMap<String, String> {
        let nodes: Vec<NodeId> = self
            .zookeeper_ports
            .keys()
            .map(|&n| NodeId::ZooKeeper(n))
            .chain(self.kafka_ports.keys().map(|&n| NodeId::Kafka(n)))
            .collect();
        let mut out = BTreeMap::new();
        for node in nodes {
            let v = self
                .read_version(node)
                .await
                .unwrap_or_else(|e| format!("unknown ({e})"));
            out.insert(node.to_string(), v);
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

/// Starts the whole stack. On error the caller still owns the run and must tear it down.
pub async fn start(
    run: &Run,
    stack: &Stack,
    creds: Credentials,
    progress: &Progress,
) -> Result<RunningStack, StartError> {
    images::ensure(&run.docker, stack, progress, false).await?;
    run.docker
        .create_network(&run.network(), &run.labels(None))
        .await?;

    let mut ports =
        free_ports(usize::from(stack.zookeeper.nodes) + usize::from(stack.kafka.brokers))
            .into_iter();
    let zookeeper_ports: BTreeMap<u8, u16> = (1..=stack.zookeeper.nodes)
        .map(|n| (n, ports.next().unwrap_or(0)))
        .collect();
    let kafka_ports: BTreeMap<u8, u16> = (1..=stack.kafka.brokers)
        .map(|n| (n, ports.next().unwrap_or(0)))
        .collect();

    // ZooKeeper ensemble: all nodes together, since a quorum needs its peers.
    progress.say(format!(
        "starting ZooKeeper {} ({} node(s))",
        stack.zookeeper.version, stack.zookeeper.nodes
    ));
    try_join_all(zookeeper_ports.iter().map(|(&n, &port)| {
        let spec = zookeeper_spec(run, stack, n, port, &stack.zookeeper.image);
        async move { create_and_start(run, &spec).await }
    }))
    .await?;
    try_join_all(
        zookeeper_ports
            .iter()
            .map(|(&n, &port)| wait_zookeeper(run, stack, n, port, stack.zookeeper.start_timeout)),
    )
    .await?;
    progress.say("ZooKeeper is serving");

    // Credentials before brokers: a broker authenticates to its peers with SCRAM from its first second.
    let k_flavor = flavor(&stack.kafka.image);
    let (files, cmd) = kafka::bootstrap(stack, k_flavor, &creds);
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
    crate::logscan::keep(run, &bootstrap_name, "bootstrap").await;
    run.docker.remove_container(&bootstrap_name).await?;

    progress.say(format!(
        "starting Kafka {} ({} broker(s), SASL_PLAINTEXT/{}, ACLs on)",
        stack.kafka.version,
        stack.kafka.brokers,
        kafka::SCRAM
    ));
    let mut overridden = Vec::new();
    try_join_all(kafka_ports.iter().map(|(&n, &port)| {
        let (spec, props) = kafka_spec(run, stack, n, port, &stack.kafka.image, None, &creds);
        if n == 1 {
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
    try_join_all(kafka_ports.iter().map(|(&n, &port)| {
        wait_broker(
            run,
            n,
            usize::from(stack.kafka.brokers),
            port,
            &admin,
            stack.kafka.start_timeout,
        )
    }))
    .await?;
    progress.say(format!(
        "all {} broker(s) registered and answering",
        stack.kafka.brokers
    ));

    let nodes = zookeeper_ports
        .keys()
        .map(|&n| {
            let img = NodeImage {
                image: stack.zookeeper.image.clone(),
                version: stack.zookeeper.version,
                pin_protocol: None,
            };
            (NodeId::ZooKeeper(n), img)
        })
        .chain(kafka_ports.keys().map(|&n| {
            let img = NodeImage {
                image: stack.kafka.image.clone(),
                version: stack.kafka.version,
                pin_protocol: None,
            };
            (NodeId::Kafka(n), img)
        }))
        .collect();
    Ok(RunningStack {
        run: run.clone(),
        stack: stack.clone(),
        creds,
        zookeeper_ports,
        kafka_ports,
        overridden,
        nodes: Mutex::new(nodes),
    })
}

fn zookeeper_spec(run: &Run, stack: &Stack, n: u8, port: u16, image: &ImageRef) -> ContainerSpec {
    let node = NodeId::ZooKeeper(n);
    let zk_flavor = flavor(image);
    ContainerSpec {
        name: run.container(node),
        alias: node.to_string(),
        image: image.reference().to_owned(),
        cmd: zookeeper::command(zk_flavor),
        env: vec![
            ("ZOO_MY_ID".into(), n.to_string()),
            ("JVMFLAGS".into(), format!("-Xmx{}", stack.zookeeper.heap)),
            ("ZOOKEEPER_HEAP".into(), stack.zookeeper.heap.clone()),
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

fn kafka_spec(
    run: &Run,
    stack: &Stack,
    n: u8,
    port: u16,
    image: &ImageRef,
    pin_protocol: Option<&str>,
    creds: &Credentials,
) -> (ContainerSpec, kafka::ServerProperties) {
    let node = NodeId::Kafka(n);
    let k_flavor = flavor(image);
    let props = kafka::server_properties(stack, n, port, pin_protocol);
    let spec = ContainerSpec {
        name: run.container(node),
        alias: node.to_string(),
        image: image.reference().to_owned(),
        cmd: kafka::command(k_flavor),
        env: kafka::broker_env(stack),
        labels: run.labels(Some(&node.to_string())),
        network: run.network(),
        volume: Some((
            format!("{}-data", run.container(node)),
            kafka::VOLUME_DIR.into(),
        )),
        publish: vec![(port, kafka::EXTERNAL_PORT)],
        user: run_as(k_flavor),
        files: kafka::broker_files(&props, node, creds),
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

fn flavor(image: &ImageRef) -> Flavor {
    match image {
        ImageRef::Built { .. } => Flavor::Harness,
        ImageRef::Upstream { flavor, .. } => *flavor,
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
    mut probe: F,
) -> Result<(), StartError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let name = run.container(node);
    let deadline = Instant::now() + timeout;
    let mut reason = "no answer yet".to_owned();
    while Instant::now() < deadline {
        if let Some(code) = run.docker.exit_code(&name).await? {
            return Err(StartError::Exited {
                node: node.to_string(),
                code,
                log: run.docker.log_tail(&name, LOG_TAIL_LINES).await,
            });
        }
        match probe().await {
            Ok(()) => return Ok(()),
            Err(e) => reason = e,
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StartError::NotReady {
        node: node.to_string(),
        secs: timeout.as_secs(),
        reason,
        log: run.docker.log_tail(&name, LOG_TAIL_LINES).await,
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
    let ensemble = stack.zookeeper.nodes > 1;
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
    n: u8,
    expected: usize,
    port: u16,
    admin: &Auth,
    timeout: Duration,
) -> Result<(), StartError> {
    wait_until(run, NodeId::Kafka(n), timeout, || {
        let admin = admin.clone();
        async move {
            let md = client::metadata(format!("127.0.0.1:{port}"), admin, Duration::from_secs(5))
                .await?;
            if md.brokers.len() >= expected && md.brokers.contains(&i32::from(n)) {
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
