//! kafka-harness: declarative upgrade rehearsals for Kafka data platforms.
//!
//! Data flows one way: files (`scenario`) → `plan` → `runtime` (Docker, `components`) → `steps` →
//! `report`. Nothing before `runtime` needs Docker.

pub mod scenario;
pub mod components;
pub mod runtime;
pub mod secrets;
pub mod client;
pub mod progress;
pub mod steps;
pub mod plan;
pub mod report;
pub mod error;
pub mod cli;
