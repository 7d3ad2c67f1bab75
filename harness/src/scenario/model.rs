//! Validated domain types: everything here has been checked, paths are resolved and names exist.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use super::canary::{CanaryAvailability, CanaryLatencyBound, CanaryScope, CanarySpec};

/// A released version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl Version {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('.').collect();
        let nums: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
        match nums.as_deref() {
            Some([major, minor, patch]) => Ok(Self::new(*major, *minor, *patch)),
            _ => Err(format!(
                "`{s}` is not a release version; expected MAJOR.MINOR.PATCH, e.g. \"3.7.2\""
            )),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Which image a component runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// Built by the harness from official Maven Central artifacts (`stacks/images/`).
    Built { tag: String },
    /// An upstream image the user can pull; `flavor` says where its start scripts live.
    Upstream { reference: String, flavor: Flavor },
}

impl ImageRef {
    /// Where the image keeps its start scripts: the harness's own layout for a built image.
    pub fn flavor(&self) -> Flavor {
        match self {
            Self::Built { .. } => Flavor::Harness,
            Self::Upstream { flavor, .. } => *flavor,
        }
    }

    /// The same kind of image on another release: the harness's own build of it, or the upstream
    /// repository with the release as its tag.
    #[must_use]
    pub fn for_version(&self, component: Component, version: Version) -> Self {
        match self {
            Self::Built { .. } => Self::Built {
                tag: format!("kafka-harness/{}:{version}", component.image_name()),
            },
            Self::Upstream { reference, flavor } => {
                let repo = reference
                    .rsplit_once(':')
                    .map_or(reference.as_str(), |(r, _)| r);
                Self::Upstream {
                    reference: format!("{repo}:{version}"),
                    flavor: *flavor,
                }
            }
        }
    }

    pub fn reference(&self) -> &str {
        match self {
            Self::Built { tag } => tag,
            Self::Upstream { reference, .. } => reference,
        }
    }
}

/// Layout of an image: where the harness finds the start script and the admin tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Harness,
    Apache,
    Confluent,
    Bitnami,
    OfficialZooKeeper,
}

#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub description: Option<String>,
    pub source: PathBuf,
    /// Present exactly when the brokers run in ZooKeeper mode.
    pub zookeeper: Option<ZooKeeperSpec>,
    pub kafka: KafkaSpec,
    /// The schema registry, when the stack has one.
    pub registry: Option<RegistrySpec>,
    /// Service users, and the registry's own user when it keeps its data in Kafka.
    pub users: Vec<User>,
    /// The application database, when the stack has one.
    pub postgres: Option<PostgresSpec>,
    /// Kafka Connect with Debezium, when the stack has it.
    pub connect: Option<ConnectSpec>,
    /// ClickHouse reading CDC topics, when the stack has it.
    pub clickhouse: Option<ClickHouseSpec>,
    /// Blue/green: the second cluster and MirrorMaker 2.
    pub green: Option<GreenSpec>,
    /// Prefixed to every node's host and container name: empty for the stack's own cluster,
    /// `green-` for a blue/green stack's second one.
    pub prefix: &'static str,
}

/// PostgreSQL from Debian's packages.
#[derive(Debug, Clone)]
pub struct PostgresSpec {
    /// The major release (the image tag): 15 on Debian bookworm.
    pub major: u32,
    pub image: ImageRef,
    /// Production's postgresql.conf settings, included after the harness's own.
    pub config: Option<PathBuf>,
    /// Tables of database `app` (see `components::postgres::table_ddl`).
    pub tables: Vec<String>,
    pub start_timeout: Duration,
}

/// Kafka Connect with Debezium's PostgreSQL connector.
#[derive(Debug, Clone)]
pub struct ConnectSpec {
    /// The Debezium release, e.g. "3.6.1.Final" (the image tag).
    pub version: String,
    pub image: ImageRef,
    pub heap: String,
    pub start_timeout: Duration,
    pub connectors: Vec<ConnectorSpec>,
}

#[derive(Debug, Clone)]
pub struct ConnectorSpec {
    pub name: String,
    pub tables: Vec<String>,
    pub config: BTreeMap<String, String>,
    /// ClickHouse reads its tables: a second connector, `<name>-flat`, writes them flattened.
    pub flat: bool,
    /// Avro through the stack's registry (else JSON without schemas).
    pub avro: bool,
}

impl ConnectorSpec {
    /// The topic Debezium writes `table`'s changes to.
    pub fn topic(&self, table: &str) -> String {
        format!("{}.public.{table}", self.name)
    }

    /// The name of the flattening connector.
    pub fn flat_name(&self) -> String {
        format!("{}-flat", self.name)
    }

    /// The topic of `table`'s flattened rows.
    pub fn flat_topic(&self, table: &str) -> String {
        format!("{}.public.{table}", self.flat_name())
    }
}

/// ClickHouse from Debian's packages.
#[derive(Debug, Clone)]
pub struct ClickHouseSpec {
    /// "18.16" (the image tag).
    pub version: String,
    pub image: ImageRef,
    pub config: Option<PathBuf>,
    pub start_timeout: Duration,
    pub tables: Vec<ClickHouseTable>,
}

#[derive(Debug, Clone)]
pub struct ClickHouseTable {
    pub name: String,
    pub connector: String,
    pub source_table: String,
    /// The flattened topic it reads.
    pub topic: String,
    pub view_where: Option<String>,
}

/// The Kafka user ClickHouse reads as.
pub const CLICKHOUSE_USER: &str = "kh-clickhouse";

/// The Kafka user Connect logs in as (its ACLs are added by the loader).
pub const CONNECT_USER: &str = "kh-connect";

/// The database of a stack's PostgreSQL.
pub const POSTGRES_DB: &str = "app";
/// The role the harness connects as (the superuser initdb creates).
pub const POSTGRES_USER: &str = "postgres";

/// A blue/green stack's second cluster.
#[derive(Debug, Clone)]
pub struct GreenSpec {
    pub kafka: KafkaSpec,
    pub mirror_maker: MirrorMakerSpec,
}

#[derive(Debug, Clone)]
pub struct MirrorMakerSpec {
    pub heap: String,
    pub start_timeout: Duration,
}

/// Which cluster of a blue/green stack a client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cluster {
    /// The stack's own.
    #[default]
    Blue,
    Green,
}

impl Cluster {
    pub fn name(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
        }
    }
}

/// Where a consumer moved to green starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwitchOffsets {
    /// The group's offsets as MirrorMaker translated them.
    Translated,
    /// No translation: from the beginning (everything read again).
    Earliest,
    /// No translation: from the end (what was not yet read is skipped).
    Latest,
}

impl SwitchOffsets {
    pub fn name(self) -> &'static str {
        match self {
            Self::Translated => "translated",
            Self::Earliest => "earliest",
            Self::Latest => "latest",
        }
    }
}

impl Scenario {
    /// The DNS TTL of producer `name`'s endpoint alias: the one its `switch_producers` declares
    /// (it resolves the alias on that cadence from its start), 5 s when nothing switches it.
    pub fn endpoint_ttl(&self, name: &str) -> Duration {
        self.steps
            .iter()
            .find_map(|s| match s {
                Step::SwitchProducer { name: n, ttl, .. } if n == name => Some(*ttl),
                _ => None,
            })
            .unwrap_or(Duration::from_secs(5))
    }

    /// Consumer groups MirrorMaker must not translate: those a `switch_consumers` moves without
    /// translation (the planted defect needs green to have no offsets for them).
    pub fn untranslated_groups(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::SwitchConsumer { name, offsets, .. }
                    if *offsets != SwitchOffsets::Translated =>
                {
                    self.load
                        .consumers
                        .iter()
                        .find(|c| c.name == *name)
                        .map(|c| c.group.clone())
                }
                _ => None,
            })
            .collect()
    }
}

/// The host prefix of the green cluster's nodes.
pub const GREEN_PREFIX: &str = "green-";

impl Stack {
    /// The host name of `node` on the docker network.
    pub fn host(&self, node: NodeId) -> String {
        format!("{}{node}", self.prefix)
    }

    /// A blue/green stack's green cluster as a stack of its own: its Kafka section, the same users,
    /// no ZooKeeper or registry, hosts prefixed `green-`.
    pub fn green_stack(&self) -> Option<Stack> {
        let green = self.green.as_ref()?;
        Some(Stack {
            name: format!("{} (green)", self.name),
            description: None,
            source: self.source.clone(),
            zookeeper: None,
            kafka: green.kafka.clone(),
            registry: None,
            postgres: None,
            connect: None,
            clickhouse: None,
            users: self.users.clone(),
            green: None,
            prefix: GREEN_PREFIX,
        })
    }

    /// Every node, in start order: ZooKeeper, dedicated controllers, brokers, the registry.
    pub fn nodes(&self) -> Vec<NodeId> {
        let zk = self.zookeeper.as_ref().map_or(0, |z| z.nodes);
        (1..=zk)
            .map(NodeId::ZooKeeper)
            .chain((1..=self.kafka.dedicated_controllers()).map(NodeId::Controller))
            .chain((1..=self.kafka.brokers).map(NodeId::Kafka))
            .chain(self.registry.iter().map(|_| NodeId::Registry(1)))
            .chain(self.postgres.iter().map(|_| NodeId::Postgres(1)))
            .chain(self.connect.iter().map(|_| NodeId::Connect(1)))
            .chain(self.clickhouse.iter().map(|_| NodeId::ClickHouse(1)))
            .collect()
    }
}

/// A schema registry speaking the Confluent Schema Registry REST API: Apicurio Registry built from
/// its Maven Central distribution, or an upstream `confluentinc/cp-schema-registry` image.
#[derive(Debug, Clone)]
pub struct RegistrySpec {
    pub version: Version,
    pub image: ImageRef,
    pub storage: RegistryStorage,
    pub heap: String,
    pub start_timeout: Duration,
    /// The global compatibility level set when the stack starts (`BACKWARD`, `FULL`, `NONE`, ...).
    pub compatibility: String,
}

/// Where the registry keeps schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryStorage {
    /// In the stack's Kafka (Apicurio's `kafkasql`, Confluent's `_schemas` topic), over SCRAM as
    /// user `kh-registry`: broker upgrades affect it as they would in production.
    Kafka,
    /// In the registry's memory (Apicurio only): lost on every restart.
    Memory,
}

/// The Kafka user a registry with `storage: kafka` connects as (its ACLs are added by the loader).
pub const REGISTRY_USER: &str = "kh-registry";

/// How the brokers keep their metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaMode {
    ZooKeeper,
    Kraft(Controllers),
}

/// Where the KRaft controller quorum runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controllers {
    /// Every broker is also a voter of the quorum (`process.roles=broker,controller`).
    Combined,
    /// That many controller-only nodes (`process.roles=controller`).
    Dedicated(u8),
}

/// How a node's JVM compiles hot code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jit {
    /// C1 only. On two shared cores the C2 compiler threads of six freshly started JVMs took the
    /// CPU their start-up needed: a rolling upgrade of 3 controllers and 3 brokers under load took
    /// 374 s with `full` and 195 s with `quick`.
    Quick,
    /// The JVM's default tiered compilation, as production runs.
    Full,
}

impl Jit {
    /// JVM flags that select it.
    pub fn flags(self) -> &'static str {
        match self {
            Jit::Quick => "-XX:TieredStopAtLevel=1",
            Jit::Full => "",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ZooKeeperSpec {
    pub version: Version,
    pub nodes: u8,
    pub image: ImageRef,
    pub heap: String,
    pub jit: Jit,
    pub start_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct KafkaSpec {
    pub version: Version,
    pub mode: KafkaMode,
    pub brokers: u8,
    pub image: ImageRef,
    pub heap: String,
    pub jit: Jit,
    pub start_timeout: Duration,
    /// Production's server.properties, already read and parsed.
    pub overlay: Option<PropertiesFile>,
    /// Inline `config:` of the stack, applied after the overlay.
    pub config: BTreeMap<String, String>,
}

/// KRaft node ids of dedicated controllers start above every broker id (brokers are 1 to 9).
pub const CONTROLLER_ID_BASE: u32 = 100;

impl KafkaSpec {
    pub fn is_kraft(&self) -> bool {
        matches!(self.mode, KafkaMode::Kraft(_))
    }

    pub fn dedicated_controllers(&self) -> u8 {
        match self.mode {
            KafkaMode::Kraft(Controllers::Dedicated(n)) => n,
            _ => 0,
        }
    }

    /// The voters of the KRaft quorum (empty in ZooKeeper mode).
    pub fn voters(&self) -> Vec<NodeId> {
        match self.mode {
            KafkaMode::ZooKeeper => Vec::new(),
            KafkaMode::Kraft(Controllers::Combined) => {
                (1..=self.brokers).map(NodeId::Kafka).collect()
            }
            KafkaMode::Kraft(Controllers::Dedicated(n)) => {
                (1..=n).map(NodeId::Controller).collect()
            }
        }
    }
}

/// A Java properties file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertiesFile {
    pub path: PathBuf,
    pub entries: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub acls: Vec<Acl>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    pub resource: Resource,
    pub prefixed: bool,
    pub operations: Vec<Operation>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Topic(String),
    Group(String),
    TransactionalId(String),
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

impl Operation {
    /// The name `kafka-acls --operation` takes.
    pub fn kafka_name(self) -> &'static str {
        match self {
            Self::All => "All",
            Self::Read => "Read",
            Self::Write => "Write",
            Self::Create => "Create",
            Self::Delete => "Delete",
            Self::Alter => "Alter",
            Self::Describe => "Describe",
            Self::ClusterAction => "ClusterAction",
            Self::DescribeConfigs => "DescribeConfigs",
            Self::AlterConfigs => "AlterConfigs",
            Self::IdempotentWrite => "IdempotentWrite",
        }
    }
}

/// The name the harness's own super user has in every stack.
pub const ADMIN_USER: &str = "admin";

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub source: PathBuf,
    pub stack: Stack,
    pub topics: Vec<Topic>,
    pub load: Load,
    pub steps: Vec<Step>,
    pub semantics: Semantics,
    pub checks: Checks,
    /// Names of the checks that must fail (a planted defect).
    pub expect_fail: Vec<String>,
    /// The steps that must fail.
    pub expect_failed_steps: Vec<ExpectedFailure>,
    /// The canary probe that runs under every scenario unless turned off.
    pub canary: CanarySpec,
    /// Canary routing of a consumer service, when the scenario has it.
    pub router: Option<RouterSpec>,
    /// Version combinations to run the scenario with (empty: as written).
    pub matrix: Vec<MatrixEntry>,
}

/// A step the scenario declares must fail (a planted defect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFailure {
    /// From 0.
    pub index: usize,
    /// Words the step's detail must contain.
    pub because: Option<String>,
}

/// The phases of a ZooKeeper → KRaft migration, in the order Kafka's operations guide runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MigrationPhase {
    /// KRaft controllers start in migration mode, with ZooKeeper's connection.
    Controllers,
    /// The ZooKeeper brokers are rolled with migration enabled: they register with the
    /// controllers, which copy ZooKeeper's metadata and then write to both (dual write).
    Brokers,
    /// The brokers are rolled again as KRaft brokers.
    KraftBrokers,
    /// The controllers are rolled out of migration mode, then ZooKeeper is stopped.
    Finalize,
}

impl MigrationPhase {
    pub const ALL: [Self; 4] = [
        Self::Controllers,
        Self::Brokers,
        Self::KraftBrokers,
        Self::Finalize,
    ];

    /// The name a scenario gives it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Controllers => "controllers",
            Self::Brokers => "brokers",
            Self::KraftBrokers => "kraft_brokers",
            Self::Finalize => "finalize",
        }
    }

    pub fn describe(self, controllers: u8) -> String {
        match self {
            Self::Controllers => {
                format!("{controllers} KRaft controller(s) in migration mode")
            }
            Self::Brokers => {
                "brokers rolled with migration on (metadata copied, dual write)".into()
            }
            Self::KraftBrokers => "brokers rolled as KRaft brokers".into(),
            Self::Finalize => "controllers out of migration mode, ZooKeeper retired".into(),
        }
    }
}

/// One from/to combination of a scenario's version matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatrixEntry {
    pub from: Version,
    pub to: Version,
    /// Only in the full matrix.
    pub nightly: bool,
}

impl MatrixEntry {
    /// A name usable as a directory and a test-case suffix: `3.9.1-to-4.1.1`.
    pub fn label(&self) -> String {
        format!("{}-to-{}", self.from, self.to)
    }
}

impl Scenario {
    /// The stack the scenario ends on: the declared one, or, once a `migrate_to_kraft` step has
    /// run, a KRaft stack with the migration's dedicated controllers and no ZooKeeper.
    pub fn final_stack(&self) -> Stack {
        let mut s = self.stack.clone();
        for step in &self.steps {
            if let Step::MigrateToKraft { controllers, .. } = step {
                s.kafka.mode = KafkaMode::Kraft(Controllers::Dedicated(*controllers));
                s.zookeeper = None;
            }
        }
        s
    }

    /// The scenario with one matrix entry applied: the stack starts on `from` (its image too), every
    /// Kafka or controller rolling upgrade goes to `to`, a protocol pin names `from`'s line and a
    /// metadata.version bump `to`'s.
    #[must_use]
    pub fn for_entry(&self, e: &MatrixEntry) -> Self {
        let mut s = self.clone();
        s.name = format!("{} [{} -> {}]", self.name, e.from, e.to);
        s.stack.kafka.version = e.from;
        s.stack.kafka.image = s.stack.kafka.image.for_version(Component::Kafka, e.from);
        for step in &mut s.steps {
            match step {
                Step::RollingUpgrade {
                    component: Component::Kafka | Component::Controller,
                    to,
                    pin_protocol,
                    ..
                } => {
                    *to = e.to;
                    if let Some(p) = pin_protocol {
                        *p = format!("{}.{}", e.from.major, e.from.minor);
                    }
                }
                Step::BumpMetadataVersion { to, .. } => {
                    *to = format!("{}.{}", e.to.major, e.to.minor);
                }
                _ => {}
            }
        }
        s.matrix = Vec::new();
        s
    }
}

pub use crate::checks::integrity::Semantics;

#[derive(Debug, Clone, Default)]
pub struct Load {
    pub producers: Vec<ProducerSpec>,
    pub consumers: Vec<ConsumerSpec>,
    pub postgres_writers: Vec<PostgresWriterSpec>,
}

/// An application writing rows to the stack's PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresWriterSpec {
    pub name: String,
    /// Carried in every row (column `producer`); unique among the scenario's producers and writers.
    pub id: u32,
    pub table: String,
    /// Changes per second.
    pub rate: u32,
    pub amount: Amount,
    /// Shares of changes that update / delete a row written before.
    pub updates: f64,
    pub deletes: f64,
    pub payload_size: u32,
    pub on_step: bool,
}

/// How much a producer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    For(Duration),
    Records(u64),
}

#[derive(Debug, Clone)]
pub struct ProducerSpec {
    pub name: String,
    /// Carried in every record; unique within the scenario.
    pub id: u32,
    pub topic: String,
    pub user: String,
    pub rate: u32,
    pub amount: Amount,
    pub ramp: Duration,
    /// (every, records): extra records sent at once on a fixed cadence.
    pub burst: Option<(Duration, u32)>,
    pub record_size: u32,
    pub keys: u32,
    /// librdkafka's value: "all", "1" or "0".
    pub acks: &'static str,
    pub idempotence: bool,
    pub compression: &'static str,
    pub partitioner: Option<&'static str>,
    pub delivery_timeout: Duration,
    pub on_step: bool,
    /// Avro values through the registry instead of the harness's plain records.
    pub avro: Option<AvroProducerSpec>,
}

/// An .avsc file, read and parsed when the scenario was loaded.
#[derive(Debug, Clone)]
pub struct SchemaFile(pub std::sync::Arc<crate::avro::Avsc>);

impl PartialEq for SchemaFile {
    fn eq(&self, other: &Self) -> bool {
        self.0.path == other.0.path && self.0.text == other.0.text
    }
}

impl Eq for SchemaFile {}

impl SchemaFile {
    /// The file name, for labels and reports.
    pub fn name(&self) -> String {
        self.0.path.file_name().map_or_else(
            || self.0.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

#[derive(Debug, Clone)]
pub struct AvroProducerSpec {
    /// The schema the producer starts with.
    pub schema: SchemaFile,
    /// Where its versions are registered.
    pub subject: String,
}

#[derive(Debug, Clone)]
pub struct AvroConsumerSpec {
    /// The consumer's reader schema; None: records are read with their writer schema.
    pub reader: Option<SchemaFile>,
}

impl ProducerSpec {
    /// Records this producer will send, for producers bounded by a count or a time.
    pub fn planned_records(&self) -> u64 {
        match self.amount {
            Amount::Records(n) => n,
            Amount::For(d) => {
                let ramp = self.ramp.min(d).as_secs_f64();
                let full = (d.as_secs_f64() - ramp).max(0.0);
                let bursts = self.burst.map_or(0, |(every, n)| {
                    (d.as_secs_f64() / every.as_secs_f64().max(1e-3)).floor() as u64 * u64::from(n)
                });
                (f64::from(self.rate) * (full + ramp / 2.0)).round() as u64 + bursts
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Commit {
    Auto,
    Sync,
    Async,
    Never,
}

#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub name: String,
    pub topic: String,
    pub user: String,
    pub group: String,
    pub commit: Commit,
    pub on_step: bool,
    pub avro: Option<AvroConsumerSpec>,
    pub cluster: Cluster,
}

/// Check names, as used in `checks:`, `expect.fail` and reports.
pub const CHECK_NAMES: [&str; 14] = [
    "no_loss",
    "no_duplicates",
    "ordering",
    "max_lag",
    "produce_errors",
    "max_unavailability",
    "preflight",
    "log_scan",
    "canary_availability",
    "canary_max_unavailability",
    "canary_e2e_p99",
    "avro_reads",
    "routed_exactly_once",
    "cdc_integrity",
];

#[derive(Debug, Clone, Default)]
pub struct Checks {
    pub no_loss: bool,
    pub no_duplicates: bool,
    pub ordering: bool,
    pub max_lag: Vec<MaxLag>,
    pub produce_errors: Option<ErrorBudget>,
    pub max_unavailability: Option<Duration>,
    /// Fail on error findings of the config preflight.
    pub preflight: bool,
    /// Fail when a component's log shows one of these kinds; empty: no such check.
    pub log_scan: Vec<LogKind>,
    pub canary_availability: Option<CanaryAvailability>,
    pub canary_max_unavailability: Option<Duration>,
    pub canary_e2e_p99: Option<CanaryLatencyBound>,
    pub avro_reads: Vec<AvroReads>,
    pub routed_exactly_once: bool,
    pub cdc_integrity: bool,
}

// A scenario's `log_scan` check names these and the log scanner finds them; they are defined
// here, upstream of both, so the scenario needs nothing from the scanner.
/// What went wrong, as far as a log line says.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// A broker failed to start ("Fatal error during KafkaServer startup", "Exiting Kafka").
    FailedToStart,
    /// A class named in the config is not on the classpath (ClassNotFoundException, "Class x
    /// cannot be found").
    ClassNotFound,
    /// A setting was refused (ConfigException, "Invalid value").
    InvalidConfig,
    /// A setting was supplied that the component does not know ("was supplied but isn't a known
    /// config").
    UnknownConfig,
    /// A production key the broker does not list among its own config values: it ignored it.
    IgnoredConfig,
    /// Versions that do not fit together (UnsupportedVersionException, inter.broker.protocol.version,
    /// metadata.version, IBP).
    ProtocolMismatch,
    /// Any other ERROR (or FATAL) line.
    Error,
    /// Any other WARN line.
    Warning,
}

impl LogKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::FailedToStart => "failed_to_start",
            Self::ClassNotFound => "class_not_found",
            Self::InvalidConfig => "invalid_config",
            Self::UnknownConfig => "unknown_config",
            Self::IgnoredConfig => "ignored_config",
            Self::ProtocolMismatch => "protocol_mismatch",
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

/// An Avro consumer must have read records written with each of these schemas, and decoded all.
#[derive(Debug, Clone)]
pub struct AvroReads {
    pub consumer: String,
    pub writer_schemas: Vec<SchemaFile>,
}

impl Checks {
    /// Names of the checks this scenario runs.
    pub fn enabled(&self) -> Vec<&'static str> {
        let on = [
            self.no_loss,
            self.no_duplicates,
            self.ordering,
            !self.max_lag.is_empty(),
            self.produce_errors.is_some(),
            self.max_unavailability.is_some(),
            self.preflight,
            !self.log_scan.is_empty(),
            self.canary_availability.is_some(),
            self.canary_max_unavailability.is_some(),
            self.canary_e2e_p99.is_some(),
            !self.avro_reads.is_empty(),
            self.routed_exactly_once,
            self.cdc_integrity,
        ];
        CHECK_NAMES
            .iter()
            .zip(on)
            .filter(|(_, on)| *on)
            .map(|(n, _)| *n)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct MaxLag {
    pub consumer: String,
    pub max: i64,
    /// 0-based index of the step after whose end (plus `settle`) samples count.
    pub after_step: Option<usize>,
    pub settle: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct ErrorBudget {
    pub max: Option<u64>,
    pub max_ratio: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u16,
    pub config: BTreeMap<String, String>,
    /// Broker ids per partition, leader first.
    pub assignment: Option<Vec<Vec<i32>>>,
}

/// A kind of node of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    ZooKeeper,
    /// Dedicated KRaft controllers (their image is Kafka's).
    Controller,
    Kafka,
    Registry,
    Postgres,
    Connect,
    ClickHouse,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Self::ZooKeeper => "zookeeper",
            Self::Controller => "controller",
            Self::Kafka => "kafka",
            Self::Registry => "registry",
            Self::Postgres => "postgres",
            Self::Connect => "connect",
            Self::ClickHouse => "clickhouse",
        }
    }

    /// The image repository the component runs from.
    pub fn image_name(self) -> &'static str {
        match self {
            Self::ZooKeeper => "zookeeper",
            Self::Controller | Self::Kafka => "kafka",
            Self::Registry => "registry",
            Self::Postgres => "postgres",
            Self::Connect => "connect",
            Self::ClickHouse => "clickhouse",
        }
    }
}

/// A node of a running stack, e.g. `kafka-2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeId {
    ZooKeeper(u8),
    /// A dedicated KRaft controller.
    Controller(u8),
    /// A broker (in a combined KRaft stack, also a controller).
    Kafka(u8),
    /// The schema registry (there is one: `registry-1`).
    Registry(u8),
    /// The application database (there is one: `postgres-1`).
    Postgres(u8),
    /// The Kafka Connect worker (there is one: `connect-1`).
    Connect(u8),
    /// ClickHouse (there is one: `clickhouse-1`).
    ClickHouse(u8),
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZooKeeper(n) => write!(f, "zookeeper-{n}"),
            Self::Controller(n) => write!(f, "controller-{n}"),
            Self::Kafka(n) => write!(f, "kafka-{n}"),
            Self::Registry(n) => write!(f, "registry-{n}"),
            Self::Postgres(n) => write!(f, "postgres-{n}"),
            Self::Connect(n) => write!(f, "connect-{n}"),
            Self::ClickHouse(n) => write!(f, "clickhouse-{n}"),
        }
    }
}

impl NodeId {
    pub fn component(self) -> Component {
        match self {
            Self::ZooKeeper(_) => Component::ZooKeeper,
            Self::Controller(_) => Component::Controller,
            Self::Kafka(_) => Component::Kafka,
            Self::Registry(_) => Component::Registry,
            Self::Postgres(_) => Component::Postgres,
            Self::Connect(_) => Component::Connect,
            Self::ClickHouse(_) => Component::ClickHouse,
        }
    }

    /// `node.id` / `broker.id` of a Kafka process.
    pub fn kafka_id(self) -> u32 {
        match self {
            Self::ZooKeeper(n)
            | Self::Kafka(n)
            | Self::Registry(n)
            | Self::Postgres(n)
            | Self::Connect(n)
            | Self::ClickHouse(n) => u32::from(n),
            Self::Controller(n) => CONTROLLER_ID_BASE + u32::from(n),
        }
    }
}

impl FromStr for NodeId {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (kind, n) = s.rsplit_once('-').ok_or(())?;
        let n: u8 = n.parse().map_err(|_| ())?;
        match kind {
            "zookeeper" => Ok(Self::ZooKeeper(n)),
            "controller" => Ok(Self::Controller(n)),
            "kafka" => Ok(Self::Kafka(n)),
            "registry" => Ok(Self::Registry(n)),
            "postgres" => Ok(Self::Postgres(n)),
            "connect" => Ok(Self::Connect(n)),
            "clickhouse" => Ok(Self::ClickHouse(n)),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Produce {
        topic: String,
        user: String,
        records: u64,
        timeout: Duration,
    },
    Consume {
        topic: String,
        user: String,
        group: Option<String>,
        records: u64,
        timeout: Duration,
    },
    ExpectRefused(RefusedClient),
    ExpectDenied {
        user: String,
        topic: String,
        operation: DeniedOperation,
    },
    Restart {
        node: NodeId,
        timeout: Duration,
    },
    Wait(Duration),
    Stop(NodeId),
    RollingUpgrade {
        component: Component,
        to: Version,
        /// `inter.broker.protocol.version` during the roll (Kafka only).
        pin_protocol: Option<String>,
        node_timeout: Duration,
    },
    /// KRaft: finalize `metadata.version` of the release `to` ("4.1").
    BumpMetadataVersion {
        to: String,
        timeout: Duration,
    },
    Kill(NodeId),
    Start {
        node: NodeId,
        timeout: Duration,
    },
    Pause(NodeId),
    Unpause(NodeId),
    StartLoad(String),
    StopLoad(String),
    WaitLoad {
        name: String,
        timeout: Duration,
    },
    Drain {
        name: String,
        timeout: Duration,
    },
    RestartConsumer(String),
    /// Register `schema` under an Avro producer's subject; on acceptance the producer switches.
    RegisterSchema {
        producer: String,
        schema: SchemaFile,
        expect: Registration,
        compatibility: Option<String>,
        timeout: Duration,
    },
    /// One phase of the ZooKeeper → KRaft migration (KIP-866).
    MigrateToKraft {
        phase: MigrationPhase,
        /// The KRaft controllers the migration provisions (`controller-1` ... `controller-N`).
        controllers: u8,
        /// How long the whole phase may take.
        timeout: Duration,
    },
    /// Blue/green: green holds every record of `topics` and each (group, topic) on blue has read
    /// everything.
    DrainBlue {
        topics: Vec<String>,
        groups: Vec<(String, String)>,
        timeout: Duration,
    },
    /// Blue/green: MirrorMaker and blue's nodes stop.
    RetireBlue,
    /// Blue/green: consumer `name` moves to green.
    SwitchConsumer {
        name: String,
        offsets: SwitchOffsets,
        timeout: Duration,
    },
    /// The Kafka Connect worker moves to Debezium `to` (a rolling upgrade of a one-worker group).
    UpgradeConnect {
        to: String,
        timeout: Duration,
    },
    /// Blue/green: producer `name`'s endpoint alias points to green from now on.
    SwitchProducer {
        name: String,
        ttl: Duration,
        wait_for_mirror: bool,
        timeout: Duration,
    },
    /// Canary routing: pause, drain both versions, change the threshold, resume.
    SetThreshold {
        threshold: f64,
        drain_timeout: Duration,
    },
    /// Canary routing: the new version moves onto the original topic, the legacy one retires.
    Promote {
        from: PromoteFrom,
        drain_timeout: Duration,
    },
    /// Canary routing: the router stops (killed or gracefully) and a new instance starts.
    RouterFault {
        fault: RouterFault,
        down_for: Duration,
    },
}

impl Step {
    /// A short label for progress lines and reports.
    pub fn label(&self) -> String {
        match self {
            Self::Produce {
                topic,
                user,
                records,
                ..
            } => format!("produce {records} record(s) to {topic} as {user}"),
            Self::Consume {
                topic,
                user,
                records,
                ..
            } => format!("consume {records} record(s) from {topic} as {user}"),
            Self::ExpectRefused(RefusedClient::Anonymous) => {
                "expect an anonymous client to be refused".to_owned()
            }
            Self::ExpectRefused(RefusedClient::WrongPassword { user }) => {
                format!("expect {user} with a wrong password to be refused")
            }
            Self::ExpectDenied {
                user,
                topic,
                operation,
            } => format!("expect {user} to be denied {operation:?} on {topic}").to_lowercase(),
            Self::Restart { node, .. } => format!("restart {node}"),
            Self::Wait(d) => format!("wait {}", super::duration::format_duration(*d)),
            Self::Stop(n) => format!("stop {n}"),
            Self::RollingUpgrade {
                component,
                to,
                pin_protocol,
                ..
            } => {
                let pin = pin_protocol
                    .as_ref()
                    .map(|p| format!(" with inter.broker.protocol.version={p}"))
                    .unwrap_or_default();
                format!("rolling upgrade of {} to {to}{pin}", component.name())
            }
            Self::BumpMetadataVersion { to, .. } => {
                format!("bump metadata.version to {to}")
            }
            Self::DrainBlue { .. } => {
                "drain blue (green holds every record, blue's groups have read everything)".into()
            }
            Self::RetireBlue => "retire blue (MirrorMaker and blue's nodes stop)".into(),
            Self::SwitchConsumer { name, offsets, .. } => {
                format!(
                    "switch consumer {name} to green ({} offsets)",
                    offsets.name()
                )
            }
            Self::UpgradeConnect { to, .. } => {
                format!("rolling upgrade of connect to Debezium {to}")
            }
            Self::SwitchProducer { name, ttl, .. } => {
                format!(
                    "switch producer {name} to green (alias TTL {})",
                    super::duration::format_duration(*ttl)
                )
            }
            Self::MigrateToKraft {
                phase, controllers, ..
            } => format!(
                "ZooKeeper -> KRaft {}/4: {}",
                *phase as u8 + 1,
                phase.describe(*controllers)
            ),
            Self::Kill(n) => format!("kill -9 {n}"),
            Self::Start { node, .. } => format!("start {node}"),
            Self::Pause(n) => format!("pause {n}"),
            Self::Unpause(n) => format!("unpause {n}"),
            Self::StartLoad(n) => format!("start load {n}"),
            Self::StopLoad(n) => format!("stop load {n}"),
            Self::WaitLoad { name, .. } => format!("wait for {name} to finish"),
            Self::Drain { name, .. } => format!("drain consumer {name}"),
            Self::RestartConsumer(n) => format!("restart consumer {n}"),
            Self::RegisterSchema {
                producer,
                schema,
                expect,
                ..
            } => format!(
                "register {} for producer {producer} (expect {})",
                schema.name(),
                expect.name()
            ),
            Self::SetThreshold { threshold, .. } => {
                format!("route a share of {threshold} to the new version")
            }
            Self::Promote { from, .. } => format!(
                "promote the new version (from the {} offsets) and retire the legacy one",
                from.name()
            ),
            Self::RouterFault {
                fault: RouterFault::Kill,
                ..
            } => "kill the router mid-batch".to_owned(),
            Self::RouterFault {
                fault: RouterFault::Restart,
                ..
            } => "restart the router".to_owned(),
        }
    }
}

/// What a `register_schema` step expects of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Accepted,
    /// The registry answers no (e.g. 409, incompatible with the subject's compatibility level).
    Refused,
    /// The registry does not answer (stopped, restarting): registrations fail visibly meanwhile.
    Unreachable,
}

impl Registration {
    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Refused => "refused",
            Self::Unreachable => "unreachable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusedClient {
    Anonymous,
    WrongPassword { user: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedOperation {
    Read,
    Write,
}

/// The validated router.
#[derive(Debug, Clone, PartialEq)]
pub struct RouterSpec {
    pub name: String,
    pub topic: String,
    pub legacy_topic: String,
    pub canary_topic: String,
    pub user: String,
    pub threshold: f64,
    /// Consumer names (in `load.consumers`).
    pub legacy: String,
    pub canary: String,
    pub transactional: bool,
    pub commit_interval: Duration,
    pub share_tolerance: f64,
}

/// Where a promoted service starts reading the original topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromoteFrom {
    /// The first offset not yet routed, per partition: no gap, no overlap.
    Translated,
    /// The end of each partition (a planted defect: a gap).
    Latest,
    /// The beginning (a planted defect: an overlap).
    Earliest,
}

impl PromoteFrom {
    pub fn name(self) -> &'static str {
        match self {
            Self::Translated => "translated",
            Self::Latest => "latest",
            Self::Earliest => "earliest",
        }
    }
}

/// Why a router fault step stops the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterFault {
    /// Gone mid-batch: nothing committed, nothing aborted, its producer and consumer dropped.
    Kill,
    /// Graceful: the open transaction (or offsets) committed first.
    Restart,
}
