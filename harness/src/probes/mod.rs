//! Probes that watch the stack while a scenario runs.

pub mod canary;
pub mod lag;
pub mod metrics_http;
pub mod mirror_lag;
pub mod registry;
pub mod replication;
pub mod ticker;
