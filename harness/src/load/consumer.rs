//! A consumer group member that reads its topic from the beginning and hands every record of this
//! run to the integrity ledger of its group.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde::Serialize;
use tokio::sync::watch;

use super::record::{self, Decoded};
use crate::checks::integrity::{Ledger, RecordId};
use crate::checks::routing::{RoutingTable, ServiceVersion};
use crate::client::{self, Auth};
use crate::scenario::{Commit, ConsumerSpec};

#[derive(Debug, Default)]
pub struct ConsumerCounters {
    pub delivered: AtomicU64,
    pub other_runs: AtomicU64,
    pub errors: AtomicU64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConsumerError {
    pub at_s: f64,
    pub error: String,
}

#[derive(Debug)]
pub struct ConsumerTask {
    pub spec: ConsumerSpec,
    pub bootstrap: String,
    pub auth: Auth,
    pub run_id: String,
    pub ledger: Arc<Mutex<Ledger>>,
    pub counters: Arc<ConsumerCounters>,
    pub errors: Arc<Mutex<Vec<ConsumerError>>>,
    pub stop: watch::Receiver<bool>,
    pub epoch: Instant,
    /// `auto.offset.reset`: where a member without a committed offset starts.
    pub reset: &'static str,
    /// Avro consumers: how values are read and judged.
    pub avro: Option<super::avro::AvroReader>,
    /// A version of a routed service: where its records came from in the original topic.
    pub routing: Option<ServiceRouting>,
}

/// A consumer that is one version of a service behind the canary router.
#[derive(Debug, Clone)]
pub struct ServiceRouting {
    pub table: Arc<Mutex<RoutingTable>>,
    pub version: ServiceVersion,
    /// Reads the original topic itself (the promoted version), not a routed topic.
    pub direct: bool,
}

impl ConsumerTask {
    pub async fn run(mut self) {
        let mut config = client::config(&self.bootstrap, &self.auth);
        config
            .set("group.id", &self.spec.group)
            .set("auto.offset.reset", self.reset)
            .set(
                "enable.auto.commit",
                (self.spec.commit == Commit::Auto).to_string(),
            )
            .set("session.timeout.ms", "10000");
        if self.routing.is_some() {
            // librdkafka's default, said out loud: a routed service must not see what a dead
            // router instance wrote in a transaction that was then aborted.
            config.set("isolation.level", "read_committed");
        }
        let consumer: StreamConsumer = match config.create() {
            Ok(c) => c,
            Err(e) => return self.error(format!("cannot create the consumer: {e}")),
        };
        if let Err(e) = consumer.subscribe(&[&self.spec.topic]) {
            return self.error(format!("cannot subscribe to {}: {e}", self.spec.topic));
        }
        let mut commit_tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = self.stop.changed() => break,
                _ = commit_tick.tick() => self.commit(&consumer),
                m = consumer.recv() => match m {
                    Ok(m) => {
                        // A routed record is judged where it was acknowledged: its position in the
                        // original topic, which the router carries in a header.
                        let at = (m.partition(), m.offset());
                        let mut origin = at;
                        if let Some(r) = &self.routing {
                            if !r.direct {
                                match super::router::origin(m.headers()) {
                                    Some(o) => origin = o,
                                    None => self.error(format!("a record at {}/{} has no {} header", at.0, at.1, super::router::ORIGIN_HEADER)),
                                }
                            }
                            if let Ok(mut t) = r.table.lock() {
                                t.handled(r.version, r.direct, origin, at);
                            }
                        }
                        let Some(payload) = m.payload() else { continue };
                        let decoded = match &self.avro {
                            None => record::decode(&self.run_id, payload),
                            Some(a) => {
                                let (d, error) = a.judge(&self.run_id, m.headers(), payload).await;
                                if let Some(e) = error {
                                    self.error(e);
                                }
                                d
                            }
                        };
                        match decoded {
                            Decoded::Ours { producer, seq, intact } => {
                                if let Ok(mut l) = self.ledger.lock() {
                                    l.delivered(RecordId { producer, seq }, origin.0, origin.1, intact);
                                }
                                self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                            }
                            Decoded::OtherRun | Decoded::Foreign => {
                                self.counters.other_runs.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Err(e) => {
                        self.error(e.to_string());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        self.commit(&consumer);
    }

    fn commit(&self, consumer: &StreamConsumer) {
        let mode = match self.spec.commit {
            Commit::Sync => CommitMode::Sync,
            Commit::Async => CommitMode::Async,
            Commit::Auto | Commit::Never => return,
        };
        // Nothing consumed yet is not an error worth reporting.
        let _ = consumer.commit_consumer_state(mode);
    }

    fn error(&self, error: String) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.errors.lock() {
            if e.len() < 50 && !e.iter().any(|x| x.error == error) {
                e.push(ConsumerError {
                    at_s: self.epoch.elapsed().as_secs_f64(),
                    error,
                });
            }
        }
    }
}
