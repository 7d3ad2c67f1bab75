//! Stack and scenario files: their model, loading and diagnostics.

mod canary;
mod diagnostics;
mod duration;
mod kind;
mod load;
mod migration;
mod model;
mod router;
pub(crate) mod serde_types;

pub use diagnostics::{Diagnostic, InputError};
pub use duration::{format_duration, parse_duration};
pub use load::{load_document, load_scenario, load_stack, parse_properties, yaml_files, Document};
pub use model::*;

/// JSON Schemas of both file kinds, generated from the serde types.
pub fn json_schemas() -> [(&'static str, serde_json::Value); 2] {
    [
        (
            "stack.schema.json",
            serde_json::to_value(schemars::schema_for!(serde_types::StackSerde))
                .expect("schemas serialize"),
        ),
        (
            "scenario.schema.json",
            serde_json::to_value(schemars::schema_for!(serde_types::ScenarioSerde))
                .expect("schemas serialize"),
        ),
    ]
}
