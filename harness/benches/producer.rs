//! Throughput of the harness's load producer against Kafka's own `kafka-producer-perf-test`, on the
//! same broker in the same run.
//!
//! One run starts a small stack (1 ZooKeeper, 1 Kafka 3.7.2 broker with a 512m heap, SCRAM-SHA-512
//! and ACLs on, as every harness stack), creates topic `bench` (6 partitions, RF 1) and sends
//! 1 KiB records with acks=all and idempotence, no compression, as fast as each client can:
//!
//! - Kafka's `org.apache.kafka.tools.ProducerPerformance` (what `kafka-producer-perf-test.sh`
//!   runs), in a one-shot container of the broker's own image on the host network, so it reaches
//!   the broker exactly as our producer does: through the port published on 127.0.0.1. Its JVM
//!   gets the stock script's settings (`-Xmx512m`, G1 and the full JIT), not `kafka-run`'s CLI
//!   defaults.
//! - the harness's `ProducerTask` with the integrity oracle's bookkeeping on (every acknowledgement
//!   recorded in a `Ledger`), as a rehearsal runs it, at a rate too high to ever throttle it.
//!
//! Both authenticate as the same principal (the harness's super user `admin`). Each first sends a
//! warm-up; then the measured runs alternate in ABBA order (perf-test, ours, ours, perf-test, ...)
//! so neither profits from a broker that warmed up in the meantime. The printed figures are
//! acknowledged records per second, averaged over the rounds, and their ratio (target: ours >= 1.2x
//! the perf test). Progress lines on stderr add, per run, the CPU time per record each client used (our
//! whole process; the perf test's whole container, JVM start-up included), since client and broker
//! share the same cores; the summary names the load average and any other harness run that was
//! active meanwhile, which makes the figures noisy.
//!
//! The ratio is a measurement, not a gate: the exit code is non-zero only when something failed to
//! run (the stack, a client, a record not acknowledged, teardown). Everything the run started is
//! removed at the end, also after an error, a panic or Ctrl-C.
//!
//! Run with `cargo bench --bench producer`. Environment: `BENCH_RECORDS` (records per measured run,
//! default 300000), `BENCH_WARMUP` (default 100000), `BENCH_ROUNDS` (default 2; each round measures
//! both once), `BENCH_PERF_PROPS` (extra `--producer-props` for the perf test, e.g.
//! `"batch.size=1048576 linger.ms=5"` to give it librdkafka's batching; none by default). Needs a
//! Docker engine, and builds the images if they are missing.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder};
use kafka_harness::checks::integrity::{Ledger, Semantics};
use kafka_harness::client;
use kafka_harness::load::producer::{ProducerStats, ProducerTask};
use kafka_harness::progress::Progress;
use kafka_harness::runtime::stack::{Run, RunningStack};
use kafka_harness::scenario::{Amount, ProducerSpec, Topic, ADMIN_USER};
use tokio::sync::watch;

mod common;

const TOPIC: &str = "bench";
const PARTITIONS: u32 = 6;
const RECORD_SIZE: u32 = 1024;
/// Far above what one broker on this machine takes: the producer's schedule never holds it back.
const UNBOUNDED_RATE: u32 = 10_000_000;
/// Both clients authenticate as this principal, so both take the same authorizer path.
const PRINCIPAL: &str = ADMIN_USER;
/// Where the perf test's client properties go inside its container (the image's config dir).
const PERF_CONFIG: &str = "/etc/kafka-harness/bench.properties";
/// The uid the harness's images run as; the properties file belongs to it, mode 0600.
const IMAGE_UID: u64 = 1000;
/// What `kafka-producer-perf-test.sh` gives its JVM (via `kafka-run-class.sh`), instead of the
/// `kafka-run` wrapper's short-lived-CLI defaults (serial GC, C1 only), which would slow it down.
const PERF_HEAP: &str = "-Xmx512m";
const PERF_JVM: &str = "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true";
/// Runs `kafka-run` with the arguments, then prints the CPU time its container used (cgroup v1 or
/// v2) on stderr after [`CPU_MARK`], and exits with its code.
const CPU_WRAPPER: &str = r#"kafka-run "$@"; rc=$?
if [ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
  echo "cpu_ns=$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage)" >&2
elif [ -r /sys/fs/cgroup/cpu.stat ]; then
  echo "cpu_ns=$(awk '/^usage_usec/ { printf "%d", $2 * 1000 }' /sys/fs/cgroup/cpu.stat)" >&2
fi
exit $rc"#;
const CPU_MARK: &str = "cpu_ns=";
const PERF_TIMEOUT: Duration = Duration::from_secs(180);

/// 1 ZooKeeper, 1 broker: the whole measurement on one broker JVM (a 3-broker stack would split
/// this 2-core machine over three).
const STACK_YAML: &str = r#"name: producer-bench
description: 1 ZooKeeper, 1 broker, for the producer benchmark
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
    /// Extra `--producer-props` for the perf test (experiments only; the default is none).
    perf_props: Vec<String>,
}

impl Config {
    fn from_env() -> Result<Self, String> {
        let c = Self {
            records: common::var("BENCH_RECORDS", 300_000)?,
            warmup: common::var("BENCH_WARMUP", 100_000)?,
            rounds: common::var("BENCH_ROUNDS", 2)?,
            perf_props: std::env::var("BENCH_PERF_PROPS")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        };
        if c.records == 0 || c.rounds == 0 {
            return Err("BENCH_RECORDS and BENCH_ROUNDS must be at least 1".into());
        }
        Ok(c)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    PerfTest,
    Ours,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Self::PerfTest => "perf-test",
            Self::Ours => "ours",
        }
    }
}

/// One measured run of one client.
#[derive(Debug, Clone)]
struct Sample {
    client: Client,
    records_per_s: f64,
    /// Wall time of the whole run as the benchmark saw it (for the perf test: JVM start included).
    wall_s: f64,
    /// One line of context: how long start-up took, or what the tool reported besides.
    note: String,
}

fn main() -> ExitCode {
    common::main_with("producer benchmark", Config::from_env(), measure)
}

async fn measure(run: Run, config: Config, progress: Progress) -> Result<(), String> {
    let running = common::start_stack(&run, "producer-bench", STACK_YAML, &progress).await?;
    let topic = Topic {
        name: TOPIC.to_owned(),
        partitions: PARTITIONS,
        replication_factor: 1,
        config: std::collections::BTreeMap::new(),
        assignment: None,
    };
    client::create_topics(
        &running.bootstrap_servers(),
        &running.admin(),
        std::slice::from_ref(&topic),
    )
    .await
    .map_err(|e| format!("creating topic {TOPIC}: {e}"))?;
    progress.say(format!(
        "created topic {TOPIC} ({PARTITIONS} partitions, RF 1)"
    ));

    let api = bollard::Docker::connect_with_defaults()
        .map_err(|e| format!("docker: {e}"))?
        .negotiate_version()
        .await
        .map_err(|e| format!("docker: {e}"))?;
    let perf = PerfTest {
        api,
        running: &running,
        extra_props: config.perf_props.clone(),
    };

    let mut others = std::collections::BTreeSet::new();
    others.extend(common::other_runs(&run).await);
    let load_before = common::load_average();
    let mut producer_id = 0;
    if config.warmup > 0 {
        progress.say(format!(
            "warm-up: perf-test, then ours, {} records each",
            config.warmup
        ));
        perf.run(config.warmup, "warmup").await?;
        ours(&running, config.warmup, producer_id).await?;
        producer_id += 1;
    }

    let mut order = Vec::new();
    for round in 0..config.rounds {
        if round % 2 == 0 {
            order.extend([Client::PerfTest, Client::Ours]);
        } else {
            order.extend([Client::Ours, Client::PerfTest]);
        }
    }
    let mut samples = Vec::new();
    for (i, client) in order.iter().enumerate() {
        progress.say(format!(
            "measuring {} ({} of {}): {} records",
            client.name(),
            i + 1,
            order.len(),
            config.records
        ));
        others.extend(common::other_runs(&run).await);
        let sample = match client {
            Client::PerfTest => perf.run(config.records, &format!("m{i}")).await?,
            Client::Ours => {
                let s = ours(&running, config.records, producer_id).await?;
                producer_id += 1;
                s
            }
        };
        progress.say(format!(
            "  {}: {:.0} records/s ({:.1} s wall; {})",
            client.name(),
            sample.records_per_s,
            sample.wall_s,
            sample.note
        ));
        samples.push(sample);
    }

    let mean = |c: Client| {
        let v: Vec<f64> = samples
            .iter()
            .filter(|s| s.client == c)
            .map(|s| s.records_per_s)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let each = |c: Client| {
        samples
            .iter()
            .filter(|s| s.client == c)
            .map(|s| format!("{:.0}", s.records_per_s))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (theirs, mine) = (mean(Client::PerfTest), mean(Client::Ours));
    let ratio = mine / theirs;
    let order_text = order
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ");
    let version = &running.stack.kafka.version;
    println!(
        "producer benchmark: 1 broker, {} KiB records, acks=all, idempotent, no compression, \
         {PARTITIONS} partitions, {} records per run",
        RECORD_SIZE / 1024,
        config.records
    );
    println!(
        "  order: warm-up {} records each (perf-test, ours), then {} round(s): {order_text}",
        config.warmup, config.rounds
    );
    println!(
        "  kafka-producer-perf-test (Kafka {version}, same broker): {theirs:.0} records/s  \
         (runs: {})",
        each(Client::PerfTest)
    );
    println!(
        "  kafka-harness producer with oracle bookkeeping:     {mine:.0} records/s  \
         (runs: {})",
        each(Client::Ours)
    );
    println!(
        "  ratio (ours / perf-test): {ratio:.2} (target >= 1.2: {})",
        if ratio >= 1.2 { "met" } else { "MISSED" }
    );
    if !config.perf_props.is_empty() {
        println!(
            "  perf-test ran with extra producer props (BENCH_PERF_PROPS): {}",
            config.perf_props.join(" ")
        );
    }
    others.extend(common::other_runs(&run).await);
    let load_after = common::load_average();
    println!(
        "  machine: {} cores, load average {} before, {} after; \
         other harness runs seen meanwhile: {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        common::shown(load_before),
        common::shown(load_after),
        if others.is_empty() {
            "none".to_owned()
        } else {
            format!(
                "{} ({}): figures are noisy",
                others.len(),
                others.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        }
    );
    Ok(())
}

/// Our producer, exactly as a rehearsal runs it: a `ProducerTask` on the runtime, its stop channel
/// held open, every acknowledgement recorded in a ledger reserved for the run.
async fn ours(running: &RunningStack, records: u64, id: u32) -> Result<Sample, String> {
    let spec = ProducerSpec {
        name: format!("bench-{id}"),
        id,
        topic: TOPIC.to_owned(),
        user: PRINCIPAL.to_owned(),
        rate: UNBOUNDED_RATE,
        amount: Amount::Records(records),
        ramp: Duration::ZERO,
        burst: None,
        record_size: RECORD_SIZE,
        keys: 0,
        acks: "all",
        idempotence: true,
        compression: "none",
        partitioner: None,
        delivery_timeout: Duration::from_secs(120),
        on_step: false,
        avro: None,
    };
    let mut ledger = Ledger::new();
    ledger.reserve(id, records);
    let ledger = Arc::new(Mutex::new(ledger));
    let (stop, stop_rx) = watch::channel(false);
    let task = ProducerTask {
        spec,
        bootstrap: running.bootstrap_servers(),
        endpoint: None,
        auth: running.auth(PRINCIPAL),
        run_id: running.run.id.clone(),
        ledgers: vec![ledger.clone()],
        counters: Arc::default(),
        stop: stop_rx,
        epoch: Instant::now(),
        avro: None,
    };
    let cpu_before = common::process_cpu_s();
    let started = Instant::now();
    let stats: ProducerStats = tokio::spawn(task.run())
        .await
        .map_err(|e| format!("our producer's task failed: {e}"))?;
    let wall_s = started.elapsed().as_secs_f64();
    drop(stop);
    let cpu_us_per_record = cpu_before
        .zip(common::process_cpu_s())
        .map(|(b, a)| (a - b) * 1e6 / records as f64);
    if stats.acked != records || stats.failed != 0 {
        return Err(format!(
            "our producer: {} of {records} acknowledged, {} failed; errors: {:?}",
            stats.acked, stats.failed, stats.errors
        ));
    }
    let recorded = ledger
        .lock()
        .map_err(|_| "the ledger's lock is poisoned".to_owned())?
        .verdict(Semantics::Idempotent)
        .acked;
    if recorded != records {
        return Err(format!(
            "the ledger recorded {recorded} acknowledgements, the producer counted {records}"
        ));
    }
    Ok(Sample {
        client: Client::Ours,
        records_per_s: stats.throughput,
        wall_s,
        note: format!(
            "{} CPU µs/record in this process; first ack counted after {} ms",
            cpu_us_per_record.map_or_else(|| "?".to_owned(), |c| format!("{c:.1}")),
            stats.first_ack_after_ms.unwrap_or_default()
        ),
    })
}

/// Kafka's own producer perf test, in one-shot containers on the host network.
struct PerfTest<'a> {
    api: bollard::Docker,
    running: &'a RunningStack,
    extra_props: Vec<String>,
}

impl std::fmt::Debug for PerfTest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfTest").finish_non_exhaustive()
    }
}

impl PerfTest<'_> {
    /// The client properties, with the password: only ever copied into the container (mode 0600).
    fn properties(&self) -> Result<String, String> {
        let password = self
            .running
            .creds
            .password(PRINCIPAL)
            .ok_or_else(|| format!("no password for {PRINCIPAL}"))?;
        Ok(format!(
            "bootstrap.servers={}\n\
             security.protocol=SASL_PLAINTEXT\n\
             sasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"{PRINCIPAL}\" password=\"{}\";\n",
            self.running.bootstrap_servers(),
            password.expose()
        ))
    }

    async fn run(&self, records: u64, label: &str) -> Result<Sample, String> {
        let run = &self.running.run;
        let name = format!("kh-{}-perf-{label}", run.id);
        let cmd: Vec<String> = [
            "sh",
            "-c",
            CPU_WRAPPER,
            "sh",
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic",
            TOPIC,
            "--num-records",
            &records.to_string(),
            "--record-size",
            &RECORD_SIZE.to_string(),
            "--throughput",
            "-1",
            "--producer.config",
            PERF_CONFIG,
            "--producer-props",
            "acks=all",
            "enable.idempotence=true",
            "compression.type=none",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(self.extra_props.iter().cloned())
        .collect();
        let labels: HashMap<String, String> = run.labels(Some("perf-test"));
        let body = ContainerCreateBody {
            image: Some(self.running.stack.kafka.image.reference().to_owned()),
            cmd: Some(cmd),
            env: Some(vec![
                format!("KAFKA_CLI_HEAP_OPTS={PERF_HEAP}"),
                format!("KAFKA_CLI_JVM_OPTS={PERF_JVM}"),
            ]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                // The published port on 127.0.0.1, as our producer reaches it.
                network_mode: Some("host".to_owned()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::new().name(&name).build();
        self.api
            .create_container(Some(opts), body)
            .await
            .map_err(|e| format!("docker: create {name}: {e}"))?;
        let archive = self.archive()?;
        let opts = UploadToContainerOptionsBuilder::new().path("/").build();
        self.api
            .upload_to_container(&name, Some(opts), bollard::body_full(archive.into()))
            .await
            .map_err(|e| format!("docker: copy the client properties into {name}: {e}"))?;

        let started = Instant::now();
        run.docker.start(&name).await.map_err(|e| e.to_string())?;
        let code = tokio::time::timeout(PERF_TIMEOUT, run.docker.wait(&name))
            .await
            .map_err(|_| format!("{name} still running after {}s", PERF_TIMEOUT.as_secs()))?
            .map_err(|e| e.to_string())?;
        let wall_s = started.elapsed().as_secs_f64();
        let log = self
            .running
            .creds
            .redact(&run.docker.log_tail(&name, 60).await);
        let _ = run.docker.remove_container(&name).await;
        if code != 0 {
            return Err(format!(
                "the perf test exited with code {code}\n--- last lines of its log ---\n{log}"
            ));
        }
        let (sent, records_per_s, note) = summary(&log).ok_or_else(|| {
            format!("no summary line in the perf test's output\n--- its log ---\n{log}")
        })?;
        let cpu = log
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix(CPU_MARK)?.parse::<f64>().ok())
            .map_or_else(
                || "?".to_owned(),
                |ns| format!("{:.1}", ns / 1e3 / records as f64),
            );
        let note =
            format!("{cpu} CPU µs/record in its container, JVM start-up and JIT included; {note}");
        if sent != records {
            return Err(format!(
                "the perf test sent {sent} of {records} records\n--- its log ---\n{log}"
            ));
        }
        Ok(Sample {
            client: Client::PerfTest,
            records_per_s,
            wall_s,
            note,
        })
    }

    fn archive(&self) -> Result<Vec<u8>, String> {
        let contents = self.properties()?;
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o600);
        header.set_uid(IMAGE_UID);
        header.set_gid(IMAGE_UID);
        header.set_size(contents.len() as u64);
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_data(
                &mut header,
                PERF_CONFIG.trim_start_matches('/'),
                contents.as_bytes(),
            )
            .and_then(|()| builder.into_inner())
            .map_err(|e| format!("packing the client properties: {e}"))
    }
}

/// The final line of `ProducerPerformance`: "N records sent, X records/sec (Y MB/sec), ...".
/// Progress lines ("N records sent, X records/sec ... ms avg latency, ...") have the same start, so
/// the last one counts. Returns records sent, records/s, and its latency figures as a note.
fn summary(log: &str) -> Option<(u64, f64, String)> {
    log.lines().rev().find_map(|line| {
        let (sent, rest) = line.trim().split_once(" records sent, ")?;
        let (rate, rest) = rest.split_once(" records/sec")?;
        let latency = |what: &str| {
            rest.split(", ")
                .find(|f| f.ends_with(what))
                .map(|f| f.trim_end_matches(what).trim().to_owned())
        };
        let note = match (latency("ms avg latency"), latency("ms 99th")) {
            (Some(avg), Some(p99)) => format!("its latency: avg {avg} ms, p99 {p99} ms"),
            (Some(avg), None) => format!("its latency: avg {avg} ms"),
            _ => "no latency figures".to_owned(),
        };
        Some((sent.trim().parse().ok()?, rate.trim().parse().ok()?, note))
    })
}
