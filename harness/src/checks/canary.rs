//! The canary checks: bounds on what the canary probe saw — availability, the longest
//! unavailability window, end-to-end latency at the 99th percentile — over the run, during one step,
//! or per step. Plain functions over the canary's report.

use crate::checks::result::CheckResult;
use crate::probes::canary::{CanaryReport, Stretch};
use crate::scenario::{format_duration, CanaryScope, Scenario};

/// One stretch a check judges, with the name suffix and the words for it.
struct Judged<'a> {
    suffix: String,
    scope: String,
    stats: &'a Stretch,
}

/// The stretches a scope names; `Err` says why there is nothing to judge.
fn stretches(report: &CanaryReport, scope: CanaryScope) -> Result<Vec<Judged<'_>>, String> {
    match scope {
        CanaryScope::Run => Ok(vec![Judged {
            suffix: String::new(),
            scope: "over the run".to_owned(),
            stats: &report.run,
        }]),
        CanaryScope::Step(i) => report
            .steps
            .iter()
            .find(|s| s.step == i + 1)
            .map(|s| {
                vec![Judged {
                    suffix: format!("[step {}]", s.step),
                    scope: format!("during step {} ({})", s.step, s.label),
                    stats: &s.stats,
                }]
            })
            .ok_or_else(|| format!("step {} never ran", i + 1)),
        CanaryScope::EachStep => {
            let judged: Vec<Judged<'_>> = report
                .steps
                .iter()
                .filter(|s| s.stats.records > 0)
                .map(|s| Judged {
                    suffix: format!("[step {}]", s.step),
                    scope: format!("during step {} ({})", s.step, s.label),
                    stats: &s.stats,
                })
                .collect();
            if judged.is_empty() {
                Err("no step lasted long enough for a canary record".to_owned())
            } else {
                Ok(judged)
            }
        }
    }
}

pub fn evaluate(scenario: &Scenario, canary: Option<&CanaryReport>) -> Vec<CheckResult> {
    let c = &scenario.checks;
    let mut out = Vec::new();
    let mut push = |name: String, check: &'static str, ok: bool, evidence: String| {
        out.push(CheckResult::of(scenario, name, check, ok, evidence));
    };
    let none = "the canary did not run, so the bound cannot be shown to hold";
    let percent = |p: Option<f64>| p.map_or("n/a".to_owned(), |p| format!("{p:.2} %"));

    if let Some(bound) = c.canary_availability {
        let check = "canary_availability";
        match canary.map(|r| (r, stretches(r, bound.scope))) {
            None => push(check.into(), check, false, none.into()),
            Some((_, Err(why))) => push(check.into(), check, false, why),
            Some((r, Ok(judged))) => {
                for j in judged {
                    let s = j.stats;
                    let ok = s
                        .availability_percent
                        .is_some_and(|a| a >= bound.min_percent);
                    let evidence = if s.records == 0 {
                        format!("no canary record was judged {}", j.scope)
                    } else {
                        format!(
                            "availability {} {} ({} of {} canary record(s) acknowledged within {} ms); bound >= {} %",
                            percent(s.availability_percent),
                            j.scope,
                            s.available,
                            s.records,
                            r.availability_budget_ms,
                            bound.min_percent
                        )
                    };
                    push(format!("{check}{}", j.suffix), check, ok, evidence);
                }
            }
        }
    }
    if let Some(limit) = c.canary_max_unavailability {
        let check = "canary_max_unavailability";
        match canary {
            None => push(check.into(), check, false, none.into()),
            Some(r) if r.run.records == 0 => push(
                check.into(),
                check,
                false,
                "no canary record was judged: the bound cannot be shown to hold".into(),
            ),
            Some(r) => {
                let longest = r
                    .windows
                    .iter()
                    .max_by_key(|w| (w.duration_ms, std::cmp::Reverse(w.from_s.to_bits())));
                let ok = u128::from(r.run.longest_unavailability_ms) <= limit.as_millis();
                let evidence = match longest {
                    Some(w) => format!(
                        "longest unavailability {} ms on canary partition {} from {:.1} s to {:.1} s{}{}; bound {}",
                        w.duration_ms,
                        w.partition,
                        w.from_s,
                        w.to_s,
                        if w.open { " (still unavailable at the end)" } else { "" },
                        r.steps
                            .iter()
                            .find(|s| {
                                // judged when its first record's budget ran out, as in the steps
                                let judged_s = w.from_s + r.availability_budget_ms as f64 / 1000.0;
                                judged_s >= s.from_s && judged_s < s.to_s
                            })
                            .map(|s| format!(", during step {} ({})", s.step, s.label))
                            .unwrap_or_default(),
                        format_duration(limit)
                    ),
                    None => format!(
                        "every canary record was acknowledged within {} ms; bound {}",
                        r.availability_budget_ms,
                        format_duration(limit)
                    ),
                };
                push(check.into(), check, ok, evidence);
            }
        }
    }
    if let Some(bound) = c.canary_e2e_p99 {
        let check = "canary_e2e_p99";
        match canary.map(|r| stretches(r, bound.scope)) {
            None => push(check.into(), check, false, none.into()),
            Some(Err(why)) => push(check.into(), check, false, why),
            Some(Ok(judged)) => {
                for j in judged {
                    let l = &j.stats.e2e_latency;
                    let ok = l
                        .p99_ms
                        .is_some_and(|p| p <= bound.max.as_secs_f64() * 1000.0);
                    let evidence = match l.p99_ms {
                        _ if l.samples == 0 => {
                            format!("no canary record was read back {}", j.scope)
                        }
                        Some(p) => format!(
                            "end-to-end p99 {p:.1} ms {} over {} record(s) (p50 {}, max {}); bound {}",
                            j.scope,
                            l.samples,
                            ms(l.p50_ms),
                            ms(l.max_ms),
                            format_duration(bound.max)
                        ),
                        None => format!(
                            "end-to-end p99 unbounded {}: {} of {} record(s) acknowledged but never read back; bound {}",
                            j.scope,
                            l.unbounded,
                            l.samples,
                            format_duration(bound.max)
                        ),
                    };
                    push(format!("{check}{}", j.suffix), check, ok, evidence);
                }
            }
        }
    }
    out
}

fn ms(v: Option<f64>) -> String {
    v.map_or("unbounded".to_owned(), |v| format!("{v:.1} ms"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::checks::evaluate::CheckStatus;
    use crate::probes::canary::{CanaryStep, CanaryWindow, LatencySummary, Layout};
    use crate::scenario::{CanaryAvailability, CanaryLatencyBound};

    fn stretch(records: u64, available: u64, p99: Option<f64>, longest: u64) -> Stretch {
        Stretch {
            records,
            available,
            availability_percent: (records > 0).then(|| available as f64 * 100.0 / records as f64),
            longest_unavailability_ms: longest,
            longest_unavailability_partition: None,
            produce_latency: LatencySummary::default(),
            e2e_latency: LatencySummary {
                samples: records,
                unbounded: u64::from(p99.is_none()),
                p50_ms: Some(3.0),
                p99_ms: p99,
                max_ms: p99,
            },
        }
    }

    fn report() -> CanaryReport {
        CanaryReport {
            topic: "t".into(),
            layout: Layout::for_brokers(3),
            partitions: 3,
            interval_ms: 1000,
            availability_budget_ms: 1000,
            measured_from_s: 5.0,
            stopped_at_s: 60.0,
            sent: 170,
            acked: 160,
            failed: 10,
            consumed: 160,
            duplicates: 0,
            consumer_errors: 0,
            run: stretch(165, 155, Some(40.0), 7300),
            steps: vec![
                CanaryStep {
                    step: 1,
                    label: "wait 10s".into(),
                    from_s: 5.0,
                    to_s: 15.0,
                    stats: stretch(30, 30, Some(8.0), 0),
                },
                CanaryStep {
                    step: 2,
                    label: "kill -9 kafka-2".into(),
                    from_s: 15.0,
                    to_s: 15.2,
                    stats: stretch(0, 0, None, 0),
                },
                CanaryStep {
                    step: 3,
                    label: "wait 40s".into(),
                    from_s: 15.2,
                    to_s: 55.0,
                    stats: stretch(120, 110, None, 7300),
                },
            ],
            per_partition: Vec::new(),
            windows: vec![CanaryWindow {
                partition: 1,
                from_s: 15.5,
                to_s: 22.8,
                duration_ms: 7300,
                open: false,
            }],
            errors: Vec::new(),
            timeline: Vec::new(),
        }
    }

    fn scenario(f: impl FnOnce(&mut crate::scenario::Checks)) -> Scenario {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/broker-kill.yaml");
        let mut s = crate::scenario::load_scenario(&path).expect("shipped scenario loads");
        s.checks = crate::scenario::Checks::default();
        s.expect_fail.clear();
        f(&mut s.checks);
        s
    }

    fn verdicts(s: &Scenario, r: Option<&CanaryReport>) -> Vec<(String, CheckStatus)> {
        evaluate(s, r)
            .into_iter()
            .map(|c| (c.name, c.status))
            .collect()
    }

    #[test]
    fn availability_over_the_run_and_per_step() {
        let r = report();
        let s = scenario(|c| {
            c.canary_availability = Some(CanaryAvailability {
                min_percent: 93.0,
                scope: CanaryScope::Run,
            });
        });
        // 155 of 165 = 93.9 %
        assert_eq!(
            verdicts(&s, Some(&r)),
            [("canary_availability".into(), CheckStatus::Pass)]
        );
        let s = scenario(|c| {
            c.canary_availability = Some(CanaryAvailability {
                min_percent: 95.0,
                scope: CanaryScope::EachStep,
            });
        });
        // step 2 sent nothing and is skipped; step 3 is at 91.7 %
        assert_eq!(
            verdicts(&s, Some(&r)),
            [
                ("canary_availability[step 1]".into(), CheckStatus::Pass),
                ("canary_availability[step 3]".into(), CheckStatus::Fail)
            ]
        );
        let s = scenario(|c| {
            c.canary_availability = Some(CanaryAvailability {
                min_percent: 95.0,
                scope: CanaryScope::Step(1),
            });
        });
        let out = evaluate(&s, Some(&r));
        assert_eq!(
            out[0].status,
            CheckStatus::Fail,
            "nothing judged is no proof"
        );
        assert!(
            out[0].evidence.contains("no canary record"),
            "{}",
            out[0].evidence
        );
    }

    #[test]
    fn longest_window_names_its_step() {
        let r = report();
        let s = scenario(|c| c.canary_max_unavailability = Some(Duration::from_secs(10)));
        let out = evaluate(&s, Some(&r));
        assert_eq!(out[0].status, CheckStatus::Pass);
        assert!(
            out[0].evidence.contains("7300 ms on canary partition 1")
                && out[0].evidence.contains("step 3 (wait 40s)"),
            "{}",
            out[0].evidence
        );
        let s = scenario(|c| c.canary_max_unavailability = Some(Duration::from_secs(7)));
        assert_eq!(evaluate(&s, Some(&r))[0].status, CheckStatus::Fail);
    }

    #[test]
    fn e2e_p99_fails_when_records_never_arrive() {
        let r = report();
        let s = scenario(|c| {
            c.canary_e2e_p99 = Some(CanaryLatencyBound {
                max: Duration::from_millis(500),
                scope: CanaryScope::EachStep,
            });
        });
        let out = evaluate(&s, Some(&r));
        assert_eq!(out[0].status, CheckStatus::Pass, "{}", out[0].evidence);
        assert_eq!(out[1].status, CheckStatus::Fail);
        assert!(out[1].evidence.contains("unbounded"), "{}", out[1].evidence);
        let s = scenario(|c| {
            c.canary_e2e_p99 = Some(CanaryLatencyBound {
                max: Duration::from_millis(30),
                scope: CanaryScope::Run,
            });
        });
        assert_eq!(
            verdicts(&s, Some(&r)),
            [("canary_e2e_p99".into(), CheckStatus::Fail)],
            "40 ms is above 30ms"
        );
    }

    #[test]
    fn without_a_canary_every_bound_fails() {
        let s = scenario(|c| {
            c.canary_max_unavailability = Some(Duration::from_secs(10));
        });
        assert_eq!(
            verdicts(&s, None),
            [("canary_max_unavailability".into(), CheckStatus::Fail)]
        );
    }
}
