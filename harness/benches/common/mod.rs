//! What the benchmarks that start a stack share: running the measurement in a task of its own with
//! everything torn down afterwards, reading their settings from the environment, and the figures
//! that say how busy the machine was.

#![allow(dead_code)] // Each benchmark uses its own part of this.

use std::future::Future;
use std::process::ExitCode;

use kafka_harness::progress::Progress;
use kafka_harness::runtime::docker::Docker;
use kafka_harness::runtime::stack::{self, Run, RunningStack};
use kafka_harness::scenario;
use kafka_harness::secrets::Credentials;

/// Runs `measure` on a tokio runtime with a new harness run, then tears down whatever it started,
/// whatever happened to it: success, error, panic or Ctrl-C. `name` prefixes the error lines.
pub fn main<F, Fut>(name: &str, measure: F) -> ExitCode
where
    F: FnOnce(Run, Progress) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: cannot start the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(name, measure))
}

/// `main` for a benchmark with settings from the environment: `config` (or its error, printed
/// with `name`) is handed to `measure` with the run.
pub fn main_with<C, F, Fut>(name: &str, config: Result<C, String>, measure: F) -> ExitCode
where
    C: Send + 'static,
    F: FnOnce(Run, C, Progress) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    match config {
        Ok(config) => main(name, move |run, progress| measure(run, config, progress)),
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run<F, Fut>(name: &str, measure: F) -> ExitCode
where
    F: FnOnce(Run, Progress) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let docker = match Docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let run = Run::new(docker);
    let progress = Progress::new(false);
    progress.say(format!("run {}", run.id));

    let mut body = tokio::spawn(measure(run.clone(), progress.clone()));
    let outcome = tokio::select! {
        joined = &mut body => joined.unwrap_or_else(|e| Err(format!("the task failed: {e}"))),
        _ = tokio::signal::ctrl_c() => {
            body.abort();
            let _ = (&mut body).await;
            Err("interrupted".to_owned())
        }
    };

    progress.say("removing everything this run started");
    let torn_down = match run.teardown().await {
        Ok(r) => {
            progress.say(format!(
                "removed {} container(s), {} network(s), {} volume(s)",
                r.containers, r.networks, r.volumes
            ));
            true
        }
        Err(e) => {
            eprintln!("{name}: teardown failed: {e}");
            false
        }
    };
    match outcome {
        Ok(()) if torn_down => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{name}: failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The whole number in environment variable `name`, or `default` when it is not set.
pub fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a positive whole number")),
        Err(_) => Ok(default),
    }
}

/// Ids of other harness runs with resources on this engine: they compete for the same cores.
pub async fn other_runs(run: &Run) -> Vec<String> {
    let mut ids: Vec<String> = run
        .docker
        .labelled_runs()
        .await
        .unwrap_or_default()
        .into_keys()
        .filter(|r| *r != run.id)
        .collect();
    ids.sort();
    ids
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU seconds (user + system) this process has used, all threads, exited ones included.
pub fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces): state is field 3, utime 14,
    // stime 15; USER_HZ is 100 on every Linux architecture this runs on.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / 100.0)
}

/// One decimal, or `?` when unknown.
pub fn shown(x: Option<f64>) -> String {
    x.map_or_else(|| "?".to_owned(), |x| format!("{x:.1}"))
}

/// Starts the benchmark's stack, written as YAML (its images built first when missing).
pub async fn start_stack(
    run: &Run,
    name: &str,
    yaml: &str,
    progress: &Progress,
) -> Result<RunningStack, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let stack_file = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&stack_file, yaml).map_err(|e| format!("writing the stack file: {e}"))?;
    let stack = scenario::load_stack(&stack_file).map_err(|e| format!("the bench stack: {e}"))?;
    kafka_harness::runtime::images::ensure(&run.docker, &stack, progress, false)
        .await
        .map_err(|e| format!("the stack's images: {e}"))?;
    stack::start(run, &stack, Credentials::generate(&stack), progress)
        .await
        .map_err(|e| format!("the stack did not come up: {e}"))
}

/// The lowest and highest ratio `num`/`den` within one round (each round measures every
/// contender once, in `rates` order): the run-to-run noise next to the mean ratio.
pub fn round_spread<C: PartialEq + Copy>(
    rates: &[(C, f64)],
    contenders: usize,
    num: C,
    den: C,
) -> (f64, f64) {
    let per_round: Vec<f64> = rates
        .chunks(contenders)
        .filter_map(|round| {
            let rate = |c| round.iter().find(|(x, _)| *x == c).map(|(_, r)| *r);
            Some(rate(num)? / rate(den)?)
        })
        .collect();
    (
        per_round.iter().copied().fold(f64::INFINITY, f64::min),
        per_round.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}
