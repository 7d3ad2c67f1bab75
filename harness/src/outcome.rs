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
}
