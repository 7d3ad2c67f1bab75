//! Probes that watch the stack while a scenario runs.

pub mod lag;
