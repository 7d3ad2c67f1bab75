//! Reports: report.json (everything, for machines), report.md (for a reviewer), junit.xml (for CI).
//! All three are rendered from the same `Report`; none ever holds a password.

pub mod junit;
pub mod markdown;

use std::path::Path;

use serde::Serialize;

use crate::checks::evaluate::{checks_pass, CheckResult, CheckStatus};
use crate::checks::integrity::Semantics;
use crate::components::kafka::Overridden;
use crate::load::producer::ProducerStats;
use crate::load::{ConsumerResult, LoadResults};
use crate::plan::PlannedNode;
use crate::secrets::Credentials;
use crate::steps::{Status, StepOutcome};

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
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TimedErrorLine {
    pub at_s: f64,
    pub source: String,
    pub error: String,
}

impl Report {
    /// Pass when every step passed and the checks came out as declared: all passing, or exactly
    /// the `expect.fail` ones failing.
    pub fn decide(&self, expect_fail: &[String]) -> Verdict {
        if self.steps.iter().all(|s| s.status == Status::Pass)
            && checks_pass(&self.checks, expect_fail)
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
        for c in &results.consumers {
            for e in &c.errors {
                errors.push(TimedErrorLine {
                    at_s: e.at_s,
                    source: format!("consumer {}", c.name),
                    error: creds.redact(&e.error),
                });
            }
        }
        errors.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
        self.errors = errors;
        self.producers = results.producers;
        self.consumers = results.consumers;
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json + "\n")?;
        std::fs::write(dir.join("report.md"), markdown::render(self))?;
        std::fs::write(dir.join("junit.xml"), junit::render(self))
    }

    pub fn summary(&self) -> String {
        let passed = self
            .steps
            .iter()
            .filter(|s| s.status == Status::Pass)
            .count();
        let verdict = match self.verdict {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        };
        let mut s = format!(
            "{verdict}: scenario {} — {passed}/{} steps passed in {:.0}s (run {})",
            self.scenario,
            self.steps.len(),
            self.duration_s,
            self.run_id
        );
        for c in &self.checks {
            let mark = match (c.status, c.expected_to_fail) {
                (CheckStatus::Pass, false) => "pass",
                (CheckStatus::Fail, true) => "failed as expected",
                (CheckStatus::Fail, false) => "FAIL",
                (CheckStatus::Pass, true) => "PASSED, but was expected to fail",
            };
            s.push_str(&format!("\n  check {}: {mark} — {}", c.name, c.evidence));
        }
        for step in self.steps.iter().filter(|s| s.status == Status::Fail) {
            s.push_str(&format!(
                "\n  failed step {}: {} — {}",
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
