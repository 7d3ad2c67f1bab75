//! Blue/green switches of clients: the endpoint alias producers resolve (a simulated DNS name the
//! harness re-points), and what each switch did, for the report's per-switch table.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{self, Auth};
use crate::scenario::Cluster;

/// What the alias a producer resolves its bootstrap servers through answers now. A producer
/// resolves it at its start and again each time its cached answer expires (every `ttl`), so a
/// re-pointed alias reaches it up to `ttl` later, as a DNS or load-balancer switch does.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub cluster: Cluster,
    pub bootstrap: String,
    pub ttl: Duration,
    /// When the harness re-pointed the alias (seconds of the run); `None` until it does.
    pub repointed_at_s: Option<f64>,
    /// Before the first record to the new cluster, wait until MirrorMaker copied every record the
    /// old one acknowledged (each partition's end offset there at least as far as here), so a
    /// key's records stay in order in the new cluster's log.
    pub wait_for_mirror: bool,
}

impl Endpoint {
    pub fn blue(bootstrap: String, ttl: Duration) -> Self {
        Self {
            cluster: Cluster::Blue,
            bootstrap,
            ttl,
            repointed_at_s: None,
            wait_for_mirror: true,
        }
    }
}

/// One producer's move to another cluster, times in seconds of the run.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ProducerSwitch {
    pub from: String,
    pub to: String,
    /// The alias was re-pointed.
    pub repointed_at_s: f64,
    /// The producer's cached answer expired and it saw the new cluster: it stopped sending.
    pub noticed_at_s: f64,
    /// The old client's last acknowledgement (after its flush).
    pub last_old_ack_at_s: Option<f64>,
    /// MirrorMaker had copied every record acknowledged on the old cluster (when waited for).
    pub mirrored_at_s: Option<f64>,
    /// The first acknowledgement from the new cluster.
    pub first_new_ack_at_s: f64,
    /// From the last acknowledgement on the old cluster to the first on the new: how long nobody
    /// could produce, as this producer saw it.
    pub unavailable_ms: u64,
    /// Records that came due while the producer was switching (sent late, their latency shows
    /// by how much).
    pub held: u64,
    /// Sends that failed while the producer was switching.
    pub failed: u64,
}

/// One partition of a consumer group's switch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SwitchPartition {
    pub partition: i32,
    /// The group's committed offset on the cluster it left.
    pub committed: Option<i64>,
    /// Where the group resumed on the new cluster: the translated offset, or the end offset for
    /// `latest`, 0 for `earliest`.
    pub resumed_at: Option<i64>,
    /// Offsets the group went back by (read again unless they were never there).
    pub rewound: i64,
    /// Offsets the group jumped over.
    pub skipped: i64,
    /// Records read again after the switch, counted by the integrity ledger.
    pub reread: u64,
    /// Records of this partition never read by the end of the run.
    pub lost: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SwitchKind {
    Consumer,
    Producer,
}

/// What one `switch_consumers` or `switch_producers` did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SwitchReport {
    pub kind: SwitchKind,
    /// The consumer or producer of `load`.
    pub load: String,
    pub topic: String,
    pub at_s: f64,
    pub to: String,
    /// Consumers: the group and how it resumed (`translated`, `earliest`, `latest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<SwitchPartition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub producer: Option<ProducerSwitch>,
}

/// Waits until `bootstrap`'s end offset of every partition in `acked` is past the offset the old
/// cluster acknowledged there (`(partition, last acknowledged offset)`), polling every 200 ms up
/// to `timeout`. Returns what was still missing at the timeout.
pub async fn wait_mirrored(
    bootstrap: &str,
    auth: &Auth,
    topic: &str,
    acked: &[(i32, i64)],
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let missing =
            match client::offsets(bootstrap.to_owned(), auth.clone(), topic.to_owned(), None).await
            {
                Ok(ends) => missing(acked, &ends),
                Err(e) => e,
            };
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(missing);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The partitions whose end offset in `ends` (`(partition, end, _)`) does not cover the acknowledged
/// offset, as "p0: 1041 of 1042", or "" when all do.
fn missing(acked: &[(i32, i64)], ends: &[(i32, i64, Option<i64>)]) -> String {
    acked
        .iter()
        .filter_map(|&(p, offset)| {
            let end = ends.iter().find(|e| e.0 == p).map_or(0, |e| e.1);
            (end <= offset).then(|| format!("p{p}: {end} of {}", offset + 1))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrored_when_every_end_offset_passes_the_last_ack() {
        let acked = [(0, 9), (1, 4)];
        assert_eq!(missing(&acked, &[(0, 10, None), (1, 5, None)]), "");
        assert_eq!(
            missing(&acked, &[(0, 9, None), (1, 7, None)]),
            "p0: 9 of 10"
        );
        assert_eq!(missing(&acked, &[(0, 10, None)]), "p1: 0 of 5");
    }
}
