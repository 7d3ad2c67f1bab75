//! Checks are oracles over what a run recorded: plain functions, no I/O. A failed check is a result,
//! not an error; `expect.fail` turns a planted defect's failure into the outcome that passes.

pub use super::result::{checks_pass, CheckResult, CheckStatus};
use crate::checks::integrity::{RecordId, Semantics};
use crate::load::LoadResults;
use crate::scenario::{format_duration, Scenario};

/// The step end times (seconds since the run started) that `after_step` bounds refer to.
pub type StepEnds = [f64];

pub fn evaluate(
    scenario: &Scenario,
    load: &LoadResults,
    step_ends_s: &StepEnds,
) -> Vec<CheckResult> {
    let c = &scenario.checks;
    let sem = scenario.semantics;
    let mut out = Vec::new();
    let mut push = |name: String, check: &'static str, ok: bool, evidence: String| {
        out.push(CheckResult::of(scenario, name, check, ok, evidence));
    };
    let no_reader =
        "no consumer reads this scenario's topics, so there is nothing to judge".to_owned();

    // The two versions of a routed service share one ledger: judge it once, under its name.
    let judged = load.judged();
    if c.no_loss {
        let mut bad = Vec::new();
        let mut seen = Vec::new();
        for r in &judged {
            let i = &r.integrity;
            seen.push(format!(
                "{}: {} acked, {} delivered, {} lost, {} corrupted",
                r.label(),
                i.acked,
                i.delivered,
                i.lost,
                i.corrupted
            ));
            if i.lost > 0 || i.corrupted > 0 {
                bad.push(format!(
                    "{}: {} lost ({}), {} corrupted",
                    r.label(),
                    i.lost,
                    ids(&i.samples.lost),
                    i.corrupted
                ));
            }
        }
        let ok = bad.is_empty() && !load.consumers.is_empty();
        let evidence = if load.consumers.is_empty() {
            no_reader.clone()
        } else if ok {
            seen.join("; ")
        } else {
            bad.join("; ")
        };
        push("no_loss".into(), "no_loss", ok, evidence);
    }
    if c.no_duplicates {
        // Copies in the log fail unless the scenario declares at-least-once; a group reading the
        // same offset again (rebalance, restart before the commit) fails only under exactly-once.
        let mut ok = !load.consumers.is_empty();
        let mut detail = Vec::new();
        for r in &judged {
            let i = &r.integrity;
            let dup_fails = i.duplicated > 0 && sem != Semantics::AtLeastOnce;
            let re_fails = i.redelivered > 0 && sem == Semantics::ExactlyOnce;
            ok &= !dup_fails && !re_fails;
            detail.push(format!(
                "{}: {} duplicate(s) in the log ({}), {} redelivery(ies) ({})",
                r.label(),
                i.duplicated,
                ids(&i.samples.duplicated),
                i.redelivered,
                ids(&i.samples.redelivered)
            ));
        }
        let mut evidence = if load.consumers.is_empty() {
            no_reader.clone()
        } else {
            detail.join("; ")
        };
        if ok
            && load
                .consumers
                .iter()
                .any(|r| r.integrity.duplicated + r.integrity.redelivered > 0)
        {
            evidence.push_str(&format!(" (counted, not failed, under {sem} delivery)"));
        }
        push("no_duplicates".into(), "no_duplicates", ok, evidence);
    }
    if c.ordering {
        let strict = sem != Semantics::AtLeastOnce;
        // A routed service's records are split across two consumers that read at their own pace:
        // their interleaving says nothing about order, so only single consumers are judged.
        let single: Vec<_> = judged.iter().filter(|r| r.service.is_none()).collect();
        let re: u64 = single.iter().map(|r| r.integrity.reordered).sum();
        let mut detail: Vec<String> = single
            .iter()
            .map(|r| {
                format!(
                    "{}: {} out of order ({})",
                    r.name,
                    r.integrity.reordered,
                    ids(&r.integrity.samples.reordered)
                )
            })
            .collect();
        for r in judged.iter().filter(|r| r.service.is_some()) {
            detail.push(format!(
                "{}: not judged (its records are split across two versions)",
                r.label()
            ));
        }
        let ok = !load.consumers.is_empty() && (re == 0 || !strict);
        let mut evidence = if load.consumers.is_empty() {
            no_reader.clone()
        } else {
            detail.join("; ")
        };
        if re > 0 && !strict {
            evidence
                .push_str(" (counted, not failed: the scenario declares at-least-once delivery)");
        }
        push("ordering".into(), "ordering", ok, evidence);
    }
    for m in &c.max_lag {
        let Some(r) = load.consumers.iter().find(|r| r.name == m.consumer) else {
            continue;
        };
        let from_s = m
            .after_step
            .and_then(|i| step_ends_s.get(i))
            .copied()
            .unwrap_or(0.0)
            + m.settle.as_secs_f64();
        let from_ms = (from_s * 1000.0) as u64;
        let samples = r
            .lag
            .totals()
            .iter()
            .filter(|(at, _)| *at >= from_ms)
            .count();
        let seen = r.lag.max_lag_since(from_ms);
        let ok = samples > 0 && seen <= m.max;
        let scope = match m.after_step {
            Some(i) => format!("from step {} + {}", i + 1, format_duration(m.settle)),
            None => "over the run".to_owned(),
        };
        let evidence = if samples == 0 {
            format!("no lag sample {scope}: the bound cannot be shown to hold")
        } else {
            format!(
                "max lag {seen} (bound {}) {scope}, {samples} sample(s), final status {:?}",
                m.max, r.final_status
            )
        };
        let name = match m.after_step {
            Some(i) => format!("max_lag[{} after step {}]", m.consumer, i + 1),
            None => format!("max_lag[{}]", m.consumer),
        };
        push(name, "max_lag", ok, evidence);
    }
    if let Some(b) = c.produce_errors {
        let sent: u64 = load.producers.iter().map(|p| p.sent).sum();
        let failed: u64 = load.producers.iter().map(|p| p.failed).sum();
        let ratio = if sent == 0 {
            0.0
        } else {
            failed as f64 / sent as f64
        };
        let ok = b.max.is_none_or(|m| failed <= m) && b.max_ratio.is_none_or(|m| ratio <= m);
        let first = load
            .producers
            .iter()
            .flat_map(|p| p.errors.iter())
            .map(|e| format!("; first error at {:.1}s: {}", e.at_s, e.error))
            .next()
            .unwrap_or_default();
        push(
            "produce_errors".into(),
            "produce_errors",
            ok,
            format!("{failed} of {sent} send(s) failed (ratio {ratio:.5}; budget max {:?}, max_ratio {:?}){first}", b.max, b.max_ratio),
        );
    }
    if let Some(limit) = c.max_unavailability {
        let worst = load
            .producers
            .iter()
            .flat_map(|p| {
                p.longest_gap_ms
                    .iter()
                    .map(move |(part, gap)| (*gap, part, &p.name))
            })
            .max();
        let (ok, evidence) = match worst {
            Some((gap, part, name)) => (
                u128::from(gap) <= limit.as_millis(),
                format!("longest time without an acknowledgement: {gap} ms on partition {part} ({name}); bound {}", format_duration(limit)),
            ),
            None => (false, "no producer was acknowledged at all".to_owned()),
        };
        push(
            "max_unavailability".into(),
            "max_unavailability",
            ok,
            evidence,
        );
    }
    out
}

/// Sample ids as `p<producer>#<seq>`, the form the report and the oracle's messages use.
fn ids(samples: &[RecordId]) -> String {
    if samples.is_empty() {
        return "none".to_owned();
    }
    samples
        .iter()
        .map(|r| format!("p{}#{}", r.producer, r.seq))
        .collect::<Vec<_>>()
        .join(", ")
}
