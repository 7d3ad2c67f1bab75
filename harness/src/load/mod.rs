//! Load: producers at declared rates and consumer group members, their integrity ledgers and lag
//! samplers. Steps start, stop, wait for and drain them by name.

pub mod avro;
pub mod cdc;
pub mod consumer;
pub mod postgres_writer;
pub mod producer;
pub mod record;
pub mod router;
mod routing;
pub mod switch;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::avro::{RegistryClient, RegistryError};
use crate::checks::integrity::{Integrity, Ledger, Semantics};
use crate::checks::lag::{LagSeries, LagStatus};
use crate::checks::routing::{Promotion, RoutingReport, RoutingTable, ServiceVersion};
use crate::probes::lag::LagSampler;
use crate::probes::registry::Registration;
use crate::runtime::stack::RunningStack;
use crate::scenario::{Cluster, ConsumerSpec, ProducerSpec, Scenario, SchemaFile, SwitchOffsets};
use avro::{AvroReadStats, AvroReader, AvroWriter, CurrentSchema, Registrations};
use consumer::{ConsumerCounters, ConsumerError, ConsumerTask, ServiceRouting};
use producer::{Counters, ProducerStats, ProducerTask};

struct ProducerSlot {
    spec: ProducerSpec,
    counters: Arc<Counters>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<ProducerStats>>,
    stats: Option<ProducerStats>,
    /// Avro producers: the schema they write with now.
    avro: Option<CurrentSchema>,
    /// The alias its bootstrap servers are resolved through (blue/green stacks re-point it).
    endpoint: watch::Sender<switch::Endpoint>,
}

struct CdcSlot {
    /// Debezium writes Avro (read through the registry).
    avro: bool,
    writer: String,
    table: String,
    topic: String,
    events: Arc<Mutex<Vec<cdc::Event>>>,
    reader: Option<(watch::Sender<bool>, JoinHandle<()>)>,
}

struct WriterSlot {
    spec: crate::scenario::PostgresWriterSpec,
    counters: Arc<postgres_writer::WriterCounters>,
    changes: Arc<Mutex<Vec<postgres_writer::Change>>>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<postgres_writer::WriterStats>>,
    stats: Option<postgres_writer::WriterStats>,
}

struct ConsumerSlot {
    spec: ConsumerSpec,
    ledger: Arc<Mutex<Ledger>>,
    counters: Arc<ConsumerCounters>,
    errors: Arc<Mutex<Vec<ConsumerError>>>,
    lag: Arc<Mutex<LagSeries>>,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
    sampler: Option<(watch::Sender<bool>, JoinHandle<()>)>,
    /// How many members this consumer has had (restarts add one).
    members: u32,
    avro: Option<Arc<Mutex<AvroReadStats>>>,
    /// A version of the routed service: which one, and whether it reads the original topic.
    routing: Option<(ServiceVersion, bool)>,
    /// The topic whose producers' records this consumer judges: its own, or for a version of the
    /// routed service, the router's original topic.
    origin_topic: String,
    /// Where a member starts without a committed offset (`latest` only for a planted defect).
    reset: &'static str,
}

struct RouterSlot {
    router: router::Router,
    shared: Arc<router::Shared>,
    task: Option<JoinHandle<()>>,
    promotion: Option<Promotion>,
}

/// What a consumer saw, for checks and reports.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ConsumerResult {
    pub name: String,
    pub topic: String,
    pub group: String,
    pub members: u32,
    pub integrity: Integrity,
    pub lag: LagSeries,
    pub max_lag: i64,
    pub final_status: LagStatus,
    pub errors: Vec<ConsumerError>,
    /// Avro consumers: what was read with which writer schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avro: Option<AvroReadStats>,
    /// A version of a routed service: its integrity is the service's (both versions together,
    /// judged where each record was acknowledged in the original topic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl ConsumerResult {
    /// How checks name the ledger: the consumer, or the routed service it is a version of.
    pub fn label(&self) -> String {
        self.service.clone().unwrap_or_else(|| self.name.clone())
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LoadResults {
    pub producers: Vec<ProducerStats>,
    pub consumers: Vec<ConsumerResult>,
    /// Schema versions registered during the run (Avro producers and `register_schema` steps).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registrations: Vec<Registration>,
    /// Canary routing, when the scenario has a router.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<RoutingReport>,
    /// Blue/green: what each switch of a client did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<switch::SwitchReport>,
    /// Applications writing to the stack's PostgreSQL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub postgres_writers: Vec<postgres_writer::WriterStats>,
    /// Each writer's changes reconciled with its table's Debezium topic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cdc: Vec<cdc::CdcIntegrity>,
    /// Each ClickHouse table compared with the rows its writer left in PostgreSQL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clickhouse: Vec<cdc::ClickHouseIntegrity>,
}

impl LoadResults {
    /// One consumer result per ledger (see `judged`).
    pub fn judged(&self) -> Vec<&ConsumerResult> {
        judged(&self.consumers)
    }
}

/// One consumer result per ledger: the two versions of a routed service share one, judged and
/// shown once under the service's name.
pub fn judged(consumers: &[ConsumerResult]) -> Vec<&ConsumerResult> {
    let mut seen = std::collections::BTreeSet::new();
    consumers
        .iter()
        .filter(|c| seen.insert(c.label()))
        .collect()
}

pub struct LoadSet {
    run_id: String,
    bootstrap: String,
    /// A blue/green stack's green cluster, for consumers that read there.
    green_bootstrap: Option<String>,
    running_auth: BTreeMap<String, crate::client::Auth>,
    admin: crate::client::Auth,
    semantics: Semantics,
    epoch: Instant,
    producers: BTreeMap<String, ProducerSlot>,
    consumers: BTreeMap<String, ConsumerSlot>,
    writers: BTreeMap<String, WriterSlot>,
    /// The stack's PostgreSQL, for writers.
    postgres: Option<tokio_postgres::Config>,
    /// Per writer whose table a connector captures: the topic, and its reader once started.
    cdc: Vec<CdcSlot>,
    /// The stack's ClickHouse and (ClickHouse table, writer) pairs to compare at the end.
    clickhouse: Option<(::clickhouse::Client, Vec<(String, String)>)>,
    registry: Option<Arc<RegistryClient>>,
    registrations: Registrations,
    router: Option<RouterSlot>,
    routing: Arc<Mutex<RoutingTable>>,
    /// Blue/green switches so far; for a consumer's, its ledger's redeliveries per partition at
    /// the switch (what it reads again after the switch is the difference at the end).
    switches: Vec<(switch::SwitchReport, BTreeMap<i32, u64>)>,
}

impl std::fmt::Debug for LoadSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadSet")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

impl LoadSet {
    pub fn new(running: &RunningStack, scenario: &Scenario, epoch: Instant) -> Self {
        let mut running_auth = BTreeMap::new();
        for u in scenario
            .load
            .producers
            .iter()
            .map(|p| &p.user)
            .chain(scenario.load.consumers.iter().map(|c| &c.user))
        {
            running_auth.insert(u.clone(), running.auth(u));
        }
        let router_spec = scenario.router.as_ref();
        let version_of = |name: &str| {
            router_spec.and_then(|r| {
                if r.legacy == name {
                    Some(ServiceVersion::Legacy)
                } else if r.canary == name {
                    Some(ServiceVersion::Canary)
                } else {
                    None
                }
            })
        };
        let ledger_for = |topic: &str| {
            let mut ledger = Ledger::new();
            for p in scenario.load.producers.iter().filter(|p| p.topic == topic) {
                ledger.reserve(p.id, p.planned_records());
            }
            Arc::new(Mutex::new(ledger))
        };
        // Both versions of a routed service share one ledger: the service's.
        let service_ledger = router_spec.map(|r| ledger_for(&r.topic));
        let consumers: BTreeMap<String, ConsumerSlot> = scenario
            .load
            .consumers
            .iter()
            .map(|c| {
                let routing = version_of(&c.name).map(|v| (v, false));
                let origin_topic = match (&routing, router_spec) {
                    (Some(_), Some(r)) => r.topic.clone(),
                    _ => c.topic.clone(),
                };
                let ledger = match (&routing, &service_ledger) {
                    (Some(_), Some(l)) => l.clone(),
                    _ => ledger_for(&origin_topic),
                };
                let slot = ConsumerSlot {
                    routing,
                    origin_topic,
                    reset: "earliest",
                    spec: c.clone(),
                    ledger,
                    counters: Arc::default(),
                    errors: Arc::default(),
                    lag: Arc::new(Mutex::new(LagSeries::new(c.group.clone(), c.topic.clone()))),
                    stop: None,
                    task: None,
                    sampler: None,
                    members: 0,
                    avro: c.avro.as_ref().map(|a| {
                        Arc::new(Mutex::new(AvroReadStats {
                            reader_schema: a.reader.as_ref().map(SchemaFile::name),
                            ..AvroReadStats::default()
                        }))
                    }),
                };
                (c.name.clone(), slot)
            })
            .collect();
        let producers = scenario
            .load
            .producers
            .iter()
            .map(|p| {
                let slot = ProducerSlot {
                    spec: p.clone(),
                    counters: Arc::default(),
                    stop: None,
                    task: None,
                    stats: None,
                    avro: p.avro.as_ref().map(|_| Arc::new(watch::channel(None).0)),
                    endpoint: watch::channel(switch::Endpoint::blue(
                        running.bootstrap_servers(),
                        scenario.endpoint_ttl(&p.name),
                    ))
                    .0,
                };
                (p.name.clone(), slot)
            })
            .collect();
        Self {
            run_id: running.run.id.clone(),
            bootstrap: running.bootstrap_servers(),
            green_bootstrap: running.green.as_ref().map(|g| g.bootstrap_servers()),
            running_auth,
            admin: running.admin(),
            semantics: scenario.semantics,
            epoch,
            producers,
            consumers,
            writers: scenario
                .load
                .postgres_writers
                .iter()
                .map(|w| {
                    (
                        w.name.clone(),
                        WriterSlot {
                            spec: w.clone(),
                            counters: Arc::default(),
                            changes: Arc::default(),
                            stop: None,
                            task: None,
                            stats: None,
                        },
                    )
                })
                .collect(),
            postgres: running.postgres_config(),
            clickhouse: running
                .clickhouse_client()
                .zip(running.stack.clickhouse.as_ref())
                .map(|(client, h)| {
                    let pairs = h
                        .tables
                        .iter()
                        .filter_map(|t| {
                            let w = scenario
                                .load
                                .postgres_writers
                                .iter()
                                .find(|w| w.table == t.source_table)?;
                            Some((t.name.clone(), w.name.clone()))
                        })
                        .collect();
                    (client, pairs)
                }),
            cdc: scenario
                .load
                .postgres_writers
                .iter()
                .filter_map(|w| {
                    let k = running
                        .stack
                        .connect
                        .as_ref()?
                        .connectors
                        .iter()
                        .find(|k| k.tables.contains(&w.table))?;
                    Some(CdcSlot {
                        avro: k.avro,
                        writer: w.name.clone(),
                        table: w.table.clone(),
                        topic: k.topic(&w.table),
                        events: Arc::default(),
                        reader: None,
                    })
                })
                .collect(),
            registry: running
                .registry_url()
                .map(|u| Arc::new(RegistryClient::new(&u))),
            registrations: Arc::default(),
            router: scenario.router.as_ref().map(|r| RouterSlot {
                router: router::Router {
                    spec: r.clone(),
                    bootstrap: running.bootstrap_servers(),
                    auth: running.auth(&r.user),
                    run_id: running.run.id.clone(),
                },
                shared: Arc::new(router::Shared::new(r.threshold, epoch)),
                task: None,
                promotion: None,
            }),
            routing: Arc::default(),
            switches: Vec::new(),
        }
    }

    /// Starts everything not declared `start: on_step`.
    pub fn start_initial(&mut self) {
        let consumers: Vec<String> = self
            .consumers
            .values()
            .filter(|c| !c.spec.on_step)
            .map(|c| c.spec.name.clone())
            .collect();
        let producers: Vec<String> = self
            .producers
            .values()
            .filter(|p| !p.spec.on_step)
            .map(|p| p.spec.name.clone())
            .collect();
        for name in &consumers {
            let _ = self.start(name);
        }
        self.start_router();
        for name in &producers {
            let _ = self.start(name);
        }
        let epoch_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
            - i64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(0);
        for slot in &mut self.cdc {
            let (tx, rx) = watch::channel(false);
            let reader = cdc::CdcReader {
                topic: slot.topic.clone(),
                bootstrap: self.bootstrap.clone(),
                auth: self.admin.clone(),
                events: slot.events.clone(),
                errors: Arc::default(),
                stop: rx,
                epoch: self.epoch,
                epoch_unix_ms,
                registry: self.registry.clone().filter(|_| slot.avro),
            };
            slot.reader = Some((tx, tokio::spawn(reader.run())));
        }
        let writers: Vec<String> = self
            .writers
            .values()
            .filter(|w| !w.spec.on_step)
            .map(|w| w.spec.name.clone())
            .collect();
        for name in &writers {
            let _ = self.start(name);
        }
    }

    /// Starts a router instance (on a thread of its own: its transactional calls block).
    fn start_router(&mut self) {
        if let Some(slot) = &mut self.router {
            let (router, shared) = (slot.router.clone(), slot.shared.clone());
            slot.task = Some(tokio::task::spawn_blocking(move || router.run(shared)));
        }
    }

    pub fn start(&mut self, name: &str) -> Result<String, String> {
        if let Some(slot) = self.writers.get_mut(name) {
            if slot.task.is_some() || slot.stats.is_some() {
                return Err(format!("writer {name} was already started"));
            }
            let Some(config) = self.postgres.clone() else {
                return Err("the stack has no postgres".into());
            };
            let (tx, rx) = watch::channel(false);
            let task = postgres_writer::WriterTask {
                spec: slot.spec.clone(),
                config,
                run_id: self.run_id.clone(),
                counters: slot.counters.clone(),
                changes: slot.changes.clone(),
                stop: rx,
                epoch: self.epoch,
            };
            slot.stop = Some(tx);
            slot.task = Some(tokio::spawn(task.run()));
            return Ok(format!(
                "writer {name} started: {} changes/s to table {}",
                slot.spec.rate, slot.spec.table
            ));
        }
        if let Some(slot) = self.producers.get_mut(name) {
            if slot.task.is_some() || slot.stats.is_some() {
                return Err(format!("producer {name} was already started"));
            }
            let mut ledgers: Vec<Arc<Mutex<Ledger>>> = Vec::new();
            for c in self
                .consumers
                .values()
                .filter(|c| c.origin_topic == slot.spec.topic)
            {
                if !ledgers.iter().any(|l| Arc::ptr_eq(l, &c.ledger)) {
                    ledgers.push(c.ledger.clone());
                }
            }
            let (tx, rx) = watch::channel(false);
            let task = ProducerTask {
                spec: slot.spec.clone(),
                bootstrap: slot.endpoint.borrow().bootstrap.clone(),
                endpoint: self
                    .green_bootstrap
                    .is_some()
                    .then(|| slot.endpoint.subscribe()),
                auth: self.running_auth[&slot.spec.user].clone(),
                run_id: self.run_id.clone(),
                ledgers,
                counters: slot.counters.clone(),
                stop: rx,
                epoch: self.epoch,
                avro: match (&slot.spec.avro, &slot.avro, &self.registry) {
                    (Some(spec), Some(current), Some(registry)) => Some(AvroWriter::new(
                        registry.clone(),
                        spec.subject.clone(),
                        spec.schema.clone(),
                        current.clone(),
                        self.registrations.clone(),
                    )),
                    _ => None,
                },
            };
            slot.stop = Some(tx);
            slot.task = Some(tokio::spawn(task.run()));
            return Ok(format!(
                "producer {name} started: {} records/s to {}",
                slot.spec.rate, slot.spec.topic
            ));
        }
        let Some(slot) = self.consumers.get_mut(name) else {
            return Err(format!("no load named {name}"));
        };
        if slot.task.is_some() {
            return Err(format!("consumer {name} is already running"));
        }
        let (tx, rx) = watch::channel(false);
        let bootstrap = match (slot.spec.cluster, &self.green_bootstrap) {
            (Cluster::Green, Some(green)) => green.clone(),
            _ => self.bootstrap.clone(),
        };
        let task = ConsumerTask {
            spec: slot.spec.clone(),
            bootstrap: bootstrap.clone(),
            auth: self.running_auth[&slot.spec.user].clone(),
            run_id: self.run_id.clone(),
            ledger: slot.ledger.clone(),
            counters: slot.counters.clone(),
            errors: slot.errors.clone(),
            stop: rx,
            epoch: self.epoch,
            reset: slot.reset,
            avro: match (&slot.spec.avro, &slot.avro, &self.registry) {
                (Some(spec), Some(stats), Some(registry)) => Some(AvroReader::new(
                    registry.clone(),
                    spec.reader.clone(),
                    stats.clone(),
                )),
                _ => None,
            },
            routing: slot.routing.map(|(version, direct)| ServiceRouting {
                table: self.routing.clone(),
                version,
                direct,
            }),
        };
        slot.stop = Some(tx);
        slot.task = Some(tokio::spawn(task.run()));
        slot.members += 1;
        if slot.sampler.is_none() {
            let (tx, rx) = watch::channel(false);
            let sampler = LagSampler {
                bootstrap,
                admin: self.admin.clone(),
                group: slot.spec.group.clone(),
                topic: slot.spec.topic.clone(),
                series: slot.lag.clone(),
                stop: rx,
                epoch: self.epoch,
            };
            slot.sampler = Some((tx, tokio::spawn(sampler.run())));
        }
        Ok(format!(
            "consumer {name} started in group {}",
            slot.spec.group
        ))
    }

    pub async fn stop(&mut self, name: &str) -> Result<String, String> {
        if let Some(slot) = self.writers.get_mut(name) {
            if let (Some(stop), Some(task)) = (slot.stop.take(), slot.task.take()) {
                let _ = stop.send(true);
                slot.stats = task.await.ok();
            }
            return Ok(format!("writer {name} stopped"));
        }
        if let Some(slot) = self.producers.get_mut(name) {
            if let (Some(stop), Some(task)) = (slot.stop.take(), slot.task.take()) {
                let _ = stop.send(true);
                slot.stats = task.await.ok();
            }
            return Ok(format!("producer {name} stopped"));
        }
        let Some(slot) = self.consumers.get_mut(name) else {
            return Err(format!("no load named {name}"));
        };
        if let (Some(stop), Some(task)) = (slot.stop.take(), slot.task.take()) {
            let _ = stop.send(true);
            let _ = task.await;
        }
        Ok(format!("consumer {name} stopped"))
    }

    /// Waits until a producer has sent everything and every send has an outcome.
    pub async fn wait_producer(&mut self, name: &str, timeout: Duration) -> Result<String, String> {
        if let Some(slot) = self.writers.get_mut(name) {
            let Some(mut task) = slot.task.take() else {
                return match &slot.stats {
                    Some(s) => Ok(format!(
                        "writer {name} had already finished: {} committed",
                        s.committed
                    )),
                    None => Err(format!("writer {name} was never started")),
                };
            };
            return match tokio::time::timeout(timeout, &mut task).await {
                Ok(stats) => {
                    slot.stop = None;
                    let stats = stats.map_err(|e| e.to_string())?;
                    let msg = format!(
                        "writer {name} finished: {} committed ({} inserts, {} updates, {} deletes), {} failed, {} unknown",
                        stats.committed, stats.inserted, stats.updated, stats.deleted, stats.failed, stats.unknown
                    );
                    slot.stats = Some(stats);
                    Ok(msg)
                }
                Err(_) => {
                    slot.task = Some(task);
                    Err(format!(
                        "writer {name} still running after {}s",
                        timeout.as_secs()
                    ))
                }
            };
        }
        let slot = self
            .producers
            .get_mut(name)
            .ok_or_else(|| format!("no producer named {name}"))?;
        let Some(task) = slot.task.take() else {
            return match &slot.stats {
                Some(s) => Ok(format!(
                    "producer {name} had already finished: {} acked",
                    s.acked
                )),
                None => Err(format!("producer {name} was never started")),
            };
        };
        let mut task = task;
        match tokio::time::timeout(timeout, &mut task).await {
            Ok(stats) => {
                slot.stop = None;
                let stats = stats.map_err(|e| e.to_string())?;
                let msg = format!(
                    "producer {name} finished: {} sent, {} acked, {} failed",
                    stats.sent, stats.acked, stats.failed
                );
                slot.stats = Some(stats);
                Ok(msg)
            }
            Err(_) => {
                slot.task = Some(task);
                Err(format!(
                    "producer {name} still running after {}s",
                    timeout.as_secs()
                ))
            }
        }
    }

    /// Waits until the consumer has read every acknowledged record of its topic and no producer of
    /// that topic is still sending. Never fails: what is missing at the timeout is for the checks.
    pub async fn drain(&mut self, name: &str, timeout: Duration) -> Result<String, String> {
        let topic = self
            .consumers
            .get(name)
            .map(|c| c.origin_topic.clone())
            .ok_or_else(|| format!("no consumer named {name}"))?;
        let deadline = Instant::now() + timeout;
        loop {
            let producing = self.producers.values().any(|p| {
                p.spec.topic == topic && p.task.is_some() && !p.counters.done.load(Ordering::SeqCst)
            });
            let v = self.consumers[name]
                .ledger
                .lock()
                .map_err(|e| e.to_string())?
                .verdict(self.semantics);
            if !producing && v.lost == 0 {
                return Ok(format!(
                    "consumer {name} has every acknowledged record ({} acked, {} delivered)",
                    v.acked, v.delivered
                ));
            }
            if Instant::now() >= deadline {
                return Ok(format!(
                    "stopped waiting after {}s: {} acknowledged record(s) not delivered yet{}",
                    timeout.as_secs(),
                    v.lost,
                    if producing {
                        ", producers still sending"
                    } else {
                        ""
                    }
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Registers `schema` under an Avro producer's subject (after setting the subject's
    /// compatibility level, if given). Accepted: the producer writes with it from its next record.
    /// Returns what happened, with the subject's versions read back from the registry; `Err` when
    /// the outcome is not the expected one.
    pub async fn register_schema(
        &mut self,
        producer: &str,
        schema: &SchemaFile,
        expect: crate::scenario::Registration,
        compatibility: Option<&str>,
        timeout: Duration,
    ) -> Result<(String, Vec<String>), (String, Vec<String>)> {
        let fail = |m: String| (m, Vec::new());
        let registry = self
            .registry
            .clone()
            .ok_or_else(|| fail("the stack has no schema registry".to_owned()))?;
        let slot = self
            .producers
            .get(producer)
            .ok_or_else(|| fail(format!("no producer named {producer}")))?;
        let (Some(spec), Some(current)) = (&slot.spec.avro, &slot.avro) else {
            return Err(fail(format!("producer {producer} does not send Avro")));
        };
        let (subject, current) = (spec.subject.clone(), current.clone());
        let mut evidence = Vec::new();
        if let Some(level) = compatibility {
            registry
                .set_compatibility(Some(&subject), level)
                .await
                .map_err(|e| {
                    fail(format!(
                        "cannot set compatibility {level} on {subject}: {e}"
                    ))
                })?;
            evidence.push(format!("subject {subject}: compatibility {level}"));
        }
        let epoch = self.epoch;
        let result = avro::register(&registry, &subject, schema, timeout, |e| {
            evidence.push(format!(
                "at {:.1}s: {e}; retrying",
                epoch.elapsed().as_secs_f64()
            ));
        })
        .await;
        let versions = match registry.versions(&subject).await {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("unknown ({e})"),
        };
        match result {
            Ok(id) => {
                avro::note_registration(
                    &self.registrations,
                    Registration {
                        subject: subject.clone(),
                        schema: schema.name(),
                        id,
                        at_s: epoch.elapsed().as_secs_f64(),
                        by: "register_schema step".to_owned(),
                    },
                );
                current.send_replace(Some(Arc::new(avro::WriterSchema::new(id, schema.clone()))));
                let msg = format!(
                    "{} accepted as schema id {id}; subject {subject} has versions {versions}; {producer} writes with it now",
                    schema.name()
                );
                if expect == crate::scenario::Registration::Accepted {
                    Ok((msg, evidence))
                } else {
                    Err((format!("expected {}, but {msg}", expect.name()), evidence))
                }
            }
            Err(e @ RegistryError::Refused { .. }) => {
                let msg = format!(
                    "the registry refused {} for subject {subject}: {e}; subject {subject} has versions {versions}",
                    schema.name()
                );
                if expect == crate::scenario::Registration::Refused {
                    Ok((msg, evidence))
                } else {
                    Err((msg, evidence))
                }
            }
            Err(e) => {
                let msg = format!(
                    "cannot register {} under {subject} within {}: {e}",
                    schema.name(),
                    crate::scenario::format_duration(timeout)
                );
                if expect == crate::scenario::Registration::Unreachable {
                    Ok((format!("as expected, {msg}; {producer} keeps writing with its cached schema id"), evidence))
                } else {
                    Err((msg, evidence))
                }
            }
        }
    }

    /// Blue/green: consumer `name`'s member leaves blue (committing), then a member of its group
    /// starts on green — once green has the group's offsets as MirrorMaker translated them, or,
    /// for the planted defects, at once from where `auto.offset.reset` says.
    pub async fn switch_consumer(
        &mut self,
        name: &str,
        offsets: SwitchOffsets,
        timeout: Duration,
    ) -> Result<(String, Vec<String>), (String, Vec<String>)> {
        let Some(green) = self.green_bootstrap.clone() else {
            return Err(("the stack has no green cluster".into(), vec![]));
        };
        let Some(spec) = self.consumers.get(name).map(|s| s.spec.clone()) else {
            return Err((format!("no consumer named {name}"), vec![]));
        };
        self.stop(name).await.map_err(|e| (e, vec![]))?;
        // The lag sampler follows the group to green.
        if let Some((tx, task)) = self.consumers.get_mut(name).and_then(|s| s.sampler.take()) {
            let _ = tx.send(true);
            let _ = task.await;
        }
        let read = |bootstrap: String| {
            crate::client::offsets(
                bootstrap,
                self.admin.clone(),
                spec.topic.clone(),
                Some(spec.group.clone()),
            )
        };
        let blue = read(self.bootstrap.clone()).await.map_err(|e| {
            (
                format!("reading group {}'s offsets on blue: {e}", spec.group),
                vec![],
            )
        })?;
        let t0 = Instant::now();
        let shown = |o: Option<i64>| o.map_or_else(|| "none".to_owned(), |o| o.to_string());
        let mut evidence = Vec::new();
        if offsets == SwitchOffsets::Translated {
            // MirrorMaker (up to 3.9) syncs only groups green describes as Empty; a 4.x green
            // answers "group not found" for a group it never saw, so the group is created there,
            // empty, at offset 0 (MirrorMaker only ever moves offsets forward).
            let green_now = read(green.clone()).await.map_err(|e| (e, vec![]))?;
            if green_now.iter().all(|x| x.2.is_none()) {
                crate::client::commit_offsets(
                    green.clone(),
                    self.admin.clone(),
                    spec.group.clone(),
                    spec.topic.clone(),
                    green_now.iter().map(|x| (x.0, 0)).collect(),
                )
                .await
                .map_err(|e| {
                    (
                        format!("creating group {} on green: {e}", spec.group),
                        vec![],
                    )
                })?;
                evidence.push(format!(
                    "group {} created on green, empty, at offset 0, for MirrorMaker to sync",
                    spec.group
                ));
            }
        }
        let (lines, resumed): (Vec<String>, Vec<Option<i64>>) = if offsets
            == SwitchOffsets::Translated
        {
            // A translation lands at the last offset sync at or before the committed offset, so
            // it may be a little behind (the records in between are read again, never lost):
            // wait until green has an offset for every partition blue committed and MirrorMaker
            // has left them alone for STABLE polls.
            const STABLE: u32 = 6;
            let mut last: Option<Vec<Option<i64>>> = None;
            let mut stable = 0;
            loop {
                let (translated, pending): (Vec<Option<i64>>, Vec<String>) =
                    match read(green.clone()).await {
                        Ok(g) => {
                            let t: Vec<Option<i64>> = blue
                                .iter()
                                .map(|&(p, _, _)| g.iter().find(|x| x.0 == p).and_then(|x| x.2))
                                .collect();
                            let pending = blue
                                .iter()
                                .zip(&t)
                                .filter(|((_, _, at), there)| {
                                    at.is_some_and(|a| a > 0) && there.is_none_or(|t| t == 0)
                                })
                                .map(|((p, _, at), _)| {
                                    format!("p{p}: {} on blue, none yet on green", shown(*at))
                                })
                                .collect();
                            (t, pending)
                        }
                        Err(e) => (Vec::new(), vec![e]),
                    };
                if pending.is_empty() && last.as_ref() == Some(&translated) {
                    stable += 1;
                } else {
                    stable = 0;
                }
                if pending.is_empty() && stable >= STABLE {
                    let lines = blue
                        .iter()
                        .zip(&translated)
                        .map(|(&(p, _, at), there)| {
                            let behind = at.zip(*there).map_or(0, |(a, t)| a - t);
                            format!(
                                "p{p}: committed {} on blue, translated to {} on green ({behind} record(s) to read again)",
                                shown(at),
                                shown(*there)
                            )
                        })
                        .collect();
                    break (lines, translated);
                }
                last = Some(translated);
                if t0.elapsed() >= timeout {
                    return Err((
                        format!(
                            "green did not get group {}'s translated offsets within {}s",
                            spec.group,
                            timeout.as_secs()
                        ),
                        [evidence.clone(), pending].concat(),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        } else {
            // Where auto.offset.reset puts the member: the log's start (green's topic is filled
            // from offset 0 by MirrorMaker) or its end as of now.
            let ends = read(green.clone()).await.unwrap_or_default();
            let lines = blue
                .iter()
                .map(|&(p, _, at)| {
                    format!(
                        "p{p}: committed {} on blue; on green from the {} offset (not translated)",
                        shown(at),
                        offsets.name()
                    )
                })
                .collect();
            let resumed = blue
                .iter()
                .map(|&(p, _, _)| match offsets {
                    SwitchOffsets::Latest => ends.iter().find(|e| e.0 == p).map(|e| e.1),
                    _ => Some(0),
                })
                .collect();
            (lines, resumed)
        };
        let at_s = self.epoch.elapsed().as_secs_f64();
        let partitions = blue
            .iter()
            .zip(&resumed)
            .map(|(&(partition, _, committed), &resumed_at)| {
                let moved = committed.zip(resumed_at).map_or(0, |(c, r)| r - c);
                switch::SwitchPartition {
                    partition,
                    committed,
                    resumed_at,
                    rewound: (-moved).max(0),
                    skipped: moved.max(0),
                    ..switch::SwitchPartition::default()
                }
            })
            .collect();
        let before = self.redelivered(name);
        self.switches.push((
            switch::SwitchReport {
                kind: switch::SwitchKind::Consumer,
                load: name.to_owned(),
                topic: spec.topic.clone(),
                at_s,
                to: Cluster::Green.name().to_owned(),
                group: Some(spec.group.clone()),
                offsets: Some(offsets.name().to_owned()),
                partitions,
                producer: None,
            },
            before,
        ));
        if let Some(slot) = self.consumers.get_mut(name) {
            slot.spec.cluster = Cluster::Green;
            slot.reset = if offsets == SwitchOffsets::Latest {
                "latest"
            } else {
                "earliest"
            };
        }
        evidence.extend(lines);
        self.start(name).map_err(|e| (e, evidence.clone()))?;
        Ok((
            format!(
                "consumer {name} (group {}) reads green, {} offsets, {:.1}s after it left blue",
                spec.group,
                offsets.name(),
                t0.elapsed().as_secs_f64()
            ),
            evidence,
        ))
    }

    /// A consumer's redeliveries so far, per partition.
    fn redelivered(&self, name: &str) -> BTreeMap<i32, u64> {
        self.consumers
            .get(name)
            .and_then(|c| c.ledger.lock().ok().map(|l| l.verdict(self.semantics)))
            .map(|v| {
                v.partitions
                    .iter()
                    .map(|p| (p.partition, p.redelivered))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Blue/green: re-points producer `name`'s endpoint alias to green and waits until the
    /// producer noticed (when its cached answer expired), let blue acknowledge what it had sent,
    /// and had its first record acknowledged by green.
    pub async fn switch_producer(
        &mut self,
        name: &str,
        ttl: Duration,
        wait_for_mirror: bool,
        timeout: Duration,
    ) -> Result<(String, Vec<String>), (String, Vec<String>)> {
        let Some(green) = self.green_bootstrap.clone() else {
            return Err(("the stack has no green cluster".into(), vec![]));
        };
        let Some(slot) = self.producers.get(name) else {
            return Err((format!("no producer named {name}"), vec![]));
        };
        let done_before = slot.counters.switches.lock().map_or(0, |s| s.len());
        let at_s = self.epoch.elapsed().as_secs_f64();
        slot.endpoint.send_replace(switch::Endpoint {
            cluster: Cluster::Green,
            bootstrap: green,
            ttl,
            repointed_at_s: Some(at_s),
            wait_for_mirror,
        });
        if slot.task.is_none() {
            return Ok((
                format!("producer {name} is not running: it will write to green when it starts"),
                vec![],
            ));
        }
        let (counters, topic) = (slot.counters.clone(), slot.spec.topic.clone());
        let deadline = Instant::now() + timeout;
        let sw = loop {
            let latest = counters
                .switches
                .lock()
                .ok()
                .and_then(|s| s.get(done_before).cloned());
            if let Some(sw) = latest {
                break sw;
            }
            if counters.done.load(Ordering::SeqCst) {
                return Err((
                    format!("producer {name} finished before it switched to green"),
                    vec![],
                ));
            }
            if Instant::now() >= deadline {
                return Err((
                    format!(
                        "producer {name} had no record acknowledged by green within {}s of the alias's re-pointing (TTL {})",
                        timeout.as_secs(),
                        crate::scenario::format_duration(ttl)
                    ),
                    vec![],
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let rel = |t: f64| format!("+{:.2}s", t - sw.repointed_at_s);
        let mut evidence = vec![
            format!(
                "alias re-pointed at {:.2}s; the producer's cached answer expired at {} (TTL {})",
                sw.repointed_at_s,
                rel(sw.noticed_at_s),
                crate::scenario::format_duration(ttl)
            ),
            match sw.last_old_ack_at_s {
                Some(t) => format!("last acknowledgement from blue at {}", rel(t)),
                None => "no acknowledgement from blue before the switch".to_owned(),
            },
        ];
        if let Some(t) = sw.mirrored_at_s {
            evidence.push(format!(
                "MirrorMaker had copied every record blue acknowledged at {}",
                rel(t)
            ));
        }
        evidence.push(format!(
            "first acknowledgement from green at {}; {} record(s) came due meanwhile and went late, {} send(s) failed",
            rel(sw.first_new_ack_at_s),
            sw.held,
            sw.failed
        ));
        let msg = format!(
            "producer {name} writes to green: {} ms without an acknowledgement",
            sw.unavailable_ms
        );
        self.switches.push((
            switch::SwitchReport {
                kind: switch::SwitchKind::Producer,
                load: name.to_owned(),
                topic,
                at_s,
                to: Cluster::Green.name().to_owned(),
                group: None,
                offsets: None,
                partitions: Vec::new(),
                producer: Some(sw),
            },
            BTreeMap::new(),
        ));
        Ok((msg, evidence))
    }

    pub async fn restart_consumer(&mut self, name: &str) -> Result<String, String> {
        self.stop(name).await?;
        self.start(name)?;
        Ok(format!(
            "consumer {name}: a new member joined group {}",
            self.consumers[name].spec.group
        ))
    }

    /// One progress line over all loads.
    pub fn progress(&self) -> String {
        let mut parts = Vec::new();
        for p in self.producers.values().filter(|p| p.task.is_some()) {
            let c = &p.counters;
            parts.push(format!(
                "{} acked {} failed {}",
                p.spec.name,
                c.acked.load(Ordering::Relaxed),
                c.failed.load(Ordering::Relaxed)
            ));
        }
        for c in self.consumers.values().filter(|c| c.task.is_some()) {
            let lag = c
                .lag
                .lock()
                .map(|l| l.totals().last().map_or(0, |t| t.1))
                .unwrap_or(0);
            parts.push(format!(
                "{} read {} lag {lag}",
                c.spec.name,
                c.counters.delivered.load(Ordering::Relaxed)
            ));
        }
        for w in self.writers.values().filter(|w| w.task.is_some()) {
            parts.push(format!(
                "{} committed {} failed {}",
                w.spec.name,
                w.counters.committed.load(Ordering::Relaxed),
                w.counters.failed.load(Ordering::Relaxed)
            ));
        }
        if let Some(r) = self.router.as_ref().filter(|r| r.task.is_some()) {
            let s = &r.shared;
            parts.push(format!(
                "router {} at {}{}: {} to legacy, {} to canary",
                r.router.spec.name,
                s.threshold(),
                if s.is_paused() { " (paused)" } else { "" },
                s.committed(ServiceVersion::Legacy),
                s.committed(ServiceVersion::Canary)
            ));
        }
        parts.join(" | ")
    }

    /// The switches with what each consumer read again after its switch (up to its next one, or
    /// the end) and what it never read.
    fn switch_reports(&self) -> Vec<switch::SwitchReport> {
        let mut out = Vec::new();
        for (i, (report, before)) in self.switches.iter().enumerate() {
            let mut report = report.clone();
            if report.kind == switch::SwitchKind::Consumer {
                let next = self.switches[i + 1..]
                    .iter()
                    .find(|(r, _)| r.kind == report.kind && r.load == report.load)
                    .map(|(_, b)| b.clone());
                let Some(v) = self
                    .consumers
                    .get(&report.load)
                    .and_then(|c| c.ledger.lock().ok().map(|l| l.verdict(self.semantics)))
                else {
                    continue;
                };
                for part in &mut report.partitions {
                    let now = v.partitions.iter().find(|x| x.partition == part.partition);
                    let until = next
                        .as_ref()
                        .and_then(|n| n.get(&part.partition).copied())
                        .or_else(|| now.map(|x| x.redelivered))
                        .unwrap_or(0);
                    let from = before.get(&part.partition).copied().unwrap_or(0);
                    part.reread = until.saturating_sub(from);
                    part.lost = now.map_or(0, |x| x.lost);
                }
            }
            out.push(report);
        }
        out
    }

    /// Waits (up to 30 s) until each CDC topic holds every change its writer committed, stops
    /// the readers and reconciles.
    async fn finish_cdc(&mut self) -> Vec<cdc::CdcIntegrity> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut out = Vec::new();
        for slot in &mut self.cdc {
            let changes = self
                .writers
                .get(&slot.writer)
                .and_then(|w| w.changes.lock().ok().map(|c| c.clone()))
                .unwrap_or_default();
            let reconcile = |events: &[cdc::Event]| {
                cdc::reconcile(&slot.writer, &slot.table, &slot.topic, &changes, events)
            };
            loop {
                let v = slot
                    .events
                    .lock()
                    .map(|e| reconcile(&e))
                    .unwrap_or_default();
                if v.lost == 0 || Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if let Some((stop, task)) = slot.reader.take() {
                let _ = stop.send(true);
                let _ = task.await;
            }
            out.push(
                slot.events
                    .lock()
                    .map(|e| reconcile(&e))
                    .unwrap_or_default(),
            );
        }
        out
    }

    /// Waits (up to 30 s) until each ClickHouse table holds the rows its writer left, then
    /// compares.
    async fn finish_clickhouse(&self) -> Vec<cdc::ClickHouseIntegrity> {
        let Some((client, pairs)) = &self.clickhouse else {
            return Vec::new();
        };
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(30);
        let mut out = Vec::new();
        for (table, writer) in pairs {
            let changes = self
                .writers
                .get(writer)
                .and_then(|w| w.changes.lock().ok().map(|c| c.clone()))
                .unwrap_or_default();
            let expected = cdc::final_rows(&changes);
            let query = format!("SELECT id, version, __deleted FROM {table} FINAL");
            let result = loop {
                let r = match client.query(&query).fetch_all::<cdc::ClickHouseRow>().await {
                    Ok(rows) => cdc::compare_clickhouse(table, writer, &expected, &rows),
                    Err(e) => cdc::ClickHouseIntegrity {
                        table: table.clone(),
                        writer: writer.clone(),
                        error: Some(e.to_string()),
                        ..cdc::ClickHouseIntegrity::default()
                    },
                };
                if r.passed() {
                    break cdc::ClickHouseIntegrity {
                        caught_up_after_s: Some(t0.elapsed().as_secs_f64()),
                        ..r
                    };
                }
                if Instant::now() >= deadline {
                    break r;
                }
                tokio::time::sleep(Duration::from_millis(1000)).await;
            };
            out.push(result);
        }
        out
    }

    pub fn is_active(&self) -> bool {
        self.producers.values().any(|p| p.task.is_some())
            || self.consumers.values().any(|c| c.task.is_some())
            || self.writers.values().any(|w| w.task.is_some())
    }

    /// Stops everything still running and computes each group's integrity verdict.
    pub async fn finish(mut self) -> LoadResults {
        let producers: Vec<String> = self
            .producers
            .keys()
            .chain(self.writers.keys())
            .cloned()
            .collect();
        for n in producers {
            let _ = self.stop(&n).await;
        }
        // The router commits what it has before its services stop reading.
        self.stop_router(router::Desired::Stop).await;
        let consumers: Vec<String> = self.consumers.keys().cloned().collect();
        for n in consumers {
            let _ = self.stop(&n).await;
        }
        let lags: BTreeMap<String, LagSeries> = self
            .consumers
            .iter()
            .filter_map(|(n, c)| Some((n.clone(), c.lag.lock().ok()?.clone())))
            .collect();
        let routing = self.finish_routing(&lags).await;
        let service = self.router.as_ref().map(|r| {
            format!(
                "service {} ({} + {})",
                r.router.spec.name, r.router.spec.legacy, r.router.spec.canary
            )
        });
        let switches = self.switch_reports();
        let cdc = self.finish_cdc().await;
        let clickhouse = self.finish_clickhouse().await;
        let mut consumers = Vec::new();
        for slot in self.consumers.into_values() {
            if let Some((stop, task)) = slot.sampler {
                let _ = stop.send(true);
                let _ = task.await;
            }
            let integrity = slot
                .ledger
                .lock()
                .map(|l| l.verdict(self.semantics))
                .unwrap_or_else(|_| Ledger::new().verdict(self.semantics));
            let lag = slot
                .lag
                .lock()
                .map(|l| l.clone())
                .unwrap_or_else(|_| LagSeries::new("", ""));
            consumers.push(ConsumerResult {
                name: slot.spec.name,
                topic: slot.spec.topic,
                group: slot.spec.group,
                members: slot.members,
                max_lag: lag.max_lag(),
                final_status: lag.status(10_000),
                lag,
                integrity,
                errors: slot.errors.lock().map(|e| e.clone()).unwrap_or_default(),
                avro: slot.avro.and_then(|a| a.lock().ok().map(|a| a.clone())),
                service: slot.routing.and(service.clone()),
            });
        }
        LoadResults {
            routing,
            switches,
            cdc,
            clickhouse,
            postgres_writers: self.writers.into_values().filter_map(|w| w.stats).collect(),
            registrations: self
                .registrations
                .lock()
                .map(|r| r.clone())
                .unwrap_or_default(),
            producers: self
                .producers
                .into_values()
                .filter_map(|p| p.stats)
                .collect(),
            consumers,
        }
    }
}
