//! Samples, once a second, how many partitions of the cluster are under-replicated (fewer
//! in-sync replicas than replicas), from the metadata the brokers serve the admin, for the charts
//! of report.html. A broker that does not answer leaves a gap, not a zero.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;

use super::ticker::Ticker;
use crate::client::{self, Auth};

/// One sample: seconds since the run started, and the count (None: no broker answered in time).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReplicationSample {
    pub at_s: f64,
    pub under_replicated: Option<u32>,
}

#[derive(Debug)]
pub struct ReplicationProbe(Ticker<ReplicationSample>);

impl ReplicationProbe {
    /// Starts sampling on a thread of its own (metadata requests block).
    pub fn start(bootstrap: String, admin: Auth, epoch: Instant) -> Self {
        Self(Ticker::start("replication probe", move || {
            let consumer = client::config(&bootstrap, &admin)
                .create::<BaseConsumer>()
                .ok()?;
            Some(move || {
                let under_replicated = consumer
                    .fetch_metadata(None, Duration::from_secs(2))
                    .ok()
                    .map(|md| {
                        md.topics()
                            .iter()
                            .flat_map(|t| t.partitions())
                            .filter(|p| p.isr().len() < p.replicas().len())
                            .count()
                    })
                    .and_then(|n| u32::try_from(n).ok());
                vec![ReplicationSample {
                    at_s: epoch.elapsed().as_secs_f64(),
                    under_replicated,
                }]
            })
        }))
    }

    pub async fn finish(self) -> Vec<ReplicationSample> {
        self.0.finish().await
    }
}
