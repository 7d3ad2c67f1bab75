//! The canary's metrics in the Prometheus text format, under Strimzi's canary names where Strimzi
//! has one (`strimzi_canary_*`, labels `clientid` and `partition`), and `kafka_harness_canary_*`
//! for what Strimzi does not measure (availability, unavailability windows). Rendered from the
//! recorded history at every scrape: one source of truth for the endpoint and the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::history::{self, History, Judging, Outcome};

/// Upper bounds of the latency histograms, in ms: Strimzi's defaults (100 to 1600, doubling)
/// extended down for a local cluster's few milliseconds and up for a leader election's seconds, so
/// a dashboard built on Strimzi's buckets still finds every one of them.
pub const BUCKETS_MS: [f64; 10] = [
    25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0, 3200.0, 6400.0, 12800.0,
];

/// A Prometheus histogram over `BUCKETS_MS`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last slot is above every bound.
    counts: [u64; BUCKETS_MS.len() + 1],
    sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, ms: f64) {
        let slot = BUCKETS_MS
            .iter()
            .position(|le| ms <= *le)
            .unwrap_or(BUCKETS_MS.len());
        self.counts[slot] += 1;
        self.sum += ms;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(le, cumulative count)` for every bucket, `+Inf` last.
    pub fn cumulative(&self) -> Vec<(String, u64)> {
        let mut total = 0;
        let mut out = Vec::with_capacity(self.counts.len());
        for (i, c) in self.counts.iter().enumerate() {
            total += c;
            let le = BUCKETS_MS
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| number(*b));
            out.push((le, total));
        }
        out
    }
}

/// A float as Prometheus writes it: integers without a fraction.
fn number(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes metric families in the text exposition format (version 0.0.4).
#[derive(Debug, Default)]
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.out, "{{{}}}", inner.join(","));
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        for (le, count) in h.cumulative() {
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&format!("{name}_bucket"), &with_le, count as f64);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum);
        self.sample(&format!("{name}_count"), labels, h.count() as f64);
    }
}

/// Per partition, what the Strimzi metrics count.
#[derive(Debug, Default)]
struct PartitionCounts {
    produced: u64,
    failed: u64,
    consumed: u64,
    produce_latency: Histogram,
    e2e_latency: Histogram,
}

/// A per-partition counter family: name, help, and what it counts.
type Counter = (&'static str, &'static str, fn(&PartitionCounts) -> u64);

/// The whole exposition for the history so far. `partitions` lists every partition the topic has
/// (so a partition that never answered still shows its zeros).
pub fn render(history: &History, client_id: &str, partitions: u32, judging: Judging) -> String {
    let mut per: BTreeMap<i32, PartitionCounts> = (0..i32::try_from(partitions).unwrap_or(0))
        .map(|p| (p, PartitionCounts::default()))
        .collect();
    let ms = |us: u64| us as f64 / 1000.0;
    for r in &history.records {
        let c = per.entry(r.partition).or_default();
        // As Strimzi counts: every send that has an outcome is produced, failures also as failed;
        // latency is observed for successful sends only.
        match r.outcome {
            Outcome::Acked(at) => {
                c.produced += 1;
                c.produce_latency.observe(ms(at.saturating_sub(r.sent_us)));
            }
            Outcome::Failed(_) => {
                c.produced += 1;
                c.failed += 1;
            }
            Outcome::Pending => {}
        }
        if let Some(at) = r.consumed_us {
            c.consumed += 1;
            c.e2e_latency.observe(ms(at.saturating_sub(r.sent_us)));
        }
    }
    let mut e = Exposition::default();
    let counters: [Counter; 3] = [
        (
            "strimzi_canary_records_produced_total",
            "The total number of records produced",
            |c| c.produced,
        ),
        (
            "strimzi_canary_records_produced_failed_total",
            "The total number of records failed to produce",
            |c| c.failed,
        ),
        (
            "strimzi_canary_records_consumed_total",
            "The total number of records consumed",
            |c| c.consumed,
        ),
    ];
    for (name, help, value) in counters {
        e.family(name, "counter", help);
        for (p, c) in &per {
            let p = p.to_string();
            e.sample(
                name,
                &[("clientid", client_id), ("partition", &p)],
                value(c) as f64,
            );
        }
    }
    e.family(
        "strimzi_canary_records_produced_latency",
        "histogram",
        "Records produced latency in milliseconds",
    );
    for (p, c) in &per {
        let p = p.to_string();
        e.histogram(
            "strimzi_canary_records_produced_latency",
            &[("clientid", client_id), ("partition", &p)],
            &c.produce_latency,
        );
    }
    e.family(
        "strimzi_canary_records_consumed_latency",
        "histogram",
        "Records end-to-end latency in milliseconds",
    );
    for (p, c) in &per {
        let p = p.to_string();
        e.histogram(
            "strimzi_canary_records_consumed_latency",
            &[("clientid", client_id), ("partition", &p)],
            &c.e2e_latency,
        );
    }
    e.family(
        "strimzi_canary_consumer_error_total",
        "counter",
        "Total number of errors reported by the consumer",
    );
    e.sample(
        "strimzi_canary_consumer_error_total",
        &[("clientid", client_id)],
        history.consumer_errors as f64,
    );

    let windows = history::windows(history, judging);
    let run = history::stretch(history, judging, &windows, 0, u64::MAX);
    e.family(
        "kafka_harness_canary_partitions",
        "gauge",
        "Partitions of the canary topic (one per broker)",
    );
    e.sample(
        "kafka_harness_canary_partitions",
        &[],
        f64::from(partitions),
    );
    e.family(
        "kafka_harness_canary_records_duplicated_total",
        "counter",
        "Canary records the consumer read more than once",
    );
    e.sample(
        "kafka_harness_canary_records_duplicated_total",
        &[],
        history.duplicates as f64,
    );
    e.family(
        "kafka_harness_canary_availability_ratio",
        "gauge",
        "Share of canary records acknowledged within the availability budget, since the warm-up",
    );
    // NaN until a record has been judged (Prometheus's own way to say "no value yet").
    e.sample(
        "kafka_harness_canary_availability_ratio",
        &[],
        run.availability_percent.map_or(f64::NAN, |a| a / 100.0),
    );
    e.family(
        "kafka_harness_canary_longest_unavailability_seconds",
        "gauge",
        "Longest time a canary partition went from a late or failed send to its next acknowledgement",
    );
    e.sample(
        "kafka_harness_canary_longest_unavailability_seconds",
        &[],
        run.longest_unavailability_ms as f64 / 1000.0,
    );
    e.family(
        "kafka_harness_canary_partition_unavailable",
        "gauge",
        "1 while a canary partition has a late or failed send and no acknowledgement since",
    );
    for p in per.keys() {
        let open = windows.iter().any(|w| w.partition == *p && w.open);
        let p = p.to_string();
        e.sample(
            "kafka_harness_canary_partition_unavailable",
            &[("partition", &p)],
            if open { 1.0 } else { 0.0 },
        );
    }
    e.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        for ms in [3.0, 25.0, 25.1, 150.0, 20_000.0] {
            h.observe(ms);
        }
        let c = h.cumulative();
        assert_eq!(c[0], ("25".to_owned(), 2), "the bound itself is inside");
        assert_eq!(c[1], ("50".to_owned(), 3));
        assert_eq!(c[3], ("200".to_owned(), 4));
        assert_eq!(c[9], ("12800".to_owned(), 4));
        assert_eq!(c[10], ("+Inf".to_owned(), 5));
        assert_eq!(h.count(), 5);
    }

    #[test]
    fn exposition_uses_strimzi_names() {
        let mut h = History::default();
        h.measured_from_us.insert(0, 0);
        h.measured_from_us.insert(1, 0);
        let a = h.push(0, 0);
        let b = h.push(1, 0);
        let c = h.push(0, 1_000_000);
        if let Some(r) = h.record_mut(a) {
            r.outcome = Outcome::Acked(12_000);
            r.consumed_us = Some(20_000);
        }
        if let Some(r) = h.record_mut(b) {
            r.outcome = Outcome::Failed(30_000_000);
        }
        // `c` is still pending: neither produced nor failed yet
        assert_eq!(c, 3);
        h.consumer_errors = 2;
        let text = render(
            &h,
            "kafka-harness-canary",
            3,
            Judging {
                budget_us: 1_000_000,
                end_us: 1_500_000,
            },
        );
        for line in [
            "# TYPE strimzi_canary_records_produced_total counter",
            "strimzi_canary_records_produced_total{clientid=\"kafka-harness-canary\",partition=\"0\"} 1",
            "strimzi_canary_records_produced_total{clientid=\"kafka-harness-canary\",partition=\"1\"} 1",
            "strimzi_canary_records_produced_total{clientid=\"kafka-harness-canary\",partition=\"2\"} 0",
            "strimzi_canary_records_produced_failed_total{clientid=\"kafka-harness-canary\",partition=\"1\"} 1",
            "strimzi_canary_records_consumed_total{clientid=\"kafka-harness-canary\",partition=\"0\"} 1",
            "# TYPE strimzi_canary_records_produced_latency histogram",
            "strimzi_canary_records_produced_latency_bucket{clientid=\"kafka-harness-canary\",partition=\"0\",le=\"25\"} 1",
            "strimzi_canary_records_produced_latency_sum{clientid=\"kafka-harness-canary\",partition=\"0\"} 12",
            "strimzi_canary_records_consumed_latency_bucket{clientid=\"kafka-harness-canary\",partition=\"0\",le=\"+Inf\"} 1",
            "strimzi_canary_records_consumed_latency_count{clientid=\"kafka-harness-canary\",partition=\"0\"} 1",
            "strimzi_canary_consumer_error_total{clientid=\"kafka-harness-canary\"} 2",
            "kafka_harness_canary_partitions 3",
            "kafka_harness_canary_availability_ratio 0.5",
            "kafka_harness_canary_partition_unavailable{partition=\"1\"} 1",
            "kafka_harness_canary_partition_unavailable{partition=\"0\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
        }
    }

    #[test]
    fn availability_is_nan_until_a_record_is_judged() {
        let text = render(
            &History::default(),
            "c",
            1,
            Judging {
                budget_us: 1,
                end_us: 0,
            },
        );
        assert!(
            text.lines()
                .any(|l| l == "kafka_harness_canary_availability_ratio NaN"),
            "{text}"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let mut e = Exposition::default();
        e.sample("m", &[("l", "a\"b\\c\nd")], 1.5);
        assert_eq!(e.out, "m{l=\"a\\\"b\\\\c\\nd\"} 1.5\n");
    }
}
