//! Every container's log, kept before the container goes: a rolling upgrade removes the replaced
//! containers, and their logs with them, long before the run ends and the logs are scanned.
//!
//! Keeping lives in `runtime`, which removes the containers; reading what went wrong in the logs
//! is `logscan`'s, above it, so bringing a stack up never depends on the scanner.

use std::sync::{Arc, Mutex};

use super::docker::Docker;

/// One container's whole log, each line prefixed with Docker's RFC 3339 timestamp.
#[derive(Debug, Clone)]
pub struct ContainerLog {
    /// `zookeeper-1`, `kafka-2`, `bootstrap`.
    pub node: String,
    /// The release the container ran, when the run knew it.
    pub container: String,
    pub text: String,
}

/// Logs kept during a run, shared by every clone of the run.
pub type LogStore = Arc<Mutex<Vec<ContainerLog>>>;

/// Keeps the whole log of `container` (about to be removed, or at the end of a run).
pub async fn keep(docker: &Docker, logs: &LogStore, container: &str, node: &str) {
    let text = docker.log_timestamped(container).await;
    if let Ok(mut logs) = logs.lock() {
        logs.push(ContainerLog {
            node: node.to_owned(),
            container: container.to_owned(),
            text,
        });
    }
}

/// Keeps the logs of every container of run `run_id` that is still there.
pub async fn keep_all(docker: &Docker, run_id: &str, logs: &LogStore) {
    for (name, node) in docker.run_containers(run_id).await {
        keep(docker, logs, &name, &node).await;
    }
}
