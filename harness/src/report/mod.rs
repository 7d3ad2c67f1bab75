//! report.json: what ran, on which versions, and how every step went. Never holds a password.

use std::path::Path;

use serde::Serialize;

use crate::components::kafka::Overridden;
use crate::plan::PlannedNode;
use crate::steps::{Status, StepOutcome};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    /// The stack never came up; no step ran.
    Error,
}

#[derive(Debug, Clone, Serialize)]
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
}

impl Report {
    pub fn verdict_of(steps: &[StepOutcome]) -> Verdict {
        if steps.iter().all(|s| s.status == Status::Pass) {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }

    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json + "\n")
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
