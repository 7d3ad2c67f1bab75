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
    /// Words its detail must then contain: it failed for the planted reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_because: Option<String>,
}

impl StepOutcome {
    /// The step came out as the scenario declared: passed, or failed when it had to (and, when
    /// the scenario says why, for that reason).
    pub fn as_declared(&self) -> bool {
        match (self.status, self.expected_to_fail) {
            (Status::Pass, expected) => !expected,
            (Status::Fail, false) => false,
            (Status::Fail, true) => self.failed_as_planted(),
        }
    }

    fn failed_as_planted(&self) -> bool {
        self.expected_because
            .as_ref()
            .is_none_or(|b| self.detail.contains(b.as_str()))
    }

    /// How reports word the outcome.
    pub fn word(&self) -> &'static str {
        match (self.status, self.expected_to_fail) {
            (Status::Pass, false) => "ok",
            (Status::Fail, true) if self.failed_as_planted() => "failed as expected",
            (Status::Fail, true) => "FAILED (not for the expected reason)",
            (Status::Fail, false) => "FAILED",
            (Status::Pass, true) => "PASSED (expected to fail)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Status, StepOutcome};

    fn outcome(status: Status, expected: bool, because: Option<&str>) -> StepOutcome {
        StepOutcome {
            index: 4,
            step: "ZooKeeper -> KRaft 3/4".into(),
            status,
            started_at_s: 1.0,
            duration_ms: 10,
            detail: "ZooKeeper is not serving (zookeeper-1: connection refused)".into(),
            evidence: Vec::new(),
            expected_to_fail: expected,
            expected_because: because.map(str::to_owned),
        }
    }

    #[test]
    fn a_planted_failure_must_happen_and_for_its_reason() {
        assert!(outcome(Status::Pass, false, None).as_declared());
        assert!(!outcome(Status::Fail, false, None).as_declared());
        assert!(outcome(Status::Fail, true, None).as_declared());
        assert!(outcome(Status::Fail, true, Some("ZooKeeper is not serving")).as_declared());
        let other = outcome(Status::Fail, true, Some("timed out"));
        assert!(!other.as_declared());
        assert_eq!(other.word(), "FAILED (not for the expected reason)");
        let passed = outcome(Status::Pass, true, None);
        assert!(!passed.as_declared());
        assert_eq!(passed.word(), "PASSED (expected to fail)");
    }
}
