//! kafka-harness: declarative upgrade rehearsals for Kafka data platforms.
//!
//! Data flows one way: files (`scenario`) → `plan` → `runtime` (Docker, `components`) → `steps` →
//! `report`. Nothing before `runtime` needs Docker.

pub mod avro;
pub mod checks;
pub mod cli;
pub mod client;
pub mod components;
pub mod error;
pub mod load;
pub mod logscan;
pub mod plan;
pub mod preflight;
pub mod probes;
pub mod progress;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod secrets;
pub mod steps;

/// Every JSON Schema the project commits, with the folder it lives in: the two input file kinds,
/// generated from their serde types, and report.json, generated from the report's types.
pub fn schemas() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let mut out: Vec<_> = scenario::json_schemas()
        .into_iter()
        .map(|(name, schema)| {
            let dir = if name.starts_with("stack") {
                "stacks"
            } else {
                "scenarios"
            };
            (dir, name, schema)
        })
        .collect();
    out.push((
        "reports",
        "report.schema.json",
        serde_json::to_value(schemars::schema_for!(report::Report)).expect("schemas serialize"),
    ));
    out
}
