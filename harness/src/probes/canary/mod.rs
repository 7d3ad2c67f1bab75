//! The canary probe: what Strimzi's canary does, under every scenario unless turned off. A topic
//! with a partition per broker, one record per partition per interval, read back by its own
//! consumer; latency histograms, error counters and availability, served as Prometheus text while
//! the run lasts and judged per step when it ends.

mod history;
mod metrics;
mod probe;

pub use history::{
    grow_to, quantile, CanaryError, CanaryPartition, CanaryReport, CanaryStep, CanaryWindow,
    LatencySummary, Layout, Stretch,
};
pub use metrics::BUCKETS_MS;
pub use probe::{Canary, CLIENT_ID, TOPIC};

/// One line for `plan`: what the canary will do in this scenario's stack.
pub fn plan_line(s: &crate::scenario::Scenario) -> Option<String> {
    let c = &s.canary;
    if !c.enabled {
        return None;
    }
    let l = Layout::for_brokers(usize::from(s.stack.kafka.brokers));
    let port = match c.metrics_port {
        0 => "an ephemeral port".to_owned(),
        p => format!("port {p}"),
    };
    Some(format!(
        "topic {TOPIC} (partitions={} rf={} min.insync.replicas={}), one record per partition every {}, available when acknowledged within {}; metrics on 127.0.0.1, {port}",
        l.partitions,
        l.replication_factor,
        l.min_insync_replicas,
        crate::scenario::format_duration(c.interval),
        crate::scenario::format_duration(c.budget),
    ))
}
