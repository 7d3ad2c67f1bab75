//! The canary-routing oracle: which version of the service handled each record of the original
//! topic, and the `routed_exactly_once` check over it.
//!
//! Records are followed by their position in the original topic (the router carries it in a
//! `kh-origin` header), not by their payload, so the oracle works for plain and Avro records
//! alike. The table is filled while the run lasts (by the two versions' consumers) and judged at
//! the end against each original partition's end offset: every offset below it must have been
//! handled exactly once, by one version.

use std::collections::BTreeMap;

use serde::Serialize;

use super::result::CheckResult;
use crate::scenario::Scenario;

/// The two versions of a routed service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceVersion {
    Legacy,
    Canary,
}

impl ServiceVersion {
    pub fn name(self) -> &'static str {
        match self {
            Self::Legacy => "legacy",
            Self::Canary => "canary",
        }
    }
}

/// One copy of an original record that a version handled: where it read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Handled {
    version: ServiceVersion,
    /// Read from the original topic itself (after promotion), not from a routed topic.
    direct: bool,
    partition: i32,
    offset: i64,
    /// How often this very copy was read (a re-read after a rebalance or restart adds one).
    reads: u32,
}

/// Who handled which record, by original partition and offset.
#[derive(Debug, Default)]
pub struct RoutingTable {
    /// Per original partition, indexed by original offset: the copies handled.
    partitions: BTreeMap<i32, Vec<Vec<Handled>>>,
    /// Distinct routed copies handled, per version (what draining waits for).
    routed_handled: [u64; 2],
}

/// Offsets beyond this distance from what a partition has seen are ignored as garbage (a header
/// that does not come from the router must not make the table allocate gigabytes).
const MAX_JUMP: i64 = 1 << 24;

impl RoutingTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// `version` handled the record at original (`origin_partition`, `origin_offset`), reading it
    /// at (`partition`, `offset`) of a routed topic, or of the original itself when `direct`.
    pub fn handled(
        &mut self,
        version: ServiceVersion,
        direct: bool,
        (origin_partition, origin_offset): (i32, i64),
        (partition, offset): (i32, i64),
    ) {
        let Ok(idx) = usize::try_from(origin_offset) else {
            return;
        };
        let slots = self.partitions.entry(origin_partition).or_default();
        if origin_offset > i64::try_from(slots.len()).unwrap_or(i64::MAX) + MAX_JUMP {
            return;
        }
        if idx >= slots.len() {
            slots.resize_with(idx + 1, Vec::new);
        }
        let copies = &mut slots[idx];
        if let Some(c) = copies.iter_mut().find(|c| {
            c.version == version
                && c.direct == direct
                && c.partition == partition
                && c.offset == offset
        }) {
            c.reads += 1;
            return;
        }
        copies.push(Handled {
            version,
            direct,
            partition,
            offset,
            reads: 1,
        });
        if !direct {
            self.routed_handled[version as usize] += 1;
        }
    }

    /// Distinct routed copies `version` has handled so far.
    pub fn routed_handled(&self, version: ServiceVersion) -> u64 {
        self.routed_handled[version as usize]
    }

    /// Judges the table: `ends` is each original partition's end offset when the run ended,
    /// `router_end` the first offset the router had not routed when it was promoted away (empty
    /// without a promotion).
    pub fn verdict(
        &self,
        ends: &BTreeMap<i32, i64>,
        router_end: &BTreeMap<i32, i64>,
    ) -> RoutingVerdict {
        let (empty, none) = (Vec::new(), Vec::new());
        let mut partitions = Vec::new();
        for (&partition, &end) in ends {
            let slots = self.partitions.get(&partition).unwrap_or(&empty);
            let mut p = PartitionRouting {
                partition,
                records: u64::try_from(end).unwrap_or(0),
                ..PartitionRouting::default()
            };
            let promoted_at = router_end.get(&partition).copied();
            for offset in 0..end {
                let copies = usize::try_from(offset)
                    .ok()
                    .and_then(|i| slots.get(i))
                    .unwrap_or(&none);
                let mut versions = [0u64; 2];
                let (mut routed, mut direct) = (false, false);
                for c in copies {
                    versions[c.version as usize] += 1;
                    p.redelivered += u64::from(c.reads - 1);
                    if c.direct {
                        direct = true;
                        p.direct += 1;
                    } else {
                        routed = true;
                    }
                }
                p.legacy += versions[0];
                p.canary += versions[1];
                match copies.len() {
                    0 => {
                        p.unhandled += 1;
                        if promoted_at.is_some_and(|at| offset >= at) {
                            p.gap_at_promotion += 1;
                        }
                        sample(&mut p.samples_unhandled, offset);
                    }
                    1 => {}
                    _ if versions[0] > 0 && versions[1] > 0 => {
                        p.by_both_versions += 1;
                        sample(&mut p.samples_twice, offset);
                    }
                    _ => {
                        p.twice_by_one_version += 1;
                        sample(&mut p.samples_twice, offset);
                    }
                }
                if routed && direct {
                    p.overlap_at_promotion += 1;
                }
            }
            // Copies of offsets at or past the end (read while the end was being fetched) count
            // towards the balance too.
            for copies in slots.iter().skip(usize::try_from(end).unwrap_or(0)) {
                p.beyond_end += copies.len() as u64;
            }
            p.balance = i64::try_from(p.records).unwrap_or(i64::MAX)
                - i64::try_from(p.legacy + p.canary).unwrap_or(i64::MAX);
            partitions.push(p);
        }
        RoutingVerdict { partitions }
    }
}

fn sample(list: &mut Vec<i64>, offset: i64) {
    if list.len() < 5 {
        list.push(offset);
    }
}

/// One original partition's share of the routing verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PartitionRouting {
    pub partition: i32,
    /// Records in the original partition (its end offset when the run ended).
    pub records: u64,
    /// Copies handled by the legacy version.
    pub legacy: u64,
    /// Copies handled by the new version (routed and, after promotion, read directly).
    pub canary: u64,
    /// Of `canary`: read directly from the original topic after promotion.
    pub direct: u64,
    /// records − legacy − canary: 0 when each record was handled once.
    pub balance: i64,
    /// Records no version handled.
    pub unhandled: u64,
    /// Records handled by both versions.
    pub by_both_versions: u64,
    /// Records handled twice (two copies) by the same version.
    pub twice_by_one_version: u64,
    /// Extra reads of one and the same copy (a consumer re-reading after a rebalance): counted,
    /// not failed.
    pub redelivered: u64,
    /// Of `unhandled`: at or after the first offset the router had not routed at promotion.
    pub gap_at_promotion: u64,
    /// Records both routed (and handled) and read again by the promoted version.
    pub overlap_at_promotion: u64,
    /// Copies of records past the end offset (not judged).
    pub beyond_end: u64,
    pub samples_unhandled: Vec<i64>,
    pub samples_twice: Vec<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RoutingVerdict {
    pub partitions: Vec<PartitionRouting>,
}

impl RoutingVerdict {
    fn sum(&self, f: impl Fn(&PartitionRouting) -> u64) -> u64 {
        self.partitions.iter().map(f).sum()
    }
}

/// One phase of the routing: the time one threshold was in force.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RoutingPhase {
    pub threshold: f64,
    /// Seconds since the run started.
    pub started_at_s: f64,
    pub ended_at_s: f64,
    /// Records the router committed to each routed topic in this phase.
    pub to_legacy: u64,
    pub to_canary: u64,
    /// How long the router was paused before this phase (draining both versions), in ms.
    pub pause_ms: u64,
    /// Highest lag of each version's consumer while the phase lasted.
    pub legacy_max_lag: i64,
    pub canary_max_lag: i64,
}

impl RoutingPhase {
    /// Share of this phase's records routed to the new version.
    pub fn share(&self) -> Option<f64> {
        let total = self.to_legacy + self.to_canary;
        (total > 0).then(|| self.to_canary as f64 / total as f64)
    }

    /// The share for tables: three decimals, `-` for a phase that routed nothing.
    pub fn share_text(&self) -> String {
        self.share()
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.3}"))
    }
}

/// Fewer records than this in a phase say nothing about its share.
pub const MIN_JUDGED_PHASE: u64 = 200;

/// The promotion of the new version onto the original topic.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Promotion {
    pub at_s: f64,
    /// `translated`, `latest` or `earliest`.
    pub from: String,
    /// Per partition: the first offset the router had not routed.
    pub router_end: BTreeMap<i32, i64>,
    /// Per partition: where the promoted version started reading.
    pub started_at: BTreeMap<i32, i64>,
}

/// What canary routing did, for checks and reports.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RoutingReport {
    pub router: String,
    pub topic: String,
    pub transactional: bool,
    pub legacy: String,
    pub canary: String,
    pub phases: Vec<RoutingPhase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion: Option<Promotion>,
    /// Router instances started (kills and restarts add one each).
    pub instances: u32,
    /// Transactions committed, and aborted (after an error).
    pub commits: u64,
    pub aborts: u64,
    /// Errors the router met, with the time since the run started.
    pub errors: Vec<(f64, String)>,
    /// End offset of each original partition when the run ended.
    pub ends: BTreeMap<i32, i64>,
    pub verdict: RoutingVerdict,
}

pub fn evaluate(scenario: &Scenario, routing: Option<&RoutingReport>) -> Vec<CheckResult> {
    if !scenario.checks.routed_exactly_once {
        return Vec::new();
    }
    let tolerance = scenario.router.as_ref().map_or(0.05, |r| r.share_tolerance);
    let name = "routed_exactly_once";
    let Some(r) = routing else {
        return vec![CheckResult::of(
            scenario,
            name.into(),
            name,
            false,
            "the router never ran, so nothing shows that records were routed".into(),
        )];
    };
    let v = &r.verdict;
    let records = v.sum(|p| p.records);
    let unhandled = v.sum(|p| p.unhandled);
    let both = v.sum(|p| p.by_both_versions);
    let twice = v.sum(|p| p.twice_by_one_version);
    let gap = v.sum(|p| p.gap_at_promotion);
    let overlap = v.sum(|p| p.overlap_at_promotion);
    let mut bad = Vec::new();
    let at = |pick: fn(&PartitionRouting) -> &Vec<i64>| -> String {
        v.partitions
            .iter()
            .filter(|p| !pick(p).is_empty())
            .take(2)
            .map(|p| {
                let offs: Vec<String> = pick(p).iter().map(i64::to_string).collect();
                format!("{}:{}", p.partition, offs.join(","))
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    if records == 0 {
        bad.push("the original topic holds no record".to_owned());
    }
    if unhandled > 0 {
        bad.push(format!(
            "{unhandled} record(s) handled by no version (partition:offsets {}){}",
            at(|p| &p.samples_unhandled),
            if gap > 0 {
                format!(", {gap} of them after the router's last routed offset at promotion")
            } else {
                String::new()
            }
        ));
    }
    if both + twice > 0 {
        bad.push(format!(
            "{} record(s) handled twice: {both} by both versions, {twice} by one version from two copies (partition:offsets {}){}",
            both + twice,
            at(|p| &p.samples_twice),
            if overlap > 0 {
                format!(", {overlap} of them routed and then read again by the promoted version")
            } else {
                String::new()
            }
        ));
    }
    let unbalanced: Vec<String> = v
        .partitions
        .iter()
        .filter(|p| p.balance != 0)
        .map(|p| {
            format!(
                "partition {}: {} − {} − {} = {}",
                p.partition, p.records, p.canary, p.legacy, p.balance
            )
        })
        .collect();
    if !unbalanced.is_empty() {
        bad.push(format!(
            "#original − #canary − #legacy ≠ 0 ({})",
            unbalanced.join("; ")
        ));
    }
    let mut shares = Vec::new();
    for (i, ph) in r.phases.iter().enumerate() {
        let total = ph.to_legacy + ph.to_canary;
        match ph.share() {
            Some(s) if total >= MIN_JUDGED_PHASE => {
                shares.push(format!("phase {} {:.2}→{s:.3}", i + 1, ph.threshold));
                if (s - ph.threshold).abs() > tolerance {
                    bad.push(format!(
                        "phase {} routed a share of {s:.3} to the new version (threshold {}, tolerance {tolerance})",
                        i + 1,
                        ph.threshold
                    ));
                }
            }
            _ => shares.push(format!(
                "phase {} {:.2}: {total} record(s), not judged",
                i + 1,
                ph.threshold
            )),
        }
    }
    let redelivered = v.sum(|p| p.redelivered);
    let evidence = if bad.is_empty() {
        format!(
            "{records} record(s) of {} each handled by exactly one version ({} legacy, {} canary of which {} after promotion); shares {}; {redelivered} re-read(s) of the same copy (counted, not failed)",
            r.topic,
            v.sum(|p| p.legacy),
            v.sum(|p| p.canary),
            v.sum(|p| p.direct),
            shares.join(", ")
        )
    } else {
        bad.join("; ")
    };
    vec![CheckResult::of(
        scenario,
        name.into(),
        name,
        bad.is_empty(),
        evidence,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceVersion::{Canary, Legacy};

    fn ends(n: i64) -> BTreeMap<i32, i64> {
        BTreeMap::from([(0, n)])
    }

    #[test]
    fn every_record_once_balances() {
        let mut t = RoutingTable::new();
        for o in 0..10 {
            let v = if o % 3 == 0 { Canary } else { Legacy };
            t.handled(v, false, (0, o), (0, o / 2));
        }
        let v = t.verdict(&ends(10), &BTreeMap::new());
        let p = &v.partitions[0];
        assert_eq!((p.records, p.legacy, p.canary, p.balance), (10, 6, 4, 0));
        assert_eq!(
            (p.unhandled, p.by_both_versions, p.twice_by_one_version),
            (0, 0, 0)
        );
        assert_eq!(t.routed_handled(Canary), 4);
    }

    #[test]
    fn a_reread_is_a_redelivery_a_second_copy_is_a_duplicate() {
        let mut t = RoutingTable::new();
        t.handled(Legacy, false, (0, 0), (0, 0));
        t.handled(Legacy, false, (0, 0), (0, 0));
        t.handled(Legacy, false, (0, 1), (0, 1));
        // The router wrote offset 1 again after a crash: a second copy at another offset.
        t.handled(Legacy, false, (0, 1), (0, 7));
        let p = &t.verdict(&ends(2), &BTreeMap::new()).partitions[0];
        assert_eq!(p.redelivered, 1);
        assert_eq!(p.twice_by_one_version, 1);
        assert_eq!(p.samples_twice, vec![1]);
        assert_eq!(p.balance, -1);
    }

    #[test]
    fn promotion_gap_and_overlap() {
        let mut t = RoutingTable::new();
        for o in 0..5 {
            t.handled(Legacy, false, (0, o), (0, o));
        }
        // Promoted from offset 7: 5 and 6 are never handled.
        for o in 7..10 {
            t.handled(Canary, true, (0, o), (0, o));
        }
        let end = BTreeMap::from([(0, 5)]);
        let p = &t.verdict(&ends(10), &end).partitions[0];
        assert_eq!((p.unhandled, p.gap_at_promotion), (2, 2));
        assert_eq!(p.samples_unhandled, vec![5, 6]);
        // Promoted from the beginning instead: everything routed is read again.
        let mut t = RoutingTable::new();
        for o in 0..5 {
            t.handled(Legacy, false, (0, o), (0, o));
        }
        for o in 0..10 {
            t.handled(Canary, true, (0, o), (0, o));
        }
        let p = &t.verdict(&ends(10), &end).partitions[0];
        assert_eq!(
            (p.overlap_at_promotion, p.by_both_versions, p.unhandled),
            (5, 5, 0)
        );
    }

    #[test]
    fn garbage_offsets_do_not_allocate() {
        let mut t = RoutingTable::new();
        t.handled(Legacy, false, (0, i64::MAX / 2), (0, 0));
        t.handled(Legacy, false, (0, -1), (0, 0));
        assert!(t.partitions.get(&0).is_none_or(Vec::is_empty));
    }
}
