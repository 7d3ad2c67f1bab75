//! The integrity oracle: what producers sent and acknowledged against what one consumer group read.
//!
//! Payloads are never stored. The consumer side recomputes each payload from the record's ids (it is a
//! pure function of them) and tells the ledger only whether it matched, so the ledger holds a few bytes
//! per record and a run of tens of millions of records fits in memory.
//!
//! Producer sequences are dense from 0, which is what lets every per-record fact live in plain vectors
//! indexed by sequence instead of a hash map keyed by id (about a quarter of the memory; see
//! `benches/oracle.rs`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::mem::size_of;

use serde::Serialize;

/// The delivery semantics a scenario declares; it decides which anomalies fail and which are only
/// counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Semantics {
    /// Retries without idempotence: duplicates, reordering and records landing at another offset than
    /// acknowledged are expected and only counted.
    AtLeastOnce,
    /// Idempotent producers: every acknowledged record exactly once, in order, where acknowledged.
    Idempotent,
    /// Transactions end to end: judged like `Idempotent`.
    ExactlyOnce,
}

impl Semantics {
    /// Whether the broker promises each record once, in order, where it was acknowledged.
    fn strict(self) -> bool {
        !matches!(self, Semantics::AtLeastOnce)
    }
}

impl fmt::Display for Semantics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The spelling of scenario files, so a failure reads like the setting that caused it.
        f.write_str(match self {
            Semantics::AtLeastOnce => "at_least_once",
            Semantics::Idempotent => "idempotent",
            Semantics::ExactlyOnce => "exactly_once",
        })
    }
}

/// The identity every load record carries.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
pub struct RecordId {
    pub producer: u32,
    pub seq: u64,
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}#{}", self.producer, self.seq)
    }
}

/// Per-record flag bits.
const ACKED: u8 = 1;
const FAILED: u8 = 1 << 1;
/// Delivered at another partition or offset than acknowledged.
const MISMATCH: u8 = 1 << 2;
/// Deliveries seen before the acknowledgement disagreed among themselves: whatever the ack says, one
/// of them was elsewhere. Delivery reports can trail the consumer, so this order happens.
const SPLIT: u8 = 1 << 3;
const REORDERED: u8 = 1 << 4;
const CORRUPTED: u8 = 1 << 5;

/// Partition code meaning "look in the table's `wide` map": Kafka partitions beyond u16 are legal,
/// just too rare to widen every record for.
const WIDE: u16 = u16::MAX;

/// A record this far beyond everything its producer's table has seen or reserved is kept in a sparse
/// map: a record from outside the load (or ids read from garbage) must not make the ledger allocate
/// gigabytes of dense slots.
const STRAY_GAP: u64 = 1 << 20;

/// How many ids each `Samples` list keeps, and how many a failure message quotes.
const SAMPLES: usize = 10;
const QUOTED: usize = 3;

/// Everything known about one record, unpacked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    /// Where it was acknowledged, or else where it was first delivered.
    partition: Option<i32>,
    offset: i64,
    flags: u8,
    /// Saturates: a record delivered 255 times is counted as delivered 255 times.
    deliveries: u8,
}

impl Slot {
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    fn ack(&mut self, partition: i32, offset: i64) {
        if self.has(ACKED) {
            // A second acknowledgement (an application-level resend) put another copy in the log;
            // the first one stays the reference and the copy shows up as a duplicate delivery.
            return;
        }
        if let Some(seen) = self.partition {
            if self.has(SPLIT) || seen != partition || self.offset != offset {
                self.flags |= MISMATCH;
            }
        }
        self.partition = Some(partition);
        self.offset = offset;
        self.flags |= ACKED;
    }

    /// Returns whether this was the record's first delivery.
    fn deliver(&mut self, partition: i32, offset: i64, intact: bool) -> bool {
        match self.partition {
            None => {
                self.partition = Some(partition);
                self.offset = offset;
            }
            Some(seen) if seen != partition || self.offset != offset => {
                self.flags |= if self.has(ACKED) { MISMATCH } else { SPLIT };
            }
            Some(_) => {}
        }
        if !intact {
            self.flags |= CORRUPTED;
        }
        let first = self.deliveries == 0;
        self.deliveries = self.deliveries.saturating_add(1);
        first
    }
}

/// One producer's records, struct-of-arrays so a record costs 12 bytes instead of a padded 16.
#[derive(Debug, Default)]
struct Table {
    offsets: Vec<i64>,
    /// Partition + 1; 0 = not known yet; `WIDE` = see `wide`.
    partitions: Vec<u16>,
    flags: Vec<u8>,
    deliveries: Vec<u8>,
    wide: HashMap<usize, i32>,
}

impl Table {
    fn len(&self) -> usize {
        self.offsets.len()
    }

    /// The sequence up to which dense slots are expected (seen or reserved).
    fn reach(&self) -> u64 {
        u64::try_from(self.len().max(self.offsets.capacity())).unwrap_or(u64::MAX)
    }

    fn reserve_total(&mut self, records: usize) {
        let additional = records.saturating_sub(self.len());
        self.offsets.reserve_exact(additional);
        self.partitions.reserve_exact(additional);
        self.flags.reserve_exact(additional);
        self.deliveries.reserve_exact(additional);
    }

    fn get(&self, idx: usize) -> Slot {
        if idx >= self.len() {
            return Slot::default();
        }
        let partition = match self.partitions[idx] {
            0 => None,
            WIDE => self.wide.get(&idx).copied(),
            code => Some(i32::from(code) - 1),
        };
        Slot {
            partition,
            offset: self.offsets[idx],
            flags: self.flags[idx],
            deliveries: self.deliveries[idx],
        }
    }

    fn set(&mut self, idx: usize, slot: Slot) {
        if idx >= self.len() {
            // Amortised growth: producers nobody reserved for still cost O(1) per record.
            let len = idx + 1;
            self.offsets.resize(len, 0);
            self.partitions.resize(len, 0);
            self.flags.resize(len, 0);
            self.deliveries.resize(len, 0);
        }
        self.partitions[idx] = match slot.partition {
            None => 0,
            Some(p) => match u16::try_from(p) {
                Ok(code) if code < WIDE - 1 => code + 1,
                _ => {
                    self.wide.insert(idx, p);
                    WIDE
                }
            },
        };
        self.offsets[idx] = slot.offset;
        self.flags[idx] = slot.flags;
        self.deliveries[idx] = slot.deliveries;
    }

    fn heap_bytes(&self) -> usize {
        self.offsets.capacity() * size_of::<i64>()
            + self.partitions.capacity() * size_of::<u16>()
            + self.flags.capacity()
            + self.deliveries.capacity()
            + hash_map_bytes(&self.wide)
    }
}

/// Delivery order of one producer within one partition.
#[derive(Debug, Default, Clone, Copy)]
struct Lane {
    /// Highest sequence delivered so far.
    high: Option<u64>,
    delivered: u64,
    reordered: u64,
}

/// What one consumer group did with one topic's load, record by record.
#[derive(Debug, Default)]
pub struct Ledger {
    producers: BTreeMap<u32, Table>,
    strays: BTreeMap<RecordId, Slot>,
    lanes: HashMap<(u32, i32), Lane>,
    /// Counted per delivery, not per record: two bad copies of one record are two corruptions.
    corrupted: u64,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Capacity hint so a producer's tables are allocated once.
    pub fn reserve(&mut self, producer: u32, records: u64) {
        let records = usize::try_from(records).unwrap_or(usize::MAX);
        self.producers
            .entry(producer)
            .or_default()
            .reserve_total(records);
    }

    /// The broker acknowledged the record at (partition, offset).
    pub fn acked(&mut self, id: RecordId, partition: i32, offset: i64) {
        apply(&mut self.producers, &mut self.strays, id, |slot| {
            slot.ack(partition, offset)
        });
    }

    /// The send failed or timed out: not acknowledged (it may still have landed).
    pub fn failed(&mut self, id: RecordId) {
        apply(&mut self.producers, &mut self.strays, id, |slot| {
            slot.flags |= FAILED
        });
    }

    /// The consumer group read the record at (partition, offset); `intact` = payload matched its ids.
    pub fn delivered(&mut self, id: RecordId, partition: i32, offset: i64, intact: bool) {
        if !intact {
            self.corrupted += 1;
        }
        let lanes = &mut self.lanes;
        apply(&mut self.producers, &mut self.strays, id, |slot| {
            if !slot.deliver(partition, offset, intact) {
                // A redelivery is a duplicate; only first deliveries take part in ordering.
                return;
            }
            let lane = lanes.entry((id.producer, partition)).or_default();
            lane.delivered += 1;
            match lane.high {
                Some(high) if id.seq < high => {
                    lane.reordered += 1;
                    slot.flags |= REORDERED;
                }
                _ => lane.high = Some(id.seq),
            }
        });
    }

    /// Judges everything recorded so far under `semantics`. One pass over the tables.
    pub fn verdict(&self, semantics: Semantics) -> Integrity {
        let mut tally = Tally::default();
        // Per producer by difference of the running totals: no lookup per record.
        let mut producers = Vec::with_capacity(self.producers.len());
        for (&producer, table) in &self.producers {
            let before = tally.counts();
            for idx in 0..table.len() {
                let seq = u64::try_from(idx).unwrap_or(u64::MAX);
                tally.add(RecordId { producer, seq }, &table.get(idx));
            }
            let after = tally.counts();
            producers.push(ProducerIntegrity {
                producer,
                acked: after[0] - before[0],
                delivered: after[1] - before[1],
                lost: after[2] - before[2],
                duplicated: after[3] - before[3],
                redelivered: after[4] - before[4],
                reordered: after[5] - before[5],
            });
        }
        for (&id, slot) in &self.strays {
            tally.add(id, slot);
        }
        for (&(_, partition), lane) in &self.lanes {
            let part = tally.partition(partition);
            part.delivered += lane.delivered;
            part.reordered += lane.reordered;
        }
        let mut integrity = tally.into_integrity(semantics, self.corrupted);
        integrity.producers = producers;
        integrity
    }

    /// Bytes held per tracked record (for the benchmark): heap bytes of the tables / records tracked.
    pub fn bytes_per_record(&self) -> f64 {
        let tracked: usize =
            self.producers.values().map(Table::len).sum::<usize>() + self.strays.len();
        if tracked == 0 {
            return 0.0;
        }
        let heap = self
            .producers
            .values()
            .map(Table::heap_bytes)
            .sum::<usize>()
            // B-tree nodes hold their entries inline; node headers are noise at this scale.
            + self.producers.len() * size_of::<(u32, Table)>()
            + self.strays.len() * size_of::<(RecordId, Slot)>()
            + hash_map_bytes(&self.lanes);
        heap as f64 / tracked as f64
    }
}

/// Applies `change` to the record's slot, dense when its sequence is within reach of what the
/// producer's table has seen or reserved, sparse otherwise (and from then on).
fn apply(
    producers: &mut BTreeMap<u32, Table>,
    strays: &mut BTreeMap<RecordId, Slot>,
    id: RecordId,
    change: impl FnOnce(&mut Slot),
) {
    if let Some(slot) = strays.get_mut(&id) {
        change(slot);
        return;
    }
    let reach = producers.get(&id.producer).map_or(0, Table::reach);
    match usize::try_from(id.seq) {
        Ok(idx) if id.seq < reach.saturating_add(STRAY_GAP) => {
            let table = producers.entry(id.producer).or_default();
            let mut slot = table.get(idx);
            change(&mut slot);
            table.set(idx, slot);
        }
        _ => change(strays.entry(id).or_default()),
    }
}

/// Heap bytes of a std `HashMap`: buckets (capacity / 7 × 8, rounded up to a power of two), each an
/// entry plus one control byte.
fn hash_map_bytes<K, V>(map: &HashMap<K, V>) -> usize {
    if map.capacity() == 0 {
        return 0;
    }
    let buckets = (map.capacity() * 8 / 7).next_power_of_two();
    buckets * (size_of::<(K, V)>() + 1)
}

/// One partition's share of the verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PartitionIntegrity {
    pub partition: i32,
    /// Records acknowledged in this partition.
    pub acked: u64,
    /// Distinct records first delivered from this partition.
    pub delivered: u64,
    /// Acknowledged in this partition, never delivered.
    pub lost: u64,
    /// Extra copies of records acknowledged (or first seen) in this partition, found at another
    /// offset: duplicates in the log.
    pub duplicated: u64,
    /// Extra deliveries of the same offset: the group read it again (consumer at-least-once).
    pub redelivered: u64,
    /// First deliveries from this partition with a lower sequence than one its producer had already
    /// delivered from it.
    pub reordered: u64,
}

/// A few ids per kind of anomaly, lowest producer then sequence first, so reports are reproducible.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Samples {
    pub lost: Vec<RecordId>,
    pub duplicated: Vec<RecordId>,
    pub redelivered: Vec<RecordId>,
    pub reordered: Vec<RecordId>,
    pub corrupted: Vec<RecordId>,
    pub offset_mismatch: Vec<RecordId>,
}

/// One producer's share of a verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ProducerIntegrity {
    pub producer: u32,
    pub acked: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub redelivered: u64,
    pub reordered: u64,
}

/// The verdict of a `Ledger` under declared semantics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Integrity {
    pub semantics: Semantics,
    /// Records acknowledged (at least once).
    pub acked: u64,
    /// Records whose send failed or timed out and that were never acknowledged.
    pub failed: u64,
    /// Distinct records delivered.
    pub delivered: u64,
    /// Acknowledged, never delivered.
    pub lost: u64,
    /// Extra copies beyond the first that sit at another partition or offset: duplicates in the
    /// log, written twice (a producer retry without idempotence).
    pub duplicated: u64,
    /// Extra deliveries of a record at the one offset it has: the group read it again (a rebalance
    /// or a restart before the commit). Inherent to Kafka consumers; fails only under exactly-once.
    pub redelivered: u64,
    /// Records whose first delivery came after a higher sequence of the same producer in the same
    /// partition.
    pub reordered: u64,
    /// Deliveries whose payload did not match their ids.
    pub corrupted: u64,
    /// Delivered although never acknowledged (a timed-out send that landed, or an id never sent):
    /// reported, never an error.
    pub delivered_unacked: u64,
    /// Records delivered at another partition or offset than the one acknowledged.
    pub offset_mismatch: u64,
    pub partitions: Vec<PartitionIntegrity>,
    /// The same counts per producer, sorted by producer id.
    pub producers: Vec<ProducerIntegrity>,
    pub samples: Samples,
    /// Why this verdict fails under `semantics`; empty when it passes.
    pub failures: Vec<String>,
}

impl Integrity {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

#[derive(Debug, Default)]
struct Tally {
    acked: u64,
    failed: u64,
    delivered: u64,
    lost: u64,
    duplicated: u64,
    redelivered: u64,
    reordered: u64,
    delivered_unacked: u64,
    offset_mismatch: u64,
    samples: Samples,
    /// Indexed by partition: partitions are small dense numbers, and a map lookup per record would
    /// dominate the verdict's time.
    narrow: Vec<Option<PartitionIntegrity>>,
    wide: BTreeMap<i32, PartitionIntegrity>,
}

fn sample(list: &mut Vec<RecordId>, id: RecordId) {
    if list.len() < SAMPLES {
        list.push(id);
    }
}

impl Tally {
    /// acked, delivered, lost, duplicated, redelivered, reordered so far.
    fn counts(&self) -> [u64; 6] {
        [
            self.acked,
            self.delivered,
            self.lost,
            self.duplicated,
            self.redelivered,
            self.reordered,
        ]
    }

    fn partition(&mut self, partition: i32) -> &mut PartitionIntegrity {
        let fresh = || PartitionIntegrity {
            partition,
            ..PartitionIntegrity::default()
        };
        match usize::try_from(partition) {
            Ok(idx) if idx <= usize::from(u16::MAX) => {
                if idx >= self.narrow.len() {
                    self.narrow.resize(idx + 1, None);
                }
                self.narrow[idx].get_or_insert_with(fresh)
            }
            _ => self.wide.entry(partition).or_insert_with(fresh),
        }
    }

    fn add(&mut self, id: RecordId, slot: &Slot) {
        let acked = slot.has(ACKED);
        let deliveries = u64::from(slot.deliveries);
        let extra = deliveries.saturating_sub(1);
        let lost = acked && deliveries == 0;
        if acked {
            self.acked += 1;
        } else if slot.has(FAILED) {
            self.failed += 1;
        }
        if deliveries > 0 {
            self.delivered += 1;
            if !acked {
                self.delivered_unacked += 1;
            }
        }
        if lost {
            self.lost += 1;
            sample(&mut self.samples.lost, id);
        }
        // One offset for every copy means the group read the same record again; a copy elsewhere
        // means the log holds it twice.
        let moved = slot.has(MISMATCH) || slot.has(SPLIT);
        let (duplicated, redelivered) = if moved { (extra, 0) } else { (0, extra) };
        if duplicated > 0 {
            self.duplicated += duplicated;
            sample(&mut self.samples.duplicated, id);
        }
        if redelivered > 0 {
            self.redelivered += redelivered;
            sample(&mut self.samples.redelivered, id);
        }
        if slot.has(REORDERED) {
            self.reordered += 1;
            sample(&mut self.samples.reordered, id);
        }
        if slot.has(CORRUPTED) {
            sample(&mut self.samples.corrupted, id);
        }
        if slot.has(MISMATCH) {
            self.offset_mismatch += 1;
            sample(&mut self.samples.offset_mismatch, id);
        }
        if let Some(partition) = slot.partition {
            let part = self.partition(partition);
            if acked {
                part.acked += 1;
            }
            if lost {
                part.lost += 1;
            }
            part.duplicated += duplicated;
            part.redelivered += redelivered;
        }
    }

    fn into_integrity(mut self, semantics: Semantics, corrupted: u64) -> Integrity {
        // Strays are scanned after the dense tables, so the lists are only sorted per source.
        for list in [
            &mut self.samples.lost,
            &mut self.samples.duplicated,
            &mut self.samples.redelivered,
            &mut self.samples.reordered,
            &mut self.samples.corrupted,
            &mut self.samples.offset_mismatch,
        ] {
            list.sort_unstable();
            list.truncate(SAMPLES);
        }
        let mut partitions: Vec<PartitionIntegrity> = self.narrow.into_iter().flatten().collect();
        partitions.extend(self.wide.into_values());
        partitions.sort_by_key(|p| p.partition);

        let s = &self.samples;
        let strict = semantics.strict();
        let mut failures = Vec::new();
        let mut fail = |count: u64, what: String, ids: &[RecordId]| {
            if count > 0 {
                failures.push(format!("{count} {what}{}", examples(ids)));
            }
        };
        fail(self.lost, "acknowledged record(s) lost".into(), &s.lost);
        fail(
            corrupted,
            "corrupted delivery(ies): payload did not match its ids".into(),
            &s.corrupted,
        );
        if semantics == Semantics::ExactlyOnce {
            fail(
                self.redelivered,
                format!(
                    "redelivery(ies) of an already consumed record under {semantics} semantics"
                ),
                &s.redelivered,
            );
        }
        if strict {
            fail(
                self.duplicated,
                format!("duplicate(s) in the log under {semantics} semantics"),
                &s.duplicated,
            );
            fail(
                self.reordered,
                format!(
                    "record(s) out of order within their producer and partition under {semantics} \
                     semantics"
                ),
                &s.reordered,
            );
            fail(
                self.offset_mismatch,
                format!(
                    "record(s) delivered at another partition or offset than acknowledged, under \
                     {semantics} semantics"
                ),
                &s.offset_mismatch,
            );
        }

        Integrity {
            semantics,
            acked: self.acked,
            failed: self.failed,
            delivered: self.delivered,
            lost: self.lost,
            duplicated: self.duplicated,
            redelivered: self.redelivered,
            reordered: self.reordered,
            corrupted,
            delivered_unacked: self.delivered_unacked,
            offset_mismatch: self.offset_mismatch,
            partitions,
            producers: Vec::new(),
            samples: self.samples,
            failures,
        }
    }
}

fn examples(ids: &[RecordId]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let quoted: Vec<String> = ids.iter().take(QUOTED).map(ToString::to_string).collect();
    format!(" (e.g. {})", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(producer: u32, seq: u64) -> RecordId {
        RecordId { producer, seq }
    }

    /// Producer 0 sends `n` records round-robin over `partitions`, all acknowledged at consecutive
    /// offsets per partition; returns where each landed.
    fn send_all(ledger: &mut Ledger, producer: u32, n: u64, partitions: i32) -> Vec<(i32, i64)> {
        ledger.reserve(producer, n);
        let mut next = vec![0_i64; usize::try_from(partitions).expect("few partitions")];
        (0..n)
            .map(|seq| {
                let p = i32::try_from(seq % u64::try_from(partitions).expect("positive"))
                    .expect("small");
                let slot = &mut next[usize::try_from(p).expect("non-negative")];
                let offset = *slot;
                *slot += 1;
                ledger.acked(id(producer, seq), p, offset);
                (p, offset)
            })
            .collect()
    }

    fn deliver_all(ledger: &mut Ledger, producer: u32, at: &[(i32, i64)], skip: &[u64]) {
        for (seq, &(p, o)) in (0_u64..).zip(at) {
            if !skip.contains(&seq) {
                ledger.delivered(id(producer, seq), p, o, true);
            }
        }
    }

    #[test]
    fn a_clean_history_passes_every_semantics() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 6, 2);
        deliver_all(&mut ledger, 0, &at, &[]);
        for semantics in [
            Semantics::AtLeastOnce,
            Semantics::Idempotent,
            Semantics::ExactlyOnce,
        ] {
            let v = ledger.verdict(semantics);
            assert!(v.passed(), "{:?}", v.failures);
            assert_eq!((v.acked, v.delivered, v.lost, v.duplicated), (6, 6, 0, 0));
            assert_eq!(v.partitions.len(), 2);
            assert_eq!(v.partitions[1].partition, 1);
            assert_eq!((v.partitions[1].acked, v.partitions[1].delivered), (3, 3));
        }
    }

    #[test]
    fn an_empty_ledger_passes() {
        let v = Ledger::new().verdict(Semantics::ExactlyOnce);
        assert!(v.passed());
        assert_eq!(v.acked + v.delivered, 0);
        assert_eq!(Ledger::new().bytes_per_record(), 0.0);
    }

    #[test]
    fn an_acknowledged_record_never_delivered_is_lost_under_any_semantics() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 3, 1);
        deliver_all(&mut ledger, 0, &at, &[1]);
        let v = ledger.verdict(Semantics::AtLeastOnce);
        assert_eq!((v.lost, v.delivered), (1, 2));
        assert_eq!(v.samples.lost, vec![id(0, 1)]);
        assert_eq!(v.partitions[0].lost, 1);
        assert_eq!(
            v.failures,
            vec!["1 acknowledged record(s) lost (e.g. p0#1)"]
        );
    }

    #[test]
    fn a_redelivery_fails_only_under_exactly_once() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 2, 1);
        deliver_all(&mut ledger, 0, &at, &[]);
        // A rebalance before the commit: the next member reads offset 1 again.
        ledger.delivered(id(0, 1), 0, 1, true);

        let loose = ledger.verdict(Semantics::AtLeastOnce);
        assert_eq!(
            (loose.redelivered, loose.duplicated, loose.delivered),
            (1, 0, 2)
        );
        assert_eq!(loose.reordered, 0, "a redelivery is not a reorder");
        assert!(loose.passed(), "{:?}", loose.failures);
        assert!(
            ledger.verdict(Semantics::Idempotent).passed(),
            "the log holds each record once"
        );

        let eos = ledger.verdict(Semantics::ExactlyOnce);
        assert_eq!(eos.samples.redelivered, vec![id(0, 1)]);
        assert_eq!(
            eos.failures,
            vec!["1 redelivery(ies) of an already consumed record under exactly_once semantics (e.g. p0#1)"]
        );
    }

    #[test]
    fn a_copy_at_another_offset_is_a_duplicate_in_the_log() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 2, 1);
        deliver_all(&mut ledger, 0, &at, &[]);
        // A retried send without idempotence: the log holds record 1 again at offset 2.
        ledger.delivered(id(0, 1), 0, 2, true);

        let loose = ledger.verdict(Semantics::AtLeastOnce);
        assert_eq!(
            (loose.duplicated, loose.redelivered, loose.delivered),
            (1, 0, 2)
        );
        assert!(loose.passed(), "{:?}", loose.failures);

        let strict = ledger.verdict(Semantics::Idempotent);
        assert_eq!(strict.samples.duplicated, vec![id(0, 1)]);
        assert!(
            strict
                .failures
                .iter()
                .any(|f| f == "1 duplicate(s) in the log under idempotent semantics (e.g. p0#1)"),
            "{:?}",
            strict.failures
        );
    }

    #[test]
    fn a_lower_sequence_after_a_higher_one_in_a_partition_is_a_reorder() {
        let mut ledger = Ledger::new();
        // Seq 0's batch failed and was retried by a producer without idempotence: it landed after
        // seq 1, and was acknowledged there, so offsets agree and only the order is wrong.
        ledger.acked(id(0, 1), 0, 0);
        ledger.acked(id(0, 0), 0, 1);
        ledger.acked(id(0, 2), 0, 2);
        ledger.delivered(id(0, 1), 0, 0, true);
        ledger.delivered(id(0, 0), 0, 1, true);
        ledger.delivered(id(0, 2), 0, 2, true);
        // Another producer's sequence in the same partition does not count against producer 0.
        ledger.acked(id(1, 0), 0, 3);
        ledger.delivered(id(1, 0), 0, 3, true);

        let loose = ledger.verdict(Semantics::AtLeastOnce);
        assert_eq!(loose.reordered, 1);
        assert_eq!(loose.offset_mismatch, 0);
        assert_eq!(loose.partitions[0].reordered, 1);
        assert!(loose.passed(), "{:?}", loose.failures);

        let strict = ledger.verdict(Semantics::ExactlyOnce);
        assert_eq!(strict.samples.reordered, vec![id(0, 0)]);
        assert_eq!(
            strict.failures,
            vec![
                "1 record(s) out of order within their producer and partition under exactly_once \
                 semantics (e.g. p0#0)"
            ]
        );
    }

    #[test]
    fn sequences_in_different_partitions_are_not_ordered_against_each_other() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 4, 2);
        // Partition 1 is read first: seqs 1, 3, then partition 0: seqs 0, 2.
        for seq in [1, 3, 0, 2] {
            let (p, o) = at[usize::try_from(seq).expect("small")];
            ledger.delivered(id(0, seq), p, o, true);
        }
        assert_eq!(ledger.verdict(Semantics::Idempotent).reordered, 0);
    }

    #[test]
    fn a_corrupted_delivery_fails_even_at_least_once() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 2, 1);
        ledger.delivered(id(0, 0), at[0].0, at[0].1, true);
        ledger.delivered(id(0, 1), at[1].0, at[1].1, false);
        let v = ledger.verdict(Semantics::AtLeastOnce);
        assert_eq!((v.corrupted, v.lost, v.delivered), (1, 0, 2));
        assert_eq!(v.samples.corrupted, vec![id(0, 1)]);
        assert_eq!(
            v.failures,
            vec!["1 corrupted delivery(ies): payload did not match its ids (e.g. p0#1)"]
        );
    }

    #[test]
    fn a_timed_out_send_that_landed_is_reported_not_failed() {
        let mut ledger = Ledger::new();
        ledger.failed(id(0, 0));
        ledger.delivered(id(0, 0), 0, 0, true);
        ledger.failed(id(0, 1));
        for semantics in [Semantics::AtLeastOnce, Semantics::ExactlyOnce] {
            let v = ledger.verdict(semantics);
            assert_eq!((v.failed, v.delivered_unacked, v.lost), (2, 1, 0));
            assert!(v.passed(), "{:?}", v.failures);
        }
    }

    #[test]
    fn a_resend_that_was_acknowledged_is_not_a_failed_send() {
        let mut ledger = Ledger::new();
        ledger.failed(id(0, 0));
        ledger.acked(id(0, 0), 0, 0);
        let v = ledger.verdict(Semantics::Idempotent);
        assert_eq!((v.acked, v.failed, v.lost), (1, 0, 1));
    }

    #[test]
    fn an_id_no_producer_sent_counts_as_delivered_unacked() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 2, 1);
        deliver_all(&mut ledger, 0, &at, &[]);
        ledger.delivered(id(0, 5), 0, 2, true);
        // Neither reserved nor sent by anyone.
        ledger.delivered(id(7, 0), 0, 3, true);
        let v = ledger.verdict(Semantics::Idempotent);
        assert_eq!((v.delivered, v.delivered_unacked, v.acked), (4, 2, 2));
        assert!(v.passed(), "{:?}", v.failures);
    }

    #[test]
    fn an_absurd_sequence_is_kept_sparse() {
        let mut ledger = Ledger::new();
        ledger.acked(id(0, 0), 0, 0);
        ledger.delivered(id(0, 0), 0, 0, true);
        ledger.delivered(id(0, u64::MAX), 0, 1, true);
        ledger.delivered(id(0, u64::MAX), 0, 1, false);
        let v = ledger.verdict(Semantics::AtLeastOnce);
        assert_eq!((v.delivered, v.delivered_unacked), (2, 1));
        assert_eq!((v.redelivered, v.corrupted), (1, 1));
        assert_eq!(v.samples.redelivered, vec![id(0, u64::MAX)]);
        assert!(
            ledger.bytes_per_record() < 1_000.0,
            "no dense table was grown"
        );
    }

    #[test]
    fn delivery_elsewhere_than_acknowledged_fails_only_when_strict() {
        let mut ledger = Ledger::new();
        ledger.acked(id(0, 0), 0, 5);
        ledger.delivered(id(0, 0), 1, 5, true);
        ledger.acked(id(0, 1), 0, 6);
        ledger.delivered(id(0, 1), 0, 7, true);
        ledger.acked(id(0, 2), 0, 8);
        ledger.delivered(id(0, 2), 0, 8, true);
        let loose = ledger.verdict(Semantics::AtLeastOnce);
        assert_eq!(loose.offset_mismatch, 2);
        assert_eq!(loose.samples.offset_mismatch, vec![id(0, 0), id(0, 1)]);
        assert!(loose.passed(), "{:?}", loose.failures);
        let strict = ledger.verdict(Semantics::Idempotent);
        assert_eq!(
            strict.failures,
            vec![
                "2 record(s) delivered at another partition or offset than acknowledged, under \
                 idempotent semantics (e.g. p0#0, p0#1)"
            ]
        );
    }

    #[test]
    fn a_delivery_before_its_acknowledgement_is_compared_when_the_ack_arrives() {
        let mut ledger = Ledger::new();
        // Same place: fine.
        ledger.delivered(id(0, 0), 0, 0, true);
        ledger.acked(id(0, 0), 0, 0);
        // Another place.
        ledger.delivered(id(0, 1), 0, 1, true);
        ledger.acked(id(0, 1), 0, 9);
        // Two copies read before the ack, the ack matching the second: the first was elsewhere.
        ledger.delivered(id(0, 2), 0, 2, true);
        ledger.delivered(id(0, 2), 0, 3, true);
        ledger.acked(id(0, 2), 0, 3);
        let v = ledger.verdict(Semantics::Idempotent);
        assert_eq!(v.samples.offset_mismatch, vec![id(0, 1), id(0, 2)]);
        assert_eq!((v.delivered_unacked, v.duplicated, v.lost), (0, 1, 0));
    }

    #[test]
    fn partitions_beyond_u16_are_tracked_exactly() {
        let mut ledger = Ledger::new();
        ledger.acked(id(0, 0), 100_000, 4);
        ledger.delivered(id(0, 0), 100_000, 4, true);
        ledger.acked(id(0, 1), 3, 0);
        let v = ledger.verdict(Semantics::Idempotent);
        assert_eq!(v.offset_mismatch, 0);
        let parts: Vec<(i32, u64, u64)> = v
            .partitions
            .iter()
            .map(|p| (p.partition, p.delivered, p.lost))
            .collect();
        assert_eq!(parts, vec![(3, 0, 1), (100_000, 1, 0)]);
    }

    #[test]
    fn samples_are_the_ten_lowest_ids() {
        let mut ledger = Ledger::new();
        // Acknowledged in descending order, across producers registered out of order.
        for producer in [2, 1] {
            for seq in (0..8).rev() {
                ledger.acked(id(producer, seq), 0, 0);
            }
        }
        let v = ledger.verdict(Semantics::AtLeastOnce);
        assert_eq!(v.lost, 16);
        let expected: Vec<RecordId> = (0..8)
            .map(|s| id(1, s))
            .chain([id(2, 0), id(2, 1)])
            .collect();
        assert_eq!(v.samples.lost, expected);
        assert_eq!(
            v.failures,
            vec!["16 acknowledged record(s) lost (e.g. p1#0, p1#1, p1#2)"]
        );
    }

    #[test]
    fn a_reserved_ledger_costs_twelve_bytes_per_record() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 10_000, 3);
        deliver_all(&mut ledger, 0, &at, &[]);
        let bytes = ledger.bytes_per_record();
        assert!((12.0..12.5).contains(&bytes), "{bytes}");
    }

    #[test]
    fn an_unreserved_producer_grows_on_demand() {
        let mut ledger = Ledger::new();
        for seq in 0..1_000 {
            ledger.acked(id(3, seq), 0, i64::try_from(seq).expect("small"));
        }
        assert_eq!(ledger.verdict(Semantics::AtLeastOnce).lost, 1_000);
        assert!(ledger.bytes_per_record() <= 2.0 * 12.0 + 1.0);
    }

    #[test]
    fn mixed_history_snapshot() {
        let mut ledger = Ledger::new();
        let at = send_all(&mut ledger, 0, 8, 2);
        deliver_all(&mut ledger, 0, &at, &[3]);
        ledger.delivered(id(0, 4), at[4].0, at[4].1, true);
        ledger.delivered(id(0, 5), at[5].0, at[5].1 + 10, false);
        ledger.failed(id(1, 0));
        ledger.delivered(id(1, 0), 1, 20, true);
        ledger.failed(id(1, 1));
        ledger.acked(id(1, 3), 0, 30);
        ledger.acked(id(1, 2), 0, 31);
        ledger.delivered(id(1, 3), 0, 30, true);
        ledger.delivered(id(1, 2), 0, 31, true);
        insta::assert_yaml_snapshot!(ledger.verdict(Semantics::Idempotent));
    }
}
