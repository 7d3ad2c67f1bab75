//! What the canary recorded — one entry per record, from its send to its consumption — and what it
//! means: availability, unavailability windows and latency percentiles, over the run and per step.
//! Plain functions over recorded data; the probe only appends to a `History`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Microseconds in a second; every time in a `History` is in microseconds since the run's epoch.
const US: u64 = 1_000_000;

/// What became of a send, and when (microseconds since the run's epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pending,
    Acked(u64),
    Failed(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanaryRecord {
    /// The message id carried in the payload; ids start at 1 and follow the send order.
    pub id: u64,
    pub partition: i32,
    /// When the record was due (its interval's tick), so a stalled harness shows up as latency.
    pub sent_us: u64,
    pub outcome: Outcome,
    /// The first time the canary consumer read it.
    pub consumed_us: Option<u64>,
}

/// A distinct error the canary saw, when first and how often.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CanaryError {
    /// Seconds since the run started.
    pub at_s: f64,
    /// `topic`, `producer` or `consumer`.
    pub source: String,
    pub error: String,
    pub count: u64,
}

/// Everything the canary recorded. Appended to while the run lasts; judged when it ends (and at
/// every scrape of the metrics endpoint).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub records: Vec<CanaryRecord>,
    /// Per partition, when its records start to count: the end of the warm-up for the partitions
    /// the canary started with, the first acknowledgement for partitions added later.
    pub measured_from_us: BTreeMap<i32, u64>,
    /// Records the consumer read more than once.
    pub duplicates: u64,
    pub consumer_errors: u64,
    pub errors: Vec<CanaryError>,
}

/// Distinct errors kept in a report; later ones only raise the count of one already kept.
const MAX_ERRORS: usize = 20;

impl History {
    /// Appends a record due at `sent_us` and returns its message id.
    pub fn push(&mut self, partition: i32, sent_us: u64) -> u64 {
        let id = self.records.len() as u64 + 1;
        self.records.push(CanaryRecord {
            id,
            partition,
            sent_us,
            outcome: Outcome::Pending,
            consumed_us: None,
        });
        id
    }

    pub fn record_mut(&mut self, id: u64) -> Option<&mut CanaryRecord> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.records.get_mut(index)
    }

    pub fn note_error(&mut self, at_s: f64, source: &str, error: String) {
        if let Some(e) = self
            .errors
            .iter_mut()
            .find(|e| e.source == source && e.error == error)
        {
            e.count += 1;
        } else if self.errors.len() < MAX_ERRORS {
            self.errors.push(CanaryError {
                at_s,
                source: source.to_owned(),
                error,
                count: 1,
            });
        }
    }
}

/// How the run's records are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judging {
    /// A record is available when acknowledged within this many microseconds of its send.
    pub budget_us: u64,
    /// When the canary stopped sending: a record still without an outcome is unavailable if it was
    /// sent at least a budget before, and undecided (not counted) otherwise.
    pub end_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Sent before its partition's measuring began (the topic was new, metadata still spreading).
    WarmUp,
    Available,
    Unavailable,
    /// Sent too close to the end to know.
    Undecided,
}

fn verdict(r: &CanaryRecord, history: &History, j: Judging) -> Verdict {
    match history.measured_from_us.get(&r.partition) {
        Some(from) if r.sent_us >= *from => {}
        _ => return Verdict::WarmUp,
    }
    match r.outcome {
        Outcome::Acked(at) if at.saturating_sub(r.sent_us) <= j.budget_us => Verdict::Available,
        Outcome::Acked(_) | Outcome::Failed(_) => Verdict::Unavailable,
        Outcome::Pending if r.sent_us.saturating_add(j.budget_us) <= j.end_us => {
            Verdict::Unavailable
        }
        Outcome::Pending => Verdict::Undecided,
    }
}

/// A stretch of time during which one partition did not take records on time: from the send of a
/// late or failed record to the next acknowledgement of a record sent at or after it (the late
/// record's own, if it came). Overlapping stretches of a partition are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub partition: i32,
    pub from_us: u64,
    pub to_us: u64,
    /// No acknowledgement came until the canary stopped.
    pub open: bool,
}

impl Window {
    pub fn duration_us(&self) -> u64 {
        self.to_us.saturating_sub(self.from_us)
    }
}

/// Every unavailability window, per partition in time order, partitions in order.
pub fn windows(history: &History, j: Judging) -> Vec<Window> {
    let mut by_partition: BTreeMap<i32, Vec<&CanaryRecord>> = BTreeMap::new();
    for r in &history.records {
        by_partition.entry(r.partition).or_default().push(r);
    }
    let mut out = Vec::new();
    for (partition, mut records) in by_partition {
        records.sort_by_key(|r| (r.sent_us, r.id));
        // The earliest acknowledgement among the records sent at or after each one.
        let mut next_ack = vec![u64::MAX; records.len() + 1];
        for i in (0..records.len()).rev() {
            let own = match records[i].outcome {
                Outcome::Acked(at) => at,
                _ => u64::MAX,
            };
            next_ack[i] = own.min(next_ack[i + 1]);
        }
        let mut current: Option<Window> = None;
        for (i, r) in records.iter().enumerate() {
            if verdict(r, history, j) != Verdict::Unavailable {
                continue;
            }
            let (to_us, open) = match next_ack[i] {
                u64::MAX => (j.end_us.max(r.sent_us), true),
                at => (at, false),
            };
            let w = Window {
                partition,
                from_us: r.sent_us,
                to_us,
                open,
            };
            current = match current {
                Some(mut c) if w.from_us <= c.to_us => {
                    if w.to_us >= c.to_us {
                        c.to_us = w.to_us;
                        c.open = w.open;
                    }
                    Some(c)
                }
                Some(c) => {
                    out.push(c);
                    Some(w)
                }
                None => Some(w),
            };
        }
        out.extend(current);
    }
    out
}

/// The value at quantile `q` by nearest rank (the smallest value with at least q of the samples at
/// or below it). `f64::INFINITY` stands for a record that never arrived.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

/// Latency percentiles over one stretch, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct LatencySummary {
    /// Records measured, including the unbounded ones.
    pub samples: u64,
    /// Records acknowledged but never read by the canary consumer: counted as infinitely late.
    pub unbounded: u64,
    /// Null when there is no sample, or when the percentile falls on an unbounded record.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

fn summarize(mut values_ms: Vec<f64>) -> LatencySummary {
    values_ms.sort_by(f64::total_cmp);
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
    LatencySummary {
        samples: values_ms.len() as u64,
        unbounded: values_ms.iter().filter(|v| v.is_infinite()).count() as u64,
        p50_ms: finite(quantile(&values_ms, 0.5)),
        p99_ms: finite(quantile(&values_ms, 0.99)),
        max_ms: finite(quantile(&values_ms, 1.0)),
    }
}

/// The canary's numbers over one stretch of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Stretch {
    /// Records judged: sent after the warm-up, with an outcome (or overdue).
    pub records: u64,
    /// Of those, acknowledged within the availability budget.
    pub available: u64,
    /// `available` / `records` in percent; null when no record was judged.
    pub availability_percent: Option<f64>,
    /// The longest unavailability window that began in this stretch (any partition).
    pub longest_unavailability_ms: u64,
    /// The partition of that window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longest_unavailability_partition: Option<i32>,
    /// From the send to the acknowledgement, of records acknowledged.
    pub produce_latency: LatencySummary,
    /// From the send to the canary consumer.
    pub e2e_latency: LatencySummary,
}

/// Numbers over the records judged in `[from_us, to_us)` and the windows that began then.
///
/// A record is judged when its availability budget runs out (its send plus the budget): whatever
/// delays it happens before then, so a record sent just before a broker is killed belongs to the
/// kill's step, not to the quiet step before it. A window belongs where its first record was judged.
pub fn stretch(history: &History, j: Judging, all: &[Window], from_us: u64, to_us: u64) -> Stretch {
    let judged_in = |sent_us: u64| (from_us..to_us).contains(&sent_us.saturating_add(j.budget_us));
    let mut s = Stretch::default();
    let mut produce = Vec::new();
    let mut e2e = Vec::new();
    let ms = |us: u64| us as f64 / 1000.0;
    for r in history.records.iter().filter(|r| judged_in(r.sent_us)) {
        match verdict(r, history, j) {
            Verdict::WarmUp => continue,
            Verdict::Available => {
                s.records += 1;
                s.available += 1;
            }
            Verdict::Unavailable => s.records += 1,
            Verdict::Undecided => {}
        }
        if let Outcome::Acked(at) = r.outcome {
            produce.push(ms(at.saturating_sub(r.sent_us)));
        }
        match (r.consumed_us, r.outcome) {
            (Some(at), _) => e2e.push(ms(at.saturating_sub(r.sent_us))),
            // Read back neither by the end: gone, as far as the canary can tell.
            (None, Outcome::Acked(at)) if at.saturating_add(j.budget_us) <= j.end_us => {
                e2e.push(f64::INFINITY);
            }
            _ => {}
        }
    }
    s.availability_percent = (s.records > 0).then(|| s.available as f64 * 100.0 / s.records as f64);
    if let Some(w) = all
        .iter()
        .filter(|w| judged_in(w.from_us))
        .max_by_key(|w| (w.duration_us(), std::cmp::Reverse(w.from_us)))
    {
        s.longest_unavailability_ms = w.duration_us() / 1000;
        s.longest_unavailability_partition = Some(w.partition);
    }
    s.produce_latency = summarize(produce);
    s.e2e_latency = summarize(e2e);
    s
}

/// A step of the scenario, with when it ran (seconds since the run started).
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpan {
    /// 0-based, as in `StepOutcome`.
    pub index: usize,
    pub label: String,
    pub from_s: f64,
    pub to_s: f64,
}

/// The canary's numbers while one step ran.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CanaryStep {
    /// 1-based, as scenarios count steps.
    pub step: usize,
    pub label: String,
    pub from_s: f64,
    pub to_s: f64,
    pub stats: Stretch,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CanaryPartition {
    pub partition: i32,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub consumed: u64,
    pub availability_percent: Option<f64>,
    pub longest_unavailability_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CanaryWindow {
    pub partition: i32,
    /// Seconds since the run started.
    pub from_s: f64,
    pub to_s: f64,
    pub duration_ms: u64,
    /// No acknowledgement came until the canary stopped.
    pub open: bool,
}

/// The canary's topic as it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Layout {
    pub partitions: u32,
    pub replication_factor: u16,
    pub min_insync_replicas: u16,
}

impl Layout {
    /// Strimzi's canary layout: a partition per broker, replication factor min(brokers, 3),
    /// min.insync.replicas max(1, RF - 1), so one broker can go away without a refusal.
    pub fn for_brokers(brokers: usize) -> Self {
        let brokers = u16::try_from(brokers.max(1)).unwrap_or(u16::MAX);
        let replication_factor = brokers.min(3);
        Self {
            partitions: u32::from(brokers),
            replication_factor,
            min_insync_replicas: replication_factor.saturating_sub(1).max(1),
        }
    }
}

/// The partition count the topic should grow to when brokers were added; never shrinks.
pub fn grow_to(partitions: u32, brokers: usize) -> Option<u32> {
    let brokers = u32::try_from(brokers).unwrap_or(u32::MAX);
    (brokers > partitions).then_some(brokers)
}

/// Everything the canary saw in a run, for report.json, report.md and the canary checks.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CanaryReport {
    pub topic: String,
    pub layout: Layout,
    /// Partitions at the end (brokers added during the run add partitions).
    pub partitions: u32,
    pub interval_ms: u64,
    /// A record counts as available when acknowledged within this time of its send.
    pub availability_budget_ms: u64,
    /// Seconds since the run started: when the warm-up ended and records began to count.
    pub measured_from_s: f64,
    /// When the canary stopped sending.
    pub stopped_at_s: f64,
    /// Every record sent, warm-up included.
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    /// Records read back by the canary consumer (each once).
    pub consumed: u64,
    pub duplicates: u64,
    pub consumer_errors: u64,
    /// Over the whole run (after the warm-up).
    pub run: Stretch,
    pub steps: Vec<CanaryStep>,
    pub per_partition: Vec<CanaryPartition>,
    /// Every unavailability window, in time order.
    pub windows: Vec<CanaryWindow>,
    pub errors: Vec<CanaryError>,
    /// The run in slices of `TIMELINE_SLICE_S` seconds, for the charts of report.html.
    pub timeline: Vec<CanarySlice>,
}

/// Seconds per slice of the canary's timeline.
pub const TIMELINE_SLICE_S: f64 = 5.0;

/// The canary's numbers over one slice of the run.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CanarySlice {
    /// Seconds since the run started.
    pub from_s: f64,
    pub to_s: f64,
    /// Null when no record was judged in the slice.
    pub availability_percent: Option<f64>,
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
}

/// What the report keeps of the windows: the longest ones, shown in time order.
const MAX_WINDOWS: usize = 50;

pub struct ReportInput<'a> {
    pub topic: &'a str,
    pub layout: Layout,
    pub partitions: u32,
    pub interval_ms: u64,
    pub judging: Judging,
    pub steps: &'a [StepSpan],
}

pub fn report(history: &History, input: &ReportInput<'_>) -> CanaryReport {
    let j = input.judging;
    let all = windows(history, j);
    let secs = |us: u64| us as f64 / US as f64;
    let to_us = |s: f64| (s.max(0.0) * US as f64) as u64;
    let run = stretch(history, j, &all, 0, u64::MAX);
    let steps = input
        .steps
        .iter()
        .map(|s| CanaryStep {
            step: s.index + 1,
            label: s.label.clone(),
            from_s: s.from_s,
            to_s: s.to_s,
            stats: stretch(history, j, &all, to_us(s.from_s), to_us(s.to_s)),
        })
        .collect();
    let mut per_partition: BTreeMap<i32, CanaryPartition> = BTreeMap::new();
    for r in &history.records {
        let p = per_partition
            .entry(r.partition)
            .or_insert_with(|| CanaryPartition {
                partition: r.partition,
                sent: 0,
                acked: 0,
                failed: 0,
                consumed: 0,
                availability_percent: None,
                longest_unavailability_ms: 0,
            });
        p.sent += 1;
        match r.outcome {
            Outcome::Acked(_) => p.acked += 1,
            Outcome::Failed(_) => p.failed += 1,
            Outcome::Pending => {}
        }
        p.consumed += u64::from(r.consumed_us.is_some());
    }
    for p in per_partition.values_mut() {
        let (mut judged, mut available) = (0_u64, 0_u64);
        for r in history
            .records
            .iter()
            .filter(|r| r.partition == p.partition)
        {
            match verdict(r, history, j) {
                Verdict::Available => {
                    judged += 1;
                    available += 1;
                }
                Verdict::Unavailable => judged += 1,
                Verdict::WarmUp | Verdict::Undecided => {}
            }
        }
        p.availability_percent = (judged > 0).then(|| available as f64 * 100.0 / judged as f64);
        p.longest_unavailability_ms = all
            .iter()
            .filter(|w| w.partition == p.partition)
            .map(|w| w.duration_us() / 1000)
            .max()
            .unwrap_or(0);
    }
    let mut kept = all.clone();
    kept.sort_by_key(|w| std::cmp::Reverse(w.duration_us()));
    kept.truncate(MAX_WINDOWS);
    kept.sort_by_key(|w| (w.from_us, w.partition));
    let measured_from_s = history
        .measured_from_us
        .values()
        .min()
        .map_or(secs(j.end_us), |us| secs(*us));
    let mut timeline = Vec::new();
    let mut from_s = measured_from_s;
    while from_s < secs(j.end_us) {
        let to_s = from_s + TIMELINE_SLICE_S;
        let st = stretch(history, j, &all, to_us(from_s), to_us(to_s));
        timeline.push(CanarySlice {
            from_s,
            to_s,
            availability_percent: st.availability_percent,
            e2e_p50_ms: st.e2e_latency.p50_ms,
            e2e_p99_ms: st.e2e_latency.p99_ms,
        });
        from_s = to_s;
    }
    CanaryReport {
        topic: input.topic.to_owned(),
        layout: input.layout,
        partitions: input.partitions,
        interval_ms: input.interval_ms,
        availability_budget_ms: j.budget_us / 1000,
        measured_from_s,
        stopped_at_s: secs(j.end_us),
        sent: history.records.len() as u64,
        acked: history
            .records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Acked(_)))
            .count() as u64,
        failed: history
            .records
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
            .count() as u64,
        consumed: history
            .records
            .iter()
            .filter(|r| r.consumed_us.is_some())
            .count() as u64,
        duplicates: history.duplicates,
        consumer_errors: history.consumer_errors,
        run,
        steps,
        per_partition: per_partition.into_values().collect(),
        windows: kept
            .iter()
            .map(|w| CanaryWindow {
                partition: w.partition,
                from_s: secs(w.from_us),
                to_s: secs(w.to_us),
                duration_ms: w.duration_us() / 1000,
                open: w.open,
            })
            .collect(),
        errors: history.errors.clone(),
        timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = US;
    const MS: u64 = 1000;

    /// One partition, measured from 0, a record every second: `outcomes[i]` is the ack latency in
    /// ms (`Some`) or a failure after 30 s (`None`); every acked record is read 5 ms after its ack.
    fn partition(p: i32, outcomes: &[Option<u64>]) -> History {
        let mut h = History::default();
        h.measured_from_us.insert(p, 0);
        for (i, o) in outcomes.iter().enumerate() {
            let sent = i as u64 * S;
            let id = h.push(p, sent);
            let r = h.record_mut(id).expect("just pushed");
            match o {
                Some(ms) => {
                    r.outcome = Outcome::Acked(sent + ms * MS);
                    r.consumed_us = Some(sent + ms * MS + 5 * MS);
                }
                None => r.outcome = Outcome::Failed(sent + 30 * S),
            }
        }
        h
    }

    fn judging(end_s: u64) -> Judging {
        Judging {
            budget_us: S,
            end_us: end_s * S,
        }
    }

    #[test]
    fn layout_follows_strimzi() {
        let l = |b| {
            let l = Layout::for_brokers(b);
            (l.partitions, l.replication_factor, l.min_insync_replicas)
        };
        assert_eq!(l(1), (1, 1, 1));
        assert_eq!(l(2), (2, 2, 1));
        assert_eq!(l(3), (3, 3, 2));
        assert_eq!(l(5), (5, 3, 2));
        assert_eq!(grow_to(3, 3), None);
        assert_eq!(
            grow_to(3, 2),
            None,
            "a broker that is down never shrinks the topic"
        );
        assert_eq!(grow_to(3, 4), Some(4));
    }

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.99), Some(99.0));
        assert_eq!(quantile(&v, 1.0), Some(100.0));
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
        // with fewer than 100 samples, p99 is the maximum
        let v: Vec<f64> = (1..=50).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.99), Some(50.0));
    }

    #[test]
    fn unbounded_records_push_the_percentile_out() {
        let mut v: Vec<f64> = (1..=98).map(f64::from).collect();
        v.push(f64::INFINITY);
        v.push(f64::INFINITY);
        let s = summarize(v);
        assert_eq!(s.samples, 100);
        assert_eq!(s.unbounded, 2);
        assert_eq!(s.p50_ms, Some(50.0));
        assert_eq!(
            s.p99_ms, None,
            "the 99th value is a record that never arrived"
        );
        assert_eq!(s.max_ms, None);
        let mut v: Vec<f64> = (1..=99).map(f64::from).collect();
        v.push(f64::INFINITY);
        assert_eq!(
            summarize(v).p99_ms,
            Some(99.0),
            "one in a hundred is allowed"
        );
    }

    #[test]
    fn availability_counts_late_and_failed_records() {
        // 10 records: two late (1.5 s, 3 s), one failed
        let h = partition(
            0,
            &[
                Some(5),
                Some(5),
                Some(1500),
                Some(3000),
                None,
                Some(5),
                Some(5),
                Some(5),
                Some(1000),
                Some(5),
            ],
        );
        let j = judging(10);
        let s = stretch(&h, j, &windows(&h, j), 0, u64::MAX);
        assert_eq!(
            (s.records, s.available),
            (10, 7),
            "1000 ms is within the budget"
        );
        assert_eq!(s.availability_percent, Some(70.0));
    }

    #[test]
    fn a_window_runs_from_the_first_bad_send_to_the_next_ack() {
        // sent at 2 s and 3 s: stalled, both acknowledged at 6.0 s; sent at 4 s: failed; sent at
        // 5 s: acknowledged late at 6.2 s; sent at 6 s: acknowledged at 6.005 s
        let mut h = partition(
            0,
            &[Some(5), Some(5), None, None, None, Some(1200), Some(5)],
        );
        h.record_mut(3).expect("r").outcome = Outcome::Acked(6 * S);
        h.record_mut(4).expect("r").outcome = Outcome::Acked(6 * S);
        let j = judging(10);
        let w = windows(&h, j);
        // 2 s..6.0 s and 3 s..6.0 s (their own late acks), then 4 s..6.005 s and 5 s..6.005 s (the
        // record sent at 6 s is acknowledged before the one sent at 5 s): one merged window
        assert_eq!(
            w,
            vec![Window {
                partition: 0,
                from_us: 2 * S,
                to_us: 6 * S + 5 * MS,
                open: false
            }]
        );
    }

    #[test]
    fn separate_windows_and_an_open_one_at_the_end() {
        let h = partition(1, &[Some(5), None, Some(5), Some(5), None, None]);
        let j = judging(8);
        let w = windows(&h, j);
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].from_us, w[0].to_us, w[0].open),
            (S, 2 * S + 5 * MS, false)
        );
        // nothing acknowledged after 4 s: open until the canary stopped at 8 s
        assert_eq!((w[1].from_us, w[1].to_us, w[1].open), (4 * S, 8 * S, true));
        let s = stretch(&h, j, &w, 0, u64::MAX);
        assert_eq!(s.longest_unavailability_ms, 4000);
        assert_eq!(s.longest_unavailability_partition, Some(1));
    }

    #[test]
    fn warm_up_and_undecided_records_do_not_count() {
        let mut h = partition(0, &[None, None, Some(5), Some(5)]);
        h.measured_from_us.insert(0, 2 * S);
        // sent at 3 s, still pending when the canary stopped at 3.5 s: too early to say
        h.record_mut(4).expect("r").outcome = Outcome::Pending;
        h.record_mut(4).expect("r").consumed_us = None;
        let j = Judging {
            budget_us: S,
            end_us: 3 * S + S / 2,
        };
        let w = windows(&h, j);
        assert!(w.is_empty(), "{w:?}");
        let s = stretch(&h, j, &w, 0, u64::MAX);
        assert_eq!((s.records, s.available), (1, 1));
        // a pending record sent more than a budget before the end is unavailable
        let j = judging(5);
        let s = stretch(&h, j, &windows(&h, j), 0, u64::MAX);
        assert_eq!((s.records, s.available), (2, 1));
    }

    #[test]
    fn end_to_end_latency_counts_unread_records_as_unbounded() {
        let mut h = partition(0, &[Some(5); 4]);
        h.record_mut(2).expect("r").consumed_us = None;
        let j = judging(10);
        let s = stretch(&h, j, &[], 0, u64::MAX);
        assert_eq!(s.e2e_latency.samples, 4);
        assert_eq!(s.e2e_latency.unbounded, 1);
        assert_eq!(s.e2e_latency.p50_ms, Some(10.0));
        assert_eq!(s.e2e_latency.p99_ms, None);
        assert_eq!(s.produce_latency.p99_ms, Some(5.0));
    }

    #[test]
    fn per_step_numbers_and_the_report() {
        let mut h = partition(0, &[Some(5), Some(5), None, Some(2500), Some(5), Some(5)]);
        // partition 1 is added later and counts from its first ack
        let id = h.push(1, 4 * S);
        h.record_mut(id).expect("r").outcome = Outcome::Acked(4 * S + 10 * MS);
        h.measured_from_us.insert(1, 4 * S + 10 * MS);
        h.note_error(
            2.0,
            "producer",
            "Broker: Not enough in-sync replicas".into(),
        );
        h.note_error(
            3.0,
            "producer",
            "Broker: Not enough in-sync replicas".into(),
        );
        let steps = [
            // records are judged a budget (1 s) after their send: sent at 0 and 1 s in step 1,
            // sent from 2 s to 5 s in step 2
            StepSpan {
                index: 0,
                label: "wait 3s".into(),
                from_s: 0.0,
                to_s: 3.0,
            },
            StepSpan {
                index: 1,
                label: "kill -9 kafka-2".into(),
                from_s: 3.0,
                to_s: 7.0,
            },
        ];
        let r = report(
            &h,
            &ReportInput {
                topic: "t",
                layout: Layout::for_brokers(2),
                partitions: 2,
                interval_ms: 1000,
                judging: judging(6),
                steps: &steps,
            },
        );
        assert_eq!((r.sent, r.acked, r.failed), (7, 6, 1));
        assert_eq!(r.steps[0].stats.availability_percent, Some(100.0));
        assert_eq!(
            r.steps[1].stats.records, 4,
            "the record of partition 1 is warm-up"
        );
        assert_eq!(r.steps[1].stats.availability_percent, Some(50.0));
        // from the failed send at 2 s to the first ack of a record sent since: not the late one
        // sent at 3 s (5.5 s) but the one sent at 4 s (4.005 s)
        assert_eq!(r.steps[1].stats.longest_unavailability_ms, 2005);
        assert_eq!(r.steps[0].stats.longest_unavailability_ms, 0);
        assert_eq!(r.windows.len(), 1);
        assert_eq!(r.per_partition.len(), 2);
        assert_eq!(r.per_partition[1].availability_percent, None);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].count, 2);
        assert!((r.measured_from_s - 0.0).abs() < 1e-9);
    }

    #[test]
    fn a_record_sent_just_before_a_step_is_judged_in_it() {
        // sent at 0..4 s; the one sent at 2 s waits 1.5 s because of what step 2 does at 2.5 s
        let h = partition(0, &[Some(5), Some(5), Some(1500), Some(5), Some(5)]);
        let j = judging(6);
        let all = windows(&h, j);
        let quiet = stretch(&h, j, &all, 0, (2 * S) + S / 2);
        let kill = stretch(&h, j, &all, (2 * S) + S / 2, 6 * S);
        assert_eq!((quiet.records, quiet.available), (2, 2));
        assert_eq!(quiet.longest_unavailability_ms, 0);
        assert_eq!((kill.records, kill.available), (3, 2));
        // until the record sent at 3 s was acknowledged (3.005 s)
        assert_eq!(kill.longest_unavailability_ms, 1005);
    }
}
