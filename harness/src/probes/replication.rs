//! Samples, once a second, how many partitions of the cluster are under-replicated (fewer
//! in-sync replicas than replicas), from the metadata the brokers serve the admin, for the charts
//! of report.html. A broker that does not answer leaves a gap, not a zero.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;

use crate::client::{self, Auth};

/// One sample: seconds since the run started, and the count (None: no broker answered in time).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReplicationSample {
    pub at_s: f64,
    pub under_replicated: Option<u32>,
}

#[derive(Debug)]
pub struct ReplicationProbe {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<ReplicationSample>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ReplicationProbe {
    /// Starts sampling on a thread of its own (metadata requests block).
    pub fn start(bootstrap: String, admin: Auth, epoch: Instant) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples: Arc<Mutex<Vec<ReplicationSample>>> = Arc::default();
        let (flag, out) = (stop.clone(), samples.clone());
        let thread = std::thread::Builder::new()
            .name("replication probe".into())
            .spawn(move || {
                let Ok(consumer) = client::config(&bootstrap, &admin).create::<BaseConsumer>()
                else {
                    return;
                };
                while !flag.load(Ordering::SeqCst) {
                    let t0 = Instant::now();
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
                    if let Ok(mut s) = out.lock() {
                        s.push(ReplicationSample {
                            at_s: epoch.elapsed().as_secs_f64(),
                            under_replicated,
                        });
                    }
                    std::thread::sleep(Duration::from_secs(1).saturating_sub(t0.elapsed()));
                }
            })
            .ok();
        Self {
            stop,
            samples,
            thread,
        }
    }

    pub async fn finish(mut self) -> Vec<ReplicationSample> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}
