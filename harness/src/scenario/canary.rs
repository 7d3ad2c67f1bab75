//! The scenario's `canary:` section and the canary checks: their file form, their validated form,
//! and the conversion between them (with located errors, like the rest of the loader).

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::diagnostics::{Checker, KeyPath};

/// The canary probe, as Strimzi's canary runs it: its own topic with one partition per broker
/// (replication factor min(brokers, 3), min.insync.replicas max(1, RF - 1)), one record per
/// partition every `interval` with acks=all, read back by its own consumer. It runs as the harness's
/// admin from the moment the topics exist until the load has finished, and serves its metrics as
/// Prometheus text while the run lasts.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanarySerde {
    /// `false` turns the canary off (and with it the `canary_*` checks).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// How often one record goes to every partition, e.g. "1s" (from 100ms to 60s).
    #[serde(default)]
    pub interval: Option<String>,
    /// A record counts as available when it is acknowledged within this time of its send.
    /// Default: the interval.
    #[serde(default)]
    pub availability_budget: Option<String>,
    /// Port of the Prometheus endpoint on 127.0.0.1; 0 (the default) lets the system pick one. The
    /// URL is printed when the canary starts.
    #[serde(default)]
    pub metrics_port: Option<u16>,
}

/// A lower bound on the canary's availability: the share of its records acknowledged within the
/// availability budget.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryAvailabilitySerde {
    /// e.g. 99.0 (percent).
    pub min_percent: f64,
    /// Judge only the records sent while this step ran (1-based).
    #[serde(default)]
    pub during: Option<usize>,
    /// Judge every step on its own (one check result per step).
    #[serde(default)]
    pub per_step: bool,
}

/// An upper bound on the canary's end-to-end latency (from the send to the canary consumer)
/// at the 99th percentile. A record acknowledged but never read counts as infinitely late.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryLatencySerde {
    /// e.g. "500ms".
    pub max: String,
    /// Judge only the records sent while this step ran (1-based).
    #[serde(default)]
    pub during: Option<usize>,
    /// Judge every step on its own (one check result per step).
    #[serde(default)]
    pub per_step: bool,
}

/// The canary probe: one record per partition of its own topic every `interval`, as the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanarySpec {
    pub enabled: bool,
    pub interval: Duration,
    /// A record counts as available when it is acknowledged within this time of its send.
    pub budget: Duration,
    /// 0: a port the system picks.
    pub metrics_port: u16,
}

impl Default for CanarySpec {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(1),
            budget: Duration::from_secs(1),
            metrics_port: 0,
        }
    }
}

/// Which stretch of the run a canary check judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CanaryScope {
    /// From the end of the canary's warm-up to its stop.
    Run,
    /// While one step ran (0-based index).
    Step(usize),
    /// Every step on its own (steps during which the canary sent nothing are skipped).
    EachStep,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryAvailability {
    pub min_percent: f64,
    pub scope: CanaryScope,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CanaryLatencyBound {
    pub max: Duration,
    pub scope: CanaryScope,
}

const MIN_INTERVAL: Duration = Duration::from_millis(100);
const MAX_INTERVAL: Duration = Duration::from_secs(60);

pub(super) fn canary_section(c: &mut Checker, raw: Option<CanarySerde>) -> CanarySpec {
    let Some(raw) = raw else {
        return CanarySpec::default();
    };
    let path = KeyPath::root().key("canary");
    let default = CanarySpec::default();
    let interval = c.duration(
        &path.key("interval"),
        raw.interval.as_deref(),
        default.interval,
    );
    if raw.interval.is_some() && !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        c.error(
            &path.key("interval"),
            "the canary's interval must lie between 100ms and 60s",
        );
    }
    let budget = c.duration(
        &path.key("availability_budget"),
        raw.availability_budget.as_deref(),
        interval,
    );
    if budget.is_zero() {
        c.error(
            &path.key("availability_budget"),
            "a budget of 0 counts every record as unavailable",
        );
    }
    CanarySpec {
        enabled: raw.enabled.unwrap_or(true),
        interval,
        budget,
        metrics_port: raw.metrics_port.unwrap_or(0),
    }
}

/// The three canary checks, validated against the scenario's steps and its canary.
pub(super) struct CanaryChecks {
    pub availability: Option<CanaryAvailability>,
    pub max_unavailability: Option<Duration>,
    pub e2e_p99: Option<CanaryLatencyBound>,
}

pub(super) fn canary_checks(
    c: &mut Checker,
    availability: Option<CanaryAvailabilitySerde>,
    max_unavailability: Option<String>,
    e2e_p99: Option<CanaryLatencySerde>,
    canary: &CanarySpec,
    steps: usize,
) -> CanaryChecks {
    let root = KeyPath::root().key("checks");
    if !canary.enabled {
        for (name, given) in [
            ("canary_availability", availability.is_some()),
            ("canary_max_unavailability", max_unavailability.is_some()),
            ("canary_e2e_p99", e2e_p99.is_some()),
        ] {
            if given {
                c.error(
                    &root.key(name),
                    "the canary is turned off (`canary.enabled: false`), so it has nothing to judge",
                );
            }
        }
    }
    let availability = availability.map(|a| {
        let path = root.key("canary_availability");
        if !(a.min_percent > 0.0 && a.min_percent <= 100.0) {
            c.error(
                &path.key("min_percent"),
                format!(
                    "{} is not a percentage; expected more than 0 and at most 100, e.g. 99.0",
                    a.min_percent
                ),
            );
        }
        CanaryAvailability {
            min_percent: a.min_percent,
            scope: scope(c, &path, a.during, a.per_step, steps),
        }
    });
    let max_unavailability = max_unavailability.as_deref().map(|d| {
        c.duration(
            &root.key("canary_max_unavailability"),
            Some(d),
            Duration::ZERO,
        )
    });
    let e2e_p99 = e2e_p99.map(|l| {
        let path = root.key("canary_e2e_p99");
        CanaryLatencyBound {
            max: c.duration(&path.key("max"), Some(&l.max), Duration::ZERO),
            scope: scope(c, &path, l.during, l.per_step, steps),
        }
    });
    CanaryChecks {
        availability,
        max_unavailability,
        e2e_p99,
    }
}

fn scope(
    c: &mut Checker,
    path: &KeyPath,
    during: Option<usize>,
    per_step: bool,
    steps: usize,
) -> CanaryScope {
    match (during, per_step) {
        (None, false) => CanaryScope::Run,
        (None, true) => CanaryScope::EachStep,
        (Some(_), true) => {
            c.error(
                &path.key("per_step"),
                "give `during` (one step) or `per_step: true` (every step), not both",
            );
            CanaryScope::EachStep
        }
        (Some(n), false) => {
            if n == 0 || n > steps {
                c.error(
                    &path.key("during"),
                    format!("step {n} does not exist; steps are numbered 1 to {steps}"),
                );
            }
            CanaryScope::Step(n.saturating_sub(1))
        }
    }
}
