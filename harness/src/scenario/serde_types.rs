//! The files as written. Private to the crate: every type refuses unknown keys, and is converted into
//! the validated domain types of `model` by `load`. Doc comments here become the JSON Schema's
//! descriptions, which editors show while a stack or scenario is typed.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;

/// A stack: what "production" is. Components, versions, security.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackSerde {
    /// Name of the stack, shown in plans and reports.
    pub name: String,
    /// One line on what production this stack copies.
    #[serde(default)]
    pub description: Option<String>,
    pub zookeeper: ZooKeeperSerde,
    pub kafka: KafkaSerde,
    #[serde(default)]
    pub security: SecuritySerde,
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
    /// How brokers keep metadata. Only `zookeeper` is supported so far.
    #[serde(default)]
    pub mode: KafkaModeSerde,
    /// Number of brokers, 1 to 9.
    #[serde(default = "one")]
    pub brokers: u8,
    /// An upstream image to use instead of building one: apache/kafka, confluentinc/cp-kafka or
    /// bitnami/kafka, with a tag.
    #[serde(default)]
    pub image: Option<String>,
    /// JVM heap of each broker, e.g. "384m".
    #[serde(default)]
    pub heap: Option<String>,
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
    /// Name of the scenario, shown in reports and as the test name.
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The stack file, relative to this scenario file.
    pub stack: String,
    /// Topics created (by the harness's admin user) before the first step.
    #[serde(default)]
    pub topics: Vec<TopicSerde>,
    /// What happens, in order.
    pub steps: Vec<StepSerde>,
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
