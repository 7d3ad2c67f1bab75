//! The command line: `validate`, `plan`, `run`, `images build`, `gc`, `schema`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::error::*;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::report::{Report, Verdict};
use crate::runtime::docker::Docker;
use crate::runtime::stack::{self, Run};
use crate::scenario::{self, Document, Scenario};
use crate::secrets::Credentials;

#[derive(Debug, Parser)]
#[command(
    name = "kafka-harness",
    version,
    about = "Rehearse Kafka platform upgrades on a Dockerized copy of production"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check stack and scenario files (or every YAML file in folders). Needs no Docker.
    Validate {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Print the resolved plan of a scenario. Needs no Docker.
    Plan {
        scenario: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Leave out the config preflight (which needs Maven and a JDK the first time per release).
        #[arg(long)]
        no_preflight: bool,
    },
    /// Check a broker config file against Kafka releases' own config definitions (read from their
    /// jars): keys a release does not know, deprecated keys, classes it lacks, defaults that change.
    /// Needs no Docker.
    Preflight {
        /// A server.properties file.
        properties: PathBuf,
        /// The release the file runs on now, e.g. 3.6.2.
        #[arg(long)]
        from: String,
        /// A release to upgrade to (repeat for a path), e.g. --to 3.9.1 --to 4.1.1.
        #[arg(long)]
        to: Vec<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Start the stack, run the scenario's steps, write a report, remove everything.
    Run {
        scenario: PathBuf,
        /// Where report.json goes.
        #[arg(long, default_value = "reports/latest")]
        report_dir: PathBuf,
        /// Only print the final summary.
        #[arg(long)]
        quiet: bool,
        /// For a scenario with a version `matrix`: `default` runs the entries not marked nightly,
        /// `all` runs every entry (the nightly matrix), or one entry by its label, e.g.
        /// `3.9.1-to-4.1.1`. Each entry's report goes to REPORT_DIR/LABEL/, the matrix table to
        /// REPORT_DIR/matrix.md and matrix.json.
        #[arg(long, default_value = "default")]
        matrix: String,
    },
    /// Build (or pull) the images stacks need.
    Images {
        #[command(subcommand)]
        command: ImagesCommand,
    },
    /// Remove containers, networks and volumes left by runs whose process is gone.
    Gc {
        /// Also remove what runs that are still alive have made.
        #[arg(long)]
        all: bool,
    },
    /// Compare two runs of one scenario (their report.json): availability, latency, lag, step and
    /// node times, checks. Writes diff.md and diff.json; exit 1 when B is past a tolerance. Needs
    /// no Docker.
    Diff {
        /// The baseline's report.json (or the folder holding it).
        a: PathBuf,
        /// The run to judge (report.json or its folder).
        b: PathBuf,
        /// Where diff.md and diff.json go (default: B's folder).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Canary availability B may lose, in percentage points.
        #[arg(long, default_value_t = 1.0)]
        max_availability_drop: f64,
        /// How much higher B's latency percentiles may be, in percent (and 50 ms).
        #[arg(long, default_value_t = 50.0)]
        max_latency_increase: f64,
        /// How much higher B's maximum consumer lag may be, in percent (and 1000 records).
        #[arg(long, default_value_t = 50.0)]
        max_lag_increase: f64,
        /// How much longer B's steps and rolled nodes may take, in percent (and 5 s).
        #[arg(long, default_value_t = 50.0)]
        max_phase_increase: f64,
    },
    /// Write the JSON Schemas of stack and scenario files (for editor completion) and of report.json:
    /// by default to stacks/, scenarios/ and reports/, where the shipped files point.
    Schema {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build what a stack needs (default: every stack under stacks/).
    Build {
        #[arg(long)]
        stack: Vec<PathBuf>,
        /// Rebuild even if the image exists.
        #[arg(long)]
        force: bool,
    },
}

pub async fn main(cli: Cli) -> i32 {
    match cli.command {
        Command::Validate { paths } => validate(&paths),
        Command::Plan {
            scenario,
            json,
            no_preflight,
        } => match scenario::load_scenario(&scenario) {
            Ok(s) => plan(&s, json, no_preflight),
            Err(e) => invalid(&e),
        },
        Command::Preflight {
            properties,
            from,
            to,
            json,
        } => crate::preflight::cli::main(&properties, &from, &to, json),
        Command::Run {
            scenario,
            report_dir,
            quiet,
            matrix,
        } => match scenario::load_scenario(&scenario) {
            Ok(s) if s.matrix.is_empty() => run(s, &report_dir, quiet).await,
            Ok(s) => run_matrix(&s, &matrix, &report_dir, quiet).await,
            Err(e) => invalid(&e),
        },
        Command::Images {
            command: ImagesCommand::Build { stack, force },
        } => images_build(stack, force).await,
        Command::Gc { all } => gc(all).await,
        Command::Diff {
            a,
            b,
            out,
            max_availability_drop,
            max_latency_increase,
            max_lag_increase,
            max_phase_increase,
        } => diff(
            &a,
            &b,
            out.as_deref(),
            crate::report::diff::Tolerances {
                availability_drop_pp: max_availability_drop,
                latency_increase_pct: max_latency_increase,
                lag_increase_pct: max_lag_increase,
                phase_increase_pct: max_phase_increase,
                ..crate::report::diff::Tolerances::default()
            },
        ),
        Command::Schema { out } => {
            for (home, name, schema) in crate::schemas() {
                let path = out
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(home))
                    .join(name);
                let text = serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return EXIT_INVALID_INPUT;
                }
                println!("wrote {}", path.display());
            }
            EXIT_OK
        }
    }
}

fn plan(s: &Scenario, json: bool, no_preflight: bool) -> i32 {
    let mut plan = Plan::of(s);
    if !no_preflight {
        match crate::preflight::run(s, &Progress::new(false)) {
            Ok(p) => plan.preflight = Some(p),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_PREFLIGHT_UNAVAILABLE;
            }
        }
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&plan).unwrap_or_default()
        );
    } else {
        print!("{}", plan.render_text());
    }
    EXIT_OK
}

fn invalid(e: &scenario::InputError) -> i32 {
    eprintln!("{e}");
    eprintln!("invalid input: nothing was started");
    EXIT_INVALID_INPUT
}

fn validate(paths: &[PathBuf]) -> i32 {
    let mut bad = 0;
    let mut good = 0;
    for p in paths {
        let files = match scenario::yaml_files(p) {
            Ok(f) if !f.is_empty() => f,
            Ok(_) => {
                eprintln!("{}: no .yaml files here", p.display());
                bad += 1;
                continue;
            }
            Err(e) => {
                eprintln!("{}: {e}", p.display());
                bad += 1;
                continue;
            }
        };
        for f in files {
            match scenario::load_document(&f) {
                Ok(Document::Stack(s)) => {
                    good += 1;
                    println!("ok  {} (stack {})", f.display(), s.name);
                }
                Ok(Document::Scenario(s)) => {
                    good += 1;
                    println!("ok  {} (scenario {})", f.display(), s.name);
                }
                Err(e) => {
                    bad += 1;
                    eprintln!("{e}");
                }
            }
        }
    }
    if bad > 0 {
        eprintln!("{bad} invalid, {good} valid");
        EXIT_INVALID_INPUT
    } else {
        EXIT_OK
    }
}

async fn connect(progress: &Progress) -> Option<Docker> {
    match Docker::connect().await {
        Ok(d) => Some(d),
        Err(e) => {
            progress.say("");
            eprintln!("error: {e}");
            None
        }
    }
}

enum Ended {
    Finished(Box<Report>),
    Panicked(String),
    Interrupted(&'static str),
}

/// One matrix entry's outcome, for the table at the end.
#[derive(Debug, serde::Serialize)]
struct MatrixRow {
    from: String,
    to: String,
    nightly: bool,
    verdict: &'static str,
    report: String,
}

/// Runs the selected entries of a scenario's version matrix one after the other, then writes and
/// prints the matrix table. Exit code: the worst of the entries'.
async fn run_matrix(s: &Scenario, select: &str, report_dir: &Path, quiet: bool) -> i32 {
    let entries: Vec<_> = s
        .matrix
        .iter()
        .filter(|e| match select {
            "default" => !e.nightly,
            "all" => true,
            label => e.label() == label,
        })
        .copied()
        .collect();
    if entries.is_empty() {
        let labels: Vec<String> = s.matrix.iter().map(|e| e.label()).collect();
        eprintln!(
            "error: --matrix {select}: expected `default`, `all` or one of {}",
            labels.join(", ")
        );
        return EXIT_INVALID_INPUT;
    }
    let mut rows = Vec::new();
    let mut worst = EXIT_OK;
    for (i, e) in entries.iter().enumerate() {
        if !quiet {
            println!(
                "==> matrix entry {}/{}: Kafka {} -> {}",
                i + 1,
                entries.len(),
                e.from,
                e.to
            );
        }
        let dir = report_dir.join(e.label());
        let code = run(s.for_entry(e), &dir, quiet).await;
        rows.push(MatrixRow {
            from: e.from.to_string(),
            to: e.to.to_string(),
            nightly: e.nightly,
            verdict: match code {
                EXIT_OK => "pass",
                EXIT_CHECKS_FAILED => "fail",
                EXIT_INTERRUPTED => "interrupted",
                _ => "error",
            },
            report: dir.join("report.md").display().to_string(),
        });
        worst = match (worst, code) {
            (_, EXIT_INTERRUPTED) | (EXIT_INTERRUPTED, _) => EXIT_INTERRUPTED,
            (EXIT_STACK_FAILED, _) | (_, EXIT_STACK_FAILED) => EXIT_STACK_FAILED,
            (a, b) => a.max(b),
        };
        if code == EXIT_INTERRUPTED {
            break;
        }
    }
    let mut table = format!(
        "# Version matrix of scenario {}\n\n| from | to | set | verdict | report |\n|---|---|---|---|---|\n",
        s.name
    );
    for r in &rows {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.from,
            r.to,
            if r.nightly { "nightly" } else { "default" },
            r.verdict,
            r.report
        ));
    }
    let html_rows: Vec<crate::report::html::MatrixEntryRow<'_>> = rows
        .iter()
        .map(|r| crate::report::html::MatrixEntryRow {
            from: &r.from,
            to: &r.to,
            set: if r.nightly { "nightly" } else { "default" },
            verdict: r.verdict,
            link: format!("{}-to-{}/report.html", r.from, r.to),
        })
        .collect();
    let html = crate::report::html::matrix(&s.name, &html_rows);
    let written = std::fs::create_dir_all(report_dir)
        .and_then(|()| std::fs::write(report_dir.join("matrix.md"), &table))
        .and_then(|()| std::fs::write(report_dir.join("matrix.html"), &html))
        .and_then(|()| {
            let json = serde_json::to_string_pretty(&rows).map_err(std::io::Error::other)?;
            std::fs::write(report_dir.join("matrix.json"), json + "\n")
        });
    if let Err(e) = written {
        eprintln!(
            "error: cannot write the matrix table to {}: {e}",
            report_dir.display()
        );
    }
    println!("{table}");
    worst
}

/// `diff A B`: reads both reports, prints the comparison, writes it next to B (or to `out`).
fn diff(a: &Path, b: &Path, out: Option<&Path>, t: crate::report::diff::Tolerances) -> i32 {
    let read = |p: &Path| -> Result<(PathBuf, serde_json::Value), String> {
        let file = if p.is_dir() {
            p.join("report.json")
        } else {
            p.to_owned()
        };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
        let value = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: not JSON: {e}",
                file.display(),
                e.line(),
                e.column()
            )
        })?;
        Ok((file, value))
    };
    let (ra, rb) = match (read(a), read(b)) {
        (Ok(ra), Ok(rb)) => (ra, rb),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return EXIT_INVALID_INPUT;
        }
    };
    let d = match crate::report::diff::diff(&ra.1, &rb.1, &t) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {} and {}: {e}", ra.0.display(), rb.0.display());
            return EXIT_INVALID_INPUT;
        }
    };
    let md = crate::report::diff::markdown(&d);
    println!("{md}");
    let dir = out.map_or_else(
        || {
            rb.0.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_owned)
        },
        Path::to_owned,
    );
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("diff.md"), &md))
        .and_then(|()| {
            let json = serde_json::to_string_pretty(&d).map_err(std::io::Error::other)?;
            std::fs::write(dir.join("diff.json"), json + "\n")
        });
    if let Err(e) = written {
        eprintln!("error: cannot write the diff to {}: {e}", dir.display());
    }
    if d.regressed() {
        EXIT_CHECKS_FAILED
    } else {
        EXIT_OK
    }
}

async fn run(scenario: Scenario, report_dir: &Path, quiet: bool) -> i32 {
    let progress = Progress::new(quiet);
    let Some(docker) = connect(&progress).await else {
        return EXIT_STACK_FAILED;
    };
    let run = Run::new(docker);
    progress.say(format!(
        "run {} of scenario {} on stack {}",
        run.id, scenario.name, scenario.stack.name
    ));
    let task = tokio::spawn(execute(run.clone(), scenario.clone(), progress.clone()));
    let ended = tokio::select! {
        r = task => match r {
            Ok(report) => Ended::Finished(Box::new(report)),
            Err(e) => Ended::Panicked(e.to_string()),
        },
        () = signal("SIGINT") => Ended::Interrupted("SIGINT"),
        () = signal("SIGTERM") => Ended::Interrupted("SIGTERM"),
    };
    if let Ended::Interrupted(sig) = &ended {
        progress.say(format!(
            "{sig} received: stopping and removing everything this run started"
        ));
    }
    let removed = run.teardown().await;
    match &removed {
        Ok(r) => progress.say(format!(
            "removed {} container(s), {} network(s), {} volume(s) of run {}",
            r.containers, r.networks, r.volumes, run.id
        )),
        Err(e) => eprintln!(
            "error: cleanup of run {} failed: {e}\n  run `kafka-harness gc --all` to remove what is left",
            run.id
        ),
    }
    match ended {
        Ended::Finished(report) => {
            if let Err(e) = report.write(report_dir) {
                eprintln!(
                    "error: cannot write the report to {}: {e}",
                    report_dir.display()
                );
            } else {
                progress.say(format!(
                    "report: {}",
                    report_dir.join("report.json").display()
                ));
            }
            println!("{}", report.summary());
            match report.verdict {
                Verdict::Pass => EXIT_OK,
                Verdict::Fail => EXIT_CHECKS_FAILED,
                Verdict::Error => EXIT_STACK_FAILED,
            }
        }
        Ended::Panicked(e) => {
            eprintln!("error: the harness crashed ({e}); everything it started was removed");
            EXIT_STACK_FAILED
        }
        Ended::Interrupted(_) => EXIT_INTERRUPTED,
    }
}

async fn execute(run: Run, scenario: Scenario, progress: Progress) -> Report {
    let t0 = Instant::now();
    let plan = Plan::of(&scenario);
    let mut report = Report {
        schema_version: crate::report::SCHEMA_VERSION,
        scenario: scenario.name.clone(),
        scenario_file: scenario.source.display().to_string(),
        stack: scenario.stack.name.clone(),
        run_id: run.id.clone(),
        verdict: Verdict::Error,
        duration_s: 0.0,
        nodes: plan.nodes,
        overridden: plan.overridden,
        steps: Vec::new(),
        error: None,
        semantics: scenario.semantics,
        expect_fail: scenario.expect_fail.clone(),
        checks: Vec::new(),
        producers: Vec::new(),
        consumers: Vec::new(),
        errors: Vec::new(),
        versions: Vec::new(),
        timing: crate::report::Timing::default(),
        preflight: None,
        log_scan: None,
        canary: None,
        registry: None,
        routing: None,
        under_replicated: Vec::new(),
        mirror_lag: None,
        switches: Vec::new(),
        postgres_writers: Vec::new(),
        cdc: Vec::new(),
        clickhouse: Vec::new(),
    };
    let epoch_unix_s = unix_now() - progress.elapsed_secs();
    report.preflight = Some(crate::preflight::for_run(&scenario, &progress).await);
    let creds = Credentials::generate(&scenario.stack);
    let redactor = creds.clone();
    let images = crate::runtime::images::ensure_all(
        &run.docker,
        crate::runtime::images::needed_by(&scenario),
        &progress,
        false,
    )
    .await
    .map_err(stack::StartError::from);
    report.timing.preparing_s = t0.elapsed().as_secs_f64();
    let t_start = Instant::now();
    let started = match images {
        Err(e) => Err(e),
        Ok(()) => stack::start(&run, &scenario.stack, creds, &progress).await,
    };
    let started = match started {
        Ok(s) => stack::create_topics(&s, &scenario.topics, &progress)
            .await
            .map(|()| s),
        Err(e) => Err(e),
    };
    // Blue/green: green gets the topics too, and MirrorMaker translates blue's groups (but those
    // a planted defect switches without translation).
    let started = match started {
        Ok(mut s) => {
            let untranslated = scenario.untranslated_groups();
            let groups: Vec<String> = scenario
                .load
                .consumers
                .iter()
                .filter(|k| k.cluster == crate::scenario::Cluster::Blue)
                .map(|k| k.group.clone())
                .filter(|g| !untranslated.contains(g))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            s.start_green(&scenario.topics, &groups, &progress)
                .await
                .map(|()| s)
        }
        Err(e) => Err(e),
    };
    report.timing.stack_start_s = t_start.elapsed().as_secs_f64();
    match started {
        Ok(running) => {
            report.overridden.clone_from(&running.overridden);
            let before = running.read_versions().await;
            let canary = crate::probes::canary::Canary::start(
                &running,
                &run.id,
                &scenario.canary,
                progress.epoch(),
                &progress,
            )
            .await;
            let replication = crate::probes::replication::ReplicationProbe::start(
                running.bootstrap_servers(),
                running.admin(),
                progress.epoch(),
            );
            let mirror_lag = running.green.as_ref().map(|green| {
                crate::probes::mirror_lag::MirrorLagProbe::start(
                    running.bootstrap_servers(),
                    green.bootstrap_servers(),
                    running.admin(),
                    scenario.topics.iter().map(|t| t.name.clone()).collect(),
                    progress.epoch(),
                )
            });
            let registry = running
                .registry_url()
                .map(|url| crate::probes::registry::RegistryProbe::start(&url, progress.epoch()));
            let mut load = crate::load::LoadSet::new(&running, &scenario, progress.epoch());
            load.start_initial();
            let t_steps = Instant::now();
            report.steps = crate::steps::execute(
                &running,
                &scenario.steps,
                &scenario.expect_failed_steps,
                &mut load,
                &progress,
            )
            .await;
            report.timing.steps_s = t_steps.elapsed().as_secs_f64();
            let t_wrap = Instant::now();
            let results = load.finish().await;
            report.under_replicated = replication.finish().await;
            if let Some(probe) = mirror_lag {
                report.mirror_lag = Some(probe.finish().await);
            }
            if let Some(registry) = registry {
                let r = registry.finish(results.registrations.clone()).await;
                progress.say(crate::report::registry_line(&r));
                report.registry = Some(r);
            }
            if let Some(canary) = canary {
                report.canary = Some(canary.finish(&report.steps, &redactor).await);
            }
            let after = running.read_versions().await;
            // A migration adds controllers and retires ZooKeeper: both sides list every node.
            let nodes: std::collections::BTreeSet<&String> =
                before.keys().chain(after.keys()).collect();
            report.versions = nodes
                .into_iter()
                .map(|node| crate::report::NodeVersions {
                    node: node.clone(),
                    before: before
                        .get(node)
                        .cloned()
                        .unwrap_or_else(|| "(not yet started)".to_owned()),
                    after: after
                        .get(node)
                        .cloned()
                        .unwrap_or_else(|| "(retired)".to_owned()),
                })
                .collect();
            let step_ends: Vec<f64> = report
                .steps
                .iter()
                .map(|s| s.started_at_s + s.duration_ms as f64 / 1000.0)
                .collect();
            report.checks = crate::checks::evaluate::evaluate(&scenario, &results, &step_ends);
            report
                .checks
                .extend(crate::checks::avro::evaluate(&scenario, &results));
            report.checks.extend(crate::checks::routing::evaluate(
                &scenario,
                results.routing.as_ref(),
            ));
            report.checks.extend(crate::checks::cdc::evaluate(
                &scenario,
                &results.cdc,
                &results.clickhouse,
            ));
            report.checks.extend(crate::checks::canary::evaluate(
                &scenario,
                report.canary.as_ref(),
            ));
            report.set_load(results, &redactor);
            report.log_scan = Some(
                crate::logscan::scan_run(&run, &scenario, &report.steps, epoch_unix_s, &redactor)
                    .await,
            );
            report.checks.extend(crate::checks::logs::evaluate(
                &scenario,
                report.preflight.as_ref(),
                report.log_scan.as_ref(),
            ));
            report.verdict = report.decide(&scenario.expect_fail);
            report.timing.wrap_up_s = t_wrap.elapsed().as_secs_f64();
        }
        Err(e) => {
            let e = redactor.redact(&e.to_string());
            eprintln!("error: the stack could not be brought up: {e}");
            report.error = Some(format!(
                "the stack could not be brought up: {}",
                first_line(&e)
            ));
            report.log_scan =
                Some(crate::logscan::scan_run(&run, &scenario, &[], epoch_unix_s, &redactor).await);
        }
    }
    report.duration_s = t0.elapsed().as_secs_f64();
    report
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

async fn signal(name: &str) {
    use tokio::signal::unix::{signal, SignalKind};
    let kind = if name == "SIGINT" {
        SignalKind::interrupt()
    } else {
        SignalKind::terminate()
    };
    match signal(kind) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

async fn images_build(stacks: Vec<PathBuf>, force: bool) -> i32 {
    let stacks = if stacks.is_empty() {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../stacks"));
        match scenario::yaml_files(&dir) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {}: {e}", dir.display());
                return EXIT_INVALID_INPUT;
            }
        }
    } else {
        stacks
    };
    let mut loaded = Vec::new();
    for s in &stacks {
        match scenario::load_stack(s) {
            Ok(st) => loaded.push(st),
            Err(e) => return invalid(&e),
        }
    }
    let progress = Progress::new(false);
    let Some(docker) = connect(&progress).await else {
        return EXIT_STACK_FAILED;
    };
    for st in &loaded {
        progress.say(format!("images of stack {}", st.name));
        if let Err(e) = crate::runtime::images::ensure(&docker, st, &progress, force).await {
            eprintln!("error: {e}");
            return EXIT_STACK_FAILED;
        }
    }
    progress.say("all images present");
    EXIT_OK
}

async fn gc(all: bool) -> i32 {
    let progress = Progress::new(false);
    let Some(docker) = connect(&progress).await else {
        return EXIT_STACK_FAILED;
    };
    let runs = match docker.labelled_runs().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_STACK_FAILED;
        }
    };
    let dead: Vec<String> = runs
        .into_iter()
        .filter(|(_, pid)| all || !pid.is_some_and(process_alive))
        .map(|(run, _)| run)
        .collect();
    match docker.remove_runs(&dead).await {
        Ok(r) => {
            println!(
                "removed {} container(s), {} network(s), {} volume(s) of {} run(s)",
                r.containers,
                r.networks,
                r.volumes,
                dead.len()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_STACK_FAILED
        }
    }
}

/// Whether the process that labelled a run still exists (runs are made on this machine).
fn process_alive(pid: u32) -> bool {
    pid != 0 && Path::new(&format!("/proc/{pid}")).exists()
}
