//! The canary's section of report.md: availability, unavailability and latency over the run and
//! per step, then the windows and the errors behind them.

use std::fmt::Write as _;

use crate::probes::canary::{CanaryReport, LatencySummary, Stretch};

pub fn markdown(c: &CanaryReport) -> String {
    let mut o = String::new();
    let l = c.layout;
    let _ = writeln!(
        o,
        "## Canary\n\nTopic `{}`: {} partition(s), replication factor {}, min.insync.replicas {}; one record per partition every {} ms, available when acknowledged within {} ms. {} sent, {} acknowledged, {} failed, {} read back ({} twice); {} consumer error(s). Measured from {:.1} s to {:.1} s.\n",
        c.topic,
        c.partitions,
        l.replication_factor,
        l.min_insync_replicas,
        c.interval_ms,
        c.availability_budget_ms,
        c.sent,
        c.acked,
        c.failed,
        c.consumed,
        c.duplicates,
        c.consumer_errors,
        c.measured_from_s,
        c.stopped_at_s
    );
    let _ = writeln!(
        o,
        "| stretch | records | availability | longest unavailability | produce p50 / p99 (ms) | end-to-end p50 / p99 (ms) |\n|---|---|---|---|---|---|"
    );
    row(&mut o, "run", &c.run);
    for s in &c.steps {
        row(&mut o, &format!("step {}: {}", s.step, s.label), &s.stats);
    }
    if !c.windows.is_empty() {
        let _ = writeln!(
            o,
            "\nUnavailability windows (late or failed send to the next acknowledgement):\n"
        );
        for w in &c.windows {
            let _ = writeln!(
                o,
                "- partition {}: {:.1} s to {:.1} s ({} ms){}",
                w.partition,
                w.from_s,
                w.to_s,
                w.duration_ms,
                if w.open {
                    ", still open at the end"
                } else {
                    ""
                }
            );
        }
    }
    if !c.errors.is_empty() {
        let _ = writeln!(o, "\nErrors the canary saw:\n");
        for e in &c.errors {
            let _ = writeln!(
                o,
                "- {:.1} s, {}: {} (x{})",
                e.at_s, e.source, e.error, e.count
            );
        }
    }
    o.push('\n');
    o
}

fn row(o: &mut String, name: &str, s: &Stretch) {
    let availability = s
        .availability_percent
        .map_or("-".to_owned(), |a| format!("{a:.2} %"));
    let longest = match (
        s.longest_unavailability_ms,
        s.longest_unavailability_partition,
    ) {
        (0, _) => "-".to_owned(),
        (ms, Some(p)) => format!("{ms} ms (partition {p})"),
        (ms, None) => format!("{ms} ms"),
    };
    let _ = writeln!(
        o,
        "| {} | {} | {availability} | {longest} | {} | {} |",
        name.replace('|', "\\|"),
        s.records,
        pair(&s.produce_latency),
        pair(&s.e2e_latency)
    );
}

fn pair(l: &LatencySummary) -> String {
    if l.samples == 0 {
        return "-".to_owned();
    }
    let v = |x: Option<f64>| x.map_or("unbounded".to_owned(), |x| format!("{x:.1}"));
    format!("{} / {}", v(l.p50_ms), v(l.p99_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::canary::{CanaryError, CanaryStep, CanaryWindow, Layout};

    fn stretch(records: u64, available: u64, longest: u64, p99: Option<f64>) -> Stretch {
        Stretch {
            records,
            available,
            availability_percent: (records > 0).then(|| available as f64 * 100.0 / records as f64),
            longest_unavailability_ms: longest,
            longest_unavailability_partition: (longest > 0).then_some(1),
            produce_latency: LatencySummary {
                samples: records,
                unbounded: 0,
                p50_ms: Some(2.0),
                p99_ms: Some(9.5),
                max_ms: Some(12.0),
            },
            e2e_latency: LatencySummary {
                samples: records,
                unbounded: u64::from(p99.is_none()),
                p50_ms: Some(3.0),
                p99_ms: p99,
                max_ms: p99,
            },
        }
    }

    #[test]
    fn canary_section() {
        let report = CanaryReport {
            topic: "__kafka_harness_canary".into(),
            layout: Layout::for_brokers(3),
            partitions: 3,
            interval_ms: 1000,
            availability_budget_ms: 1000,
            measured_from_s: 9.5,
            stopped_at_s: 61.0,
            sent: 160,
            acked: 152,
            failed: 6,
            consumed: 152,
            duplicates: 1,
            consumer_errors: 4,
            run: stretch(153, 146, 7300, Some(41.0)),
            steps: vec![
                CanaryStep {
                    step: 1,
                    label: "wait 12s".into(),
                    from_s: 10.0,
                    to_s: 22.0,
                    stats: stretch(36, 36, 0, Some(6.0)),
                },
                CanaryStep {
                    step: 2,
                    label: "kill -9 kafka-2".into(),
                    from_s: 22.0,
                    to_s: 22.4,
                    stats: stretch(0, 0, 0, None),
                },
                CanaryStep {
                    step: 3,
                    label: "wait for producer orders-writer to finish".into(),
                    from_s: 22.4,
                    to_s: 58.0,
                    stats: stretch(108, 101, 7300, None),
                },
            ],
            per_partition: Vec::new(),
            windows: vec![CanaryWindow {
                partition: 1,
                from_s: 23.0,
                to_s: 30.3,
                duration_ms: 7300,
                open: false,
            }],
            errors: vec![CanaryError {
                at_s: 22.6,
                source: "producer".into(),
                error: "kafka-2:9092/2: Connect failed".into(),
                count: 7,
            }],
            timeline: Vec::new(),
        };
        insta::assert_snapshot!(markdown(&report));
    }
}
