//! The canary-routing section of report.md: one row per phase (threshold, records to each
//! version, the share routed, the pause before it, each version's lag), the promotion, and the
//! integrity equation per original partition.

use std::fmt::Write as _;

use crate::checks::routing::RoutingReport;

pub fn markdown(r: &RoutingReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "## Canary routing\n\nRouter `{}` on `{}` ({}), {} instance(s), {} commit(s), {} abort(s); legacy version `{}`, new version `{}`.\n",
        r.router,
        r.topic,
        if r.transactional {
            "transactions, exactly-once"
        } else {
            "no transactions, at-least-once"
        },
        r.instances,
        r.commits,
        r.aborts,
        r.legacy,
        r.canary
    );
    let _ = writeln!(
        o,
        "| phase | threshold | from | to | to legacy | to canary | share to canary | pause before | legacy max lag | canary max lag |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for (i, p) in r.phases.iter().enumerate() {
        let _ = writeln!(
            o,
            "| {} | {} | {:.1} s | {:.1} s | {} | {} | {} | {} ms | {} | {} |",
            i + 1,
            p.threshold,
            p.started_at_s,
            p.ended_at_s,
            p.to_legacy,
            p.to_canary,
            p.share_text(),
            p.pause_ms,
            p.legacy_max_lag,
            p.canary_max_lag
        );
    }
    if let Some(p) = &r.promotion {
        let starts: Vec<String> = p
            .started_at
            .iter()
            .map(|(part, o)| {
                format!(
                    "{part}: {o} (router stopped before {})",
                    p.router_end.get(part).copied().unwrap_or(0)
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "\nPromoted at {:.1} s from the `{}` offsets; the new version started at {}.",
            p.at_s,
            p.from,
            starts.join(", ")
        );
    }
    let _ = writeln!(
        o,
        "\n| partition | records | legacy | canary (direct) | records − canary − legacy | unhandled | by both versions | twice by one version | gap at promotion | overlap at promotion | re-reads |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for p in &r.verdict.partitions {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} | {} |",
            p.partition,
            p.records,
            p.legacy,
            p.canary,
            p.direct,
            p.balance,
            p.unhandled,
            p.by_both_versions,
            p.twice_by_one_version,
            p.gap_at_promotion,
            p.overlap_at_promotion,
            p.redelivered
        );
    }
    if !r.errors.is_empty() {
        o.push('\n');
    }
    for (at, e) in r.errors.iter().take(10) {
        let _ = writeln!(o, "- router error at {at:.1} s: {}", e.replace('|', "\\|"));
    }
    o.push('\n');
    o
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::checks::routing::{Promotion, RoutingPhase, RoutingTable, ServiceVersion};

    #[test]
    fn routing_section() {
        let phase = |threshold, from, to, legacy, canary, pause_ms| RoutingPhase {
            threshold,
            started_at_s: from,
            ended_at_s: to,
            to_legacy: legacy,
            to_canary: canary,
            pause_ms,
            legacy_max_lag: 40,
            canary_max_lag: 7,
        };
        let mut table = RoutingTable::new();
        for o in 0..8 {
            let v = if o < 6 {
                ServiceVersion::Legacy
            } else {
                ServiceVersion::Canary
            };
            table.handled(v, false, (0, o), (0, o));
        }
        table.handled(ServiceVersion::Canary, true, (0, 9), (0, 9));
        let ends = BTreeMap::from([(0, 10)]);
        let router_end = BTreeMap::from([(0, 8)]);
        let report = RoutingReport {
            router: "canary-router".into(),
            topic: "orders".into(),
            transactional: true,
            legacy: "orders-v1".into(),
            canary: "orders-v2".into(),
            phases: vec![
                phase(0.1, 1.0, 5.0, 5, 1, 0),
                phase(1.0, 5.0, 9.0, 1, 1, 120),
            ],
            promotion: Some(Promotion {
                at_s: 9.5,
                from: "latest".into(),
                router_end: router_end.clone(),
                started_at: BTreeMap::from([(0, 9)]),
            }),
            instances: 2,
            commits: 31,
            aborts: 0,
            errors: vec![(4.2, "commit: Broker: Not coordinator".into())],
            verdict: table.verdict(&ends, &router_end),
            ends,
        };
        insta::assert_snapshot!(markdown(&report));
    }
}
