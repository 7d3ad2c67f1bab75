//! The files as written. Private to the crate: every type refuses unknown keys, and is converted into
//! the validated domain types of `model` by `load`. Doc comments here become the JSON Schema's
//! descriptions, which editors show while a stack or scenario is typed.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;

pub use super::canary::{CanaryAvailabilitySerde, CanaryLatencySerde, CanarySerde};
pub use super::router::{CanaryRouterSerde, PromoteSerde, RouterFaultSerde, SetThresholdSerde};

/// A stack: what "production" is. Components, versions, security.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackSerde {
    /// `stack`: says which kind of file this is (otherwise its `$schema` comment, its folder or
    /// its keys say it).
    #[serde(default)]
    pub kind: Option<FileKindSerde>,
    /// Name of the stack, shown in plans and reports.
    pub name: String,
    /// One line on what production this stack copies.
    #[serde(default)]
    pub description: Option<String>,
    /// The ZooKeeper ensemble: required with `kafka.mode: zookeeper`, absent with `kraft`.
    #[serde(default)]
    pub zookeeper: Option<ZooKeeperSerde>,
    pub kafka: KafkaSerde,
    /// A schema registry speaking the Confluent Schema Registry REST API (Avro producers and
    /// consumers register and fetch their schemas there).
    #[serde(default)]
    pub registry: Option<RegistrySerde>,
    /// PostgreSQL, the application database a `postgres_writer` load writes to (and Debezium
    /// reads its changes from).
    #[serde(default)]
    pub postgres: Option<PostgresSerde>,
    /// Kafka Connect (a distributed worker from Kafka's release jars) with Debezium's PostgreSQL
    /// connector, and the connectors the harness submits to it.
    #[serde(default)]
    pub connect: Option<ConnectSerde>,
    /// ClickHouse reading Debezium's topics into tables, as production ingests them: per table a
    /// Kafka engine table, a materialized view and a ReplacingMergeTree base table.
    #[serde(default)]
    pub clickhouse: Option<ClickHouseSerde>,
    /// Blue/green: a second cluster ("green") beside the stack's own ("blue"), on the same network
    /// with the same users and ACLs, which MirrorMaker 2 replicates the scenario's topics and
    /// consumer groups into.
    #[serde(default)]
    pub green: Option<GreenSerde>,
    #[serde(default)]
    pub security: SecuritySerde,
}

/// PostgreSQL from Debian's packages (bookworm: release 15), started with `wal_level=logical`,
/// SCRAM passwords and one database, `app`, holding the declared tables.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresSerde {
    /// The major release, e.g. "15" (default; the one Debian bookworm packages).
    #[serde(default)]
    pub version: Option<String>,
    /// Production's postgresql.conf settings, a file relative to the stack file, included after
    /// the harness's own (`wal_level`, `listen_addresses` and the replication limits are kept).
    #[serde(default)]
    pub postgresql_conf: Option<String>,
    /// The application's tables in database `app`, each `(id bigint primary key, producer int,
    /// seq bigint, version int, payload text, updated_at timestamptz)`: a writer's rows carry
    /// their ids so every change can be followed downstream.
    pub tables: Vec<String>,
    /// How long it may take to accept connections, e.g. "60s" (default).
    #[serde(default)]
    pub start_timeout: Option<String>,
}

/// Kafka Connect with Debezium's PostgreSQL connector and Apicurio's Avro converter, built from
/// Maven Central; it logs in to Kafka over SCRAM as user `kh-connect`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSerde {
    /// The Debezium release, e.g. "3.6.1.Final" (default).
    #[serde(default)]
    pub version: Option<String>,
    /// JVM heap of the worker, e.g. "384m" (default).
    #[serde(default)]
    pub heap: Option<String>,
    /// How long the worker may take to answer and every connector to run, e.g. "180s" (default).
    #[serde(default)]
    pub start_timeout: Option<String>,
    /// Debezium PostgreSQL connectors: each captures tables of the stack's `postgres:` into
    /// topics `<name>.public.<table>`.
    #[serde(default)]
    pub connectors: Vec<ConnectorSerde>,
}

/// ClickHouse from Debian's packages (bookworm has 18.16 only: no `AvroConfluent` format, so its
/// Kafka tables read JSON rows flattened by Debezium's `ExtractNewRecordState`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseSerde {
    /// "18.16" (default; the release Debian bookworm packages).
    #[serde(default)]
    pub version: Option<String>,
    /// Production's server settings: a config.d XML file relative to the stack file.
    #[serde(default)]
    pub config_xml: Option<String>,
    /// How long the server may take to answer, e.g. "60s" (default).
    #[serde(default)]
    pub start_timeout: Option<String>,
    /// The tables ClickHouse fills from CDC topics.
    pub tables: Vec<ClickHouseTableSerde>,
}

/// A ClickHouse table filled from one PostgreSQL table's changes: `<name>_queue` (Kafka engine,
/// JSONEachRow, consumer group `kh-clickhouse-<name>`), `<name>_mv` (materialized view) and
/// `<name>` (ReplacingMergeTree by `version`, ordered by `id`; deleted rows kept with
/// `__deleted = 'true'`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseTableSerde {
    pub name: String,
    /// The connector of `connect.connectors` whose changes it reads.
    pub connector: String,
    /// The PostgreSQL table (one of the connector's `tables`).
    pub table: String,
    /// Production's filter in the materialized view, a ClickHouse expression over the columns
    /// (e.g. `producer >= 0`).
    #[serde(default)]
    pub view_where: Option<String>,
    /// The format the Kafka table reads: `JSONEachRow` (default: Debezium's flattened rows).
    /// `AvroConfluent` (Debezium's Avro through the registry) needs ClickHouse 20.x or later.
    #[serde(default)]
    pub format: Option<String>,
}

/// A Debezium PostgreSQL connector (pgoutput, a publication and a replication slot of its own).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorSerde {
    /// Its name, and the prefix of its topics (`topic.prefix`).
    pub name: String,
    /// Tables of the stack's `postgres.tables` it captures.
    pub tables: Vec<String>,
    /// Production's connector settings, laid over the harness's (the connection, the slot and
    /// the tables are kept), e.g. `{ "snapshot.mode": "no_data" }`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// `avro` (default when the stack has a `registry:`): keys and values through Apicurio's
    /// converter in the Confluent wire format, schemas registered in the stack's registry.
    /// `json`: JSON without schemas.
    #[serde(default)]
    pub format: Option<String>,
}

/// The green cluster and the MirrorMaker 2 that fills it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GreenSerde {
    /// A Kafka section like the stack's own; green runs KRaft (`mode: kraft`).
    pub kafka: KafkaSerde,
    /// MirrorMaker 2 (dedicated mode, Kafka's own `connect-mirror-maker`, from green's release).
    #[serde(default)]
    pub mirror_maker: MirrorMakerSerde,
}

/// MirrorMaker 2 from blue to green: identity replication (topic names stay), consumer-group
/// offsets translated and synced, an offset sync for every record (exact translation).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MirrorMakerSerde {
    /// JVM heap, e.g. "256m" (default).
    #[serde(default)]
    pub heap: Option<String>,
    /// How long it may take until it replicates, e.g. "120s" (default).
    #[serde(default)]
    pub start_timeout: Option<String>,
}

/// Which kind of file this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileKindSerde {
    Stack,
    Scenario,
}

/// The schema registry: Apicurio Registry 3.x built from its Maven Central distribution (serving the
/// Confluent API under `/apis/ccompat/v7`), or an upstream `confluentinc/cp-schema-registry` image.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySerde {
    /// Apicurio Registry release, e.g. "3.0.9" (or the Confluent Platform release of `image`).
    pub version: String,
    /// An upstream image to use instead of building Apicurio, e.g. "confluentinc/cp-schema-registry:7.9.0".
    #[serde(default)]
    pub image: Option<String>,
    /// `kafka` (default): schemas live in the stack's Kafka, written over SCRAM as user
    /// `kh-registry` with its own ACLs, and survive restarts. `memory` (Apicurio only): lost on
    /// every restart; for small scenarios.
    #[serde(default)]
    pub storage: Option<String>,
    /// JVM heap, e.g. "192m".
    #[serde(default)]
    pub heap: Option<String>,
    /// How long the registry may take to answer a request, e.g. "120s".
    #[serde(default)]
    pub start_timeout: Option<String>,
    /// Global compatibility level set when the stack starts: BACKWARD (default), BACKWARD_TRANSITIVE,
    /// FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE.
    #[serde(default)]
    pub compatibility: Option<String>,
}

/// The ZooKeeper ensemble the brokers register in.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZooKeeperSerde {
    /// ZooKeeper release, e.g. "3.8.4". The image is built from its Maven Central artifacts.
    pub version: String,
    /// Ensemble size: 1, 3, 5 or 7.
    #[serde(default = "one")]
    pub nodes: u8,
    /// An upstream image to use instead of building one (for example "zookeeper:3.8.4").
    #[serde(default)]
    pub image: Option<String>,
    /// JVM heap of each node, e.g. "128m".
    #[serde(default)]
    pub heap: Option<String>,
    /// The nodes' JIT compilation: `quick` (default: C1 only, for small machines) or `full`.
    #[serde(default)]
    pub jit: JitSerde,
    /// How long a node may take to answer before the run gives up, e.g. "90s".
    #[serde(default)]
    pub start_timeout: Option<String>,
}

/// The Kafka brokers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaSerde {
    /// Kafka release, e.g. "3.7.2". The image is built from `org.apache.kafka:kafka_2.13` on Maven Central.
    pub version: String,
    /// How brokers keep metadata: `zookeeper` (3.x releases) or `kraft` (3.5 and later, 4.x).
    #[serde(default)]
    pub mode: KafkaModeSerde,
    /// Number of brokers, 1 to 9.
    #[serde(default = "one")]
    pub brokers: u8,
    /// KRaft only: where the controller quorum runs. `combined` (the default): every broker is also
    /// a controller (then 1, 3 or 5 brokers). A number (1, 3 or 5): that many controller-only nodes,
    /// `controller-1`... SCRAM credentials are formatted into every node's storage.
    #[serde(default)]
    pub controllers: Option<ControllersSerde>,
    /// An upstream image to use instead of building one: apache/kafka, confluentinc/cp-kafka or
    /// bitnami/kafka, with a tag.
    #[serde(default)]
    pub image: Option<String>,
    /// JVM heap of each broker, e.g. "384m".
    #[serde(default)]
    pub heap: Option<String>,
    /// The nodes' JIT compilation: `quick` (default: C1 only, for small machines) or `full` (the
    /// JVM's tiered compilation with C2, as production runs).
    #[serde(default)]
    pub jit: JitSerde,
    /// How long a broker may take to register before the run gives up, e.g. "120s".
    #[serde(default)]
    pub start_timeout: Option<String>,
    /// Production's server.properties, relative to this stack file. Overlaid on the harness's
    /// defaults; the harness then overrides only listeners, ids, paths and connection strings.
    #[serde(default)]
    pub server_properties: Option<String>,
    /// Broker settings applied after `server_properties`.
    #[serde(default)]
    pub config: BTreeMap<String, PropValue>,
}

/// `combined` or a number of dedicated controllers.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ControllersSerde {
    Dedicated(u8),
    Named(String),
}

/// How a node's JVM compiles hot code.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JitSerde {
    /// C1 only (`-XX:TieredStopAtLevel=1`): starts and warms up with a fraction of the CPU.
    #[default]
    Quick,
    /// The JVM's default tiered compilation (C1, then C2 for hot code).
    Full,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KafkaModeSerde {
    #[default]
    Zookeeper,
    Kraft,
}

/// Who may connect and what they may do. Every user authenticates with SCRAM-SHA-512; passwords are
/// generated for each run and never written anywhere but the containers' credential files.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecuritySerde {
    /// Service users. `admin` is reserved for the harness's own super user.
    #[serde(default)]
    pub users: Vec<UserSerde>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSerde {
    /// The SCRAM user name, also the principal `User:<name>` in ACLs.
    pub name: String,
    /// What this user is allowed to do. Anything not allowed is denied.
    #[serde(default)]
    pub acls: Vec<AclSerde>,
}

/// An allow rule on exactly one of `topic`, `group` or `cluster`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AclSerde {
    /// A topic name (or prefix, with `prefixed: true`); "*" for all topics.
    #[serde(default)]
    pub topic: Option<String>,
    /// A consumer group name (or prefix); "*" for all groups.
    #[serde(default)]
    pub group: Option<String>,
    /// A transactional id (or prefix), e.g. for a transactional router: `write` and `describe`.
    #[serde(default)]
    pub transactional_id: Option<String>,
    /// The cluster itself (for example to allow `idempotent_write` or `create`).
    #[serde(default)]
    pub cluster: bool,
    /// Match names by prefix instead of literally.
    #[serde(default)]
    pub prefixed: bool,
    /// Allowed operations.
    pub operations: Vec<OperationSerde>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationSerde {
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

/// A rehearsal: the stack it runs on, the topics it needs and the steps it performs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSerde {
    /// `scenario`: says which kind of file this is (otherwise its `$schema` comment, its folder
    /// or its keys say it).
    #[serde(default)]
    pub kind: Option<FileKindSerde>,
    /// Name of the scenario, shown in reports and as the test name.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The stack file, relative to this scenario file.
    pub stack: String,
    /// Topics created (by the harness's admin user) before the first step.
    #[serde(default)]
    pub topics: Vec<TopicSerde>,
    /// Producers and consumers that run under the steps.
    #[serde(default)]
    pub load: LoadSerde,
    /// What happens, in order.
    pub steps: Vec<StepSerde>,
    /// Declared delivery semantics: decide whether duplicates and reordering fail or are only counted.
    /// Default: `idempotent` when every producer is idempotent with acks=all, else `at_least_once`.
    #[serde(default)]
    pub semantics: Option<SemanticsSerde>,
    /// Checks over what the run recorded.
    #[serde(default)]
    pub checks: ChecksSerde,
    /// Checks that must fail: a planted defect proves a check can catch it. The run passes only
    /// if exactly these checks fail.
    #[serde(default)]
    pub expect: ExpectSerde,
    /// The canary probe: on unless `enabled: false`.
    #[serde(default)]
    pub canary: Option<CanarySerde>,
    /// Canary routing of a consumer service between its legacy and its new version.
    #[serde(default)]
    pub canary_router: Option<CanaryRouterSerde>,
    /// Version matrix: each entry runs the scenario again with the stack's Kafka release replaced by
    /// `from` and every Kafka/controller rolling upgrade going to `to` (protocol pins follow `from`,
    /// a metadata.version bump follows `to`). `run` runs the entries not marked `nightly`;
    /// `run --matrix all` runs every entry. Omitted: the scenario as written.
    #[serde(default)]
    pub matrix: Vec<MatrixEntrySerde>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixEntrySerde {
    /// The Kafka release the stack starts on, e.g. "3.9.1".
    pub from: String,
    /// The Kafka release every rolling upgrade of the scenario goes to, e.g. "4.1.1".
    pub to: String,
    /// Only in the full (nightly) matrix, `run --matrix all`.
    #[serde(default)]
    pub nightly: bool,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SemanticsSerde {
    AtLeastOnce,
    Idempotent,
    ExactlyOnce,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadSerde {
    #[serde(default)]
    pub producers: Vec<ProducerSerde>,
    #[serde(default)]
    pub consumers: Vec<ConsumerSerde>,
    /// Applications writing to the stack's PostgreSQL (what Debezium turns into change events).
    #[serde(default)]
    pub postgres_writers: Vec<PostgresWriterSerde>,
}

/// Rows written to a table of the stack's `postgres:` at a declared rate, one change per
/// statement (autocommit): inserts of new rows, and as many updates and deletes of rows written
/// before as the fractions say. Each row carries the writer's id, its sequence number and a version
/// each update raises, so every committed change can be followed downstream.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresWriterSerde {
    pub name: String,
    /// A table of the stack's `postgres.tables`.
    pub table: String,
    /// Changes per second (default 10, as the seed system's one row every 0.1 s).
    #[serde(default)]
    pub rate: Option<u32>,
    /// How long to write, e.g. "60s". Exactly one of `duration` and `changes`.
    #[serde(default)]
    pub duration: Option<String>,
    /// How many changes to commit.
    #[serde(default)]
    pub changes: Option<u64>,
    /// The share of changes that update a row written before, 0 to 1 (default 0.2).
    #[serde(default)]
    pub updates: Option<f64>,
    /// The share of changes that delete a row written before, 0 to 1 (default 0).
    #[serde(default)]
    pub deletes: Option<f64>,
    /// Payload bytes per row (default 100).
    #[serde(default)]
    pub payload_size: Option<u32>,
    /// `with_stack` (default) or `on_step` (a `start_load` step starts it).
    #[serde(default)]
    pub start: StartSerde,
}

/// A producer at a declared rate. Every record carries the run id, the producer's id and a sequence
/// number; its payload is a pure function of them, so the checks recompute it instead of storing it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProducerSerde {
    pub name: String,
    pub topic: String,
    /// A user of the stack, or `admin`.
    pub user: String,
    /// Records per second (after the ramp).
    pub rate: u32,
    /// How long to produce, e.g. "60s". Exactly one of `duration` and `records`.
    #[serde(default)]
    pub duration: Option<String>,
    /// How many records to produce.
    #[serde(default)]
    pub records: Option<u64>,
    /// Rise linearly from 0 to `rate` over this time, e.g. "5s".
    #[serde(default)]
    pub ramp: Option<String>,
    /// Extra records sent all at once on a fixed cadence, on top of `rate`.
    #[serde(default)]
    pub burst: Option<BurstSerde>,
    /// Bytes per record value (at least 64).
    #[serde(default = "default_record_size")]
    pub record_size: u32,
    /// Number of distinct keys; 0 sends records without a key.
    #[serde(default)]
    pub keys: u32,
    #[serde(default)]
    pub acks: AcksSerde,
    #[serde(default = "yes")]
    pub idempotence: bool,
    #[serde(default)]
    pub compression: CompressionSerde,
    /// librdkafka partitioner; `murmur2_random` matches the Java client.
    #[serde(default)]
    pub partitioner: Option<PartitionerSerde>,
    /// How long a record may wait for its acknowledgement before it counts as failed, e.g. "30s".
    #[serde(default)]
    pub delivery_timeout: Option<String>,
    /// `at_start` (default) or `on_step` (started by a `start_load` step).
    #[serde(default)]
    pub start: StartSerde,
    /// Send Avro records in the Confluent wire format instead of the harness's plain records (needs
    /// a `registry:` in the stack). The value is generated from the schema, the record's ids as the
    /// text of its first top-level `string` field (a `kafka-harness` header when it has none);
    /// `record_size` does not apply.
    #[serde(default)]
    pub avro: Option<AvroProducerSerde>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AvroProducerSerde {
    /// The writer schema: an .avsc file, relative to this scenario. Registered when the producer
    /// starts; a `register_schema` step can move the producer to a newer version.
    pub schema: String,
    /// `topic` (default): subject `<topic>-value` (TopicNameStrategy). `record`: the record's full
    /// name, e.g. `com.example.orders.Order` (RecordNameStrategy).
    #[serde(default)]
    pub subject_strategy: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AvroConsumerSerde {
    /// The consumer's own reader schema (an .avsc relative to this scenario): each record is read
    /// with its writer schema, fetched from the registry by id, resolved to this one. Omitted: read
    /// with the writer schema.
    #[serde(default)]
    pub reader_schema: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BurstSerde {
    /// e.g. "10s": bursts at 10 s, 20 s, ... after the producer starts.
    pub every: String,
    /// Records in each burst.
    pub records: u32,
}

/// A consumer group member reading a topic from the beginning.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSerde {
    pub name: String,
    pub topic: String,
    pub user: String,
    pub group: String,
    #[serde(default)]
    pub commit: CommitSerde,
    #[serde(default)]
    pub start: StartSerde,
    /// Read Avro records in the Confluent wire format (writer schemas fetched from the registry).
    #[serde(default)]
    pub avro: Option<AvroConsumerSerde>,
    /// Blue/green stacks: `blue` (default, the stack's own cluster) or `green` (what MirrorMaker 2
    /// replicated there).
    #[serde(default)]
    pub cluster: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcksSerde {
    #[default]
    All,
    #[serde(rename = "1")]
    One,
    #[serde(rename = "0")]
    Zero,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CompressionSerde {
    #[default]
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PartitionerSerde {
    ConsistentRandom,
    Murmur2Random,
    Random,
    Fnv1aRandom,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartSerde {
    #[default]
    AtStart,
    OnStep,
}

/// When a consumer commits its offsets.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommitSerde {
    /// librdkafka's auto-commit (every 5 s).
    #[default]
    Auto,
    /// A synchronous commit every second.
    Sync,
    /// An asynchronous commit every second.
    Async,
    /// Never: a restarted member reads everything again.
    Never,
}

/// Checks over the recorded run. Each one named here becomes a test case of the JUnit report.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecksSerde {
    /// Every acknowledged record was delivered to every consumer group.
    #[serde(default)]
    pub no_loss: bool,
    /// No record was delivered twice to a group (counted anyway under `at_least_once`).
    #[serde(default)]
    pub no_duplicates: bool,
    /// Within a producer and a partition, records arrived in the order they were sent.
    #[serde(default)]
    pub ordering: bool,
    /// Bounds on consumer lag, over the run or after a step settles.
    #[serde(default)]
    pub max_lag: Vec<MaxLagSerde>,
    /// Bounds on failed sends over all producers.
    #[serde(default)]
    pub produce_errors: Option<ErrorBudgetSerde>,
    /// Longest time any partition went without an acknowledgement while a producer was sending,
    /// e.g. "15s".
    #[serde(default)]
    pub max_unavailability: Option<String>,
    /// Lowest share of canary records acknowledged within the canary's availability budget.
    #[serde(default)]
    pub canary_availability: Option<CanaryAvailabilitySerde>,
    /// Longest time a canary partition went from a late or failed send to its next
    /// acknowledgement, e.g. "10s".
    #[serde(default)]
    pub canary_max_unavailability: Option<String>,
    /// Highest 99th percentile of the canary's end-to-end latency.
    #[serde(default)]
    pub canary_e2e_p99: Option<CanaryLatencySerde>,
    /// Fails when the config preflight found an error: a production key a release of the upgrade
    /// path no longer knows, or a class its classpath lacks (see `kafka-harness plan`).
    #[serde(default)]
    pub preflight: bool,
    /// Fails when a component's log (ZooKeeper, brokers, the bootstrap, replaced containers
    /// included) shows one of the kinds named, e.g. `fail_on: [class_not_found, failed_to_start]`.
    #[serde(default)]
    pub log_scan: Option<LogScanSerde>,
    /// Canary routing: every record of the original topic handled by exactly one version of the
    /// service (no gap, no overlap, none twice), and the share routed in each phase within the
    /// router's `share_tolerance` of its threshold.
    #[serde(default)]
    pub routed_exactly_once: bool,
    /// Every change a `postgres_writer` saw committed arrived in its table's Debezium topic
    /// (Debezium's at-least-once duplicates are counted, not failed).
    #[serde(default)]
    pub cdc_integrity: bool,
    /// Avro consumers that must have read records written with each of the given schemas, and
    /// decoded every record they read (e.g. a consumer still on the old reader schema reading
    /// records written with the new one).
    #[serde(default)]
    pub avro_reads: Vec<AvroReadsSerde>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AvroReadsSerde {
    /// An Avro consumer of `load.consumers`.
    pub consumer: String,
    /// .avsc files (relative to this scenario) the consumer must have read records written with.
    pub writer_schemas: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogScanSerde {
    /// Kinds of log entries that fail the check.
    pub fail_on: Vec<LogKindSerde>,
}

/// What a log entry says went wrong.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogKindSerde {
    /// "Fatal error during KafkaServer startup", "Exiting Kafka".
    FailedToStart,
    /// ClassNotFoundException, NoClassDefFoundError, "Class x could not be found".
    ClassNotFound,
    /// ConfigException, "Invalid value ... for configuration ...".
    InvalidConfig,
    /// "The configuration 'x' was supplied but isn't a known config".
    UnknownConfig,
    /// A production key a broker does not list among its own config values at start-up: ignored.
    IgnoredConfig,
    /// UnsupportedVersionException, inter.broker.protocol.version, metadata.version, IBP.
    ProtocolMismatch,
    /// Any other ERROR or FATAL line.
    Error,
    /// Any other WARN line.
    Warning,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaxLagSerde {
    /// A consumer of `load.consumers`.
    pub consumer: String,
    /// Records.
    pub max: i64,
    /// Only count samples from this step's end (1-based) plus `settle`.
    #[serde(default)]
    pub after_step: Option<usize>,
    /// e.g. "20s".
    #[serde(default)]
    pub settle: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBudgetSerde {
    /// Failed sends allowed.
    #[serde(default)]
    pub max: Option<u64>,
    /// Failed sends allowed as a fraction of all sends, e.g. 0.001.
    #[serde(default)]
    pub max_ratio: Option<f64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectSerde {
    /// Names of checks that must fail: no_loss, no_duplicates, ordering, max_lag, produce_errors,
    /// max_unavailability, preflight, log_scan, canary_availability, canary_max_unavailability,
    /// canary_e2e_p99, avro_reads, routed_exactly_once.
    #[serde(default)]
    pub fail: Vec<String>,
    /// Steps, numbered from 1, that must fail, e.g. a migration phase run after ZooKeeper was
    /// stopped too early: `5`, or `{ step: 5, because: "ZooKeeper is not serving" }` to also
    /// require words of the step's detail (it failed for the planted reason). The run fails if
    /// one of them passes or fails otherwise, or any other step fails.
    #[serde(default)]
    pub failed_steps: Vec<FailedStepSerde>,
}

/// A step that must fail.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum FailedStepSerde {
    /// Its number, from 1.
    Number(usize),
    /// Its number and words its detail must contain.
    Because { step: usize, because: String },
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicSerde {
    pub name: String,
    #[serde(default = "one_u32")]
    pub partitions: u32,
    /// At most the number of brokers.
    #[serde(default = "one_u16")]
    pub replication_factor: u16,
    /// Topic configs, e.g. `min.insync.replicas: 2`.
    #[serde(default)]
    pub config: BTreeMap<String, PropValue>,
    /// Explicit replicas per partition, by broker number, leader first, e.g. `[[1, 2]]`.
    /// Replaces `partitions` and `replication_factor`.
    #[serde(default)]
    pub assignment: Option<Vec<Vec<u8>>>,
}

/// One step. Written as a map with a single key naming the kind, e.g. `- produce: {topic: t, user: u}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct StepSerde {
    /// Produce records (acks=all, idempotent) and remember what was acknowledged.
    #[serde(default)]
    pub produce: Option<ProduceSerde>,
    /// Consume records from the beginning and check they are exactly those produced.
    #[serde(default)]
    pub consume: Option<ConsumeSerde>,
    /// Check that a client that should not get in is refused.
    #[serde(default)]
    pub expect_refused: Option<ExpectRefusedSerde>,
    /// Check that an authenticated user without an ACL is denied.
    #[serde(default)]
    pub expect_denied: Option<ExpectDeniedSerde>,
    /// Gracefully restart a node and wait until it is back.
    #[serde(default)]
    pub restart: Option<RestartSerde>,
    /// Do nothing for a while.
    #[serde(default)]
    pub wait: Option<WaitSerde>,
    /// Stop a node gracefully (SIGTERM; a broker does its controlled shutdown).
    #[serde(default)]
    pub stop: Option<NodeSerde>,
    /// Replace every node of a component, one at a time, by the same node on another version: graceful
    /// stop, same identity and data volume on the new image, then wait until it is back in sync.
    #[serde(default)]
    pub rolling_upgrade: Option<RollingUpgradeSerde>,
    /// KRaft: raise the finalized `metadata.version` once every node runs the new release (the last
    /// step of a KRaft upgrade; it cannot be undone).
    #[serde(default)]
    pub bump_metadata_version: Option<BumpMetadataSerde>,
    /// One phase of the ZooKeeper → KRaft migration (KIP-866): `controllers`, `brokers`,
    /// `kraft_brokers`, `finalize`, in that order.
    #[serde(default)]
    pub migrate_to_kraft: Option<super::migration::MigrateToKraftSerde>,
    /// Blue/green: wait until green holds every record of blue's topics (MirrorMaker has copied
    /// everything) and every consumer group on blue has read everything.
    #[serde(default)]
    pub drain_cluster: Option<ClusterStepSerde>,
    /// Blue/green: a consumer's member leaves blue (committing), and a member of the same group
    /// starts on green from the offsets MirrorMaker translated.
    #[serde(default)]
    pub switch_consumers: Option<SwitchConsumersSerde>,
    /// Blue/green: re-point the endpoint alias a producer resolves its bootstrap servers through to
    /// green; when its cached answer expires it stops sending, waits for blue to acknowledge (or
    /// fail) what it sent, re-creates its client on green and goes on.
    #[serde(default)]
    pub switch_producers: Option<SwitchProducersSerde>,
    /// Blue/green: stop MirrorMaker and every node of blue. No producer or consumer may still use
    /// blue.
    #[serde(default)]
    pub retire: Option<ClusterStepSerde>,
    /// SIGKILL a node: no shutdown at all.
    #[serde(default)]
    pub kill: Option<NodeSerde>,
    /// Start a killed or stopped node again and wait until it is ready.
    #[serde(default)]
    pub start: Option<RestartSerde>,
    /// Freeze a node's processes (docker pause).
    #[serde(default)]
    pub pause: Option<NodeSerde>,
    /// Thaw a paused node.
    #[serde(default)]
    pub unpause: Option<NodeSerde>,
    /// Start a producer or consumer declared with `start: on_step`.
    #[serde(default)]
    pub start_load: Option<LoadRefSerde>,
    /// Stop a producer or consumer now.
    #[serde(default)]
    pub stop_load: Option<LoadRefSerde>,
    /// Wait until a producer has sent all it was to send and every send has an outcome.
    #[serde(default)]
    pub wait_load: Option<WaitLoadSerde>,
    /// Wait until a consumer has read every acknowledged record of its topic (or the timeout
    /// passes; the checks then say what is missing).
    #[serde(default)]
    pub drain: Option<WaitLoadSerde>,
    /// Stop a consumer and start a new member in the same group.
    #[serde(default)]
    pub restart_consumer: Option<LoadRefSerde>,
    /// Register a new version of an Avro producer's subject; when the registry accepts it, the
    /// producer writes with it from then on.
    #[serde(default)]
    pub register_schema: Option<RegisterSchemaSerde>,
    /// Canary routing: pause the router, wait until both versions have handled everything
    /// routed, change the threshold, resume.
    #[serde(default)]
    pub set_threshold: Option<SetThresholdSerde>,
    /// Canary routing: stop routing, start the new version on the original topic from the first
    /// offset not routed (per partition), retire the legacy version.
    #[serde(default)]
    pub promote: Option<PromoteSerde>,
    /// Canary routing: the router dies mid-batch (nothing committed, nothing aborted) and a new
    /// instance with the same transactional id takes over.
    #[serde(default)]
    pub kill_router: Option<RouterFaultSerde>,
    /// Canary routing: the router commits what it has, stops, and a new instance starts.
    #[serde(default)]
    pub restart_router: Option<RouterFaultSerde>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterSchemaSerde {
    /// An Avro producer of `load.producers`; its subject is the one registered to.
    pub producer: String,
    /// The new schema, an .avsc file relative to this scenario.
    pub schema: String,
    /// `accepted` (default): the step fails unless the registry takes it. `refused`: the step
    /// fails unless the registry refuses it (its error is quoted in the report). `unreachable`: the
    /// step fails unless the registry cannot be reached within `timeout` (e.g. while it is stopped).
    #[serde(default)]
    pub expect: Option<String>,
    /// Set the subject's compatibility level first (BACKWARD, FULL, NONE, ...).
    #[serde(default)]
    pub compatibility: Option<String>,
    /// How long to retry while the registry does not answer, e.g. "30s" (default 10s).
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BumpMetadataSerde {
    /// The release whose metadata.version to finalize, e.g. "4.1". Omitted: the release the
    /// brokers run.
    #[serde(default)]
    pub to: Option<String>,
    /// e.g. "60s".
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollingUpgradeSerde {
    /// `kafka`, `controller` (KRaft with dedicated controllers: upgrade them before the brokers) or
    /// `zookeeper`.
    pub component: String,
    /// The release every node ends on, e.g. "3.9.1" (the same release rolls the nodes again, e.g.
    /// to remove a protocol pin).
    pub to: String,
    /// Kafka only: `inter.broker.protocol.version` during this roll, e.g. "3.6" — the first pass of
    /// the two-step upgrade. Omitted: no pin, the brokers speak their own version's protocol.
    #[serde(default)]
    pub pin_protocol: Option<String>,
    /// How long each node may take to be back in sync, e.g. "180s".
    #[serde(default)]
    pub node_timeout: Option<String>,
}

/// `switch_consumers`: move a consumer of `load.consumers` from blue to green.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchConsumersSerde {
    /// A consumer reading blue.
    pub name: String,
    /// `translated` (default): start from the group's offsets as MirrorMaker translated them (the
    /// step waits until green has them). The planted defects: `earliest` or `latest`, the group
    /// left out of MirrorMaker's translation, so the member starts where `auto.offset.reset` says.
    #[serde(default)]
    pub offsets: Option<String>,
    /// How long MirrorMaker may take to translate, e.g. "60s" (default).
    #[serde(default)]
    pub timeout: Option<String>,
}

/// `switch_producers`: move a producer of `load.producers` from blue to green.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchProducersSerde {
    /// A producer writing to blue.
    pub name: String,
    /// The alias's DNS TTL, e.g. "5s" (default): the producer resolves the alias at its start and
    /// each time its cached answer expires, so it notices the switch up to this long after it.
    #[serde(default)]
    pub ttl: Option<String>,
    /// `true` (default): before its first record to green, the producer waits until MirrorMaker
    /// has copied everything blue acknowledged, so each key's records stay in order on green.
    /// `false` writes at once; records of blue still in MirrorMaker's way may land after newer
    /// ones (the ordering check tells).
    #[serde(default)]
    pub wait_for_mirror: Option<bool>,
    /// How long the switch may take from the re-pointing to green's first acknowledgement,
    /// e.g. "60s" (default).
    #[serde(default)]
    pub timeout: Option<String>,
}

/// A step on a blue/green stack's cluster.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterStepSerde {
    /// `blue`: the cluster MirrorMaker copies from.
    pub cluster: String,
    /// `drain_cluster` only: how long it may take, e.g. "120s" (default).
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSerde {
    /// A node of the stack: `zookeeper-1`, `kafka-2`, ...
    pub node: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadRefSerde {
    /// A producer of `load.producers` or a consumer of `load.consumers`.
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitLoadSerde {
    pub name: String,
    /// e.g. "120s".
    #[serde(default)]
    pub timeout: Option<String>,
}

/// The one kind a step names.
#[derive(Debug)]
pub enum StepKind {
    Produce(ProduceSerde),
    Consume(ConsumeSerde),
    ExpectRefused(ExpectRefusedSerde),
    ExpectDenied(ExpectDeniedSerde),
    Restart(RestartSerde),
    Wait(WaitSerde),
    Stop(NodeSerde),
    RollingUpgrade(RollingUpgradeSerde),
    BumpMetadataVersion(BumpMetadataSerde),
    MigrateToKraft(super::migration::MigrateToKraftSerde),
    DrainCluster(ClusterStepSerde),
    SwitchConsumers(SwitchConsumersSerde),
    SwitchProducers(SwitchProducersSerde),
    Retire(ClusterStepSerde),
    Kill(NodeSerde),
    Start(RestartSerde),
    Pause(NodeSerde),
    Unpause(NodeSerde),
    StartLoad(LoadRefSerde),
    StopLoad(LoadRefSerde),
    WaitLoad(WaitLoadSerde),
    Drain(WaitLoadSerde),
    RestartConsumer(LoadRefSerde),
    RegisterSchema(RegisterSchemaSerde),
    SetThreshold(SetThresholdSerde),
    Promote(PromoteSerde),
    KillRouter(RouterFaultSerde),
    RestartRouter(RouterFaultSerde),
}

impl StepSerde {
    /// The kind, or the number of kinds named when that is not exactly one.
    pub fn into_kind(self) -> Result<StepKind, usize> {
        let kinds = [
            self.produce.map(StepKind::Produce),
            self.consume.map(StepKind::Consume),
            self.expect_refused.map(StepKind::ExpectRefused),
            self.expect_denied.map(StepKind::ExpectDenied),
            self.restart.map(StepKind::Restart),
            self.wait.map(StepKind::Wait),
            self.stop.map(StepKind::Stop),
            self.rolling_upgrade.map(StepKind::RollingUpgrade),
            self.bump_metadata_version
                .map(StepKind::BumpMetadataVersion),
            self.migrate_to_kraft.map(StepKind::MigrateToKraft),
            self.drain_cluster.map(StepKind::DrainCluster),
            self.switch_consumers.map(StepKind::SwitchConsumers),
            self.switch_producers.map(StepKind::SwitchProducers),
            self.retire.map(StepKind::Retire),
            self.kill.map(StepKind::Kill),
            self.start.map(StepKind::Start),
            self.pause.map(StepKind::Pause),
            self.unpause.map(StepKind::Unpause),
            self.start_load.map(StepKind::StartLoad),
            self.stop_load.map(StepKind::StopLoad),
            self.wait_load.map(StepKind::WaitLoad),
            self.drain.map(StepKind::Drain),
            self.restart_consumer.map(StepKind::RestartConsumer),
            self.register_schema.map(StepKind::RegisterSchema),
            self.set_threshold.map(StepKind::SetThreshold),
            self.promote.map(StepKind::Promote),
            self.kill_router.map(StepKind::KillRouter),
            self.restart_router.map(StepKind::RestartRouter),
        ];
        let mut named: Vec<StepKind> = kinds.into_iter().flatten().collect();
        match named.len() {
            1 => Ok(named.remove(0)),
            n => Err(n),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProduceSerde {
    pub topic: String,
    /// A user of the stack, or `admin`.
    pub user: String,
    #[serde(default = "one_u64")]
    pub records: u64,
    /// e.g. "30s".
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumeSerde {
    pub topic: String,
    pub user: String,
    /// Consumer group; defaults to one named after the run.
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default = "one_u64")]
    pub records: u64,
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectRefusedSerde {
    pub client: RefusedClientSerde,
    /// With `wrong_password`: whose name to use.
    #[serde(default)]
    pub user: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusedClientSerde {
    /// A client that does not authenticate at all.
    Anonymous,
    /// A known user presenting a wrong password.
    WrongPassword,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectDeniedSerde {
    pub user: String,
    pub topic: String,
    pub operation: DeniedOperationSerde,
}

#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeniedOperationSerde {
    Read,
    Write,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartSerde {
    /// A node of the stack: `zookeeper-1`, `kafka-2`, ...
    pub node: String,
    #[serde(default)]
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitSerde {
    /// e.g. "5s".
    pub duration: String,
}

/// A config value: YAML strings, numbers and booleans are all written out as Java properties text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropValue(pub String);

impl<'de> Deserialize<'de> for PropValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = PropValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PropValue, E> {
                Ok(PropValue(v.to_owned()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<PropValue, E> {
                Ok(PropValue(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PropValue, E> {
                Ok(PropValue(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PropValue, E> {
                Ok(PropValue(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PropValue, E> {
                Ok(PropValue(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for PropValue {
    fn schema_name() -> Cow<'static, str> {
        "PropertyValue".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

fn default_record_size() -> u32 {
    512
}
fn yes() -> bool {
    true
}
fn one() -> u8 {
    1
}
fn one_u16() -> u16 {
    1
}
fn one_u32() -> u32 {
    1
}
fn one_u64() -> u64 {
    1
}
