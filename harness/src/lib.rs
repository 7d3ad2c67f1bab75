//! kafka-harness: declarative upgrade rehearsals for Kafka data platforms.
//!
//! Data flows one way: files (`scenario`) → `plan` → `runtime` (Docker, `components`, the kept
//! container logs) → `load`, `probes`, `steps` → `checks`, `logscan` → `report`. Nothing before
//! `runtime` needs Docker. Accepted turns against it: `load` fills the integrity ledger and the
//! routing table of `checks` as records pass, and `scenario` names the ledger's `Semantics`. What
//! several layers read sits below all of them: `outcome` (what a step came to), so the probes, the
//! log scanner and the report never import the step executor; `checks::result` (what a check
//! concludes), so the routing, canary and log checks never import the load's evaluation. No two
//! source files import each other, directly or round a circle (checked with a small script over
//! `use crate::` / `super::` paths; see the issue 17 note).

pub mod avro;
pub mod checks;
pub mod cli;
pub mod client;
pub mod components;
pub mod error;
pub mod load;
pub mod logscan;
pub mod outcome;
pub mod plan;
pub mod preflight;
pub mod probes;
pub mod progress;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod secrets;
pub mod steps;

/// mimalloc serves every allocation of a process that links this crate: Rust's through this
/// global allocator, and, with the `override` feature, C's `malloc`/`free` too — librdkafka's.
///
/// Why: a load producer allocates each message (and its header list) on the sending thread and
/// librdkafka frees it on its delivery thread. glibc's malloc serves that pattern from the sending
/// thread's arena under its lock, which both threads then contend for. With glibc, malloc, free
/// and their lock waits were ~40 % of the sending thread's samples at ~150k records/s with one
/// header, and that header (three C allocations a record) cost a third of the rate. With
/// mimalloc (`cargo bench --bench avro`, same machine): plain records 240k → 300k records/s, the
/// same records with the ids header 0.65-0.78 → 0.82-0.89 of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
