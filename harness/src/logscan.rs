//! The log scanner: every component container's log (ZooKeeper, brokers, the one-shot bootstrap,
//! and the containers a rolling upgrade replaced, which `runtime::logs` kept before their
//! removal), read with Docker's timestamps, turned into grouped and counted ERROR/WARN entries,
//! each tied to the step during which it appeared. Recognizers name the usual upgrade failures; a
//! broker's own list of its config values (`KafkaConfig values:` at start-up) tells which
//! production keys it ignored.
//!
//! Collecting is async (Docker); scanning is a plain function over the collected text.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::runtime::logs::{keep_all, ContainerLog};
use crate::runtime::stack::Run;
use crate::scenario::LogKind;

/// Most groups a report lists; the rest are counted.
pub const MAX_GROUPS: usize = 40;
/// Continuation lines (a stack trace) read into one entry.
const MAX_CONTINUATION: usize = 40;
const SAMPLE_CHARS: usize = 300;

/// Keeps the log of every container still there, then scans all kept logs.
pub async fn scan_run(
    run: &Run,
    scenario: &crate::scenario::Scenario,
    steps: &[crate::outcome::StepOutcome],
    epoch_unix_s: f64,
    redactor: &crate::secrets::Credentials,
) -> LogScan {
    keep_all(&run.docker, &run.id, &run.logs).await;
    let logs = run.logs.lock().map(|l| l.clone()).unwrap_or_default();
    let windows: Vec<StepWindow> = steps
        .iter()
        .map(|s| StepWindow {
            label: s.step.clone(),
            started_at_s: s.started_at_s,
        })
        .collect();
    let settings = crate::preflight::Settings::of_stack(&scenario.stack);
    let production_keys: Vec<String> = settings
        .user
        .iter()
        .map(|(k, _, _)| k.clone())
        .filter(|k| !settings.owned.contains(k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let redact = |s: &str| redactor.redact(s);
    scan(
        &logs,
        &ScanContext {
            epoch_unix_s,
            steps: &windows,
            production_keys: &production_keys,
            redact: &redact,
        },
    )
}

/// Entries of one kind, from one node, during one step, saying the same thing.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LogGroup {
    pub kind: LogKind,
    /// ERROR, WARN or FATAL as logged (INFO for a broker's config listing).
    pub level: String,
    pub node: String,
    pub count: usize,
    /// Seconds since the run started.
    pub first_at_s: f64,
    pub last_at_s: f64,
    /// The 1-based step during which it first appeared; absent before the first step (start-up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// That step's label, or `start-up`.
    pub during: String,
    /// The key or class named, when the recognizer found one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The first such line, redacted and shortened.
    pub sample: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LogScan {
    /// Container logs read (replaced containers included).
    pub containers: usize,
    pub lines: usize,
    /// Entries per kind, over every group (also those left out).
    pub counts: BTreeMap<String, usize>,
    /// Most severe kinds first, at most `MAX_GROUPS`.
    pub groups: Vec<LogGroup>,
    pub groups_left_out: usize,
}

impl LogScan {
    /// Groups of one of `kinds`, most severe first.
    pub fn of_kinds<'a>(&'a self, kinds: &'a [LogKind]) -> impl Iterator<Item = &'a LogGroup> {
        self.groups.iter().filter(|g| kinds.contains(&g.kind))
    }
}

/// A step's place on the run's timeline.
#[derive(Debug, Clone)]
pub struct StepWindow {
    pub label: String,
    /// Seconds since the run started.
    pub started_at_s: f64,
}

/// What a scan needs besides the logs.
pub struct ScanContext<'a> {
    /// Unix time of the run's time origin, in seconds.
    pub epoch_unix_s: f64,
    pub steps: &'a [StepWindow],
    /// Broker keys production sets (the harness's own left out): each must be among a broker's
    /// config values, else the broker ignored it.
    pub production_keys: &'a [String],
    pub redact: &'a dyn Fn(&str) -> String,
}

struct Entry<'t> {
    at_s: f64,
    level: &'t str,
    first: &'t str,
    rest: Vec<&'t str>,
}

impl std::fmt::Debug for ScanContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScanContext")
            .field("epoch_unix_s", &self.epoch_unix_s)
            .field("steps", &self.steps)
            .field("production_keys", &self.production_keys)
            .finish_non_exhaustive()
    }
}

/// Scans every log and groups what it found.
pub fn scan(logs: &[ContainerLog], cx: &ScanContext<'_>) -> LogScan {
    let mut out = LogScan {
        containers: logs.len(),
        ..LogScan::default()
    };
    let mut groups: BTreeMap<(LogKind, String, Option<usize>, String), LogGroup> = BTreeMap::new();
    let mut add =
        |kind: LogKind, level: &str, node: &str, at_s: f64, subject: Option<String>, line: &str| {
            let step = step_at(cx.steps, at_s);
            let shape = subject.clone().unwrap_or_else(|| shape(line));
            let g = groups
                .entry((kind, node.to_owned(), step, shape))
                .or_insert_with(|| LogGroup {
                    kind,
                    level: level.to_owned(),
                    node: node.to_owned(),
                    count: 0,
                    first_at_s: at_s,
                    last_at_s: at_s,
                    step: step.map(|i| i + 1),
                    during: step
                        .map_or_else(|| "start-up".to_owned(), |i| cx.steps[i].label.clone()),
                    subject,
                    sample: shorten(&(cx.redact)(line.trim())),
                });
            g.count += 1;
            g.last_at_s = g.last_at_s.max(at_s);
        };
    for log in logs {
        let lines: Vec<(f64, &str)> = log
            .text
            .lines()
            .map(|l| split_timestamp(l, cx.epoch_unix_s))
            .collect();
        out.lines += lines.len();
        for e in entries(&lines) {
            for (kind, subject) in recognize(e.first, &e.rest) {
                add(kind, e.level, &log.node, e.at_s, subject, e.first);
            }
        }
        for (at_s, key) in ignored_keys(&lines, cx.production_keys) {
            let line = format!(
                "{key} is set by production, but the broker does not list it among its own config values (KafkaConfig values): the broker ignores it (only a plugin could read it)"
            );
            add(
                LogKind::IgnoredConfig,
                "INFO",
                &log.node,
                at_s,
                Some(key),
                &line,
            );
        }
    }
    let mut all: Vec<LogGroup> = groups.into_values().collect();
    for g in &all {
        *out.counts.entry(g.kind.name().to_owned()).or_default() += g.count;
    }
    all.sort_by(|a, b| {
        (a.kind, a.first_at_s)
            .partial_cmp(&(b.kind, b.first_at_s))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    out.groups_left_out = all.len().saturating_sub(MAX_GROUPS);
    all.truncate(MAX_GROUPS);
    out.groups = all;
    out
}

/// The 0-based step running at `at_s`: the last one started by then.
fn step_at(steps: &[StepWindow], at_s: f64) -> Option<usize> {
    steps.iter().rposition(|s| s.started_at_s <= at_s)
}

/// Docker's `2026-01-02T03:04:05.123456789Z ` prefix, as seconds since the run's origin.
fn split_timestamp(line: &str, epoch_unix_s: f64) -> (f64, &str) {
    match line.split_once(' ') {
        Some((ts, rest)) => match parse_rfc3339(ts) {
            Some(t) => (t - epoch_unix_s, rest),
            None => (0.0, line),
        },
        None => (0.0, line),
    }
}

/// Seconds since the Unix epoch of a UTC RFC 3339 time as Docker writes it.
pub fn parse_rfc3339(ts: &str) -> Option<f64> {
    let ts = ts.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + s) as f64 + frac)
}

/// Where a log4j/logback line starts: `[2026-...` (Kafka) or `2026-...` (ZooKeeper).
fn starts_entry(line: &str) -> bool {
    let l = line.trim_start_matches('[');
    l.len() > 10 && l.as_bytes()[..4].iter().all(u8::is_ascii_digit) && l.as_bytes()[4] == b'-'
}

/// The level of a line that starts an entry, if it is one worth keeping.
fn level_of(line: &str) -> Option<&str> {
    line.split_whitespace()
        .take(8)
        .find(|t| matches!(*t, "ERROR" | "WARN" | "FATAL"))
}

/// ERROR/WARN entries with their continuation lines (stack traces, causes).
fn entries<'t>(lines: &[(f64, &'t str)]) -> Vec<Entry<'t>> {
    let mut out: Vec<Entry<'t>> = Vec::new();
    let mut open = false;
    for &(at_s, line) in lines {
        if starts_entry(line) {
            open = false;
            if let Some(level) = level_of(line) {
                out.push(Entry {
                    at_s,
                    level,
                    first: line,
                    rest: Vec::new(),
                });
                open = true;
            }
        } else if open {
            if let Some(e) = out.last_mut() {
                if e.rest.len() < MAX_CONTINUATION {
                    e.rest.push(line);
                }
            }
        }
    }
    out
}

/// The kinds of an entry, each with the key or class it names: one, or for a fatal start-up error
/// `failed_to_start` and then its cause when the trace names one (a missing class, a refused
/// setting, a version mismatch).
pub fn recognize(first: &str, rest: &[&str]) -> Vec<(LogKind, Option<String>)> {
    let fatal = std::iter::once(first)
        .chain(rest.iter().copied())
        .any(|l| l.contains("Fatal error during"))
        || first.contains("Exiting Kafka");
    let cause = cause(first, rest);
    if fatal {
        let mut out = vec![(LogKind::FailedToStart, None)];
        out.extend(cause);
        return out;
    }
    vec![cause.unwrap_or_else(|| {
        if matches!(level_of(first), Some("ERROR" | "FATAL")) {
            (LogKind::Error, None)
        } else {
            (LogKind::Warning, None)
        }
    })]
}

/// The specific kind an entry's lines show, if any.
fn cause(first: &str, rest: &[&str]) -> Option<(LogKind, Option<String>)> {
    let all = || std::iter::once(first).chain(rest.iter().copied());
    let find = |needle: &str| all().find(|l| l.contains(needle));
    if let Some(c) = all().find_map(class_not_found) {
        return Some((LogKind::ClassNotFound, Some(c)));
    }
    for needle in [
        "was supplied but isn't a known config",
        "were supplied but are not used yet",
        "Unknown configuration",
    ] {
        if let Some(l) = find(needle) {
            return Some((LogKind::UnknownConfig, quoted(l)));
        }
    }
    for needle in [
        "UnsupportedVersionException",
        "inter.broker.protocol.version",
        "metadata.version",
        "IBP",
        "unsupported version",
    ] {
        if find(needle).is_some() {
            return Some((LogKind::ProtocolMismatch, None));
        }
    }
    find("ConfigException")
        .or_else(|| find("Invalid value"))
        .map(|l| (LogKind::InvalidConfig, invalid_key(l)))
}

fn class_not_found(line: &str) -> Option<String> {
    for marker in [
        "ClassNotFoundException: ",
        "NoClassDefFoundError: ",
        "Could not find class ",
    ] {
        if let Some(rest) = line.split(marker).nth(1) {
            let class = rest
                .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
                .next()
                .unwrap_or_default()
                .replace('/', ".");
            return Some(class);
        }
    }
    // ConfigDef's wording: "Invalid value x for configuration k: Class x could not be found."
    let (_, rest) = line.split_once("Class ")?;
    let (class, tail) = rest.split_once(' ')?;
    (tail.starts_with("could not be found") || tail.starts_with("cannot be found"))
        .then(|| class.to_owned())
}

fn quoted(line: &str) -> Option<String> {
    let start = line.find('\'')? + 1;
    let len = line[start..].find('\'')?;
    Some(line[start..start + len].to_owned())
}

fn invalid_key(line: &str) -> Option<String> {
    let rest = line.split("for configuration ").nth(1)?;
    Some(
        rest.split(|c: char| c == ':' || c.is_whitespace())
            .next()?
            .to_owned(),
    )
}

/// A line with its numbers and the log's own timestamp taken out: repeats group together.
fn shape(line: &str) -> String {
    let body = line
        .split_once("] ")
        .filter(|_| line.starts_with('['))
        .map_or(line, |(_, b)| b);
    let mut out = String::new();
    let mut in_num = false;
    for c in body.chars().take(200) {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('#');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= SAMPLE_CHARS {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(SAMPLE_CHARS).collect();
        t.push('…');
        t
    }
}

/// Production keys missing from each `KafkaConfig values:` listing of a broker's log (one per
/// start), with the listing's time. Per-listener keys are never listed, so they are not judged.
fn ignored_keys(lines: &[(f64, &str)], production: &[String]) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (at_s, line) = lines[i];
        i += 1;
        if !line.contains("KafkaConfig values:") {
            continue;
        }
        let mut listed = BTreeSet::new();
        while i < lines.len() && lines[i].1.starts_with('\t') {
            if let Some((k, _)) = lines[i].1.trim().split_once(" = ") {
                listed.insert(k.to_owned());
            }
            i += 1;
        }
        for k in production {
            if !k.starts_with("listener.name.") && !listed.contains(k) {
                out.push((at_s, k.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: f64 = 1_800_000_000.0;

    fn ts(at_s: f64) -> String {
        // 2027-01-15T08:00:00Z is EPOCH.
        let whole = at_s.floor();
        let frac = ((at_s - whole) * 1e9).round() as u64;
        let s = 8 * 3600 + whole as i64;
        format!(
            "2027-01-15T{:02}:{:02}:{:02}.{frac:09}Z",
            s / 3600,
            (s / 60) % 60,
            s % 60
        )
    }

    fn log(node: &str, lines: &[(f64, &str)]) -> ContainerLog {
        ContainerLog {
            node: node.to_owned(),
            container: format!("kh-x-{node}"),
            text: lines
                .iter()
                .map(|(t, l)| format!("{} {l}\n", ts(*t)))
                .collect(),
        }
    }

    fn steps() -> Vec<StepWindow> {
        vec![
            StepWindow {
                label: "wait 5s".into(),
                started_at_s: 10.0,
            },
            StepWindow {
                label: "rolling upgrade of kafka to 3.9.1".into(),
                started_at_s: 15.0,
            },
        ]
    }

    fn run_scan(logs: &[ContainerLog], keys: &[&str]) -> LogScan {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        let steps = steps();
        let redact = |s: &str| s.replace("hunter2", "[redacted]");
        scan(
            logs,
            &ScanContext {
                epoch_unix_s: EPOCH,
                steps: &steps,
                production_keys: &keys,
                redact: &redact,
            },
        )
    }

    #[test]
    fn timestamps_parse_to_unix_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339("2027-01-15T08:00:00.5Z"), Some(EPOCH + 0.5));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Some(1_709_208_000.0));
        assert_eq!(parse_rfc3339("not a time"), None);
    }

    #[test]
    fn a_fatal_start_with_a_missing_class_is_named_and_tied_to_its_step() {
        let l = log(
            "kafka-1",
            &[
                (2.0, "[2027-01-15 08:00:02,000] INFO starting (kafka.server.KafkaServer)"),
                (16.0, "[2027-01-15 08:00:16,000] ERROR Fatal error during KafkaServer startup. Prepare to shutdown (kafka.server.KafkaServer)"),
                (16.0, "org.apache.kafka.common.config.ConfigException: Invalid value com.example.Gone for configuration principal.builder.class: Class com.example.Gone could not be found."),
                (16.0, "\tat org.apache.kafka.common.config.ConfigDef.parseType(ConfigDef.java:744)"),
                (16.5, "[2027-01-15 08:00:16,500] INFO shut down completed (kafka.server.KafkaServer)"),
            ],
        );
        let s = run_scan(&[l], &[]);
        assert_eq!(s.groups.len(), 2, "{s:#?}");
        assert_eq!(s.groups[0].kind, LogKind::FailedToStart);
        let g = &s.groups[1];
        assert_eq!(g.kind, LogKind::ClassNotFound);
        assert_eq!(g.subject.as_deref(), Some("com.example.Gone"));
        assert_eq!(g.step, Some(2));
        assert_eq!(g.during, "rolling upgrade of kafka to 3.9.1");
        assert!((g.first_at_s - 16.0).abs() < 1e-6);
        assert_eq!(s.counts.get("class_not_found"), Some(&1));
    }

    #[test]
    fn recognizers_name_the_usual_upgrade_failures() {
        let cases = [
            ("[t] WARN The configuration 'zookeeper.sync.time.ms' was supplied but isn't a known config. (org.apache.kafka.clients.admin.AdminClientConfig)", LogKind::UnknownConfig, Some("zookeeper.sync.time.ms")),
            ("[t] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)", LogKind::FailedToStart, None),
            ("[t] WARN Received UnsupportedVersionException from node 2 (kafka.server.BrokerToControllerRequestThread)", LogKind::ProtocolMismatch, None),
            ("[t] ERROR Invalid value 9.9 for configuration inter.broker.protocol.version (kafka.Kafka$)", LogKind::ProtocolMismatch, None),
            ("[t] ERROR Invalid value -5 for configuration num.io.threads: Value must be at least 1 (kafka.Kafka$)", LogKind::InvalidConfig, Some("num.io.threads")),
            ("[t] WARN java.lang.ClassNotFoundException: kafka.security.authorizer.AclAuthorizer", LogKind::ClassNotFound, Some("kafka.security.authorizer.AclAuthorizer")),
            ("[t] ERROR Connection to node 3 failed (org.apache.kafka.clients.NetworkClient)", LogKind::Error, None),
            ("[t] WARN Session 0x1 expired (org.apache.zookeeper.ClientCnxn)", LogKind::Warning, None),
        ];
        for (line, kind, subject) in cases {
            let found = recognize(line, &[]);
            let found: Vec<_> = found.iter().map(|(k, s)| (*k, s.as_deref())).collect();
            assert_eq!(found, vec![(kind, subject)], "{line}");
        }
        // a fatal start names its cause too, from the trace that follows
        let found = recognize(
            "[t] ERROR Exiting Kafka due to fatal exception (kafka.Kafka$)",
            &["org.apache.kafka.common.config.ConfigException: Invalid value eight for configuration num.io.threads: Not a number of type INT"],
        );
        assert_eq!(
            found,
            vec![
                (LogKind::FailedToStart, None),
                (LogKind::InvalidConfig, Some("num.io.threads".to_owned()))
            ]
        );
    }

    #[test]
    fn repeats_group_and_count_and_the_report_never_floods() {
        let mut lines = Vec::new();
        let texts: Vec<String> = (0..500)
            .map(|i| format!("[2027-01-15 08:00:20,000] WARN Connection to node {i} could not be established (org.apache.kafka.clients.NetworkClient)"))
            .collect();
        for t in &texts {
            lines.push((20.0, t.as_str()));
        }
        let distinct: Vec<String> = (0..100)
            .map(|i| {
                format!(
                    "[2027-01-15 08:00:21,000] ERROR distinct failure kind-{} here (x)",
                    "abcdefghijklmnopqrstuvwxyz"
                        .chars()
                        .nth(i % 26)
                        .expect("test fixture")
                        .to_string()
                        .repeat(i / 26 + 1)
                )
            })
            .collect();
        let only_warnings = run_scan(&[log("kafka-2", &lines)], &[]);
        assert_eq!(
            only_warnings.groups.len(),
            1,
            "numbers do not split a group"
        );
        assert_eq!(only_warnings.groups[0].count, 500);
        for t in &distinct {
            lines.push((21.0, t.as_str()));
        }
        let s = run_scan(&[log("kafka-2", &lines)], &[]);
        assert_eq!(s.groups.len(), MAX_GROUPS);
        assert_eq!(s.groups_left_out, 101 - MAX_GROUPS);
        assert_eq!(s.counts["error"], 100);
        assert_eq!(s.counts["warning"], 500);
        // most severe first: errors before warnings
        assert_eq!(s.groups[0].kind, LogKind::Error);
    }

    #[test]
    fn lines_before_the_first_step_belong_to_start_up_and_secrets_are_redacted() {
        let l = log(
            "zookeeper-1",
            &[(
                1.0,
                "2027-01-15 08:00:01,000 [myid:1] - ERROR [main:Foo] - bad password hunter2",
            )],
        );
        let s = run_scan(&[l], &[]);
        let g = &s.groups[0];
        assert_eq!(g.step, None);
        assert_eq!(g.during, "start-up");
        assert_eq!(g.level, "ERROR");
        assert!(!g.sample.contains("hunter2"), "{}", g.sample);
    }

    #[test]
    fn production_keys_a_broker_does_not_list_are_ignored_config() {
        let l = log(
            "kafka-1",
            &[
                (3.0, "[2027-01-15 08:00:03,000] INFO KafkaConfig values: "),
                (3.0, "\tnum.io.threads = 8"),
                (3.0, "\tzookeeper.sync.time.ms = 2000"),
                (
                    3.0,
                    "[2027-01-15 08:00:03,100] INFO started (kafka.server.KafkaServer)",
                ),
                (17.0, "[2027-01-15 08:00:17,000] INFO KafkaConfig values: "),
                (17.0, "\tnum.io.threads = 8"),
                (
                    17.0,
                    "[2027-01-15 08:00:17,100] INFO started (kafka.server.KafkaServer)",
                ),
            ],
        );
        let s = run_scan(
            &[l],
            &[
                "num.io.threads",
                "zookeeper.sync.time.ms",
                "listener.name.a.b.c",
            ],
        );
        let ignored: Vec<_> = s.of_kinds(&[LogKind::IgnoredConfig]).collect();
        assert_eq!(ignored.len(), 1, "{s:#?}");
        assert_eq!(
            ignored[0].subject.as_deref(),
            Some("zookeeper.sync.time.ms")
        );
        assert_eq!(ignored[0].step, Some(2), "the listing after the upgrade");
    }
}
