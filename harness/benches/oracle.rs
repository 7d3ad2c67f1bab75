//! Memory and time of the integrity oracle at the scale of a long rehearsal: 10 producers × 1,000,000
//! records over 12 partitions, every record acknowledged and delivered once except a few planted
//! losses and duplicates, so the verdict has something to find.
//!
//! Run with `cargo bench --bench oracle`. Exits non-zero when a target is missed or the verdict does
//! not find exactly what was planted.

use std::collections::HashMap;
use std::hint::black_box;
use std::mem::size_of;
use std::process::ExitCode;
use std::time::Instant;

use kafka_harness::checks::integrity::{Ledger, RecordId, Semantics};

const PRODUCERS: u32 = 10;
const PER_PRODUCER: u64 = 1_000_000;
const PARTITIONS: u64 = 12;
const TARGET_BYTES_PER_RECORD: f64 = 16.0;
const TARGET_VERDICT_S: f64 = 5.0;

/// Acknowledged, never delivered.
const LOST: [RecordId; 4] = [
    RecordId {
        producer: 0,
        seq: 17,
    },
    RecordId {
        producer: 3,
        seq: 500_000,
    },
    RecordId {
        producer: 7,
        seq: 42,
    },
    RecordId {
        producer: 9,
        seq: 999_999,
    },
];
/// Delivered twice (a consumer re-reading after a rebalance).
const DUPLICATED: [RecordId; 3] = [
    RecordId {
        producer: 1,
        seq: 0,
    },
    RecordId {
        producer: 4,
        seq: 123_456,
    },
    RecordId {
        producer: 8,
        seq: 777_777,
    },
];

/// Every record as the ledger sees it: (id, partition, offset, deliveries). Producers interleave, as
/// they do on the wire, and each spreads its records over the partitions. Generated twice (ledger,
/// baseline) instead of held, so the inputs do not weigh on either measurement.
fn history() -> impl Iterator<Item = (RecordId, i32, i64, u8)> {
    (0..PER_PRODUCER)
        .flat_map(|seq| (0..PRODUCERS).map(move |producer| RecordId { producer, seq }))
        .scan([0_i64; PARTITIONS as usize], |next_offset, id| {
            let partition = ((id.seq + u64::from(id.producer)) % PARTITIONS) as usize;
            let offset = next_offset[partition];
            next_offset[partition] += 1;
            let deliveries = if LOST.contains(&id) {
                0
            } else if DUPLICATED.contains(&id) {
                2
            } else {
                1
            };
            Some((id, partition as i32, offset, deliveries))
        })
}

fn main() -> ExitCode {
    let count = (u64::from(PRODUCERS) * PER_PRODUCER) as usize;

    let started = Instant::now();
    let mut ledger = Ledger::new();
    for producer in 0..PRODUCERS {
        ledger.reserve(producer, PER_PRODUCER);
    }
    for (id, partition, offset, deliveries) in history() {
        ledger.acked(id, partition, offset);
        for _ in 0..deliveries {
            ledger.delivered(id, partition, offset, true);
        }
    }
    let fill_s = started.elapsed().as_secs_f64();
    let bytes = ledger.bytes_per_record();

    let started = Instant::now();
    let verdict = black_box(ledger.verdict(black_box(Semantics::Idempotent)));
    let verdict_s = started.elapsed().as_secs_f64();
    drop(ledger);

    // The obvious design, for scale: one hash map entry per record.
    let mut baseline: HashMap<(u32, u64), (i32, i64, u8)> = HashMap::with_capacity(count);
    for (id, partition, offset, deliveries) in history() {
        baseline.insert((id.producer, id.seq), (partition, offset, deliveries));
    }
    let entry = size_of::<((u32, u64), (i32, i64, u8))>();
    let baseline_bytes = (black_box(&baseline).capacity() * entry) as f64 / count as f64;
    drop(baseline);

    println!("oracle: filled {count} records in {fill_s:.2} s");
    println!(
        "oracle: {count} records, {bytes:.1} bytes/record (target <= {TARGET_BYTES_PER_RECORD}), \
         verdict {verdict_s:.2} s (target < {TARGET_VERDICT_S} s); baseline HashMap \
         {baseline_bytes:.1} bytes/record; ratio {:.2}",
        bytes / baseline_bytes
    );

    let mut ok = true;
    if bytes > TARGET_BYTES_PER_RECORD {
        eprintln!("oracle: missed: {bytes:.1} bytes/record > {TARGET_BYTES_PER_RECORD}");
        ok = false;
    }
    if verdict_s >= TARGET_VERDICT_S {
        eprintln!("oracle: missed: verdict took {verdict_s:.2} s >= {TARGET_VERDICT_S} s");
        ok = false;
    }
    let found = (
        verdict.acked,
        verdict.delivered,
        verdict.lost,
        verdict.duplicated,
    );
    let planted = (
        count as u64,
        (count - LOST.len()) as u64,
        LOST.len() as u64,
        DUPLICATED.len() as u64,
    );
    if found != planted || verdict.samples.lost != LOST || verdict.samples.duplicated != DUPLICATED
    {
        eprintln!(
            "oracle: wrong verdict: (acked, delivered, lost, duplicated) = {found:?}, planted \
             {planted:?}; failures: {:?}",
            verdict.failures
        );
        ok = false;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
