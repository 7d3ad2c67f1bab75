//! `cdc_integrity`: every change a PostgreSQL writer saw committed arrived in Debezium's topic.

use super::evaluate::CheckResult;
use crate::load::cdc::CdcIntegrity;
use crate::scenario::Scenario;

pub fn evaluate(scenario: &Scenario, cdc: &[CdcIntegrity]) -> Vec<CheckResult> {
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
    let ok = cdc.iter().all(|c| c.lost == 0 && c.committed > 0);
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
        .collect::<Vec<_>>()
        .join("; ");
    vec![CheckResult::of(scenario, name.into(), name, ok, evidence)]
}
