//! The canary router: a real Kafka application the harness runs. It reads the original topic and
//! writes every record, unchanged, to `<topic>-legacy` or `<topic>-canary`, by comparing a rate
//! in [0,1) drawn from the record's key (its partition and offset when it has none) with the
//! threshold in force.
//!
//! Transactional (the default): a consume-transform-produce loop with exactly-once semantics.
//! Every `commit_interval` the records sent and the consumed offsets are committed in one Kafka
//! transaction (`send_offsets_to_transaction`), under a `transactional.id` shared by every
//! instance, so a new instance fences a dead one and its open transaction is aborted. Without
//! transactions (a planted defect) it flushes its records and then commits its offsets: a kill in
//! between routes the same records again.
//!
//! librdkafka's transactional calls block, so the router runs on a thread of its own; the steps
//! steer it through `Shared` (run with a threshold, pause, stop, kill).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::checks::routing::{RoutingPhase, ServiceVersion};
use crate::client::{self, Auth};
use crate::scenario::RouterSpec;

/// The header that carries a routed record's position in the original topic: `<partition> <offset>`.
pub const ORIGIN_HEADER: &str = "kh-origin";

/// How long a transactional call may block (a broker restart moves coordinators meanwhile).
const TXN_TIMEOUT: Duration = Duration::from_secs(30);

/// The position a routed record had in the original topic, read from its `kh-origin` header.
pub fn origin<H: Headers>(headers: Option<&H>) -> Option<(i32, i64)> {
    let h = headers?;
    let value = (0..h.count())
        .map(|i| h.get(i))
        .find(|h| h.key == ORIGIN_HEADER)?
        .value?;
    let text = std::str::from_utf8(value).ok()?;
    let (p, o) = text.split_once(' ')?;
    Some((p.parse().ok()?, o.parse().ok()?))
}

/// A rate in [0,1) that is a pure function of the bytes: FNV-1a, then murmur3's 64-bit finalizer
/// (FNV alone leaves the top bits of short keys such as `key-17` nearly constant), top 53 bits.
pub fn rate(bytes: &[u8]) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Which version a record goes to at `threshold`.
pub fn route(key: Option<&[u8]>, partition: i32, offset: i64, threshold: f64) -> ServiceVersion {
    let r = match key {
        Some(k) => rate(k),
        None => {
            // Without a key the position decides; hashed from its bytes, no text per record.
            let mut at = [0u8; 12];
            at[..4].copy_from_slice(&partition.to_le_bytes());
            at[4..].copy_from_slice(&offset.to_le_bytes());
            rate(&at)
        }
    };
    if r < threshold {
        ServiceVersion::Canary
    } else {
        ServiceVersion::Legacy
    }
}

/// What the steps want of the router.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Desired {
    Run(f64),
    Pause,
    /// Commit what is open, then end.
    Stop,
    /// End at once, committing nothing.
    Kill,
}

/// Shared between the router's thread and the steps.
#[derive(Debug)]
pub struct Shared {
    desired: Mutex<Desired>,
    /// Set by the router once it has committed everything and stopped reading.
    paused: AtomicBool,
    pub phases: Mutex<Vec<RoutingPhase>>,
    pub instances: AtomicU32,
    pub commits: AtomicU64,
    pub aborts: AtomicU64,
    pub errors: Mutex<Vec<(f64, String)>>,
    epoch: Instant,
}

impl Shared {
    pub fn new(threshold: f64, epoch: Instant) -> Self {
        Self {
            desired: Mutex::new(Desired::Run(threshold)),
            paused: AtomicBool::new(false),
            phases: Mutex::new(vec![RoutingPhase {
                threshold,
                started_at_s: epoch.elapsed().as_secs_f64(),
                ended_at_s: 0.0,
                to_legacy: 0,
                to_canary: 0,
                pause_ms: 0,
                legacy_max_lag: 0,
                canary_max_lag: 0,
            }]),
            instances: AtomicU32::new(0),
            commits: AtomicU64::new(0),
            aborts: AtomicU64::new(0),
            errors: Mutex::default(),
            epoch,
        }
    }

    pub fn desire(&self, d: Desired) {
        if let Ok(mut x) = self.desired.lock() {
            *x = d;
        }
        if matches!(d, Desired::Run(_)) {
            self.paused.store(false, Ordering::SeqCst);
        }
    }

    fn desired(&self) -> Desired {
        self.desired.lock().map_or(Desired::Kill, |d| *d)
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// The threshold the router routes with (or will when resumed).
    pub fn threshold(&self) -> f64 {
        self.phases
            .lock()
            .ok()
            .and_then(|p| p.last().map(|p| p.threshold))
            .unwrap_or(0.0)
    }

    /// Records committed to each version over all phases.
    pub fn committed(&self, v: ServiceVersion) -> u64 {
        self.phases.lock().map_or(0, |p| {
            p.iter()
                .map(|p| match v {
                    ServiceVersion::Legacy => p.to_legacy,
                    ServiceVersion::Canary => p.to_canary,
                })
                .sum()
        })
    }

    fn error(&self, e: String) {
        if let Ok(mut errors) = self.errors.lock() {
            if errors.len() < 50 && !errors.iter().any(|(_, x)| *x == e) {
                errors.push((self.epoch.elapsed().as_secs_f64(), e));
            }
        }
    }
}

/// One router: its settings and where it connects.
#[derive(Debug, Clone)]
pub struct Router {
    pub spec: RouterSpec,
    pub bootstrap: String,
    pub auth: Auth,
    pub run_id: String,
}

/// How one instance ended.
enum Exit {
    Stopped,
    Killed,
    Failed(String),
}

impl Router {
    /// The transactional id every instance shares (the stack's ACL names it by prefix).
    pub fn transactional_id(&self) -> String {
        format!("{}-{}", self.spec.name, self.run_id)
    }

    /// Runs instances until one is stopped or killed; an instance that fails is replaced after a
    /// second, as a supervisor would.
    pub fn run(self, shared: Arc<Shared>) {
        loop {
            shared.instances.fetch_add(1, Ordering::SeqCst);
            match self.instance(&shared) {
                Exit::Stopped | Exit::Killed => return,
                Exit::Failed(e) => {
                    shared.error(e);
                    std::thread::sleep(Duration::from_secs(1));
                    if matches!(shared.desired(), Desired::Stop | Desired::Kill) {
                        return;
                    }
                }
            }
        }
    }

    fn instance(&self, shared: &Shared) -> Exit {
        let spec = &self.spec;
        let consumer: BaseConsumer = match client::config(&self.bootstrap, &self.auth)
            .set("group.id", &spec.name)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_committed")
            .set("session.timeout.ms", "10000")
            .create()
        {
            Ok(c) => c,
            Err(e) => return Exit::Failed(format!("cannot create the router's consumer: {e}")),
        };
        if let Err(e) = consumer.subscribe(&[&spec.topic]) {
            return Exit::Failed(format!("cannot subscribe to {}: {e}", spec.topic));
        }
        let mut config = client::config(&self.bootstrap, &self.auth);
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5");
        if spec.transactional {
            config
                .set("transactional.id", self.transactional_id())
                .set("transaction.timeout.ms", "60000");
        }
        let producer: BaseProducer = match config.create() {
            Ok(p) => p,
            Err(e) => return Exit::Failed(format!("cannot create the router's producer: {e}")),
        };
        if spec.transactional {
            if let Err(e) = producer.init_transactions(TXN_TIMEOUT) {
                return Exit::Failed(format!("init_transactions: {e}"));
            }
        }
        let mut batch = Batch::default();
        let mut reading_paused = false;
        loop {
            let threshold = match shared.desired() {
                Desired::Kill => return Exit::Killed,
                d @ (Desired::Stop | Desired::Pause) => {
                    if let Err(e) = self.commit(&producer, &consumer, &mut batch, shared) {
                        return Exit::Failed(e);
                    }
                    if d == Desired::Stop {
                        return Exit::Stopped;
                    }
                    shared.paused.store(true, Ordering::SeqCst);
                    producer.poll(Duration::ZERO);
                    if !reading_paused {
                        reading_paused = consumer
                            .pause(&consumer.assignment().unwrap_or_default())
                            .is_ok();
                    }
                    // Polling keeps the group membership alive while nothing is routed.
                    if let Some(Ok(m)) = consumer.poll(Duration::from_millis(20)) {
                        // Fetched before the pause took effect: read again after the resume.
                        let mut tpl = TopicPartitionList::new();
                        let _ = tpl.add_partition_offset(
                            m.topic(),
                            m.partition(),
                            Offset::Offset(m.offset()),
                        );
                        drop(m);
                        let _ = consumer.seek_partitions(tpl, Duration::from_secs(5));
                    }
                    continue;
                }
                Desired::Run(t) => t,
            };
            if reading_paused {
                reading_paused = consumer
                    .resume(&consumer.assignment().unwrap_or_default())
                    .is_err();
            }
            if spec.transactional && !batch.open {
                if let Err(e) = producer.begin_transaction() {
                    return Exit::Failed(format!("begin_transaction: {e}"));
                }
            }
            if !batch.open {
                batch.open = true;
                batch.started = Instant::now();
            }
            match consumer.poll(Duration::from_millis(20)) {
                None => {}
                Some(Err(e)) => shared.error(format!("router consumer: {e}")),
                Some(Ok(m)) => {
                    let version = route(m.key(), m.partition(), m.offset(), threshold);
                    let target = match version {
                        ServiceVersion::Legacy => &spec.legacy_topic,
                        ServiceVersion::Canary => &spec.canary_topic,
                    };
                    let origin = format!("{} {}", m.partition(), m.offset());
                    let mut headers = OwnedHeaders::new();
                    if let Some(h) = m.headers() {
                        for x in h.iter() {
                            headers = headers.insert(x);
                        }
                    }
                    headers = headers.insert(Header {
                        key: ORIGIN_HEADER,
                        value: Some(origin.as_bytes()),
                    });
                    let mut record = BaseRecord::<[u8], [u8]>::to(target)
                        .partition(m.partition())
                        .headers(headers);
                    if let Some(k) = m.key() {
                        record = record.key(k);
                    }
                    if let Some(p) = m.payload() {
                        record = record.payload(p);
                    }
                    // A queue that never drains (a producer stuck after a broker's restart) must
                    // not hold the router forever: past the transaction timeout this instance
                    // fails, its transaction is aborted, and a new one takes over.
                    let full_since = Instant::now();
                    loop {
                        match producer.send(record) {
                            Ok(()) => break,
                            Err((
                                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                                r,
                            )) => {
                                if matches!(shared.desired(), Desired::Kill) {
                                    return Exit::Killed;
                                }
                                if full_since.elapsed() >= TXN_TIMEOUT {
                                    return Exit::Failed(format!(
                                        "router send: the producer's queue stayed full for {} s",
                                        TXN_TIMEOUT.as_secs()
                                    ));
                                }
                                record = r;
                                producer.poll(Duration::from_millis(10));
                            }
                            Err((e, _)) => return Exit::Failed(format!("router send: {e}")),
                        }
                    }
                    batch.offsets.insert(m.partition(), m.offset() + 1);
                    batch.count[version as usize] += 1;
                }
            }
            producer.poll(Duration::ZERO);
            if batch.open && batch.started.elapsed() >= spec.commit_interval {
                if let Err(e) = self.commit(&producer, &consumer, &mut batch, shared) {
                    return Exit::Failed(e);
                }
            }
        }
    }

    /// Commits the open batch: one transaction with the consumed offsets, or (without
    /// transactions) a flush followed by an offset commit.
    fn commit(
        &self,
        producer: &BaseProducer,
        consumer: &BaseConsumer,
        batch: &mut Batch,
        shared: &Shared,
    ) -> Result<(), String> {
        if !batch.open {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::new();
        for (&p, &o) in &batch.offsets {
            tpl.add_partition_offset(&self.spec.topic, p, Offset::Offset(o))
                .map_err(|e| e.to_string())?;
        }
        let result: Result<(), String> = if self.spec.transactional {
            let sent = if batch.offsets.is_empty() {
                Ok(())
            } else {
                match consumer.group_metadata() {
                    Some(meta) => producer
                        .send_offsets_to_transaction(&tpl, &meta, TXN_TIMEOUT)
                        .map_err(|e| e.to_string()),
                    None => Err("the router's consumer has no group metadata".to_owned()),
                }
            };
            sent.and_then(|()| {
                producer
                    .commit_transaction(TXN_TIMEOUT)
                    .map_err(|e| e.to_string())
            })
        } else {
            producer
                .flush(TXN_TIMEOUT)
                .and_then(|()| {
                    if batch.offsets.is_empty() {
                        Ok(())
                    } else {
                        consumer.commit(&tpl, CommitMode::Sync)
                    }
                })
                .map_err(|e| e.to_string())
        };
        match result {
            Ok(()) => {
                shared.commits.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut phases) = shared.phases.lock() {
                    if let Some(p) = phases.last_mut() {
                        p.to_legacy += batch.count[0];
                        p.to_canary += batch.count[1];
                    }
                }
                *batch = Batch::default();
                Ok(())
            }
            Err(e) => {
                if self.spec.transactional {
                    shared.aborts.fetch_add(1, Ordering::Relaxed);
                    // Whatever the error, the next instance starts from the committed offsets;
                    // aborting first keeps the transactional id usable at once.
                    let _ = producer.abort_transaction(TXN_TIMEOUT);
                }
                *batch = Batch::default();
                Err(format!("commit: {e}"))
            }
        }
    }
}

/// What one transaction (or offset commit) holds so far.
#[derive(Debug)]
struct Batch {
    open: bool,
    started: Instant,
    /// Next offset to read per original partition.
    offsets: BTreeMap<i32, i64>,
    /// Records sent to each version.
    count: [u64; 2],
}

impl Default for Batch {
    fn default() -> Self {
        Self {
            open: false,
            started: Instant::now(),
            offsets: BTreeMap::new(),
            count: [0; 2],
        }
    }
}

/// Where a group stands on every partition of a topic.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    /// The group's committed offsets (None where it committed nothing).
    pub committed: BTreeMap<i32, Option<i64>>,
    /// The partitions' end offsets.
    pub ends: BTreeMap<i32, i64>,
}

/// Offsets of `group` on every partition of `topic`. Blocking; the admin may read any group.
pub fn positions(
    bootstrap: &str,
    admin: &Auth,
    group: &str,
    topic: &str,
) -> Result<Positions, String> {
    let consumer: BaseConsumer = client::config(bootstrap, admin)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let timeout = Timeout::After(Duration::from_secs(15));
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| format!("metadata of {topic}: {e}"))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut tpl = TopicPartitionList::new();
    let mut ends = BTreeMap::new();
    for &p in &partitions {
        tpl.add_partition(topic, p);
        let (_, high) = consumer
            .fetch_watermarks(topic, p, timeout)
            .map_err(|e| format!("end offset of {topic}/{p}: {e}"))?;
        ends.insert(p, high);
    }
    let committed = consumer
        .committed_offsets(tpl, timeout)
        .map_err(|e| format!("committed offsets of group {group}: {e}"))?;
    let committed = committed
        .elements()
        .iter()
        .map(|e| {
            let o = match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            };
            (e.partition(), o)
        })
        .collect();
    Ok(Positions { committed, ends })
}

/// Commits `offsets` of `topic` for `group` (which must have no member): the offset translation
/// of a promotion. Blocking.
pub fn commit_offsets(
    bootstrap: &str,
    admin: &Auth,
    group: &str,
    topic: &str,
    offsets: &BTreeMap<i32, i64>,
) -> Result<(), String> {
    let consumer: BaseConsumer = client::config(bootstrap, admin)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| e.to_string())?;
    let mut tpl = TopicPartitionList::new();
    for (&p, &o) in offsets {
        tpl.add_partition_offset(topic, p, Offset::Offset(o))
            .map_err(|e| e.to_string())?;
    }
    consumer
        .commit(&tpl, CommitMode::Sync)
        .map_err(|e| format!("cannot commit the translated offsets for group {group}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_stable_and_spread() {
        assert_eq!(rate(b"key-7"), rate(b"key-7"));
        let keys: Vec<String> = (0..1000).map(|i| format!("key-{i}")).collect();
        let below = keys.iter().filter(|k| rate(k.as_bytes()) < 0.1).count();
        assert!(
            (60..=140).contains(&below),
            "{below} of 1000 keys below 0.1"
        );
        assert!(keys
            .iter()
            .all(|k| (0.0..1.0).contains(&rate(k.as_bytes()))));
    }

    #[test]
    fn thresholds_zero_and_one_route_everything_one_way() {
        for o in 0..100 {
            assert_eq!(route(None, 0, o, 0.0), ServiceVersion::Legacy);
            assert_eq!(route(Some(b"k"), 1, o, 1.0), ServiceVersion::Canary);
        }
    }

    #[test]
    fn a_raised_threshold_only_moves_records_to_the_new_version() {
        for i in 0..500 {
            let key = format!("key-{i}");
            if route(Some(key.as_bytes()), 0, 0, 0.1) == ServiceVersion::Canary {
                assert_eq!(
                    route(Some(key.as_bytes()), 0, 0, 0.5),
                    ServiceVersion::Canary
                );
            }
        }
    }

    #[test]
    fn origin_header_round_trip() {
        let h = OwnedHeaders::new()
            .insert(Header {
                key: "kafka-harness",
                value: Some(b"x".as_slice()),
            })
            .insert(Header {
                key: ORIGIN_HEADER,
                value: Some(b"2 1234".as_slice()),
            });
        assert_eq!(origin(Some(&h)), Some((2, 1234)));
        assert_eq!(origin::<OwnedHeaders>(None), None);
    }
}
