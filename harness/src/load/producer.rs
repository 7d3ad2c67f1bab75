//! A producer at a declared rate. Send times follow a schedule fixed in advance (with a linear ramp),
//! and latency is measured from the intended send time, not from when the send happened: a stalled
//! cluster shows up as latency instead of silently lowering the rate (no coordinated omission).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;
use tokio::sync::watch;

use super::record;
use super::switch::{self, Endpoint, ProducerSwitch};
use crate::checks::integrity::{Ledger, RecordId};
use crate::client::{self, Auth};
use crate::scenario::{Amount, ProducerSpec};

/// Records sent, or acknowledgements taken in, per turn of the loop before it looks at the other.
const MAX_BATCH: u32 = 1024;

/// How long a switching producer waits for MirrorMaker to copy what the old cluster acknowledged.
const MIRROR_WAIT: Duration = Duration::from_secs(60);

/// The nice value of a load producer's librdkafka threads (see [`create_yielding`]).
const LOAD_CLIENT_NICE: i32 = 10;

/// Creates the producer from a thread of its own whose nice value is [`LOAD_CLIENT_NICE`]; the
/// threads librdkafka starts for it (main, one per broker, the delivery poller) inherit it.
///
/// Why: librdkafka 2.12 lets an idempotent producer have one batch in flight per partition (it
/// counts the *messages* in flight against the limit of 5 requests), and while that batch waits
/// for its acknowledgement and the next one's `linger.ms` has run out, the broker thread polls
/// without sleeping. With acks=all taking 30-500 ms on two shared cores, the three broker threads
/// of a 2,000 records/s producer took ~0.8 of a core, from the very brokers whose acknowledgements
/// they waited for (and from the JVMs a rolling upgrade restarts). At nice 10 they spin on idle
/// time only; when nothing else wants the CPU they are not slowed.
fn create_yielding(config: rdkafka::ClientConfig) -> rdkafka::error::KafkaResult<FutureProducer> {
    let created = std::thread::Builder::new()
        .name("producer create".to_owned())
        .spawn(move || {
            // Linux keeps a nice value per thread: this changes the calling thread only. Failing
            // to change it (another OS) leaves the producer as it would be anyway.
            let _ = rustix::process::setpriority_process(None, LOAD_CLIENT_NICE);
            config.create()
        })
        .map_err(|e| KafkaError::ClientCreation(e.to_string()))?;
    created.join().unwrap_or_else(|_| {
        Err(KafkaError::ClientCreation(
            "the creating thread panicked".to_owned(),
        ))
    })
}

/// Live counters, read by progress lines and by `drain`.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub failed: AtomicU64,
    pub done: std::sync::atomic::AtomicBool,
    /// Blue/green: each switch to another cluster, once the new one acknowledged a record.
    pub switches: Mutex<Vec<ProducerSwitch>>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TimedError {
    pub at_s: f64,
    pub error: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Latency {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProducerStats {
    pub name: String,
    pub topic: String,
    pub producer_id: u32,
    pub planned: u64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub started_at_s: f64,
    pub finished_at_s: f64,
    /// Acknowledged records per second over the producer's life.
    pub throughput: f64,
    /// From the intended send time to the acknowledgement.
    pub latency: Latency,
    /// From the producer's start to its first acknowledgement (connect, authenticate, init).
    pub first_ack_after_ms: Option<u64>,
    /// Per partition, the longest time without an acknowledgement while this producer ran
    /// (counted from its first acknowledgement).
    pub longest_gap_ms: BTreeMap<i32, u64>,
    /// Distinct errors with the time each was first seen and how often.
    pub errors: Vec<TimedError>,
    /// Records acknowledged in each second of the run (index 0 = the run's first second), for
    /// the charts of report.html.
    pub acked_per_s: Vec<u32>,
    /// Sends failed in each second of the run.
    pub failed_per_s: Vec<u32>,
    /// Blue/green: the producer's moves to another cluster.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<ProducerSwitch>,
}

/// Counts one event in its second of the run.
fn per_second(counts: &mut Vec<u32>, since_epoch: Duration) {
    let at = usize::try_from(since_epoch.as_secs()).unwrap_or(usize::MAX);
    // A run's seconds are few (hours at most): a clock gone wild must not allocate without bound.
    if at > 1_000_000 {
        return;
    }
    if counts.len() <= at {
        counts.resize(at + 1, 0);
    }
    counts[at] = counts[at].saturating_add(1);
}

#[derive(Debug)]
pub struct ProducerTask {
    pub spec: ProducerSpec,
    pub bootstrap: String,
    /// Blue/green: the alias the bootstrap servers are resolved through (`bootstrap` is then its
    /// answer at the start). `None`: `bootstrap`, for the whole run.
    pub endpoint: Option<watch::Receiver<Endpoint>>,
    pub auth: Auth,
    pub run_id: String,
    pub ledgers: Vec<Arc<Mutex<Ledger>>>,
    pub counters: Arc<Counters>,
    pub stop: watch::Receiver<bool>,
    /// The run's clock, so every time in the report shares one origin.
    pub epoch: Instant,
    /// Avro producers: the writer schema to send with (registered before the first record).
    pub avro: Option<super::avro::AvroWriter>,
}

/// When each record is meant to be sent: the regular rate (with its ramp) merged with bursts.
#[derive(Debug, Clone)]
pub struct Schedule {
    rate: f64,
    ramp: f64,
    burst: Option<(f64, u32)>,
    regular: u64,
    burst_index: u64,
    in_burst: u32,
}

impl Schedule {
    pub fn new(rate: f64, ramp: f64, burst: Option<(Duration, u32)>) -> Self {
        Self {
            rate,
            ramp,
            burst: burst.map(|(every, n)| (every.as_secs_f64(), n)),
            regular: 0,
            burst_index: 1,
            in_burst: 0,
        }
    }

    fn next_burst(&self) -> Option<f64> {
        self.burst
            .filter(|(_, n)| *n > 0)
            .map(|(every, _)| every * self.burst_index as f64)
    }

    /// Seconds from the start at which the next record is due.
    pub fn peek(&self) -> f64 {
        let regular = intended_offset(self.regular, self.rate, self.ramp);
        self.next_burst().map_or(regular, |b| b.min(regular))
    }

    pub fn advance(&mut self) {
        let regular = intended_offset(self.regular, self.rate, self.ramp);
        match (self.next_burst(), self.burst) {
            (Some(b), Some((_, n))) if b <= regular => {
                self.in_burst += 1;
                if self.in_burst >= n {
                    self.in_burst = 0;
                    self.burst_index += 1;
                }
            }
            _ => self.regular += 1,
        }
    }
}

/// Seconds from the producer's start at which record `i` is meant to be sent.
pub fn intended_offset(i: u64, rate: f64, ramp: f64) -> f64 {
    let ramp_records = rate * ramp / 2.0;
    let i = i as f64;
    if ramp > 0.0 && i < ramp_records {
        (2.0 * ramp * i / rate).sqrt()
    } else {
        ramp + (i - ramp_records) / rate
    }
}

impl ProducerTask {
    /// A client of `bootstrap` with the spec's delivery settings.
    fn connect(&self, bootstrap: &str) -> rdkafka::error::KafkaResult<FutureProducer> {
        let spec = &self.spec;
        let mut config = client::config(bootstrap, &self.auth);
        config
            .set("acks", spec.acks)
            .set("enable.idempotence", spec.idempotence.to_string())
            .set("compression.type", spec.compression)
            .set(
                "delivery.timeout.ms",
                spec.delivery_timeout.as_millis().to_string(),
            )
            .set("linger.ms", "5");
        if let Some(p) = spec.partitioner {
            config.set("partitioner", p);
        }
        create_yielding(config)
    }

    pub async fn run(mut self) -> ProducerStats {
        let spec = self.spec.clone();
        let started_at_s = self.epoch.elapsed().as_secs_f64();
        let mut stats = ProducerStats {
            name: spec.name.clone(),
            topic: spec.topic.clone(),
            producer_id: spec.id,
            planned: spec.planned_records(),
            sent: 0,
            acked: 0,
            failed: 0,
            started_at_s,
            finished_at_s: started_at_s,
            throughput: 0.0,
            latency: Latency::default(),
            first_ack_after_ms: None,
            longest_gap_ms: BTreeMap::new(),
            errors: Vec::new(),
            acked_per_s: Vec::new(),
            failed_per_s: Vec::new(),
            switches: Vec::new(),
        };
        let mut producer: FutureProducer = match self.connect(&self.bootstrap.clone()) {
            Ok(p) => p,
            Err(e) => {
                self.note_error(&mut stats, format!("cannot create the producer: {e}"));
                self.counters.done.store(true, Ordering::SeqCst);
                return stats;
            }
        };

        if let Some(w) = &self.avro {
            let epoch = self.epoch;
            let mut tries = Vec::new();
            let started = w
                .start(
                    &spec.name,
                    || epoch.elapsed().as_secs_f64(),
                    |e| tries.push(e.to_string()),
                )
                .await;
            for e in tries {
                self.note_error(&mut stats, e);
            }
            if let Err(e) = started {
                self.note_error(&mut stats, e);
                self.counters.done.store(true, Ordering::SeqCst);
                return stats;
            }
        }

        let rate = f64::from(spec.rate);
        let ramp = spec.ramp.as_secs_f64();
        let (limit_records, limit_time) = match spec.amount {
            Amount::Records(n) => (n, f64::INFINITY),
            Amount::For(d) => (u64::MAX, d.as_secs_f64()),
        };
        let mut schedule = Schedule::new(rate, ramp, spec.burst);
        let start = Instant::now();
        let mut last_ack: BTreeMap<i32, Instant> = BTreeMap::new();
        let mut first_ack: Option<Instant> = None;
        let mut latencies_us: Vec<u32> =
            Vec::with_capacity(usize::try_from(stats.planned.min(50_000_000)).unwrap_or(0));
        let mut inflight = FuturesUnordered::new();
        let mut buf = Vec::with_capacity(spec.record_size as usize);
        let mut seq: u64 = 0;
        let mut sending = true;
        let mut backoff = false;
        // Blue/green: the alias's answer this producer uses, when it expires next, and the switch
        // under way (sending paused until the old client's records are all acknowledged).
        let mut resolved = self.endpoint.as_ref().map(|e| e.borrow().clone());
        let mut expires = resolved
            .as_ref()
            .map_or(start, |e| start + e.ttl.max(Duration::from_millis(100)));
        // With the sequence of the first record held back by the switch.
        let mut switching: Option<(ProducerSwitch, Endpoint, u64)> = None;
        let mut awaiting_first: Option<(ProducerSwitch, u64)> = None;
        let mut last_offsets: BTreeMap<i32, i64> = BTreeMap::new();
        let mut last_ack_at: Option<Instant> = None;
        while sending || !inflight.is_empty() || switching.is_some() {
            if switching.is_some() && inflight.is_empty() {
                // The old client has an outcome for every record: move to the new cluster.
                if let Some((mut sw, to, held_from)) = switching.take().filter(|_| sending) {
                    sw.last_old_ack_at_s =
                        last_ack_at.map(|t| t.duration_since(self.epoch).as_secs_f64());
                    if to.wait_for_mirror && !last_offsets.is_empty() {
                        let acked: Vec<(i32, i64)> =
                            last_offsets.iter().map(|(p, o)| (*p, *o)).collect();
                        if let Err(missing) = switch::wait_mirrored(
                            &to.bootstrap,
                            &self.auth,
                            &spec.topic,
                            &acked,
                            MIRROR_WAIT,
                        )
                        .await
                        {
                            self.note_error(&mut stats, format!("switching to {}: MirrorMaker had not copied every record acknowledged on {} within {}s ({missing}); writing to {} anyway", to.cluster.name(), sw.from, MIRROR_WAIT.as_secs(), to.cluster.name()));
                        }
                        sw.mirrored_at_s = Some(self.epoch.elapsed().as_secs_f64());
                    }
                    match self.connect(&to.bootstrap) {
                        Ok(p) => producer = p,
                        Err(e) => {
                            self.note_error(
                                &mut stats,
                                format!(
                                    "cannot create the producer for {}: {e}",
                                    to.cluster.name()
                                ),
                            );
                            sending = false;
                        }
                    }
                    last_offsets.clear();
                    awaiting_first = Some((sw, held_from));
                    resolved = Some(to);
                }
                continue;
            }
            let next_at = schedule.peek();
            if sending && (seq >= limit_records || next_at > limit_time || *self.stop.borrow()) {
                sending = false;
                continue;
            }
            let next_at = schedule.peek();
            if sending && (seq >= limit_records || next_at > limit_time || *self.stop.borrow()) {
                sending = false;
                continue;
            }
            let mut due = start + Duration::from_secs_f64(next_at);
            if backoff {
                due = due.max(Instant::now() + Duration::from_millis(1));
            }
            tokio::select! {
                biased;
                Some(first) = inflight.next(), if !inflight.is_empty() => {
                    // Every acknowledgement that is already in, not one per turn of the loop.
                    let mut next = Some(first);
                    let mut drained = 0_u32;
                    while let Some((intended, id, result)) = next {
                    let result: Result<Result<rdkafka::producer::future_producer::Delivery, (KafkaError, rdkafka::message::OwnedMessage)>, futures::channel::oneshot::Canceled> = result;
                    let now = Instant::now();
                    match result {
                        Ok(Ok(d)) => {
                            stats.acked += 1;
                            self.counters.acked.fetch_add(1, Ordering::Relaxed);
                            per_second(&mut stats.acked_per_s, now.duration_since(self.epoch));
                            // Gaps count from the first acknowledgement: connecting, authenticating and
                            // the idempotent producer's id are start-up, reported as time to first ack.
                            let first = *first_ack.get_or_insert(now);
                            let since: Instant = *last_ack.get(&d.partition).unwrap_or(&first);
                            let gap = u64::try_from(now.duration_since(since).as_millis()).unwrap_or(u64::MAX);
                            let longest = stats.longest_gap_ms.entry(d.partition).or_default();
                            *longest = (*longest).max(gap);
                            last_ack.insert(d.partition, now);
                            last_ack_at = Some(now);
                            last_offsets.insert(d.partition, d.offset);
                            if let Some((mut sw, held_from)) = awaiting_first.take() {
                                sw.first_new_ack_at_s = now.duration_since(self.epoch).as_secs_f64();
                                // Every record due between the notice and this acknowledgement
                                // waited for the switch: those sent since and those still due.
                                let mut due = schedule.clone();
                                let mut due_now = seq;
                                while due_now < limit_records && start + Duration::from_secs_f64(due.peek()) <= now {
                                    due_now += 1;
                                    due.advance();
                                }
                                sw.held = due_now.saturating_sub(held_from);
                                let last_old = sw.last_old_ack_at_s.unwrap_or(sw.noticed_at_s);
                                sw.unavailable_ms = ((sw.first_new_ack_at_s - last_old).max(0.0) * 1000.0).round() as u64;
                                if let Ok(mut s) = self.counters.switches.lock() {
                                    s.push(sw.clone());
                                }
                                stats.switches.push(sw);
                            }
                            latencies_us.push(u32::try_from(now.duration_since(intended).as_micros()).unwrap_or(u32::MAX));
                            for l in &self.ledgers {
                                if let Ok(mut l) = l.lock() {
                                    l.acked(id, d.partition, d.offset);
                                }
                            }
                        }
                        Ok(Err((e, _))) => {
                            if let Some((sw, _, _)) = switching.as_mut() {
                                sw.failed += 1;
                            }
                            self.failed(&mut stats, id, e.to_string());
                        }
                        Err(_) => self.failed(&mut stats, id, "delivery report lost".to_owned()),
                    }
                        drained += 1;
                        next = if drained < MAX_BATCH { inflight.next().now_or_never().flatten() } else { None };
                    }
                }
                () = tokio::time::sleep_until(expires.into()), if sending && switching.is_none() && resolved.is_some() => {
                    // The cached answer expired: resolve the alias again.
                    let now = Instant::now();
                    let answer = self.endpoint.as_ref().map(|e| e.borrow().clone());
                    if let (Some(answer), Some(current)) = (answer, resolved.as_ref()) {
                        expires = now + answer.ttl.max(Duration::from_millis(100));
                        if answer.cluster != current.cluster {
                            let sw = ProducerSwitch {
                                from: current.cluster.name().to_owned(),
                                to: answer.cluster.name().to_owned(),
                                repointed_at_s: answer.repointed_at_s.unwrap_or_default(),
                                noticed_at_s: now.duration_since(self.epoch).as_secs_f64(),
                                ..ProducerSwitch::default()
                            };
                            // As the seed system's switching producer does: no new sends, every
                            // record of the old client acknowledged (or failed), then a new client.
                            switching = Some((sw, answer, seq));
                        }
                    }
                }
                () = tokio::time::sleep_until(due.into()), if sending && switching.is_none() => {
                    // Everything due by now goes out at once, so a slow loop catches up to the schedule.
                    let now = Instant::now();
                    backoff = false;
                    let mut burst = 0_u32;
                    while burst < MAX_BATCH && seq < limit_records && start + Duration::from_secs_f64(schedule.peek()) <= now {
                        burst += 1;
                        let offset = schedule.peek();
                        if offset > limit_time {
                            break;
                        }
                        let intended = start + Duration::from_secs_f64(offset);
                        let id = RecordId { producer: spec.id, seq };
                        let headers = match self.avro.as_mut() {
                            None => {
                                record::encode(&self.run_id, spec.id, seq, spec.record_size as usize, &mut buf);
                                None
                            }
                            Some(w) => match w.payload(&self.run_id, spec.id, seq, &mut buf) {
                                Ok(h) => h,
                                Err(e) => {
                                    // Not sent: a value the schema refuses is the scenario's error.
                                    self.failed(&mut stats, id, e);
                                    stats.sent += 1;
                                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                                    schedule.advance();
                                    seq += 1;
                                    continue;
                                }
                            },
                        };
                        let key = record::key(seq, spec.keys);
                        let mut rec = FutureRecord::to(&spec.topic).payload(&buf);
                        if let Some(h) = headers {
                            rec = rec.headers(h);
                        }
                        if let Some(k) = key.as_deref() {
                            rec = rec.key(k);
                        }
                        match producer.send_result(rec) {
                            Ok(fut) => inflight.push(async move { (intended, id, fut.await) }),
                            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                                // librdkafka's queue is full: back-pressure, visible as latency. The record
                                // goes again after a pause in which acknowledgements are taken in.
                                backoff = true;
                                break;
                            }
                            Err((e, _)) => self.failed(&mut stats, id, e.to_string()),
                        }
                        stats.sent += 1;
                        self.counters.sent.fetch_add(1, Ordering::Relaxed);
                        schedule.advance();
                        seq += 1;
                    }
                }
                _ = self.stop.changed(), if sending => {}
            }
        }
        let end = Instant::now();
        for (p, last) in &last_ack {
            let tail = u64::try_from(end.duration_since(*last).as_millis()).unwrap_or(u64::MAX);
            let longest = stats.longest_gap_ms.entry(*p).or_default();
            *longest = (*longest).max(tail);
        }
        stats.finished_at_s = self.epoch.elapsed().as_secs_f64();
        let life = (stats.finished_at_s - stats.started_at_s).max(1e-3);
        stats.throughput = stats.acked as f64 / life;
        stats.latency = latency(&mut latencies_us);
        stats.first_ack_after_ms = first_ack
            .map(|f| u64::try_from(f.duration_since(start).as_millis()).unwrap_or(u64::MAX));
        self.counters.done.store(true, Ordering::SeqCst);
        stats
    }

    fn failed(&self, stats: &mut ProducerStats, id: RecordId, error: String) {
        stats.failed += 1;
        per_second(&mut stats.failed_per_s, self.epoch.elapsed());
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        for l in &self.ledgers {
            if let Ok(mut l) = l.lock() {
                l.failed(id);
            }
        }
        self.note_error(stats, error);
    }

    fn note_error(&self, stats: &mut ProducerStats, error: String) {
        note_error(&mut stats.errors, self.epoch, error);
    }
}

/// Counts `error` among the distinct errors seen (the first 20 kinds, each with when it was
/// first seen and how often).
pub(crate) fn note_error(errors: &mut Vec<TimedError>, epoch: Instant, error: String) {
    if let Some(e) = errors.iter_mut().find(|e| e.error == error) {
        e.count += 1;
    } else if errors.len() < 20 {
        errors.push(TimedError {
            at_s: epoch.elapsed().as_secs_f64(),
            error,
            count: 1,
        });
    }
}

pub(crate) fn latency(us: &mut [u32]) -> Latency {
    if us.is_empty() {
        return Latency::default();
    }
    us.sort_unstable();
    let at = |q: f64| f64::from(us[((us.len() - 1) as f64 * q).round() as usize]) / 1000.0;
    Latency {
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_without_and_with_ramp() {
        assert!((intended_offset(100, 100.0, 0.0) - 1.0).abs() < 1e-9);
        // a 10 s ramp to 100/s sends 500 records during the ramp, the 500th at its end
        assert!((intended_offset(500, 100.0, 10.0) - 10.0).abs() < 1e-9);
        assert!((intended_offset(600, 100.0, 10.0) - 11.0).abs() < 1e-9);
        // slower at first: the first 125 records take half the ramp
        assert!((intended_offset(125, 100.0, 10.0) - 5.0).abs() < 1e-9);
    }

    #[test]
    fn bursts_interleave_with_the_rate() {
        // 10/s, plus 3 records at once every second
        let mut s = Schedule::new(10.0, 0.0, Some((Duration::from_secs(1), 3)));
        let mut times = Vec::new();
        while s.peek() <= 1.0 + 1e-9 {
            times.push((s.peek() * 10.0).round() as u32);
            s.advance();
        }
        assert_eq!(times, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10]);
    }
}
