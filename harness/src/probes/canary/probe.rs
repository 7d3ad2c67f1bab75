//! The canary at work: its topic, a producer sending one record per partition per interval, a
//! consumer reading them back, a reconciler adding partitions when brokers are added, and the
//! metrics endpoint. Everything it sees goes into one `History`, judged when the run ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::future_producer::Delivery;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::history::{
    self, CanaryReport, History, Judging, Layout, Outcome, ReportInput, StepSpan,
};
use super::metrics;
use crate::client::{self, Auth};
use crate::outcome::StepOutcome;
use crate::probes::metrics_http::{MetricsServer, Render};
use crate::progress::Progress;
use crate::runtime::stack::RunningStack;
use crate::scenario::{format_duration, CanarySpec, Topic};
use crate::secrets::Credentials;

/// The canary's topic (created by the canary itself in every run).
pub const TOPIC: &str = "__kafka_harness_canary";
/// Its producer's and consumer's `client.id`, and the `clientid` label of its metrics.
pub const CLIENT_ID: &str = "kafka-harness-canary";

/// How long the canary waits for a first acknowledgement from every partition before steps start.
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the canary compares its partitions with the brokers.
const RECONCILE_EVERY: Duration = Duration::from_secs(10);
/// How long a send may wait for its acknowledgement before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// At the end: how long to wait for the last outcomes, and for the consumer to catch up.
const FINAL_OUTCOMES: Duration = Duration::from_secs(5);
const FINAL_CATCH_UP: Duration = Duration::from_secs(5);

/// The payload of a canary record, as Strimzi's canary writes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    producer_id: String,
    message_id: u64,
    /// Milliseconds since the Unix epoch, when the record was due.
    timestamp: u64,
}

/// What the canary's tasks and its metrics endpoint share.
#[derive(Debug)]
struct Shared {
    history: Mutex<History>,
    /// Partitions the producer writes to and the consumer reads.
    partitions: AtomicU32,
    /// The warm-up is over: partitions added from now on count from their first acknowledgement.
    warm: AtomicBool,
    epoch: Instant,
    /// Carried in every record, so records of another run are told apart.
    producer_id: String,
    budget_us: u64,
}

impl Shared {
    fn us(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_micros()).unwrap_or(u64::MAX)
    }

    fn now_us(&self) -> u64 {
        self.us(Instant::now())
    }

    fn now_s(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    fn with<R>(&self, f: impl FnOnce(&mut History) -> R) -> Option<R> {
        self.history.lock().ok().map(|mut h| f(&mut h))
    }

    fn note(&self, source: &str, error: String) {
        let at = self.now_s();
        self.with(|h| h.note_error(at, source, error));
    }

    fn partitions(&self) -> u32 {
        self.partitions.load(Ordering::SeqCst)
    }

    fn outcome(
        &self,
        id: u64,
        result: Result<
            Result<Delivery, (KafkaError, OwnedMessage)>,
            futures::channel::oneshot::Canceled,
        >,
    ) {
        let now = self.now_us();
        let at_s = self.now_s();
        let warm = self.warm.load(Ordering::SeqCst);
        self.with(|h| {
            let outcome = match result {
                Ok(Ok(_)) => Outcome::Acked(now),
                Ok(Err((e, _))) => {
                    h.note_error(at_s, "producer", e.to_string());
                    Outcome::Failed(now)
                }
                Err(_) => {
                    h.note_error(at_s, "producer", "delivery report lost".to_owned());
                    Outcome::Failed(now)
                }
            };
            let Some(r) = h.record_mut(id) else { return };
            r.outcome = outcome;
            let partition = r.partition;
            // A partition added after the warm-up counts from its first acknowledgement.
            if warm && matches!(outcome, Outcome::Acked(_)) {
                h.measured_from_us.entry(partition).or_insert(now);
            }
        });
    }

    fn consumed(&self, payload: Option<&[u8]>) {
        let now = self.now_us();
        let Some(p) = payload.and_then(|b| serde_json::from_slice::<Payload>(b).ok()) else {
            return;
        };
        if p.producer_id != self.producer_id {
            return;
        }
        self.with(|h| {
            let again = match h.record_mut(p.message_id) {
                Some(r) if r.consumed_us.is_none() => {
                    r.consumed_us = Some(now);
                    false
                }
                Some(_) => true,
                None => false,
            };
            h.duplicates += u64::from(again);
        });
    }

    fn consumer_error(&self, error: String) {
        let at = self.now_s();
        self.with(|h| {
            h.consumer_errors += 1;
            h.note_error(at, "consumer", error);
        });
    }

    fn judging(&self, end_us: u64) -> Judging {
        Judging {
            budget_us: self.budget_us,
            end_us,
        }
    }

    fn render(&self) -> String {
        let judging = self.judging(self.now_us());
        let partitions = self.partitions();
        self.with(|h| metrics::render(h, CLIENT_ID, partitions, judging))
            .unwrap_or_default()
    }
}

/// Routes librdkafka's client-level errors (a broker gone, a connection refused) into the history.
#[derive(Clone)]
struct Context {
    shared: Arc<Shared>,
    consumer: bool,
}

impl ClientContext for Context {
    fn log(&self, _level: RDKafkaLogLevel, _fac: &str, _log_message: &str) {}

    fn error(&self, error: KafkaError, reason: &str) {
        let message = format!("{error}: {reason}");
        if self.consumer {
            self.shared.consumer_error(message);
        } else {
            self.shared.note("producer", message);
        }
    }
}

impl ConsumerContext for Context {}

/// A running canary. `start` returns once every partition has answered (or the warm-up gave up);
/// `finish` stops it and judges what it saw.
pub struct Canary {
    shared: Arc<Shared>,
    layout: Layout,
    interval: Duration,
    stop_sending: watch::Sender<bool>,
    stop_all: watch::Sender<bool>,
    producer: Option<JoinHandle<()>>,
    tasks: Vec<JoinHandle<()>>,
    server: Option<MetricsServer>,
    progress: Progress,
}

impl std::fmt::Debug for Canary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Canary")
            .field("layout", &self.layout)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Canary {
    /// Creates the topic, starts the endpoint and the clients, and waits for the warm-up. `None`
    /// when the scenario turned the canary off.
    pub async fn start(
        running: &RunningStack,
        run_id: &str,
        spec: &CanarySpec,
        epoch: Instant,
        progress: &Progress,
    ) -> Option<Self> {
        if !spec.enabled {
            return None;
        }
        let layout = Layout::for_brokers(running.kafka_ports.len());
        let bootstrap = running.bootstrap_servers();
        let admin = running.admin();
        let shared = Arc::new(Shared {
            history: Mutex::default(),
            partitions: AtomicU32::new(layout.partitions),
            warm: AtomicBool::new(false),
            epoch,
            producer_id: format!("{CLIENT_ID}-{run_id}"),
            budget_us: u64::try_from(spec.budget.as_micros()).unwrap_or(u64::MAX),
        });
        let topic = Topic {
            name: TOPIC.to_owned(),
            partitions: layout.partitions,
            replication_factor: layout.replication_factor,
            config: BTreeMap::from([(
                "min.insync.replicas".to_owned(),
                layout.min_insync_replicas.to_string(),
            )]),
            assignment: None,
        };
        if let Err(e) = client::create_topics(&bootstrap, &admin, &[topic]).await {
            shared.note("topic", format!("cannot create {TOPIC}: {e}"));
            progress.say(format!("canary: cannot create its topic {TOPIC} ({e})"));
        }
        let render: Render = {
            let shared = shared.clone();
            Arc::new(move || shared.render())
        };
        let server = match MetricsServer::start(spec.metrics_port, render).await {
            Ok(s) => {
                progress.say(format!("canary metrics: {}", s.url()));
                Some(s)
            }
            Err(e) => {
                progress.say(format!(
                    "canary metrics: cannot listen on 127.0.0.1:{} ({e}); the canary runs without its endpoint",
                    spec.metrics_port
                ));
                None
            }
        };
        let (stop_sending, sending) = watch::channel(false);
        let (stop_all, running_rx) = watch::channel(false);
        let mut canary = Self {
            shared: shared.clone(),
            layout,
            interval: spec.interval,
            stop_sending,
            stop_all,
            producer: None,
            tasks: Vec::new(),
            server,
            progress: progress.clone(),
        };
        let context = |consumer| Context {
            shared: shared.clone(),
            consumer,
        };
        let producer: Result<FutureProducer<Context>, _> = client::config(&bootstrap, &admin)
            .set("client.id", CLIENT_ID)
            .set("acks", "all")
            // Not idempotent: a send that times out must not leave the producer in a fatal state
            // for the rest of the run; a retried duplicate is counted instead.
            .set("enable.idempotence", "false")
            .set("linger.ms", "0")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            )
            .create_with_context(context(false));
        match producer {
            Ok(p) => {
                canary.producer = Some(tokio::spawn(produce(
                    shared.clone(),
                    p.clone(),
                    spec.interval,
                    sending,
                )));
                canary.tasks.push(tokio::spawn(reconcile(
                    shared.clone(),
                    p,
                    bootstrap.clone(),
                    admin.clone(),
                    running_rx.clone(),
                    progress.clone(),
                )));
            }
            Err(e) => shared.note("producer", format!("cannot create the producer: {e}")),
        }
        // librdkafka refuses assign() without a group.id. The group never joins or commits, but
        // the coordinator lookup creates __consumer_offsets while every broker is up, as in any
        // production cluster; without the canary it appears with a scenario's first group.
        let consumer: Result<StreamConsumer<Context>, _> = client::config(&bootstrap, &admin)
            .set("client.id", CLIENT_ID)
            .set("group.id", format!("{CLIENT_ID}-{run_id}"))
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "100")
            .create_with_context(context(true));
        match consumer {
            Ok(c) => canary
                .tasks
                .push(tokio::spawn(consume(shared.clone(), c, running_rx))),
            Err(e) => shared.consumer_error(format!("cannot create the consumer: {e}")),
        }
        canary.warm_up().await;
        Some(canary)
    }

    /// Waits until every partition has acknowledged a record; from then on, records count.
    async fn warm_up(&self) {
        let t0 = Instant::now();
        let partitions = self.layout.partitions;
        let target = usize::try_from(partitions).unwrap_or(usize::MAX);
        let acked_partitions = |h: &mut History| {
            h.records
                .iter()
                .filter(|r| matches!(r.outcome, Outcome::Acked(_)))
                .map(|r| r.partition)
                .collect::<std::collections::BTreeSet<i32>>()
                .len()
        };
        let mut answered = 0;
        while self.producer.is_some() {
            answered = self.shared.with(acked_partitions).unwrap_or(0);
            if answered >= target || t0.elapsed() >= WARM_UP_TIMEOUT {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let silent = target.saturating_sub(answered);
        let now = self.shared.now_us();
        self.shared.with(|h| {
            for p in 0..i32::try_from(partitions).unwrap_or(0) {
                h.measured_from_us.insert(p, now);
            }
            self.shared.warm.store(true, Ordering::SeqCst);
        });
        let l = self.layout;
        let warm = if silent == 0 {
            format!("warm-up {:.1}s", t0.elapsed().as_secs_f64())
        } else {
            format!(
                "{silent} partition(s) never acknowledged during the warm-up ({:.1}s); measuring anyway",
                t0.elapsed().as_secs_f64()
            )
        };
        self.progress.say(format!(
            "canary: topic {TOPIC} ({} partition(s), RF {}, min.insync.replicas {}), one record per partition every {}; {warm}",
            l.partitions,
            l.replication_factor,
            l.min_insync_replicas,
            format_duration(self.interval),
        ));
    }

    /// Stops sending, collects the last outcomes, lets the consumer catch up, stops everything
    /// (the endpoint too) and judges the history against the steps.
    pub async fn finish(mut self, steps: &[StepOutcome], creds: &Credentials) -> CanaryReport {
        let end_us = self.shared.now_us();
        let _ = self.stop_sending.send(true);
        if let Some(mut producer) = self.producer.take() {
            if tokio::time::timeout(FINAL_OUTCOMES, &mut producer)
                .await
                .is_err()
            {
                producer.abort();
            }
        }
        let t0 = Instant::now();
        while t0.elapsed() < FINAL_CATCH_UP {
            let behind = self
                .shared
                .with(|h| {
                    h.records
                        .iter()
                        .any(|r| matches!(r.outcome, Outcome::Acked(_)) && r.consumed_us.is_none())
                })
                .unwrap_or(false);
            if !behind {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self.stop_all.send(true);
        for mut task in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        let spans: Vec<StepSpan> = steps
            .iter()
            .map(|s| StepSpan {
                index: s.index,
                label: s.step.clone(),
                from_s: s.started_at_s,
                to_s: s.started_at_s + s.duration_ms as f64 / 1000.0,
            })
            .collect();
        let mut history = self.shared.with(|h| h.clone()).unwrap_or_default();
        // Client errors can quote configuration; passwords stay out of reports.
        for e in &mut history.errors {
            e.error = creds.redact(&e.error);
        }
        let report = history::report(
            &history,
            &ReportInput {
                topic: TOPIC,
                layout: self.layout,
                partitions: self.shared.partitions(),
                interval_ms: u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX),
                judging: self.shared.judging(end_us),
                steps: &spans,
            },
        );
        let run = &report.run;
        self.progress.say(format!(
            "canary: {} sent, {} acked, {} failed; availability {}, longest unavailability {:.1}s, end-to-end p99 {}",
            report.sent,
            report.acked,
            report.failed,
            run.availability_percent
                .map_or("n/a".to_owned(), |a| format!("{a:.2} %")),
            run.longest_unavailability_ms as f64 / 1000.0,
            match run.e2e_latency.p99_ms {
                Some(p) => format!("{p:.1} ms"),
                None if run.e2e_latency.samples == 0 => "n/a".to_owned(),
                None => "unbounded (records never read back)".to_owned(),
            },
        ));
        report
    }
}

/// One line for `plan`: what the canary will do in this scenario's stack.
pub fn plan_line(s: &crate::scenario::Scenario) -> Option<String> {
    let c = &s.canary;
    if !c.enabled {
        return None;
    }
    let l = Layout::for_brokers(usize::from(s.stack.kafka.brokers));
    let port = match c.metrics_port {
        0 => "an ephemeral port".to_owned(),
        p => format!("port {p}"),
    };
    Some(format!(
        "topic {TOPIC} (partitions={} rf={} min.insync.replicas={}), one record per partition every {}, available when acknowledged within {}; metrics on 127.0.0.1, {port}",
        l.partitions,
        l.replication_factor,
        l.min_insync_replicas,
        format_duration(c.interval),
        format_duration(c.budget),
    ))
}

/// One record per partition at every tick, acks=all; each outcome goes into the history.
async fn produce(
    shared: Arc<Shared>,
    producer: FutureProducer<Context>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(interval);
    let mut inflight = FuturesUnordered::new();
    let mut sending = true;
    while sending || !inflight.is_empty() {
        tokio::select! {
            biased;
            Some((id, result)) = inflight.next(), if !inflight.is_empty() => shared.outcome(id, result),
            _ = stop.changed(), if sending => sending = false,
            due = tick.tick(), if sending => {
                // The tick's own instant, not when the loop got to it: a stalled harness shows
                // up as latency instead of as fewer records.
                let due = due.into_std();
                let due_us = shared.us(due);
                let timestamp = SystemTime::now()
                    .checked_sub(due.elapsed())
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                for p in 0..i32::try_from(shared.partitions()).unwrap_or(0) {
                    let Some(id) = shared.with(|h| h.push(p, due_us)) else { continue };
                    let payload = serde_json::to_string(&Payload {
                        producer_id: shared.producer_id.clone(),
                        message_id: id,
                        timestamp,
                    })
                    .unwrap_or_default();
                    let record = FutureRecord::<(), _>::to(TOPIC).partition(p).payload(&payload);
                    match producer.send_result(record) {
                        Ok(delivery) => inflight.push(async move { (id, delivery.await) }),
                        Err((e, _)) => {
                            let at = shared.now_us();
                            let at_s = shared.now_s();
                            shared.with(|h| {
                                h.note_error(at_s, "producer", e.to_string());
                                if let Some(r) = h.record_mut(id) {
                                    r.outcome = Outcome::Failed(at);
                                }
                            });
                        }
                    }
                }
            }
        }
    }
}

/// Reads every partition from the beginning (no group rebalances in the way), and re-assigns when
/// partitions are added.
async fn consume(
    shared: Arc<Shared>,
    consumer: StreamConsumer<Context>,
    mut stop: watch::Receiver<bool>,
) {
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut assigned = 0;
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = check.tick() => {
                let n = shared.partitions();
                if n != assigned {
                    let mut tpl = TopicPartitionList::new();
                    for p in 0..i32::try_from(n).unwrap_or(0) {
                        let offset = next.get(&p).map_or(Offset::Beginning, |o| Offset::Offset(*o));
                        let _ = tpl.add_partition_offset(TOPIC, p, offset);
                    }
                    match consumer.assign(&tpl) {
                        Ok(()) => assigned = n,
                        Err(e) => shared.consumer_error(format!("cannot assign the canary's partitions: {e}")),
                    }
                }
            }
            m = consumer.recv() => match m {
                Ok(m) => {
                    next.insert(m.partition(), m.offset() + 1);
                    shared.consumed(m.payload());
                }
                Err(e) => {
                    shared.consumer_error(e.to_string());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Every few seconds: when the cluster has more brokers than the topic has partitions, add
/// partitions (a new broker gets its own canary partition, as with Strimzi's canary).
async fn reconcile(
    shared: Arc<Shared>,
    producer: FutureProducer<Context>,
    bootstrap: String,
    admin: Auth,
    mut stop: watch::Receiver<bool>,
    progress: Progress,
) {
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {
                let p = producer.clone();
                let seen = tokio::task::spawn_blocking(move || {
                    let md = p.client().fetch_metadata(Some(TOPIC), Duration::from_secs(5)).ok()?;
                    let partitions = md.topics().first()?.partitions().len();
                    Some((md.brokers().len(), u32::try_from(partitions).ok()?))
                })
                .await
                .ok()
                .flatten();
                let Some((brokers, partitions)) = seen else { continue };
                if partitions == 0 {
                    continue;
                }
                if partitions > shared.partitions() {
                    shared.partitions.store(partitions, Ordering::SeqCst);
                }
                let Some(target) = history::grow_to(partitions, brokers) else { continue };
                match add_partitions(&bootstrap, &admin, target).await {
                    Ok(()) => {
                        shared.partitions.store(target, Ordering::SeqCst);
                        progress.say(format!("canary: {brokers} brokers now; {TOPIC} grew to {target} partitions"));
                    }
                    Err(e) => shared.note("topic", format!("cannot add partitions to {TOPIC}: {e}")),
                }
            }
        }
    }
}

async fn add_partitions(bootstrap: &str, admin: &Auth, target: u32) -> Result<(), String> {
    let client: AdminClient<DefaultClientContext> = client::config(bootstrap, admin)
        .create()
        .map_err(|e| e.to_string())?;
    let grow = NewPartitions::new(TOPIC, usize::try_from(target).unwrap_or(usize::MAX));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = client
        .create_partitions([&grow], &opts)
        .await
        .map_err(|e| e.to_string())?;
    match results.into_iter().find_map(Result::err) {
        Some((_, code)) => Err(code.to_string()),
        None => Ok(()),
    }
}
