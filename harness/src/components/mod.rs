//! One file per component: how its configuration files are rendered and how its container is started.
//! Rendering is pure (snapshot-tested); starting goes through `runtime`.

pub mod kafka;
pub mod zookeeper;

/// Where the harness copies rendered configuration inside every container.
pub const CONFIG_DIR: &str = "/etc/kafka-harness";

/// A file placed into a container before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: String,
    pub contents: String,
    /// Credential files are readable by their owner only.
    pub secret: bool,
}

impl ConfigFile {
    pub fn new(name: &str, contents: String) -> Self {
        Self {
            path: format!("{CONFIG_DIR}/{name}"),
            contents,
            secret: false,
        }
    }

    pub fn secret(name: &str, contents: String) -> Self {
        Self {
            secret: true,
            ..Self::new(name, contents)
        }
    }
}
