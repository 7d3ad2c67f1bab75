//! kafka-harness: declarative upgrade rehearsals for Kafka data platforms.
//!
//! Data flows one way: files (`scenario`) → `plan` → `runtime` (Docker, `components`) → `steps` →
//! `report`. Nothing before `runtime` needs Docker.

pub mod checks;
pub mod cli;
pub mod client;
pub mod components;
pub mod error;
pub mod load;
pub mod plan;
pub mod probes;
pub mod progress;
pub mod report;
pub mod runtime;
pub mod scenario;
pub mod secrets;
pub mod steps;
