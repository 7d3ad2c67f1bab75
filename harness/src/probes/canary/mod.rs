//! The canary probe: what Strimzi's canary does, under every scenario unless turned off. A topic
//! with a partition per broker, one record per partition per interval, read back by its own
//! consumer; latency histograms, error counters and availability, served as Prometheus text while
//! the run lasts and judged per step when it ends.

mod history;
mod metrics;
mod probe;

pub use history::{
    CanaryError, CanaryPartition, CanaryReport, CanarySlice, CanaryStep, CanaryWindow,
    LatencySummary, Layout, Stretch,
};
pub use probe::{plan_line, Canary, CLIENT_ID, TOPIC};
