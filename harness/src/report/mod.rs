//! Reports: report.json (everything, for machines), report.md (for a reviewer), report.html (the
//! run over time, for a person), junit.xml (for CI). All are rendered from the same `Report`; none
//! ever holds a password.

mod canary;
pub mod diff;
pub mod html;
pub mod junit;
pub mod markdown;
mod routing;
mod switches;

use std::path::Path;

use serde::Serialize;

use crate::checks::evaluate::{checks_pass, CheckResult};
use crate::checks::integrity::Semantics;
use crate::components::kafka::Overridden;
use crate::load::producer::ProducerStats;
use crate::load::{ConsumerResult, LoadResults};
use crate::outcome::{Status, StepOutcome};
use crate::plan::PlannedNode;
use crate::probes::canary::CanaryReport;
use crate::secrets::Credentials;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The stack never came up; no step ran.
    Error,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub schema_version: u32,
    pub scenario: String,
    pub scenario_file: String,
    pub stack: String,
    pub run_id: String,
    pub verdict: Verdict,
    pub duration_s: f64,
    pub nodes: Vec<PlannedNode>,
    pub overridden: Vec<Overridden>,
    pub steps: Vec<StepOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Declared delivery semantics (decide whether duplicates and reordering fail).
    pub semantics: Semantics,
    /// Checks the scenario declared must fail (a planted defect).
    pub expect_fail: Vec<String>,
    pub checks: Vec<CheckResult>,
    pub producers: Vec<ProducerStats>,
    /// Per consumer: integrity verdict of its group and its lag series.
    pub consumers: Vec<ConsumerResult>,
    /// Every error seen by the load, with the time since the run started.
    pub errors: Vec<TimedErrorLine>,
    /// The version each node reported itself, once the stack was up and at the end of the run.
    pub versions: Vec<NodeVersions>,
    /// Where the wall time went.
    pub timing: Timing,
    /// Production's broker settings against the releases of the upgrade path, before anything
    /// started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight: Option<crate::preflight::Preflight>,
    /// ERROR/WARN entries of every component's log, grouped, counted and tied to their step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_scan: Option<crate::logscan::LogScan>,
    /// What the canary probe saw; absent when the scenario turned it off or the stack never came up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryReport>,
    /// The schema registry: when it did not answer, its subjects and versions at the end, and the
    /// versions registered during the run; absent when the stack has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<crate::probes::registry::RegistryReport>,
    /// Canary routing of a consumer service: phases, promotion, who handled what.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routing: Option<crate::checks::routing::RoutingReport>,
    /// Under-replicated partitions of the cluster, sampled once a second while the steps ran.
    pub under_replicated: Vec<crate::probes::replication::ReplicationSample>,
    /// Blue/green: green's lag behind blue per replicated partition, sampled once a second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror_lag: Option<crate::probes::mirror_lag::MirrorLag>,
    /// Blue/green: what each switch of a client did.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub switches: Vec<crate::load::switch::SwitchReport>,
    /// Applications writing to the stack's PostgreSQL.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub postgres_writers: Vec<crate::load::postgres_writer::WriterStats>,
    /// Each writer's changes reconciled with its table's Debezium topic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cdc: Vec<crate::load::cdc::CdcIntegrity>,
    /// Each ClickHouse table compared with PostgreSQL's rows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub clickhouse: Vec<crate::load::cdc::ClickHouseIntegrity>,
}

/// Where the run's wall time went: the harness's own work before and after, waiting on the
/// components to come up, and the steps (waiting on the components and the declared waits; the
/// harness's own time between rolled nodes is in each rolling upgrade's evidence).
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Timing {
    /// Config preflight and image checks or builds, before anything starts (the harness's own).
    pub preparing_s: f64,
    /// Starting the stack and creating topics: waiting on the components.
    pub stack_start_s: f64,
    /// Running the steps.
    pub steps_s: f64,
    /// Stopping load and canary, reading versions back, checks and log scan (the harness's own).
    pub wrap_up_s: f64,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NodeVersions {
    pub node: String,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TimedErrorLine {
    pub at_s: f64,
    pub source: String,
    pub error: String,
}

impl Verdict {
    /// The verdict as every reporter shows it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Error => "ERROR",
        }
    }
}

impl Report {
    /// Pass when every step passed and the checks came out as declared: all passing, or exactly
    /// the `expect.fail` ones failing.
    pub fn decide(&self, expect_fail: &[String]) -> Verdict {
        if self.steps.iter().all(StepOutcome::as_declared) && checks_pass(&self.checks, expect_fail)
        {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    /// Takes the load's results, with every error message redacted and put on one timeline.
    pub fn set_load(&mut self, results: LoadResults, creds: &Credentials) {
        let mut errors = Vec::new();
        for p in &results.producers {
            for e in &p.errors {
                errors.push(TimedErrorLine {
                    at_s: e.at_s,
                    source: format!("producer {}", p.name),
                    error: format!("{} (x{})", creds.redact(&e.error), e.count),
                });
            }
        }
        for w in &results.postgres_writers {
            for e in &w.errors {
                errors.push(TimedErrorLine {
                    at_s: e.at_s,
                    source: format!("writer {}", w.name),
                    error: format!("{} (x{})", creds.redact(&e.error), e.count),
                });
            }
        }
        for c in &results.consumers {
            for e in &c.errors {
                errors.push(TimedErrorLine {
                    at_s: e.at_s,
                    source: format!("consumer {}", c.name),
                    error: creds.redact(&e.error),
                });
            }
        }
        let routing = results.routing.map(|mut r| {
            for (_, e) in &mut r.errors {
                *e = creds.redact(e);
            }
            r
        });
        if let Some(r) = &routing {
            for (at_s, e) in &r.errors {
                errors.push(TimedErrorLine {
                    at_s: *at_s,
                    source: format!("router {}", r.router),
                    error: e.clone(),
                });
            }
        }
        errors.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        self.errors = errors;
        self.producers = results.producers;
        self.consumers = results.consumers;
        self.routing = routing;
        self.switches = results.switches;
        self.postgres_writers = results.postgres_writers;
        self.cdc = results.cdc;
        self.clickhouse = results.clickhouse;
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json + "\n")?;
        std::fs::write(dir.join("report.md"), markdown::render(self))?;
        std::fs::write(dir.join("report.html"), html::render(self))?;
        std::fs::write(dir.join("junit.xml"), junit::render(self))
    }

    pub fn summary(&self) -> String {
        let passed = self
            .steps
            .iter()
            .filter(|s| s.status == Status::Pass)
            .count();
        let verdict = self.verdict.word();
        let mut s = format!(
            "{verdict}: scenario {} — {passed}/{} steps passed in {:.0}s (run {})",
            self.scenario,
            self.steps.len(),
            self.duration_s,
            self.run_id
        );
        let t = &self.timing;
        s.push_str(&format!(
            "\n  time: {:.1}s preparing (preflight, images), {:.1}s starting the stack, {:.1}s in steps, {:.1}s checks and logs",
            t.preparing_s, t.stack_start_s, t.steps_s, t.wrap_up_s
        ));
        for c in &self.checks {
            s.push_str(&format!(
                "\n  check {}: {} — {}",
                c.name,
                c.outcome(),
                c.evidence
            ));
        }
        for step in self.steps.iter().filter(|s| s.status == Status::Fail) {
            s.push_str(&format!(
                "\n  {} step {}: {} — {}",
                if step.expected_to_fail {
                    "failed as expected:"
                } else {
                    "failed"
                },
                step.index + 1,
                step.step,
                step.detail
            ));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!("\n  {e}"));
        }
        s
    }
}

/// One line on the schema registry for the progress output: availability and what it holds.
pub fn registry_line(r: &crate::probes::registry::RegistryReport) -> String {
    let down: u64 = r.windows.iter().map(|w| w.duration_ms).sum();
    let subjects = if r.subjects.is_empty() {
        r.subjects_error.as_deref().map_or_else(
            || "no subjects".to_owned(),
            |e| format!("subjects unknown ({e})"),
        )
    } else {
        r.subjects
            .iter()
            .map(|(s, v)| format!("{s} versions {v:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "schema registry: {} probe(s), unavailable {:.1}s in {} window(s); {subjects}",
        r.probes,
        down as f64 / 1000.0,
        r.windows.len()
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::checks::evaluate::{CheckResult, CheckStatus};
    use crate::checks::integrity::{Ledger, RecordId};
    use crate::checks::lag::{LagSample, LagSeries, LagStatus};
    use crate::load::producer::Latency;

    /// A small finished run: one lost record (expected by the scenario), one lag bound exceeded.
    fn report() -> Report {
        let mut ledger = Ledger::new();
        for seq in 0..3 {
            ledger.acked(
                RecordId { producer: 0, seq },
                0,
                i64::try_from(seq).unwrap_or(0),
            );
        }
        ledger.delivered(
            RecordId {
                producer: 0,
                seq: 0,
            },
            0,
            0,
            true,
        );
        ledger.delivered(
            RecordId {
                producer: 0,
                seq: 2,
            },
            0,
            2,
            true,
        );
        let mut lag = LagSeries::new("g", "t");
        lag.push(LagSample {
            at_ms: 1000,
            partition: 0,
            committed: Some(0),
            log_end: 3,
        });
        lag.push(LagSample {
            at_ms: 2000,
            partition: 0,
            committed: Some(3),
            log_end: 3,
        });
        let check = |name: &str, check: &'static str, status, expected_to_fail, evidence: &str| {
            CheckResult {
                name: name.to_owned(),
                check,
                status,
                expected_to_fail,
                evidence: evidence.to_owned(),
            }
        };
        Report {
            schema_version: SCHEMA_VERSION,
            scenario: "sample".into(),
            scenario_file: "scenarios/sample.yaml".into(),
            stack: "s".into(),
            run_id: "abcd1234".into(),
            verdict: Verdict::Fail,
            duration_s: 42.0,
            nodes: Vec::new(),
            overridden: Vec::new(),
            steps: vec![StepOutcome {
                index: 0,
                step: "kill -9 kafka-1".into(),
                status: Status::Pass,
                started_at_s: 10.0,
                duration_ms: 120,
                detail: "kafka-1 killed with SIGKILL".into(),
                evidence: Vec::new(),
                expected_to_fail: false,
                expected_because: None,
            }],
            error: None,
            semantics: Semantics::Idempotent,
            expect_fail: vec!["no_loss".into()],
            checks: vec![
                check(
                    "no_loss",
                    "no_loss",
                    CheckStatus::Fail,
                    true,
                    "r: 1 lost (p0#1), 0 corrupted",
                ),
                check(
                    "max_lag[r]",
                    "max_lag",
                    CheckStatus::Fail,
                    false,
                    "max lag 3 (bound 1) over the run",
                ),
            ],
            producers: vec![ProducerStats {
                name: "w".into(),
                topic: "t".into(),
                producer_id: 0,
                planned: 3,
                sent: 3,
                acked: 3,
                failed: 0,
                started_at_s: 1.0,
                finished_at_s: 2.0,
                throughput: 3.0,
                latency: Latency {
                    p50_ms: 1.0,
                    p99_ms: 2.0,
                    max_ms: 3.0,
                },
                first_ack_after_ms: Some(5),
                longest_gap_ms: BTreeMap::from([(0, 7)]),
                errors: Vec::new(),
                acked_per_s: vec![0, 40, 60],
                failed_per_s: vec![0, 0, 2],
                switches: Vec::new(),
            }],
            consumers: vec![ConsumerResult {
                name: "r".into(),
                topic: "t".into(),
                group: "g".into(),
                members: 1,
                integrity: ledger.verdict(Semantics::Idempotent),
                max_lag: lag.max_lag(),
                final_status: LagStatus::Ok,
                lag,
                errors: Vec::new(),
                avro: None,
                service: None,
            }],
            errors: vec![TimedErrorLine {
                at_s: 11.5,
                source: "producer w".into(),
                error: "Broker: Not enough replicas (x2)".into(),
            }],
            timing: Timing::default(),
            versions: vec![NodeVersions {
                node: "kafka-1".into(),
                before: "3.6.2".into(),
                after: "3.9.1".into(),
            }],
            preflight: Some(crate::preflight::Preflight {
                from: "3.0.2".into(),
                to: vec!["3.9.1".into()],
                keys_checked: 2,
                findings: vec![crate::preflight::Finding {
                    severity: crate::preflight::Severity::Error,
                    kind: crate::preflight::FindingKind::RemovedKey,
                    key: "zookeeper.sync.time.ms".into(),
                    origin: crate::components::kafka::Origin::Production,
                    version: "3.9.1".into(),
                    message: "zookeeper.sync.time.ms=2000 is gone in Kafka 3.9.1 (Kafka 3.0.2 knew it): the broker ignores it silently".into(),
                }],
                unavailable: None,
            }),
            log_scan: Some(crate::logscan::LogScan {
                containers: 3,
                lines: 1200,
                counts: [("ignored_config".to_owned(), 1), ("warning".to_owned(), 7)].into(),
                groups: vec![crate::logscan::LogGroup {
                    kind: crate::scenario::LogKind::IgnoredConfig,
                    level: "INFO".into(),
                    node: "kafka-1".into(),
                    count: 1,
                    first_at_s: 31.5,
                    last_at_s: 31.5,
                    step: Some(1),
                    during: "kill -9 kafka-1".into(),
                    subject: Some("zookeeper.sync.time.ms".into()),
                    sample: "zookeeper.sync.time.ms is set by production, but the broker does not list it among its own config values (KafkaConfig values): the broker ignores it (only a plugin could read it)".into(),
                }],
                groups_left_out: 1,
            }),
            canary: None,
            registry: None,
            routing: None,
            under_replicated: Vec::new(),
            mirror_lag: None,
            switches: Vec::new(),
            postgres_writers: Vec::new(),
            cdc: Vec::new(),
            clickhouse: Vec::new(),
        }
    }

    #[test]
    fn markdown_summary() {
        insta::assert_snapshot!(markdown::render(&report()));
    }

    #[test]
    fn switch_table() {
        use crate::load::switch::{ProducerSwitch, SwitchKind, SwitchPartition, SwitchReport};
        let mut r = report();
        r.switches = vec![
            SwitchReport {
                kind: SwitchKind::Consumer,
                load: "orders-reader".into(),
                topic: "orders".into(),
                at_s: 12.3,
                to: "green".into(),
                group: Some("orders-app".into()),
                offsets: Some("translated".into()),
                partitions: vec![SwitchPartition {
                    partition: 0,
                    committed: Some(1_500),
                    resumed_at: Some(1_420),
                    rewound: 80,
                    skipped: 0,
                    reread: 80,
                    lost: 0,
                }],
                producer: None,
            },
            SwitchReport {
                kind: SwitchKind::Producer,
                load: "orders-writer".into(),
                topic: "orders".into(),
                at_s: 20.0,
                to: "green".into(),
                group: None,
                offsets: None,
                partitions: Vec::new(),
                producer: Some(ProducerSwitch {
                    from: "blue".into(),
                    to: "green".into(),
                    repointed_at_s: 20.0,
                    noticed_at_s: 23.5,
                    last_old_ack_at_s: Some(23.6),
                    mirrored_at_s: Some(24.1),
                    first_new_ack_at_s: 24.4,
                    unavailable_ms: 800,
                    held: 450,
                    failed: 0,
                }),
            },
        ];
        let md = markdown::render(&r);
        let table = &md
            [md.find("## Switches").expect("a switch table")..md.find("## Steps").expect("steps")];
        insta::assert_snapshot!(table);
        assert!(html::render(&r).contains("<td>800 ms</td>"));
    }

    #[test]
    fn junit_one_case_per_check() {
        let xml = junit::render(&report());
        insta::assert_snapshot!(xml);
        // the planted defect's failure is a passing case; the unexpected one fails
        assert!(xml.contains("tests=\"3\" failures=\"1\""));
    }

    #[test]
    fn verdict_follows_expectations() {
        let mut r = report();
        assert_eq!(
            r.decide(&["no_loss".into()]),
            Verdict::Fail,
            "max_lag failed unexpectedly"
        );
        r.checks.pop();
        assert_eq!(r.decide(&["no_loss".into()]), Verdict::Pass);
        assert_eq!(
            r.decide(&[]),
            Verdict::Fail,
            "no_loss failed and nothing was expected to"
        );
    }
}
