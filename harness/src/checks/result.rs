//! What a check concludes, and the run's outcome from all of them. Below every check module, so
//! the oracles that judge other layers' records (routing, canary, logs) need not import the load's
//! evaluation to say what they found.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::scenario::Scenario;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Fail,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CheckResult {
    /// Unique within the run, e.g. `no_loss` or `max_lag[orders-reader]`.
    pub name: String,
    /// One of `CHECK_NAMES`.
    pub check: &'static str,
    pub status: CheckStatus,
    /// Whether the scenario declared that this check must fail.
    pub expected_to_fail: bool,
    /// What the check saw, in one line.
    pub evidence: String,
}

impl CheckResult {
    /// The outcome of `check` in `scenario`, marked as expected to fail when its `expect.fail` says so.
    pub fn of(
        scenario: &Scenario,
        name: String,
        check: &'static str,
        ok: bool,
        evidence: String,
    ) -> Self {
        Self {
            name,
            check,
            status: if ok {
                CheckStatus::Pass
            } else {
                CheckStatus::Fail
            },
            expected_to_fail: scenario.expect_fail.iter().any(|e| e == check),
            evidence,
        }
    }

    /// Whether this check came out as the scenario declared (passing, or failing as expected).
    pub fn as_declared(&self) -> bool {
        (self.status == CheckStatus::Fail) == self.expected_to_fail
    }

    /// The outcome in words: `pass`, `failed as expected`, `FAIL`, or `PASSED, but was expected to fail`.
    pub fn outcome(&self) -> &'static str {
        match (self.status, self.expected_to_fail) {
            (CheckStatus::Pass, false) => "pass",
            (CheckStatus::Fail, true) => "failed as expected",
            (CheckStatus::Fail, false) => "FAIL",
            (CheckStatus::Pass, true) => "PASSED, but was expected to fail",
        }
    }
}

/// The run's outcome from its checks: without `expect`, every check passes; with it, exactly the
/// expected checks fail (a planted defect that goes unnoticed is a failure of the harness).
pub fn checks_pass(checks: &[CheckResult], expect_fail: &[String]) -> bool {
    let failed: BTreeSet<&str> = checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.check)
        .collect();
    let expected: BTreeSet<&str> = expect_fail.iter().map(String::as_str).collect();
    failed == expected
}
