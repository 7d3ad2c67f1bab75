//! Samples each consumer group's committed offsets against the log end of its topic, once a second,
//! as the harness's admin (a super user may read any group's offsets without joining it).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::checks::lag::{LagSample, LagSeries};
use crate::client::{self, Auth};

#[derive(Debug)]
pub struct LagSampler {
    pub bootstrap: String,
    pub admin: Auth,
    pub group: String,
    pub topic: String,
    pub series: Arc<Mutex<LagSeries>>,
    pub stop: watch::Receiver<bool>,
    pub epoch: Instant,
}

impl LagSampler {
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = self.stop.changed() => break,
                _ = tick.tick() => {
                    let (bootstrap, admin, group, topic) = (self.bootstrap.clone(), self.admin.clone(), self.group.clone(), self.topic.clone());
                    let at_ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
                    let samples = tokio::task::spawn_blocking(move || sample(&bootstrap, &admin, &group, &topic, at_ms))
                        .await
                        .ok()
                        .flatten();
                    if let (Some(samples), Ok(mut series)) = (samples, self.series.lock()) {
                        for s in samples {
                            series.push(s);
                        }
                    }
                }
            }
        }
    }
}

/// One sample per partition, or `None` when the cluster did not answer (a gap in the series).
fn sample(
    bootstrap: &str,
    admin: &Auth,
    group: &str,
    topic: &str,
    at_ms: u64,
) -> Option<Vec<LagSample>> {
    let consumer: BaseConsumer = client::config(bootstrap, admin)
        .set("group.id", group)
        .create()
        .ok()?;
    let timeout = Timeout::After(Duration::from_secs(3));
    let md = consumer.fetch_metadata(Some(topic), timeout).ok()?;
    let partitions: Vec<i32> = md
        .topics()
        .first()?
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        tpl.add_partition(topic, *p);
    }
    let committed = consumer.committed_offsets(tpl, timeout).ok()?;
    let mut out = Vec::with_capacity(partitions.len());
    for p in partitions {
        let (_, high) = consumer.fetch_watermarks(topic, p, timeout).ok()?;
        let committed = committed
            .find_partition(topic, p)
            .and_then(|e| match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            });
        out.push(LagSample {
            at_ms,
            partition: p,
            committed,
            log_end: high,
        });
    }
    Some(out)
}
