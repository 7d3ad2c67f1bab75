//! The checks over what the config preflight and the log scanner recorded: `preflight` fails on
//! an error finding, `log_scan` on a log entry of a kind the scenario names. Each names the cause:
//! the key or class, the node, and the step during which it appeared.

use super::result::CheckResult;
use crate::logscan::LogScan;
use crate::preflight::{Preflight, Severity};
use crate::scenario::Scenario;

/// How many causes a check's evidence names before it counts the rest.
const NAMED: usize = 3;

pub fn evaluate(
    scenario: &Scenario,
    preflight: Option<&Preflight>,
    scan: Option<&LogScan>,
) -> Vec<CheckResult> {
    let result = |check: &'static str, ok: bool, evidence: String| {
        CheckResult::of(scenario, check.to_owned(), check, ok, evidence)
    };
    let mut out = Vec::new();
    if scenario.checks.preflight {
        out.push(match preflight {
            None => result("preflight", false, "the preflight did not run".to_owned()),
            Some(p) if p.unavailable.is_some() => result(
                "preflight",
                false,
                format!("the preflight could not run: {}", p.headline()),
            ),
            Some(p) => {
                let errors: Vec<String> = p
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .map(|f| format!("{}: {}", f.key, f.message))
                    .collect();
                let evidence = if errors.is_empty() {
                    p.headline()
                } else {
                    named(&errors, "error finding(s)")
                };
                result("preflight", errors.is_empty(), evidence)
            }
        });
    }
    if !scenario.checks.log_scan.is_empty() {
        let kinds = &scenario.checks.log_scan;
        let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
        out.push(match scan {
            None => result("log_scan", false, "no log was scanned".to_owned()),
            Some(s) => {
                let hits: Vec<String> = s
                    .of_kinds(kinds)
                    .map(|g| {
                        let step = g.step.map_or_else(
                            || "start-up".to_owned(),
                            |n| format!("step {n} ({})", g.during),
                        );
                        let what = g
                            .subject
                            .as_deref()
                            .map_or_else(|| g.sample.clone(), |s| format!("{s} — {}", g.sample));
                        format!(
                            "{} on {} during {step}, x{}: {what}",
                            g.kind.name(),
                            g.node,
                            g.count
                        )
                    })
                    .collect();
                // A kind can also be counted in a group the report left out.
                let counted: usize = names.iter().filter_map(|n| s.counts.get(*n)).sum();
                if hits.is_empty() && counted == 0 {
                    result(
                        "log_scan",
                        true,
                        format!(
                            "no {} in {} line(s) of {} container log(s)",
                            names.join(", "),
                            s.lines,
                            s.containers
                        ),
                    )
                } else {
                    let mut evidence = named(&hits, "log group(s)");
                    if hits.is_empty() {
                        evidence = format!("{counted} entr(ies) of {}", names.join(", "));
                    }
                    result("log_scan", false, evidence)
                }
            }
        });
    }
    out
}

fn named(items: &[String], what: &str) -> String {
    let mut s = items
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > NAMED {
        s.push_str(&format!("; and {} more {what}", items.len() - NAMED));
    }
    s
}
