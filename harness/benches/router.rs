//! Throughput of the canary router with transactions (exactly-once) against the same router
//! without them (a plain consume-produce loop that flushes, then commits its offsets), on the same
//! broker in the same run.
//!
//! Kafka Streams' content-based router would be the natural baseline, but it cannot be built into
//! a Rust benchmark here without a JVM application of its own; the issue allows our plain loop
//! instead, and that is also the honest question: what do transactions cost us?
//!
//! One run starts a small stack (1 ZooKeeper 3.8.4, 1 Kafka 3.7.2 broker, SCRAM and ACLs on as
//! every harness stack), fills a source topic once with `BENCH_RECORDS` harness records (6
//! partitions, 1000 keys, 256 B), and then routes all of it with `load::router::Router`, as a
//! rehearsal runs it (threshold 0.5, both routed topics written), once per contender and round in
//! AB BA order, each run with a group and routed topics of its own so it reads the whole source
//! from the beginning. Both commit every `BENCH_COMMIT_INTERVAL` (default 100ms, the transactional
//! router's default). A run's rate counts from its first commit (joining the group and
//! `init_transactions` are start-up) to the commit that covers the last record.
//!
//! Printed: records/s of each (mean over rounds), the CPU this process used per record, and the
//! ratio transactional/plain (target >= 0.8, with the lowest and highest ratio of one round). A
//! measurement, not a gate: the exit code is non-zero only when something failed to run.
//!
//! Run with `cargo bench --bench router`. Environment: `BENCH_RECORDS` (default 300000),
//! `BENCH_ROUNDS` (default 3), `BENCH_COMMIT_INTERVAL` (default 100ms).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_harness::checks::integrity::Ledger;
use kafka_harness::checks::routing::ServiceVersion;
use kafka_harness::client;
use kafka_harness::load::producer::ProducerTask;
use kafka_harness::load::router::{Desired, Router, Shared};
use kafka_harness::progress::Progress;
use kafka_harness::runtime::stack::{Run, RunningStack};
use kafka_harness::scenario::{self, Amount, ProducerSpec, RouterSpec, Topic};
use tokio::sync::watch;

mod common;

const SOURCE: &str = "bench-src";
const PARTITIONS: u32 = 6;
const USER: &str = "bench";

const STACK_YAML: &str = r#"name: router-bench
description: 1 ZooKeeper, 1 broker, for the canary router benchmark
zookeeper:
  version: "3.8.4"
kafka:
  version: "3.7.2"
  brokers: 1
  heap: 512m
security:
  users:
    - name: bench
      acls:
        - { topic: "*", operations: [all] }
        - { group: "*", operations: [all] }
        - { transactional_id: "*", operations: [all] }
"#;

#[derive(Debug, Clone, Copy)]
struct Config {
    records: u64,
    rounds: usize,
    commit_interval: Duration,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let interval: String = common::var("BENCH_COMMIT_INTERVAL", "100ms".to_owned())?;
        Ok(Self {
            records: common::var("BENCH_RECORDS", 300_000)?,
            rounds: common::var("BENCH_ROUNDS", 3)?,
            commit_interval: scenario::parse_duration(&interval)
                .map_err(|e| format!("BENCH_COMMIT_INTERVAL: {e}"))?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contender {
    Transactional,
    Plain,
}

impl Contender {
    const ALL: [Self; 2] = [Self::Transactional, Self::Plain];

    fn name(self) -> &'static str {
        match self {
            Self::Transactional => "transactional",
            Self::Plain => "plain",
        }
    }
}

#[derive(Debug)]
struct Sample {
    contender: Contender,
    records_per_s: f64,
    cpu_us_per_record: Option<f64>,
    commits: u64,
}

fn main() -> ExitCode {
    common::main_with("router benchmark", Config::from_env(), measure)
}

async fn measure(run: Run, config: Config, progress: Progress) -> Result<(), String> {
    let running = common::start_stack(&run, "router-bench", STACK_YAML, &progress).await?;
    create(&running, SOURCE).await?;
    progress.say(format!("filling {SOURCE} with {} records", config.records));
    fill(&running, config.records).await?;

    let load_before = common::load_average();
    let mut order = Vec::new();
    for round in 0..config.rounds {
        if round % 2 == 0 {
            order.extend(Contender::ALL);
        } else {
            order.extend(Contender::ALL.into_iter().rev());
        }
    }
    // One warm-up of each: the broker's JIT and page cache.
    let mut samples = Vec::new();
    for (i, &c) in Contender::ALL.iter().chain(order.iter()).enumerate() {
        let warm = i < Contender::ALL.len();
        let s = route(&running, c, i, config).await?;
        progress.say(format!(
            "  {}{}: {:.0} records/s ({} commits; {} CPU µs/record in this process)",
            if warm { "warm-up " } else { "" },
            c.name(),
            s.records_per_s,
            s.commits,
            common::shown(s.cpu_us_per_record)
        ));
        if !warm {
            samples.push(s);
        }
    }
    let mean = |c: Contender, f: fn(&Sample) -> Option<f64>| {
        let v: Vec<f64> = samples
            .iter()
            .filter(|s| s.contender == c)
            .filter_map(f)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    println!(
        "router benchmark (1 broker Kafka {}, {} records of 256 B in {PARTITIONS} partitions, commit every {})",
        running.stack.kafka.version,
        config.records,
        scenario::format_duration(config.commit_interval)
    );
    for c in Contender::ALL {
        println!(
            "{:<15} {:.0} records/s (mean of {} runs; CPU {} us/record)",
            format!("{}:", c.name()),
            mean(c, |s| Some(s.records_per_s)).unwrap_or_default(),
            config.rounds,
            common::shown(mean(c, |s| s.cpu_us_per_record))
        );
    }
    let rates: Vec<(Contender, f64)> = samples
        .iter()
        .map(|s| (s.contender, s.records_per_s))
        .collect();
    let (low, high) = common::round_spread(
        &rates,
        Contender::ALL.len(),
        Contender::Transactional,
        Contender::Plain,
    );
    let ratio = mean(Contender::Transactional, |s| Some(s.records_per_s)).unwrap_or_default()
        / mean(Contender::Plain, |s| Some(s.records_per_s)).unwrap_or(1.0);
    println!(
        "ratio transactional/plain: {ratio:.2} (target >= 0.80; rounds {low:.2} to {high:.2})"
    );
    println!(
        "machine: {} cores, load average {} before, {} after",
        std::thread::available_parallelism().map_or(0, usize::from),
        common::shown(load_before),
        common::shown(common::load_average())
    );
    Ok(())
}

async fn create(running: &RunningStack, name: &str) -> Result<(), String> {
    let topic = Topic {
        name: name.to_owned(),
        partitions: PARTITIONS,
        replication_factor: 1,
        config: BTreeMap::new(),
        assignment: None,
    };
    client::create_topics(&running.bootstrap_servers(), &running.admin(), &[topic])
        .await
        .map_err(|e| format!("creating topic {name}: {e}"))
}

/// Writes the source records once, with the harness's own producer.
async fn fill(running: &RunningStack, records: u64) -> Result<(), String> {
    let spec = ProducerSpec {
        name: "bench-fill".to_owned(),
        id: 0,
        topic: SOURCE.to_owned(),
        user: USER.to_owned(),
        rate: 10_000_000,
        amount: Amount::Records(records),
        ramp: Duration::ZERO,
        burst: None,
        record_size: 256,
        keys: 1000,
        acks: "all",
        idempotence: true,
        compression: "none",
        partitioner: None,
        delivery_timeout: Duration::from_secs(120),
        on_step: false,
        avro: None,
    };
    let (_stop, stop_rx) = watch::channel(false);
    let task = ProducerTask {
        spec,
        bootstrap: running.bootstrap_servers(),
        endpoint: None,
        auth: running.auth(USER),
        run_id: running.run.id.clone(),
        ledgers: vec![Arc::new(Mutex::new(Ledger::new()))],
        counters: Arc::default(),
        stop: stop_rx,
        epoch: Instant::now(),
        avro: None,
    };
    let stats = tokio::spawn(task.run())
        .await
        .map_err(|e| format!("the fill producer failed: {e}"))?;
    if stats.acked != records {
        return Err(format!(
            "only {} of {records} source records acknowledged",
            stats.acked
        ));
    }
    Ok(())
}

/// Routes the whole source topic once and times it from the first commit to the last.
async fn route(
    running: &RunningStack,
    c: Contender,
    n: usize,
    config: Config,
) -> Result<Sample, String> {
    let name = format!("bench-router-{n}");
    // The routed topics are named after the source; each run writes routed topics of its own.
    let source = SOURCE.to_owned();
    let spec = RouterSpec {
        name: name.clone(),
        topic: source.clone(),
        legacy_topic: format!("{name}-legacy"),
        canary_topic: format!("{name}-canary"),
        user: USER.to_owned(),
        threshold: 0.5,
        legacy: "legacy".to_owned(),
        canary: "canary".to_owned(),
        transactional: c == Contender::Transactional,
        commit_interval: config.commit_interval,
        share_tolerance: 0.05,
    };
    create(running, &spec.legacy_topic).await?;
    create(running, &spec.canary_topic).await?;
    let router = Router {
        spec,
        bootstrap: running.bootstrap_servers(),
        auth: running.auth(USER),
        run_id: running.run.id.clone(),
    };
    let shared = Arc::new(Shared::new(0.5, Instant::now()));
    let routed =
        |s: &Shared| s.committed(ServiceVersion::Legacy) + s.committed(ServiceVersion::Canary);
    let cpu_before = common::process_cpu_s();
    let spawned = Instant::now();
    let thread = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || router.run(shared))
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first: Option<(Instant, u64)> = None;
    let finished = loop {
        let done = routed(&shared);
        if first.is_none() && done > 0 {
            first = Some((Instant::now(), done));
        }
        if done >= config.records {
            break Instant::now();
        }
        if Instant::now() > deadline || thread.is_finished() {
            shared.desire(Desired::Kill);
            let _ = thread.await;
            let errors = shared.errors.lock().map(|e| e.clone()).unwrap_or_default();
            return Err(format!(
                "the {} router routed {done} of {} records; errors: {errors:?}",
                c.name(),
                config.records
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    shared.desire(Desired::Stop);
    let _ = thread.await;
    let cpu_us_per_record = cpu_before
        .zip(common::process_cpu_s())
        .map(|(b, a)| (a - b) * 1e6 / config.records as f64);
    // A first commit that already covered everything leaves nothing to time after it: then the
    // run counts from its start, start-up included (use more records for a real figure).
    let (t0, at_first) = match first {
        Some((t, n)) if n < config.records => (t, n),
        _ => (spawned, 0),
    };
    let secs = finished.duration_since(t0).as_secs_f64().max(1e-3);
    Ok(Sample {
        contender: c,
        records_per_s: (config.records - at_first) as f64 / secs,
        cpu_us_per_record,
        commits: shared.commits.load(std::sync::atomic::Ordering::SeqCst),
    })
}
