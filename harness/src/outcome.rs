//! What a step came to: its status, timing and evidence.
//!
//! Kept apart from the executor (`steps`) because the canary probe and the log scanner place what
//! they saw on the steps' timeline, and the report lists the steps: none of them may depend on
//! what runs steps, which itself drives the load and the stack.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StepOutcome {
    pub index: usize,
    pub step: String,
    pub status: Status,
    /// Seconds since the run started.
    pub started_at_s: f64,
    pub duration_ms: u64,
    pub detail: String,
    /// What the check saw: client errors, counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The scenario declares this step must fail (`expect.failed_steps`): a planted defect.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub expected_to_fail: bool,
}

impl StepOutcome {
    /// The step came out as the scenario declared: passed, or failed when it had to.
    pub fn as_declared(&self) -> bool {
        (self.status == Status::Pass) != self.expected_to_fail
    }

    /// How reports word the outcome.
    pub fn word(&self) -> &'static str {
        match (self.status, self.expected_to_fail) {
            (Status::Pass, false) => "ok",
            (Status::Fail, true) => "failed as expected",
            (Status::Fail, false) => "FAILED",
            (Status::Pass, true) => "PASSED (expected to fail)",
        }
    }
}
