//! Validated domain types: everything here has been checked, paths are resolved and names exist.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

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
    pub zookeeper: ZooKeeperSpec,
    pub kafka: KafkaSpec,
    pub users: Vec<User>,
}

#[derive(Debug, Clone)]
pub struct ZooKeeperSpec {
    pub version: Version,
    pub nodes: u8,
    pub image: ImageRef,
    pub heap: String,
    pub start_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct KafkaSpec {
    pub version: Version,
    pub brokers: u8,
    pub image: ImageRef,
    pub heap: String,
    pub start_timeout: Duration,
    /// Production's server.properties, already read and parsed.
    pub overlay: Option<PropertiesFile>,
    /// Inline `config:` of the stack, applied after the overlay.
    pub config: BTreeMap<String, String>,
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
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u16,
    pub config: BTreeMap<String, String>,
}

/// A node of a running stack, e.g. `kafka-2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeId {
    ZooKeeper(u8),
    Kafka(u8),
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZooKeeper(n) => write!(f, "zookeeper-{n}"),
            Self::Kafka(n) => write!(f, "kafka-{n}"),
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
            "kafka" => Ok(Self::Kafka(n)),
            _ => Err(()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
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
            Self::Wait(d) => format!("wait {}", crate::scenario::format_duration(*d)),
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
