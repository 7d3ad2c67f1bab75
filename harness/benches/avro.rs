//! Throughput of the harness's Avro producer against its plain producer, on the same broker in the
//! same run.
//!
//! One run starts a small stack (1 ZooKeeper 3.8.4, 1 Kafka 3.7.2 broker with a 512m heap, SCRAM
//! and ACLs on as every harness stack, and an Apicurio Registry 3.0.9 keeping its schemas in
//! memory; the broker with the full JIT, as in production), and runs `ProducerTask`s as a
//! rehearsal runs them, one after the other, at a rate too high to ever throttle them: acks=all,
//! idempotence, no compression, every acknowledgement recorded in an integrity `Ledger`. Each run
//! writes to a topic of its own (`bench-<n>`, 6 partitions, RF 1), deleted after it with its files
//! (`log.segment.delete.delay.ms` 0), so the broker holds one run's records at a time, not the
//! whole bench's (~4.5 GB with 3,000,000-record runs) for the kernel to write back while later
//! runs are measured.
//!
//! - plain: the harness's own records (ids up front, filler after), sized like a typical Avro
//!   record of the schema (the mean encoded size of the first records it generates, at least
//!   64 B), so both send comparable values;
//! - avro: values of `fixtures/avro/order-v1.avsc` generated from (producer, seq), in the
//!   Confluent wire format with their ids in the order's `id` field (as a rehearsal's), the
//!   schema registered under subject `bench-value` when the producer starts (one request to the
//!   registry).
//!
//! Each run has a producer id of its own and a fresh ledger. After a warm-up of each, the measured
//! runs alternate in AB BA order so neither profits from a broker that warmed up in the meantime.
//! The rate of a run counts from its first acknowledgement (connecting, authenticating and getting
//! the producer id are start-up, printed apart). Printed: acknowledged records per second of each,
//! averaged over the rounds, with the CPU time this process used per record (client and broker
//! share the same cores; librdkafka's idempotent producer spins on idle CPU, so that figure grows
//! as the rate drops), and the ratio avro/plain (target: >= 0.8; with the lowest and highest
//! ratio of a single round, the run-to-run noise). Before the
//! stack starts, a progress line on stderr gives what writing one Avro record costs here, without
//! any broker.
//!
//! The ratio is a measurement, not a gate: the exit code is non-zero only when something failed to
//! run (the stack, a producer, a record not acknowledged, teardown). Everything the run started is
//! removed at the end, also after an error, a panic or Ctrl-C.
//!
//! Run with `cargo bench --bench avro`. Environment: `BENCH_RECORDS` (records per measured run,
//! default 1000000), `BENCH_WARMUP` (default 1000000; after 200000 the broker's JIT compiler
//! still took a third of a core in the first measured runs), `BENCH_ROUNDS` (default 3; each round
//! measures each once). Needs a Docker engine, and builds the images if they are missing.

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_harness::avro::{self, value, wire, RegistryClient};
use kafka_harness::checks::integrity::{Ledger, Semantics};
use kafka_harness::client;
use kafka_harness::load::avro::AvroWriter;
use kafka_harness::load::producer::{ProducerStats, ProducerTask};
use kafka_harness::load::record;
use kafka_harness::progress::Progress;
use kafka_harness::runtime::stack::{Run, RunningStack};
use kafka_harness::scenario::{
    Amount, AvroProducerSpec, ProducerSpec, SchemaFile, Topic, ADMIN_USER,
};
use tokio::sync::watch;

mod common;

const TOPIC: &str = "bench";
const PARTITIONS: u32 = 6;
const SUBJECT: &str = "bench-value";
const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/avro/order-v1.avsc"
);
/// The plain records are never smaller than this.
const MIN_RECORD_SIZE: u32 = 64;
/// Generated records whose encoded sizes are averaged into the plain records' size, and timed.
const SIZE_SAMPLE: u64 = 20_000;
/// Far above what one broker on this machine takes: the producer's schedule never holds it back.
const UNBOUNDED_RATE: u32 = 10_000_000;
/// Both producers authenticate as this principal.
const PRINCIPAL: &str = ADMIN_USER;

/// 1 ZooKeeper, 1 broker, a registry in memory: the least that an Avro producer needs.
const STACK_YAML: &str = r#"name: avro-bench
description: 1 ZooKeeper, 1 broker, a schema registry, for the Avro producer benchmark
zookeeper:
  version: "3.8.4"
kafka:
  version: "3.7.2"
  brokers: 1
  heap: 512m
  jit: full
  config:
    # a deleted run's files go at once, not after a minute in which the kernel may write them back
    log.segment.delete.delay.ms: "0"
registry:
  version: "3.0.9"
  storage: memory
security:
  users:
    - name: bench
      acls:
        - topic: "*"
          operations: [all]
        - cluster: true
          operations: [all]
"#;

#[derive(Debug, Clone)]
struct Config {
    records: u64,
    warmup: u64,
    rounds: u32,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let c = Self {
            records: common::var("BENCH_RECORDS", 1_000_000)?,
            warmup: common::var("BENCH_WARMUP", 1_000_000)?,
            rounds: common::var("BENCH_ROUNDS", 3)?,
        };
        if c.records == 0 || c.rounds == 0 {
            return Err("BENCH_RECORDS and BENCH_ROUNDS must be at least 1".into());
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contender {
    Plain,
    Avro,
}

impl Contender {
    const ALL: [Self; 2] = [Self::Plain, Self::Avro];

    fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Avro => "avro",
        }
    }
}

/// One measured run of one producer.
#[derive(Debug, Clone)]
struct Sample {
    contender: Contender,
    records_per_s: f64,
    /// CPU time of this whole process per acknowledged record.
    cpu_us_per_record: Option<f64>,
    wall_s: f64,
    first_ack_ms: u64,
}

/// What both producers share: the stack, the schema, the registry, the plain records' size.
#[derive(Debug)]
struct Bench<'a> {
    running: &'a RunningStack,
    schema: SchemaFile,
    registry: Arc<RegistryClient>,
    record_size: u32,
}

fn main() -> ExitCode {
    common::main_with("avro benchmark", Config::from_env(), measure)
}

async fn measure(run: Run, config: Config, progress: Progress) -> Result<(), String> {
    let schema = SchemaFile(Arc::new(
        avro::load_avsc(Path::new(SCHEMA)).map_err(|e| e.to_string())?,
    ));
    let record_size = local_cost(&schema, &progress)?;

    let running = common::start_stack(&run, "avro-bench", STACK_YAML, &progress).await?;
    let url = running
        .registry_url()
        .ok_or("the stack has no schema registry")?;
    let bench = Bench {
        running: &running,
        schema,
        registry: Arc::new(RegistryClient::new(&url)),
        record_size,
    };

    let others_before = common::other_runs(&run).await;
    let load_before = common::load_average();
    let mut producer_id = 0;
    if config.warmup > 0 {
        progress.say(format!(
            "warm-up: plain, avro, {} records each",
            config.warmup
        ));
        for c in Contender::ALL {
            let s = bench.produce(c, config.warmup, producer_id).await?;
            producer_id += 1;
            progress.say(format!(
                "  warm-up {}: {:.0} records/s",
                c.name(),
                s.records_per_s
            ));
        }
    }
    let mut order = Vec::new();
    for round in 0..config.rounds {
        if round % 2 == 0 {
            order.extend(Contender::ALL);
        } else {
            order.extend(Contender::ALL.into_iter().rev());
        }
    }
    let mut samples = Vec::new();
    for (i, &c) in order.iter().enumerate() {
        progress.say(format!(
            "measuring {} ({} of {}): {} records",
            c.name(),
            i + 1,
            order.len(),
            config.records
        ));
        let s = bench.produce(c, config.records, producer_id).await?;
        producer_id += 1;
        progress.say(format!(
            "  {}: {:.0} records/s after the first ack ({:.1} s wall; {} CPU µs/record in this process; \
             first ack after {} ms)",
            c.name(),
            s.records_per_s,
            s.wall_s,
            common::shown(s.cpu_us_per_record),
            s.first_ack_ms
        ));
        samples.push(s);
    }

    let mean = |c: Contender, f: fn(&Sample) -> Option<f64>| {
        let v: Vec<f64> = samples
            .iter()
            .filter(|s| s.contender == c)
            .filter_map(f)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let line = |c: Contender| {
        let rate = mean(c, |s| Some(s.records_per_s)).unwrap_or_default();
        let cpu = mean(c, |s| s.cpu_us_per_record);
        let label = format!("{}:", c.name());
        println!(
            "{label:<15} {} records/s (mean of {} runs; CPU {} us/record)",
            grouped(rate),
            config.rounds,
            common::shown(cpu)
        );
        rate
    };
    let k = &running.stack.kafka.version;
    let r = running
        .stack
        .registry
        .as_ref()
        .map(|r| r.version.to_string());
    println!(
        "avro producer benchmark (1 broker Kafka {k}, Apicurio Registry {}, schema {}, \
         ~{} B per record)",
        r.unwrap_or_default(),
        bench.schema.name(),
        bench.record_size
    );
    let plain = line(Contender::Plain);
    let avro = line(Contender::Avro);
    // Each round measured each contender once: how far the rounds' own ratios spread.
    let rates: Vec<(Contender, f64)> = samples
        .iter()
        .map(|s| (s.contender, s.records_per_s))
        .collect();
    let (low, high) = common::round_spread(
        &rates,
        Contender::ALL.len(),
        Contender::Avro,
        Contender::Plain,
    );
    println!(
        "ratio avro/plain: {:.2} (target >= 0.80; rounds {low:.2} to {high:.2})",
        avro / plain
    );
    let mut others = others_before;
    others.extend(common::other_runs(&run).await);
    others.sort();
    others.dedup();
    println!(
        "machine: {} cores, load average {} before, {} after; other harness runs meanwhile: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        common::shown(load_before),
        common::shown(common::load_average()),
        if others.is_empty() {
            "none".to_owned()
        } else {
            format!("{} (figures are noisy)", others.join(", "))
        }
    );
    Ok(())
}

/// Times generating, encoding and framing Avro records against writing plain ones, with no broker
/// (progress on stderr), and returns the plain records' size: the Avro records' mean encoded size.
fn local_cost(schema: &SchemaFile, progress: &Progress) -> Result<u32, String> {
    let s = &schema.0.schema;
    let started = Instant::now();
    let encoder = value::Encoder::new(Arc::new(s.clone()))?;
    let build_s = started.elapsed().as_secs_f64();
    let (mut generate_s, mut write_s, mut validated_s, mut bytes) = (0.0, 0.0, 0.0, 0_u64);
    let mut framed = Vec::new();
    let mut checked = Vec::new();
    let mut ids = Vec::new();
    for seq in 0..SIZE_SAMPLE {
        // What a producer does per record: frame, then write the value into the frame as it is
        // drawn, the ids' text in its ids field.
        let t = Instant::now();
        wire::start(1, &mut framed);
        record::encode("bench", 0, seq, 0, &mut ids);
        encoder
            .write_record(0, seq, Some(&ids), &mut framed)
            .map_err(|e| format!("{}: {e}", schema.name()))?;
        write_s += t.elapsed().as_secs_f64();
        bytes += (framed.len() - wire::HEADER_LEN) as u64;
        // The same through a `Value`: generating it, then encoding it validated (what schemas the
        // generator cannot always satisfy get).
        let t = Instant::now();
        let v = std::hint::black_box(encoder.generate(0, seq, Some(&ids)));
        let t2 = Instant::now();
        checked.clear();
        encoder
            .encode(&v, &mut checked)
            .map_err(|e| format!("{}: {e}", schema.name()))?;
        validated_s += t2.elapsed().as_secs_f64();
        generate_s += t2.duration_since(t).as_secs_f64();
        if checked[..] != framed[wire::HEADER_LEN..] {
            return Err(format!(
                "record {seq}: written as drawn and through a Value, the bytes differ"
            ));
        }
    }
    let size = u32::try_from(bytes / SIZE_SAMPLE)
        .unwrap_or(u32::MAX)
        .max(MIN_RECORD_SIZE);
    let mut buf = Vec::new();
    let started = Instant::now();
    for seq in 0..SIZE_SAMPLE {
        record::encode("bench", 0, seq, size as usize, &mut buf);
    }
    let plain_s = started.elapsed().as_secs_f64();
    let us = |s: f64| s * 1e6 / SIZE_SAMPLE as f64;
    progress.say(format!(
        "local cost per record, no broker ({SIZE_SAMPLE} records): avro {:.2} µs \
         (written as drawn, ids in field `{}`; through a Value instead: generate {:.2}, encode \
         with validation {:.2}), plain {:.2} µs; avro bodies {:.0} B on average; building the \
         encoder (once per writer schema) {:.1} µs",
        us(write_s),
        encoder.carrier().unwrap_or("none: a header"),
        us(generate_s),
        us(validated_s),
        us(plain_s),
        bytes as f64 / SIZE_SAMPLE as f64,
        build_s * 1e6
    ));
    Ok(size)
}

impl Bench<'_> {
    /// One producer, exactly as a rehearsal runs it: a `ProducerTask` on the runtime, its stop
    /// channel held open, every acknowledgement recorded in a ledger reserved for the run.
    async fn produce(&self, c: Contender, records: u64, id: u32) -> Result<Sample, String> {
        // A topic per run, deleted after it: earlier runs' records are not written back to disk
        // while this one is measured.
        let topic = format!("{TOPIC}-{id}");
        let (bootstrap, admin) = (self.running.bootstrap_servers(), self.running.admin());
        let new = Topic {
            name: topic.clone(),
            partitions: PARTITIONS,
            replication_factor: 1,
            config: std::collections::BTreeMap::new(),
            assignment: None,
        };
        client::create_topics(&bootstrap, &admin, &[new])
            .await
            .map_err(|e| format!("creating topic {topic}: {e}"))?;
        let sample = self.produce_to(c, &topic, records, id).await;
        let deleted = client::delete_topics(&bootstrap, &admin, &[&topic]).await;
        // A failed run is the error to report, also when its topic could not be deleted.
        let sample = sample?;
        deleted.map_err(|e| format!("deleting topic {topic}: {e}"))?;
        Ok(sample)
    }

    async fn produce_to(
        &self,
        c: Contender,
        topic: &str,
        records: u64,
        id: u32,
    ) -> Result<Sample, String> {
        let avro = c == Contender::Avro;
        let spec = ProducerSpec {
            name: format!("bench-{}-{id}", c.name()),
            id,
            topic: topic.to_owned(),
            user: PRINCIPAL.to_owned(),
            rate: UNBOUNDED_RATE,
            amount: Amount::Records(records),
            ramp: Duration::ZERO,
            burst: None,
            record_size: self.record_size,
            keys: 0,
            acks: "all",
            idempotence: true,
            compression: "none",
            partitioner: None,
            delivery_timeout: Duration::from_secs(120),
            on_step: false,
            avro: avro.then(|| AvroProducerSpec {
                schema: self.schema.clone(),
                subject: SUBJECT.to_owned(),
            }),
        };
        let mut ledger = Ledger::new();
        ledger.reserve(id, records);
        let ledger = Arc::new(Mutex::new(ledger));
        let (stop, stop_rx) = watch::channel(false);
        let task = ProducerTask {
            spec,
            bootstrap: self.running.bootstrap_servers(),
            endpoint: None,
            auth: self.running.auth(PRINCIPAL),
            run_id: self.running.run.id.clone(),
            ledgers: vec![ledger.clone()],
            counters: Arc::default(),
            stop: stop_rx,
            epoch: Instant::now(),
            avro: avro.then(|| {
                AvroWriter::new(
                    self.registry.clone(),
                    SUBJECT.to_owned(),
                    self.schema.clone(),
                    Arc::new(watch::channel(None).0),
                    Arc::default(),
                )
            }),
        };
        let cpu_before = common::process_cpu_s();
        let started = Instant::now();
        let stats: ProducerStats = tokio::spawn(task.run())
            .await
            .map_err(|e| format!("the {} producer's task failed: {e}", c.name()))?;
        let wall_s = started.elapsed().as_secs_f64();
        drop(stop);
        let cpu_us_per_record = cpu_before
            .zip(common::process_cpu_s())
            .map(|(b, a)| (a - b) * 1e6 / records as f64);
        if stats.acked != records || stats.failed != 0 {
            return Err(format!(
                "the {} producer: {} of {records} acknowledged, {} failed; errors: {:?}",
                c.name(),
                stats.acked,
                stats.failed,
                stats.errors
            ));
        }
        let recorded = ledger
            .lock()
            .map_err(|_| "the ledger's lock is poisoned".to_owned())?
            .verdict(Semantics::Idempotent)
            .acked;
        if recorded != records {
            return Err(format!(
                "the ledger recorded {recorded} acknowledgements, the {} producer counted {records}",
                c.name()
            ));
        }
        // From the first acknowledgement on: start-up is the same for every contender, and
        // counting it would pull the ratios towards 1.
        let first_ack_s = stats.first_ack_after_ms.unwrap_or_default() as f64 / 1000.0;
        let sending_s = (stats.finished_at_s - stats.started_at_s - first_ack_s).max(1e-3);
        Ok(Sample {
            contender: c,
            records_per_s: records as f64 / sending_s,
            cpu_us_per_record,
            wall_s,
            first_ack_ms: stats.first_ack_after_ms.unwrap_or_default(),
        })
    }
}

/// `41230.4` as `41,230`.
fn grouped(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
