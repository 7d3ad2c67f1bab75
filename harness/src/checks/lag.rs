//! Consumer lag over time, per group and topic, and a Burrow-style status of the group.
//!
//! A sampler records, per partition, the group's committed offset and the log end offset. Everything
//! here is computed from those samples alone, so the same numbers come out of a report whenever it is
//! rebuilt.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// One observation of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LagSample {
    /// Milliseconds since the run started.
    pub at_ms: u64,
    pub partition: i32,
    /// The group's committed offset; `None` when the group has not committed on this partition yet.
    pub committed: Option<i64>,
    /// The partition's log end offset (high watermark).
    pub log_end: i64,
}

impl LagSample {
    /// No commit yet means the group still has the whole log to read, as if it had committed 0.
    fn position(&self) -> i64 {
        self.committed.unwrap_or(0)
    }

    /// Records between the committed offset and the log end. A committed offset beyond the log end
    /// (a truncated log) counts as no lag rather than a negative one, so it cannot hide lag elsewhere
    /// in a total.
    pub fn lag(&self) -> i64 {
        self.log_end.saturating_sub(self.position()).max(0)
    }
}

/// The lag of one consumer group on one topic over a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct LagSeries {
    group: String,
    topic: String,
    /// Ordered by time; pushes arriving late are inserted in place.
    samples: Vec<LagSample>,
}

impl LagSeries {
    pub fn new(group: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            group: group.into(),
            topic: topic.into(),
            samples: Vec::new(),
        }
    }

    pub fn group(&self) -> &str {
        &self.group
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn samples(&self) -> &[LagSample] {
        &self.samples
    }

    pub fn push(&mut self, sample: LagSample) {
        // Samplers of different partitions may report slightly out of order; after equal times, so
        // samples of one instant keep their arrival order.
        let at = self.samples.partition_point(|s| s.at_ms <= sample.at_ms);
        self.samples.insert(at, sample);
    }

    /// Total lag (sum over partitions of log_end - committed, with committed None counting as the
    /// whole log from 0) at each sample time: Vec<(at_ms, lag)>.
    ///
    /// A partition not sampled at a given time contributes its latest earlier lag, so a sampler that
    /// visits partitions one after another still yields totals over every partition.
    pub fn totals(&self) -> Vec<(u64, i64)> {
        let mut latest: BTreeMap<i32, i64> = BTreeMap::new();
        self.samples
            .chunk_by(|a, b| a.at_ms == b.at_ms)
            .map(|instant| {
                for s in instant {
                    latest.insert(s.partition, s.lag());
                }
                (instant[0].at_ms, latest.values().sum())
            })
            .collect()
    }

    pub fn max_lag(&self) -> i64 {
        self.max_lag_since(0)
    }

    /// Max total lag among samples at or after `from_ms`.
    pub fn max_lag_since(&self, from_ms: u64) -> i64 {
        self.totals()
            .into_iter()
            .filter(|&(at, _)| at >= from_ms)
            .map(|(_, lag)| lag)
            .max()
            .unwrap_or(0)
    }

    /// Time lag at the last sample: how long ago the log end was where the committed offset is now,
    /// estimated from this series' own log_end history (per partition, the earliest sample whose
    /// log_end >= the latest committed; ms between that sample and the latest; 0 when caught up).
    /// Max over partitions.
    ///
    /// It is a lower bound: the log end may have passed that offset before the first sample.
    pub fn time_lag_ms(&self) -> u64 {
        self.by_partition(0)
            .values()
            .filter_map(|samples| {
                let latest = samples.last()?;
                if latest.lag() == 0 {
                    return Some(0);
                }
                let reached = samples.iter().find(|s| s.log_end >= latest.position())?;
                Some(latest.at_ms - reached.at_ms)
            })
            .max()
            .unwrap_or(0)
    }

    /// Burrow-style status over the samples of the last `window_ms` (before the latest sample).
    pub fn status(&self, window_ms: u64) -> LagStatus {
        let Some(last) = self.samples.last() else {
            return LagStatus::Ok;
        };
        self.by_partition(last.at_ms.saturating_sub(window_ms))
            .values()
            .map(|samples| partition_status(samples))
            .max()
            .unwrap_or(LagStatus::Ok)
    }

    /// Samples at or after `from_ms`, per partition, in time order.
    fn by_partition(&self, from_ms: u64) -> BTreeMap<i32, Vec<&LagSample>> {
        let mut parts: BTreeMap<i32, Vec<&LagSample>> = BTreeMap::new();
        for s in self.samples.iter().filter(|s| s.at_ms >= from_ms) {
            parts.entry(s.partition).or_default().push(s);
        }
        parts
    }
}

/// How a consumer group is keeping up, in the manner of LinkedIn's Burrow. Each partition is judged
/// over the samples of the window (a partition without a committed offset counts as having committed
/// offset 0); the group gets the worst status of its partitions, in the order
/// REWIND > STOP > STALL > WARN > OK.
///
/// - `REWIND`: a committed offset went backwards between two consecutive samples (offsets were reset,
///   or a member committed an old position): records will be read again.
/// - `OK`: the lag reached zero at some sample of the window, or the window holds fewer than two
///   samples of the partition.
/// - `STOP`: the committed offset did not move across the window and the lag stayed above zero, and
///   the log end did not move either: the consumer stopped while there is work.
/// - `STALL`: the committed offset did not move across the window and the lag stayed above zero,
///   while the log end advanced: the consumer is stuck behind a moving log.
/// - `WARN`: committed offsets advance, but the lag grew at every consecutive sample of the window:
///   the consumer is falling behind.
/// - `OK` otherwise.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum LagStatus {
    // Declared from best to worst: the derived order is what picks a group's status.
    Ok,
    Warn,
    Stall,
    Stop,
    Rewind,
}

impl fmt::Display for LagStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LagStatus::Ok => "OK",
            LagStatus::Warn => "WARN",
            LagStatus::Stall => "STALL",
            LagStatus::Stop => "STOP",
            LagStatus::Rewind => "REWIND",
        })
    }
}

/// One partition's status over its window samples, in time order.
fn partition_status(samples: &[&LagSample]) -> LagStatus {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return LagStatus::Ok;
    };
    if samples.len() < 2 {
        return LagStatus::Ok;
    }
    let pairs = || samples.windows(2).map(|w| (w[0], w[1]));
    if pairs().any(|(a, b)| b.position() < a.position()) {
        return LagStatus::Rewind;
    }
    if samples.iter().any(|s| s.lag() == 0) {
        return LagStatus::Ok;
    }
    // No rewind, so equal ends mean the committed offset never moved.
    if first.position() == last.position() {
        return if pairs().all(|(a, b)| a.log_end == b.log_end) {
            LagStatus::Stop
        } else {
            LagStatus::Stall
        };
    }
    if pairs().all(|(a, b)| b.lag() > a.lag()) {
        return LagStatus::Warn;
    }
    LagStatus::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, partition: i32, committed: Option<i64>, log_end: i64) -> LagSample {
        LagSample {
            at_ms,
            partition,
            committed,
            log_end,
        }
    }

    /// A one-partition series from (committed, log_end) pairs one second apart.
    fn series(points: &[(i64, i64)]) -> LagSeries {
        let mut s = LagSeries::new("g", "t");
        for (at, &(committed, log_end)) in (0_u64..).step_by(1_000).zip(points) {
            s.push(sample(at, 0, Some(committed), log_end));
        }
        s
    }

    #[test]
    fn totals_sum_partitions_and_count_no_commit_as_the_whole_log() {
        let mut s = LagSeries::new("g", "t");
        s.push(sample(0, 0, Some(5), 10));
        s.push(sample(0, 1, None, 7));
        s.push(sample(1_000, 0, Some(10), 12));
        // Partition 1 not sampled at 1000: its 7 carries over. Pushed late, sorted in.
        s.push(sample(2_000, 1, Some(7), 7));
        s.push(sample(500, 2, Some(9), 3));
        assert_eq!(s.totals(), vec![(0, 12), (500, 12), (1_000, 9), (2_000, 2)]);
        assert_eq!(s.max_lag(), 12);
        assert_eq!(s.max_lag_since(600), 9);
        assert_eq!(s.max_lag_since(5_000), 0);
    }

    #[test]
    fn an_empty_series_has_no_lag_and_is_ok() {
        let s = LagSeries::new("g", "t");
        assert_eq!(s.totals(), vec![]);
        assert_eq!((s.max_lag(), s.time_lag_ms()), (0, 0));
        assert_eq!(s.status(10_000), LagStatus::Ok);
    }

    #[test]
    fn time_lag_is_how_long_ago_the_log_end_passed_the_committed_offset() {
        let mut s = series(&[(0, 100), (50, 200), (150, 300), (180, 400)]);
        // The log end first passed 180 at t=1000; the last sample is at t=3000.
        assert_eq!(s.time_lag_ms(), 2_000);
        // Partition 1 caught up: 0; the max over partitions stays.
        s.push(sample(3_000, 1, Some(40), 40));
        assert_eq!(s.time_lag_ms(), 2_000);
        assert_eq!(series(&[(0, 100), (100, 100)]).time_lag_ms(), 0);
        // Never committed: behind since the first sample at least.
        let mut fresh = LagSeries::new("g", "t");
        fresh.push(sample(1_000, 0, None, 10));
        fresh.push(sample(4_000, 0, None, 20));
        assert_eq!(fresh.time_lag_ms(), 3_000);
    }

    #[test]
    fn status_ok_when_caught_up_or_too_few_samples() {
        assert_eq!(series(&[(0, 10), (10, 10)]).status(60_000), LagStatus::Ok);
        assert_eq!(series(&[(0, 10)]).status(60_000), LagStatus::Ok);
        // Progressing, lag not always growing.
        assert_eq!(
            series(&[(0, 10), (5, 20), (20, 25)]).status(60_000),
            LagStatus::Ok
        );
    }

    #[test]
    fn status_warn_when_lag_grows_at_every_sample_though_offsets_advance() {
        let s = series(&[(0, 10), (5, 20), (10, 30)]);
        assert_eq!(s.status(60_000), LagStatus::Warn);
    }

    #[test]
    fn status_stall_when_stuck_behind_a_moving_log() {
        let s = series(&[(5, 10), (5, 20), (5, 30)]);
        assert_eq!(s.status(60_000), LagStatus::Stall);
    }

    #[test]
    fn status_stop_when_nothing_moves_but_work_is_left() {
        let s = series(&[(5, 10), (5, 10), (5, 10)]);
        assert_eq!(s.status(60_000), LagStatus::Stop);
    }

    #[test]
    fn status_rewind_when_a_committed_offset_goes_back() {
        let s = series(&[(5, 10), (10, 10), (2, 10)]);
        assert_eq!(s.status(60_000), LagStatus::Rewind);
    }

    #[test]
    fn status_only_looks_at_the_window() {
        // Rewound long ago, stuck since.
        let s = series(&[(9, 10), (2, 10), (5, 20), (5, 30), (5, 40)]);
        assert_eq!(s.status(60_000), LagStatus::Rewind);
        assert_eq!(s.status(2_000), LagStatus::Stall);
    }

    #[test]
    fn the_group_takes_its_worst_partition() {
        let mut s = series(&[(0, 10), (10, 10)]);
        s.push(sample(0, 1, Some(5), 10));
        s.push(sample(1_000, 1, Some(5), 10));
        assert_eq!(s.status(60_000), LagStatus::Stop);
        assert!(LagStatus::Rewind > LagStatus::Stop);
        assert!(LagStatus::Stop > LagStatus::Stall);
        assert!(LagStatus::Stall > LagStatus::Warn);
        assert!(LagStatus::Warn > LagStatus::Ok);
    }

    #[test]
    fn reports_spell_statuses_and_samples_as_documented() {
        let json = serde_json::to_string(&[LagStatus::Ok, LagStatus::Rewind]).expect("serialise");
        assert_eq!(json, r#"["OK","REWIND"]"#);
        let s = series(&[(3, 10)]);
        let json = serde_json::to_value(&s).expect("serialise");
        assert_eq!(
            json,
            serde_json::json!({
                "group": "g",
                "topic": "t",
                "samples": [{"at_ms": 0, "partition": 0, "committed": 3, "log_end": 10}],
            })
        );
    }
}
