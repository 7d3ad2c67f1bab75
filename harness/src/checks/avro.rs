//! `avro_reads`: an Avro consumer read records written with each named schema, and decoded every
//! record it read — how a consumer still on an old reader schema proves it keeps up with producers
//! that moved to a newer one.

use super::result::CheckResult;
use crate::load::LoadResults;
use crate::scenario::Scenario;

pub fn evaluate(scenario: &Scenario, load: &LoadResults) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for want in &scenario.checks.avro_reads {
        let name = format!("avro_reads[{}]", want.consumer);
        let stats = load
            .consumers
            .iter()
            .find(|c| c.name == want.consumer)
            .and_then(|c| c.avro.as_ref());
        let Some(stats) = stats else {
            out.push(CheckResult::of(
                scenario,
                name,
                "avro_reads",
                false,
                format!("consumer {} never ran", want.consumer),
            ));
            continue;
        };
        let mut ok = stats.undecodable == 0;
        let mut seen = Vec::new();
        for file in &want.writer_schemas {
            // Every id this file was registered under (one per subject).
            let ids: Vec<u32> = load
                .registrations
                .iter()
                .filter(|r| r.schema == file.name())
                .map(|r| r.id)
                .collect();
            let read: u64 = ids
                .iter()
                .filter_map(|id| stats.by_writer_schema.get(id))
                .sum();
            if read == 0 {
                ok = false;
            }
            seen.push(match ids.as_slice() {
                [] => format!("{}: never registered in this run", file.name()),
                _ => format!(
                    "{read} written with {} (id {})",
                    file.name(),
                    ids.iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        out.push(CheckResult::of(
            scenario,
            name,
            "avro_reads",
            ok,
            format!(
                "{} (reader schema {}): {}; {} undecodable",
                want.consumer,
                stats
                    .reader_schema
                    .as_deref()
                    .unwrap_or("none: writer schemas"),
                seen.join(", "),
                stats.undecodable
            ),
        ));
    }
    out
}
