//! `cdc_integrity`: every change a PostgreSQL writer saw committed arrived in Debezium's topic.

use super::evaluate::CheckResult;
use crate::load::cdc::{CdcIntegrity, ClickHouseIntegrity};
use crate::scenario::Scenario;

pub fn evaluate(
    scenario: &Scenario,
    cdc: &[CdcIntegrity],
    clickhouse: &[ClickHouseIntegrity],
) -> Vec<CheckResult> {
    if !scenario.checks.cdc_integrity {
        return Vec::new();
    }
    let name = "cdc_integrity";
    if cdc.is_empty() {
        return vec![CheckResult::of(
            scenario,
            name.into(),
            name,
            false,
            "no writer's table is captured by a connector, so nothing shows that changes arrived"
                .into(),
        )];
    }
    let ok = cdc.iter().all(|c| c.lost == 0 && c.committed > 0)
        && clickhouse.iter().all(ClickHouseIntegrity::passed);
    let tables = clickhouse.iter().map(|h| {
        if let Some(e) = &h.error {
            return format!("ClickHouse {}: not readable: {e}", h.table);
        }
        let caught = h
            .caught_up_after_s
            .map_or_else(|| "did not catch up within 30 s".to_owned(), |s| format!("caught up {s:.1} s after the writer stopped"));
        let bad = if h.samples.is_empty() {
            String::new()
        } else {
            format!(" ({})", h.samples.join("; "))
        };
        format!(
            "ClickHouse {} (FINAL) against {}'s rows: {} alive and {} deleted expected, {} matched, {} missing, {} stale, {} not deleted, {} unexpected, {} uncertain{bad}; {caught}",
            h.table, h.writer, h.expected, h.deleted, h.matched, h.missing, h.stale, h.not_deleted, h.unexpected, h.uncertain
        )
    });
    let evidence = cdc
        .iter()
        .map(|c| {
            let lost = if c.lost > 0 {
                format!(" ({})", c.lost_samples.join(", "))
            } else {
                String::new()
            };
            format!(
                "{} -> {}: {} committed, {} arrived, {} lost{lost}, {} duplicated by Debezium, {} unknown, {} unexpected; commit to topic p50 {:.0} ms, p99 {:.0} ms",
                c.writer, c.topic, c.committed, c.arrived, c.lost, c.duplicated, c.unknown, c.unexpected, c.latency_p50_ms, c.latency_p99_ms
            )
        })
        .chain(tables)
        .collect::<Vec<_>>()
        .join("; ");
    vec![CheckResult::of(scenario, name.into(), name, ok, evidence)]
}
