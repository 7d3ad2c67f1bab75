//! Every file in `scenarios/` is its own test case, run by the real binary against real containers,
//! plus the lifecycle tests that prove nothing outlives a run (Ctrl-C, SIGTERM, SIGKILL + `gc`).
//!
//! These need a Docker engine. Without one they fail, and the binary's message says how to start one.
//! They run one at a time (each starts a whole stack; the machine has two cores) unless
//! `--test-threads` says otherwise.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kafka_harness::runtime::docker::Docker;
use libtest_mimic::{Arguments, Failed, Trial};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn harness() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kafka-harness"));
    c.current_dir(root());
    c
}

fn main() {
    let mut args = Arguments::from_args();
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let mut trials = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A scenario with a version matrix is one test case per entry: the default entries, or all
        // of them when KAFKA_HARNESS_MATRIX=all (the nightly selector).
        let all = std::env::var("KAFKA_HARNESS_MATRIX").is_ok_and(|v| v == "all");
        let matrix = kafka_harness::scenario::load_scenario(&file)
            .map(|s| s.matrix)
            .unwrap_or_default();
        if matrix.is_empty() {
            let (file, name) = (file.clone(), name.clone());
            trials.push(Trial::test(format!("scenario::{name}"), move || {
                run_scenario(&file, &name, None)
            }));
        }
        for entry in matrix.into_iter().filter(|e| all || !e.nightly) {
            let (file, name, label) = (file.clone(), name.clone(), entry.label());
            trials.push(Trial::test(
                format!("scenario::{name}[{label}]"),
                move || run_scenario(&file, &name, Some(&label)),
            ));
        }
    }
    trials.push(Trial::test("lifecycle::sigint_removes_everything", || {
        interrupted_run("INT")
    }));
    trials.push(Trial::test("lifecycle::sigterm_removes_everything", || {
        interrupted_run("TERM")
    }));
    trials.push(Trial::test("lifecycle::gc_after_sigkill", gc_after_sigkill));
    trials.push(Trial::test(
        "lifecycle::broker_that_cannot_start_is_named",
        broker_that_cannot_start,
    ));
    libtest_mimic::run(&args, trials).exit();
}

fn run_scenario(file: &Path, name: &str, entry: Option<&str>) -> Result<(), Failed> {
    let base_dir = root().join("target/scenario-reports").join(name);
    // A matrix entry's report sits in a folder named after it.
    let report_dir = entry.map_or_else(|| base_dir.clone(), |l| base_dir.join(l));
    let canary = kafka_harness::scenario::load_scenario(file)
        .map_err(|e| format!("{name}: {e}"))?
        .canary
        .enabled;
    let mut cmd = harness();
    cmd.arg("run").arg(file).arg("--report-dir").arg(&base_dir);
    if let Some(label) = entry {
        cmd.args(["--matrix", label]);
    }
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the harness: {e}"))?;
    let lines = echo_stderr(&mut child)?;
    // While the run lasts, the canary's endpoint must answer with Strimzi's metrics.
    let mut scraped = None;
    if canary {
        scraped = Some(scrape_during_the_run(&mut child, &lines));
    }
    std::thread::spawn(move || while lines.recv().is_ok() {});
    let status = child.wait().map_err(|e| e.to_string())?;
    let report = std::fs::read_to_string(report_dir.join("report.json")).unwrap_or_default();
    if let Some(label) = entry {
        // The matrix table names the entry and its verdict.
        let table = std::fs::read_to_string(base_dir.join("matrix.md")).unwrap_or_default();
        let (from, to) = label.split_once("-to-").unwrap_or((label, ""));
        if !table.contains(&format!("| {from} | {to} | default | pass |")) {
            return Err(
                format!("{name}: matrix.md lacks a passing row for {label}:\n{table}").into(),
            );
        }
        let page = std::fs::read_to_string(base_dir.join("matrix.html")).unwrap_or_default();
        if !page.contains(&format!("href=\"{label}/report.html\"")) {
            return Err(
                format!("{name}: matrix.html does not link {label}/report.html:\n{page}").into(),
            );
        }
    }
    if status.code() != Some(0) {
        return Err(format!("{name}: exit {status}; report: {report}").into());
    }
    let json: serde_json::Value =
        serde_json::from_str(&report).map_err(|e| format!("report.json: {e}"))?;
    if json["verdict"] != "pass" {
        return Err(format!("verdict is {}", json["verdict"]).into());
    }
    if let Some(scraped) = scraped {
        let url = scraped?;
        if scrape(&url).is_ok() {
            return Err(format!("{url} still answers after the run").into());
        }
        if json["canary"]["acked"].as_u64().unwrap_or(0) == 0 {
            return Err(format!(
                "report.json has no acknowledged canary record: {}",
                json["canary"]
            )
            .into());
        }
    }
    if json["registry"].is_object() {
        registry_read_back(&json["registry"])?;
    }
    html_renders(
        &report_dir.join("report.html"),
        json["producers"].as_array().is_some_and(|p| !p.is_empty()),
    )?;
    let run_id = json["run_id"].as_str().unwrap_or_default().to_owned();
    assert_nothing_left(&run_id)
}

/// report.html is one offline file under 2 MB that headless Chromium renders with its charts
/// drawn (non-empty SVG paths) and without a console message.
fn html_renders(html: &Path, has_producers: bool) -> Result<(), Failed> {
    let text = std::fs::read_to_string(html).map_err(|e| format!("{}: {e}", html.display()))?;
    if text.len() > 2 * 1024 * 1024 {
        return Err(format!("{} is {} bytes, over 2 MB", html.display(), text.len()).into());
    }
    for remote in ["src=\"http", "href=\"http", "url(http", "@import"] {
        if text.contains(remote) {
            return Err(format!(
                "{} loads something from the network ({remote})",
                html.display()
            )
            .into());
        }
    }
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()))
        .ok_or("no headless Chromium to render report.html: install Debian's `chromium` (`apt-get install -y chromium`), or run `bash .ci/run`, which does")?;
    let profile = tempfile::tempdir().map_err(|e| format!("a temporary folder: {e}"))?;
    let shot = profile.path().join("report.png");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1000,2400",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg("--dump-dom")
        .arg(format!(
            "file://{}",
            html.canonicalize().map_err(|e| e.to_string())?.display()
        ))
        .output()
        .map_err(|e| format!("cannot run {chromium}: {e}"))?;
    let dom = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    if let Some(line) = log
        .lines()
        .find(|l| l.contains(":CONSOLE(") || l.contains("Uncaught"))
    {
        return Err(format!("report.html logs to the console: {line}").into());
    }
    let charts = dom.matches("<svg class=\"chart\"").count();
    if !dom.contains("<svg class=\"timeline\"") || charts < 2 {
        return Err(format!(
            "Chromium's DOM of report.html has {charts} chart(s) and no timeline as expected:\n{}",
            &dom[..dom.len().min(2000)]
        )
        .into());
    }
    let drawn = dom
        .split("<path d=\"")
        .skip(1)
        .filter(|d| {
            d.split('"')
                .next()
                .is_some_and(|d| d.starts_with('M') && d.contains(' '))
        })
        .count();
    if has_producers && drawn == 0 {
        return Err("report.html draws no line: every chart path is empty".into());
    }
    Ok(())
}

/// A stack with a schema registry: its subjects and versions were read back from the registry's
/// API, and every version registered during the run is among them.
fn registry_read_back(registry: &serde_json::Value) -> Result<(), Failed> {
    let subjects = registry["subjects"]
        .as_object()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("report.json read no subject back from the registry: {registry}"))?;
    let registrations = registry["registrations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if registrations.is_empty() {
        return Err(format!("report.json lists no registration: {registry}").into());
    }
    for r in registrations {
        let subject = r["subject"].as_str().unwrap_or_default();
        if subjects
            .get(subject)
            .and_then(|v| v.as_array())
            .is_none_or(Vec::is_empty)
        {
            return Err(format!(
                "registered under {subject}, which the registry does not list: {registry}"
            )
            .into());
        }
    }
    Ok(())
}

/// Echoes the child's stderr (so a failing run shows its progress) and hands every line over.
fn echo_stderr(child: &mut Child) -> Result<mpsc::Receiver<String>, Failed> {
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("{line}");
            let _ = tx.send(line);
        }
    });
    Ok(rx)
}

/// Waits for the canary's URL and the end of its warm-up (every partition acknowledged once), then
/// scrapes the endpoint while the run is still going. Returns the URL.
fn scrape_during_the_run(
    child: &mut Child,
    lines: &mpsc::Receiver<String>,
) -> Result<String, Failed> {
    let mut url = None;
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(900))
            .map_err(|_| "the run never said that its canary was warm")?;
        if let Some(u) = line.split("canary metrics: ").nth(1) {
            url = Some(u.trim().to_owned());
        }
        if line.contains("] canary: topic ") {
            break;
        }
    }
    let url = url.ok_or("no `canary metrics: URL` line before the canary was warm")?;
    let text = scrape(&url).map_err(|e| format!("GET {url} during the run: {e}"))?;
    if child.try_wait().map_err(|e| e.to_string())?.is_some() {
        return Err("the run was over before the scrape: it proves nothing".into());
    }
    for family in [
        "strimzi_canary_records_produced_total",
        "strimzi_canary_records_produced_failed_total",
        "strimzi_canary_records_produced_latency",
        "strimzi_canary_records_consumed_total",
        "strimzi_canary_records_consumed_latency",
        "strimzi_canary_consumer_error_total",
        "kafka_harness_canary_availability_ratio",
    ] {
        if !text
            .lines()
            .any(|l| l.starts_with(&format!("# TYPE {family} ")))
        {
            return Err(format!("{url} lacks {family}:\n{text}").into());
        }
    }
    let produced: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("strimzi_canary_records_produced_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    if produced.is_empty() || produced.iter().any(|n| *n < 1.0) {
        return Err(format!("after the warm-up, a partition has produced nothing:\n{text}").into());
    }
    if !text.contains("strimzi_canary_records_produced_latency_bucket{clientid=\"kafka-harness-canary\",partition=\"0\",le=\"100\"}") {
        return Err(format!("no Strimzi bucket le=100 for partition 0:\n{text}").into());
    }
    Ok(url)
}

/// `GET url` over a plain TCP connection; the body of a 200 answer.
fn scrape(url: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("not an http URL")?;
    let (host, path) = rest.split_once('/').ok_or("no path")?;
    let mut s = std::net::TcpStream::connect(host).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    let (head, body) = answer.split_once("\r\n\r\n").ok_or("no header end")?;
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(format!(
            "answered {}",
            head.lines().next().unwrap_or_default()
        ));
    }
    Ok(body.to_owned())
}

/// Starts the smoke scenario and returns the child once its brokers are starting, with its run id.
fn start_and_wait_for_brokers() -> Result<(Child, String), Failed> {
    let mut child = harness()
        .args(["run", "scenarios/smoke.yaml", "--report-dir"])
        .arg(root().join("target/scenario-reports/lifecycle"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the harness: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("  | {line}");
            let _ = tx.send(line);
        }
    });
    let mut run_id = None;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(900))
            .map_err(|_| "the run never reached its brokers")?;
        if let Some(rest) = line.split("] run ").nth(1) {
            run_id = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.contains("starting Kafka") {
            break;
        }
        if line.contains("error:") {
            let _ = child.kill();
            return Err(format!("the run failed before its brokers started: {line}").into());
        }
    }
    // keep draining stderr so the child never blocks on a full pipe
    std::thread::spawn(move || while rx.recv().is_ok() {});
    Ok((child, run_id.ok_or("no run id printed")?))
}

fn interrupted_run(signal: &str) -> Result<(), Failed> {
    let (mut child, run_id) = start_and_wait_for_brokers()?;
    assert_something_left(&run_id)?;
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .map_err(|e| format!("kill: {e}"))?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.code() != Some(130) {
        return Err(format!("expected exit 130 after SIG{signal}, got {status}").into());
    }
    assert_nothing_left(&run_id)
}

fn gc_after_sigkill() -> Result<(), Failed> {
    let (mut child, run_id) = start_and_wait_for_brokers()?;
    child.kill().map_err(|e| e.to_string())?; // SIGKILL: no chance to clean up
    child.wait().map_err(|e| e.to_string())?;
    assert_something_left(&run_id)?;
    let out = harness().arg("gc").output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("gc failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    assert_nothing_left(&run_id)
}

/// A production setting the broker rejects: the run must stop with exit 3, name the node, show the
/// broker's own complaint from its log, and still remove everything.
fn broker_that_cannot_start() -> Result<(), Failed> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("server.properties"),
        "num.io.threads=eight\n",
    )
    .map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("stack.yaml"),
        "name: broken\nzookeeper: { version: \"3.8.4\" }\nkafka:\n  version: \"3.7.2\"\n  server_properties: server.properties\n",
    )
    .map_err(|e| e.to_string())?;
    let scenario = dir.path().join("scenario.yaml");
    std::fs::write(
        &scenario,
        "name: broken\nstack: stack.yaml\nsteps:\n  - wait: { duration: 1s }\n",
    )
    .map_err(|e| e.to_string())?;
    let out = harness()
        .arg("run")
        .arg(&scenario)
        .arg("--report-dir")
        .arg(dir.path().join("report"))
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(3) {
        return Err(format!("expected exit 3, got {}: {err}", out.status).into());
    }
    for needle in [
        "kafka-1 exited with code",
        "last lines of kafka-1's log",
        "Invalid value eight",
    ] {
        if !err.contains(needle) {
            return Err(format!("stderr lacks `{needle}`: {err}").into());
        }
    }
    // The preflight saw it coming, and the log scanner names it from the broker's own log.
    let report = std::fs::read_to_string(dir.path().join("report/report.json"))
        .map_err(|e| format!("report.json: {e}"))?;
    let json: serde_json::Value =
        serde_json::from_str(&report).map_err(|e| format!("report.json: {e}"))?;
    let flagged = json["preflight"]["findings"].as_array().is_some_and(|f| {
        f.iter()
            .any(|f| f["kind"] == "invalid_value" && f["key"] == "num.io.threads")
    });
    let logged = json["log_scan"]["groups"].as_array().is_some_and(|g| {
        g.iter().any(|g| {
            g["kind"] == "invalid_config"
                && g["node"] == "kafka-1"
                && g["subject"] == "num.io.threads"
        })
    });
    if !flagged || !logged {
        return Err(format!(
            "preflight flagged it: {flagged}, log scan named it: {logged}; report: {report}"
        )
        .into());
    }
    let run_id = err
        .split("] run ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .ok_or("no run id printed")?;
    assert_nothing_left(run_id)
}

fn labelled_runs() -> Result<Vec<String>, Failed> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let docker = Docker::connect().await.map_err(|e| e.to_string())?;
        let runs = docker.labelled_runs().await.map_err(|e| e.to_string())?;
        Ok(runs.into_keys().collect())
    })
}

fn assert_nothing_left(run_id: &str) -> Result<(), Failed> {
    if labelled_runs()?.iter().any(|r| r == run_id) {
        return Err(
            format!("containers, networks or volumes of run {run_id} are still there").into(),
        );
    }
    Ok(())
}

fn assert_something_left(run_id: &str) -> Result<(), Failed> {
    if !labelled_runs()?.iter().any(|r| r == run_id) {
        return Err(
            format!("run {run_id} has nothing running: the test would prove nothing").into(),
        );
    }
    Ok(())
}
