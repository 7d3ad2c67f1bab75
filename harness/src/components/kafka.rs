//! Kafka nodes: server.properties (production's file overlaid), the JAAS file and the start command
//! for each image flavor, in both modes.
//! - ZooKeeper mode: a one-shot bootstrap writes SCRAM credentials and ACLs into ZooKeeper before any
//!   broker starts.
//! - KRaft mode: every node formats its storage with the SCRAM credentials (`kafka-storage format
//!   --add-scram`) before its first start; ACLs are created through a broker once the cluster is up
//!   (the StandardAuthorizer keeps them in the metadata log). The controller listener uses SASL/PLAIN
//!   with the harness's admin (SCRAM cannot authenticate controllers: their credentials live in the
//!   very log they serve).
//! - ZooKeeper → KRaft migration (KIP-866): a node's [`Mode`] says which keys it gets while the
//!   cluster moves over: controllers in migration mode also hold ZooKeeper's connection and the
//!   inter-broker listener (they act as the ZooKeeper brokers' controller), ZooKeeper brokers in
//!   migration mode also know the controller quorum. Controllers formatted for a migration get no
//!   SCRAM credentials: those, like the ACLs, are copied from ZooKeeper.

use std::collections::BTreeMap;

use super::{zookeeper, ConfigFile, CONFIG_DIR};
use crate::scenario::{
    Controllers, Flavor, KafkaMode, NodeId, Resource, Stack, Version, ADMIN_USER,
};
use crate::secrets::Credentials;

/// Listener other brokers use, on the docker network.
pub const INTERNAL_PORT: u16 = 9092;
/// Listener clients on the host use, published on 127.0.0.1.
pub const EXTERNAL_PORT: u16 = 9093;
/// KRaft controller listener, on the docker network only.
pub const CONTROLLER_PORT: u16 = 9094;
pub const DATA_DIR: &str = "/var/lib/kafka/data";
/// Mount point of the broker's named volume: its data survives a replacement of the container.
pub const VOLUME_DIR: &str = "/var/lib/kafka";
pub const SCRAM: &str = "SCRAM-SHA-512";

/// How a Kafka node runs: as the stack declares it, or at a step of a ZooKeeper → KRaft migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A ZooKeeper-mode broker.
    ZooKeeper,
    /// A ZooKeeper-mode broker with `zookeeper.metadata.migration.enable`: it registers with the
    /// KRaft controllers, which take over as its controller.
    ZooKeeperMigrating,
    /// A KRaft node (broker, controller or both).
    Kraft,
    /// A KRaft controller with `zookeeper.metadata.migration.enable`: it copies ZooKeeper's
    /// metadata into its log, then writes every change to both.
    KraftMigrating,
}

impl Mode {
    /// What a node of `stack` runs when no migration touched it.
    pub fn declared(stack: &Stack) -> Self {
        if stack.kafka.is_kraft() {
            Self::Kraft
        } else {
            Self::ZooKeeper
        }
    }

    /// How progress lines and reports name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::ZooKeeper => "ZooKeeper mode",
            Self::ZooKeeperMigrating => "ZooKeeper mode, migrating",
            Self::Kraft => "KRaft",
            Self::KraftMigrating => "KRaft, migrating",
        }
    }

    pub fn is_kraft(self) -> bool {
        matches!(self, Self::Kraft | Self::KraftMigrating)
    }

    fn migrating(self) -> bool {
        matches!(self, Self::ZooKeeperMigrating | Self::KraftMigrating)
    }
}

/// Where a key of the rendered file came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    HarnessDefault,
    Production,
    StackConfig,
    Harness,
}

/// A key the user set that the harness replaced, and why it had to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Overridden {
    pub key: String,
    pub from: Origin,
    pub user_value: String,
    pub harness_value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerProperties {
    pub entries: BTreeMap<String, (String, Origin)>,
    pub overridden: Vec<Overridden>,
}

impl ServerProperties {
    pub fn render(&self, node: NodeId) -> String {
        let mut out = format!("# rendered by kafka-harness for {node}\n");
        // Java properties have no trailing comments, so keys are grouped under their origin.
        for (origin, title) in [
            (
                Origin::HarnessDefault,
                "harness defaults (production may change them)",
            ),
            (Origin::Production, "production's server.properties"),
            (Origin::StackConfig, "the stack's `config`"),
            (
                Origin::Harness,
                "owned by the harness: listeners, ids, paths, connection strings, security",
            ),
        ] {
            let keys: Vec<_> = self
                .entries
                .iter()
                .filter(|(_, (_, o))| *o == origin)
                .collect();
            if keys.is_empty() {
                continue;
            }
            out.push_str(&format!("\n# {title}\n"));
            for (k, (v, _)) in keys {
                out.push_str(&format!("{k}={v}\n"));
            }
        }
        out
    }
}

/// The ZooKeeper connection string, keeping production's chroot if its file names one.
/// Empty for a KRaft stack.
pub fn zookeeper_connect(stack: &Stack) -> String {
    if stack.zookeeper.is_none() {
        return String::new();
    }
    let chroot = stack
        .kafka
        .overlay
        .as_ref()
        .and_then(|o| o.get("zookeeper.connect"))
        .and_then(|c| c.find('/').map(|i| c[i..].to_owned()))
        .unwrap_or_default();
    format!("{}{chroot}", zookeeper::connect_string(stack))
}

/// Layers, lowest first: harness defaults, production's file, the stack's `config`, then the keys
/// the harness must own for the copy to run at all (listeners, ids, paths, connection strings,
/// and the SCRAM/ACL security the harness authenticates with). During a migration `stack` is the
/// stack as it runs (KRaft with dedicated controllers, ZooKeeper still there) and `mode` says which
/// side of the move `node` is on.
pub fn server_properties(
    stack: &Stack,
    node: NodeId,
    mode: Mode,
    version: Version,
    external_host_port: u16,
    pin_protocol: Option<&str>,
) -> ServerProperties {
    let n = u32::from(stack.kafka.brokers);
    let mut entries: BTreeMap<String, (String, Origin)> = BTreeMap::new();
    let defaults = [
        ("offsets.topic.replication.factor", n.min(3).to_string()),
        (
            "transaction.state.log.replication.factor",
            n.min(3).to_string(),
        ),
        ("transaction.state.log.min.isr", n.min(2).to_string()),
        ("group.initial.rebalance.delay.ms", "0".to_owned()),
        ("num.partitions", "1".to_owned()),
    ];
    for (k, v) in defaults {
        entries.insert(k.to_owned(), (v, Origin::HarnessDefault));
    }
    if let Some(overlay) = &stack.kafka.overlay {
        for (k, v) in &overlay.entries {
            entries.insert(k.clone(), (v.clone(), Origin::Production));
        }
    }
    for (k, v) in &stack.kafka.config {
        entries.insert(k.clone(), (v.clone(), Origin::StackConfig));
    }

    let super_users = {
        let admin = format!("User:{ADMIN_USER}");
        match entries.get("super.users") {
            Some((v, _)) if !v.split(';').any(|p| p.trim() == admin) => format!("{v};{admin}"),
            Some((v, _)) => v.clone(),
            None => admin,
        }
    };
    let controllers = match stack.kafka.mode {
        KafkaMode::Kraft(c) => c,
        KafkaMode::ZooKeeper => Controllers::Dedicated(0),
    };
    let mut owned = if mode.is_kraft() {
        kraft_keys(stack, controllers, node, version, external_host_port)
    } else {
        zookeeper_mode_keys(stack, node, external_host_port)
    };
    if mode.migrating() {
        owned.extend(migration_keys(stack, mode));
    }
    owned.extend([
        ("log.dirs", DATA_DIR.to_owned()),
        ("allow.everyone.if.no.acl.found", "false".to_owned()),
        ("super.users", super_users),
    ]);
    if let Some(pin) = pin_protocol {
        // The first pass of a two-step upgrade: new binaries, old protocol.
        owned.push(("inter.broker.protocol.version", pin.to_owned()));
    }
    // Keys that would contradict the owned ones if left in place.
    let mut conflicting = vec![
        "log.dir",
        "port",
        "host.name",
        "advertised.host.name",
        "advertised.port",
        "security.inter.broker.protocol",
    ];
    if mode.is_kraft() {
        // A ZooKeeper-mode production file moved onto KRaft: its identity and connection keys go
        // (a controller in migration mode gets ZooKeeper's connection back as an owned key).
        conflicting.extend([
            "broker.id",
            "zookeeper.connect",
            "control.plane.listener.name",
        ]);
        if roles(controllers, node) == "controller" && version < CONTROLLERS_ADVERTISE {
            // Nobody's value: such a controller refuses to start with the key set at all.
            conflicting.push("advertised.listeners");
        }
    }
    let mut overridden = Vec::new();
    for k in conflicting {
        if let Some((v, origin)) = entries.remove(k) {
            if origin != Origin::HarnessDefault {
                overridden.push(Overridden {
                    key: k.to_owned(),
                    from: origin,
                    user_value: v,
                    harness_value: "(removed)".to_owned(),
                });
            }
        }
    }
    for (k, v) in owned {
        if let Some((old, origin)) = entries.get(k) {
            if *origin != Origin::HarnessDefault && *old != v {
                overridden.push(Overridden {
                    key: k.to_owned(),
                    from: *origin,
                    user_value: old.clone(),
                    harness_value: v.clone(),
                });
            }
        }
        entries.insert(k.to_owned(), (v, Origin::Harness));
    }
    overridden.sort_by(|a, b| a.key.cmp(&b.key));
    ServerProperties {
        entries,
        overridden,
    }
}

fn zookeeper_mode_keys(
    stack: &Stack,
    node: NodeId,
    external_host_port: u16,
) -> Vec<(&'static str, String)> {
    vec![
        ("broker.id", node.kafka_id().to_string()),
        (
            "listeners",
            format!("INTERNAL://0.0.0.0:{INTERNAL_PORT},EXTERNAL://0.0.0.0:{EXTERNAL_PORT}"),
        ),
        (
            "advertised.listeners",
            format!(
                "INTERNAL://{}:{INTERNAL_PORT},EXTERNAL://127.0.0.1:{external_host_port}",
                stack.host(node)
            ),
        ),
        (
            "listener.security.protocol.map",
            "INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT".to_owned(),
        ),
        ("inter.broker.listener.name", "INTERNAL".to_owned()),
        ("sasl.enabled.mechanisms", SCRAM.to_owned()),
        ("sasl.mechanism.inter.broker.protocol", SCRAM.to_owned()),
        ("zookeeper.connect", zookeeper_connect(stack)),
        (
            "authorizer.class.name",
            "kafka.security.authorizer.AclAuthorizer".to_owned(),
        ),
    ]
}

/// The keys KIP-866 adds for the migration. A ZooKeeper broker learns the controller quorum and
/// how to reach it (SASL/PLAIN as for KRaft brokers); a controller learns ZooKeeper and the
/// inter-broker listener it sends the ZooKeeper brokers their metadata on (SCRAM, as the brokers).
fn migration_keys(stack: &Stack, mode: Mode) -> Vec<(&'static str, String)> {
    let mut keys = vec![("zookeeper.metadata.migration.enable", "true".to_owned())];
    if mode.is_kraft() {
        keys.extend([
            ("zookeeper.connect", zookeeper_connect(stack)),
            ("inter.broker.listener.name", "INTERNAL".to_owned()),
            ("sasl.mechanism.inter.broker.protocol", SCRAM.to_owned()),
            // Kafka requires the inter-broker mechanism among the enabled ones, even on a node
            // whose only listener (the controller's) enables PLAIN.
            ("sasl.enabled.mechanisms", SCRAM.to_owned()),
        ]);
    } else {
        keys.extend([
            ("controller.quorum.voters", voters(stack)),
            ("controller.listener.names", "CONTROLLER".to_owned()),
            (
                "listener.security.protocol.map",
                "INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
                    .to_owned(),
            ),
            ("sasl.mechanism.controller.protocol", "PLAIN".to_owned()),
        ]);
    }
    keys
}

/// `controller.quorum.voters`: every voter at its controller listener.
fn voters(stack: &Stack) -> String {
    stack
        .kafka
        .voters()
        .iter()
        .map(|&v| format!("{}@{}:{CONTROLLER_PORT}", v.kafka_id(), stack.host(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// `process.roles` of a node.
pub fn roles(controllers: Controllers, node: NodeId) -> &'static str {
    match (node, controllers) {
        (NodeId::Controller(_), _) => "controller",
        (_, Controllers::Combined) => "broker,controller",
        _ => "broker",
    }
}

/// The first release whose controllers may advertise their listener (KIP-853); before it, a
/// controller refuses to start with `advertised.listeners` set.
const CONTROLLERS_ADVERTISE: Version = Version::new(3, 9, 0);

fn kraft_keys(
    stack: &Stack,
    controllers: Controllers,
    node: NodeId,
    version: Version,
    external_host_port: u16,
) -> Vec<(&'static str, String)> {
    let roles = roles(controllers, node);
    let mut keys = vec![
        ("node.id", node.kafka_id().to_string()),
        ("process.roles", roles.to_owned()),
        ("controller.quorum.voters", voters(stack)),
        ("controller.listener.names", "CONTROLLER".to_owned()),
        (
            "listener.security.protocol.map",
            "INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT".to_owned(),
        ),
        ("sasl.mechanism.controller.protocol", "PLAIN".to_owned()),
        (
            "listener.name.controller.sasl.enabled.mechanisms",
            "PLAIN".to_owned(),
        ),
        (
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer".to_owned(),
        ),
    ];
    if roles == "controller" {
        keys.push((
            "listeners",
            format!("CONTROLLER://0.0.0.0:{CONTROLLER_PORT}"),
        ));
        if version >= CONTROLLERS_ADVERTISE {
            keys.push((
                "advertised.listeners",
                format!("CONTROLLER://{}:{CONTROLLER_PORT}", stack.host(node)),
            ));
        }
    } else {
        let controller = if roles == "broker" {
            String::new()
        } else {
            format!(",CONTROLLER://0.0.0.0:{CONTROLLER_PORT}")
        };
        keys.extend([
            (
                "listeners",
                format!("INTERNAL://0.0.0.0:{INTERNAL_PORT},EXTERNAL://0.0.0.0:{EXTERNAL_PORT}{controller}"),
            ),
            (
                "advertised.listeners",
                format!(
                    "INTERNAL://{}:{INTERNAL_PORT},EXTERNAL://127.0.0.1:{external_host_port}",
                    stack.host(node)
                ),
            ),
            ("inter.broker.listener.name", "INTERNAL".to_owned()),
            ("sasl.enabled.mechanisms", SCRAM.to_owned()),
            ("sasl.mechanism.inter.broker.protocol", SCRAM.to_owned()),
        ]);
    }
    keys
}

/// The broker's own login: brokers authenticate to each other as the harness's admin.
pub fn render_jaas(mode: Mode, creds: &Credentials) -> String {
    let password = creds
        .password(ADMIN_USER)
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    let mut out = format!(
        "KafkaServer {{\n  org.apache.kafka.common.security.scram.ScramLoginModule required\n  username=\"{ADMIN_USER}\"\n  password=\"{password}\";\n}};\n"
    );
    if mode != Mode::ZooKeeper {
        // The controller listener's own section: PLAIN, with the admin as its only user (a
        // ZooKeeper broker in migration mode logs in with it to the controllers).
        out.push_str(&format!(
            "controller.KafkaServer {{\n  org.apache.kafka.common.security.plain.PlainLoginModule required\n  username=\"{ADMIN_USER}\"\n  password=\"{password}\"\n  user_{ADMIN_USER}=\"{password}\";\n}};\n"
        ));
    }
    out
}

pub const JAAS_FILE: &str = "kafka_server_jaas.conf";

/// Files of a Kafka node: its properties, its JAAS file and the admin client settings the harness
/// runs the admin tools with inside a broker (ACLs, features, quorum). KRaft nodes also get their
/// start script (format, then start) and each user's password file for the SCRAM credentials
/// formatted into storage. A broker that was a ZooKeeper broker keeps its formatted volume, and a
/// controller formatted for a migration takes its credentials from ZooKeeper instead.
pub fn broker_files(
    props: &ServerProperties,
    node: NodeId,
    mode: Mode,
    creds: &Credentials,
    cluster_id: &str,
    flavor: Flavor,
) -> Vec<ConfigFile> {
    let mut files = vec![
        ConfigFile::new("server.properties", props.render(node)),
        ConfigFile::secret(JAAS_FILE, render_jaas(mode, creds)),
        ConfigFile::secret(ADMIN_CLIENT_FILE, admin_client_properties(creds)),
    ];
    if mode.is_kraft() {
        // `--cluster-id=`: the id a ZooKeeper cluster generated may start with `-` (a migration
        // formats with it), and the tool would take it for an option.
        // A migration's metadata.version must be the ZooKeeper brokers' protocol.
        let release = props
            .entries
            .get("inter.broker.protocol.version")
            .filter(|_| mode == Mode::KraftMigrating)
            .map(|(v, _)| format!(" --release-version {v}"))
            .unwrap_or_default();
        let what = if mode == Mode::KraftMigrating {
            "for a migration from ZooKeeper, whose credentials it copies"
        } else {
            "with every SCRAM credential"
        };
        let mut script = format!(
            "set -eu\n# Formats the log directory once (cluster {cluster_id}), {what}; a\n# restarted or upgraded node keeps its formatted volume (and skips the tool's JVM start).\nif [ -f {DATA_DIR}/meta.properties ]; then\n  echo \"{DATA_DIR} is already formatted\"\nelse\n  {} format --cluster-id={cluster_id} --config {CONFIG_DIR}/server.properties --ignore-formatted{release}",
            tool(flavor, "kafka-storage")
        );
        for (user, secret) in creds.iter().filter(|_| mode == Mode::Kraft) {
            let file = format!("{user}.password");
            files.push(ConfigFile::secret(&file, secret.expose().to_owned()));
            script.push_str(&format!(
                " \\\n    --add-scram \"{SCRAM}=[name={user},password=$(cat {CONFIG_DIR}/{file})]\""
            ));
        }
        script.push_str(&format!(
            "\nfi\nexec {} {CONFIG_DIR}/server.properties\n",
            tool(flavor, "kafka-server-start")
        ));
        files.push(ConfigFile::new(START_SCRIPT, script));
    }
    files
}

/// Start script of a KRaft node.
pub const START_SCRIPT: &str = "start.sh";
/// Client settings of the harness's admin, for the tools run inside a KRaft broker.
pub const ADMIN_CLIENT_FILE: &str = "admin-client.properties";

fn admin_client_properties(creds: &Credentials) -> String {
    let password = creds
        .password(ADMIN_USER)
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    format!(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism={SCRAM}\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{ADMIN_USER}\" password=\"{password}\";\n"
    )
}

/// A tool run inside a KRaft broker (on the network as `host`) against the cluster, as the
/// harness's admin.
pub fn admin_tool(flavor: Flavor, name: &str, host: &str, args: &[&str]) -> Vec<String> {
    let mut cmd = vec![
        tool(flavor, name),
        "--bootstrap-server".to_owned(),
        format!("{host}:{INTERNAL_PORT}"),
        "--command-config".to_owned(),
        format!("{CONFIG_DIR}/{ADMIN_CLIENT_FILE}"),
    ];
    cmd.extend(args.iter().map(|a| (*a).to_owned()));
    cmd
}

/// `kafka-acls` arguments adding each declared ACL (KRaft: run through a broker).
pub fn acl_commands(stack: &Stack) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for user in &stack.users {
        for acl in &user.acls {
            let mut args = vec![
                "--add".to_owned(),
                "--allow-principal".to_owned(),
                format!("User:{}", user.name),
            ];
            for o in &acl.operations {
                args.extend(["--operation".to_owned(), o.kafka_name().to_owned()]);
            }
            match &acl.resource {
                Resource::Topic(t) => args.extend(["--topic".to_owned(), t.clone()]),
                Resource::Group(g) => args.extend(["--group".to_owned(), g.clone()]),
                Resource::TransactionalId(t) => {
                    args.extend(["--transactional-id".to_owned(), t.clone()]);
                }
                Resource::Cluster => args.push("--cluster".to_owned()),
            }
            if acl.prefixed {
                args.extend(["--resource-pattern-type".to_owned(), "prefixed".to_owned()]);
            }
            out.push((user.name.clone(), args));
        }
    }
    out
}

/// A fresh KRaft cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's `Uuid`).
/// Like Kafka's `Uuid.randomUuid`, never one starting with `-`, which command lines take for an
/// option.
pub fn new_cluster_id() -> String {
    loop {
        let id = encode_uuid(rand::random());
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn encode_uuid(bytes: [u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    let mut bits = 0u32;
    let mut n = 0;
    for b in bytes {
        bits = (bits << 8) | u32::from(b);
        n += 8;
        while n >= 6 {
            n -= 6;
            out.push(char::from(ALPHABET[((bits >> n) & 63) as usize]));
        }
    }
    if n > 0 {
        out.push(char::from(ALPHABET[((bits << (6 - n)) & 63) as usize]));
    }
    out
}

/// Kafka's own `KAFKA_JVM_PERFORMANCE_OPTS` (kafka-run-class.sh), to which the stack's JIT choice
/// is added.
const KAFKA_JVM_PERFORMANCE_OPTS: &str = "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true";

pub fn broker_env(stack: &Stack) -> Vec<(String, String)> {
    vec![
        (
            "KAFKA_JVM_PERFORMANCE_OPTS".into(),
            format!("{KAFKA_JVM_PERFORMANCE_OPTS} {}", stack.kafka.jit.flags())
                .trim_end()
                .to_owned(),
        ),
        (
            "KAFKA_HEAP_OPTS".into(),
            format!("-Xmx{0} -Xms{0}", stack.kafka.heap),
        ),
        (
            "KAFKA_OPTS".into(),
            // The JAAS file has no `Client` section: ZooKeeper is reached without SASL, and this
            // says so instead of logging an authentication ERROR at every start.
            format!("-Djava.security.auth.login.config={CONFIG_DIR}/{JAAS_FILE} -Dzookeeper.sasl.client=false"),
        ),
    ]
}

/// Path of a Kafka tool inside an image of the given flavor.
pub fn tool(flavor: Flavor, name: &str) -> String {
    match flavor {
        Flavor::Harness => name.to_owned(),
        Flavor::Apache => format!("/opt/kafka/bin/{name}.sh"),
        Flavor::Confluent => format!("/usr/bin/{name}"),
        Flavor::Bitnami => format!("/opt/bitnami/kafka/bin/{name}.sh"),
        Flavor::OfficialZooKeeper => name.to_owned(),
    }
}

pub fn command(mode: Mode, flavor: Flavor) -> Vec<String> {
    if mode.is_kraft() {
        vec!["sh".to_owned(), format!("{CONFIG_DIR}/{START_SCRIPT}")]
    } else {
        vec![
            tool(flavor, "kafka-server-start"),
            format!("{CONFIG_DIR}/server.properties"),
        ]
    }
}

/// The files and command of the one-shot container that writes every user's SCRAM credential and
/// every ACL into ZooKeeper. Passwords only ever sit in the per-user files, never on a command line.
pub fn bootstrap(
    stack: &Stack,
    flavor: Flavor,
    creds: &Credentials,
) -> (Vec<ConfigFile>, Vec<String>) {
    let zk = zookeeper_connect(stack);
    let mut files = Vec::new();
    let mut script = String::from("set -eu\n");
    // Brokers create production's chroot themselves, but credentials are written before any broker
    // runs; the tools cannot create a missing chroot, so each level is created here.
    if let Some(i) = zk.find('/') {
        let (servers, chroot) = zk.split_at(i);
        let shell = match flavor {
            Flavor::Harness => "kafka-run org.apache.zookeeper.ZooKeeperMain".to_owned(),
            _ => tool(flavor, "zookeeper-shell"),
        };
        let mut path = String::new();
        for level in chroot.split('/').filter(|l| !l.is_empty()) {
            path.push('/');
            path.push_str(level);
            script.push_str(&format!(
                "echo 'kafka-harness: chroot {path}'\n{shell} -server {servers} create {path} '' > /dev/null 2>&1 || true\n"
            ));
        }
    }
    for (user, secret) in creds.iter() {
        let file = format!("scram-{user}.properties");
        files.push(ConfigFile::secret(
            &file,
            // The file form takes the value without the brackets `--add-config` needs.
            format!("{SCRAM}=iterations=4096,password={}\n", secret.expose()),
        ));
        script.push_str(&format!(
            "echo 'kafka-harness: SCRAM credential for {user}'\n{} --zookeeper {zk} --alter --add-config-file {CONFIG_DIR}/{file} --entity-type users --entity-name {user}\n",
            tool(flavor, "kafka-configs")
        ));
    }
    for user in &stack.users {
        for acl in &user.acls {
            let resource = match &acl.resource {
                Resource::Topic(t) => format!("--topic '{t}'"),
                Resource::Group(g) => format!("--group '{g}'"),
                Resource::TransactionalId(t) => format!("--transactional-id '{t}'"),
                Resource::Cluster => "--cluster".to_owned(),
            };
            let pattern = if acl.prefixed {
                " --resource-pattern-type prefixed"
            } else {
                ""
            };
            let ops: String = acl
                .operations
                .iter()
                .map(|o| format!(" --operation {}", o.kafka_name()))
                .collect();
            script.push_str(&format!(
                "echo 'kafka-harness: ACL for {user}'\n{} --authorizer-properties zookeeper.connect={zk} --add --allow-principal User:{user}{ops} {resource}{pattern} > /dev/null\n",
                tool(flavor, "kafka-acls"),
                user = user.name,
            ));
        }
    }
    files.push(ConfigFile::new("bootstrap.sh", script));
    (
        files,
        vec!["sh".into(), format!("{CONFIG_DIR}/bootstrap.sh")],
    )
}
