//! An application writing to the stack's PostgreSQL at a declared rate: one change per statement
//! (autocommit), inserts of new rows and updates and deletes of rows written before, chosen by a
//! generator seeded with the writer's id (the same run writes the same changes). Each committed
//! change is kept — row id, sequence, version, operation — for the reconciliation downstream.
//! Times are from the intended start of each change, as for producers: a stalled database shows
//! as latency, not as a lower rate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::watch;

use super::producer::{latency, Latency, Schedule, TimedError};
use crate::scenario::{Amount, PostgresWriterSpec};

/// What one committed change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Insert,
    Update,
    Delete,
}

/// A change the database acknowledged (or whose outcome is unknown: the connection broke while
/// the statement was in flight).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub id: i64,
    pub version: i32,
    pub op: Op,
    /// Seconds of the run at which the commit was acknowledged.
    pub at_s: f64,
    pub unknown: bool,
}

/// A row's primary key: the writer's id in the high bits, the row's sequence below.
pub fn row_id(writer: u32, seq: u64) -> i64 {
    (i64::from(writer) << 40) | i64::try_from(seq & ((1 << 40) - 1)).unwrap_or(0)
}

/// The payload of a row's `version`: a pure function of them, so downstream copies are checked
/// without storing it.
pub fn payload(run_id: &str, id: i64, version: i32, size: usize) -> String {
    let head = format!("{run_id}:{id}:{version}:");
    let mut out = String::with_capacity(size.max(head.len()));
    out.push_str(&head);
    let mut x = u64::try_from(id).unwrap_or(0) ^ u64::try_from(version).unwrap_or(0) << 48;
    while out.len() < size {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        out.push(char::from(b'a' + u8::try_from((x >> 59) % 26).unwrap_or(0)));
    }
    out
}

#[derive(Debug, Default)]
pub struct WriterCounters {
    pub committed: AtomicU64,
    pub failed: AtomicU64,
    pub done: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct WriterStats {
    pub name: String,
    pub table: String,
    pub writer_id: u32,
    pub planned: u64,
    pub committed: u64,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Statements the database refused or that failed before reaching it.
    pub failed: u64,
    /// Statements in flight when the connection broke: they may or may not have committed.
    pub unknown: u64,
    /// Connections opened after the first (the database restarted or the connection broke).
    pub reconnects: u64,
    pub started_at_s: f64,
    pub finished_at_s: f64,
    /// Committed changes per second over the writer's life.
    pub throughput: f64,
    /// From the intended start of a change to its commit.
    pub latency: Latency,
    /// The longest time without a commit while the writer ran (from its first commit).
    pub longest_gap_ms: u64,
    pub errors: Vec<TimedError>,
}

#[derive(Debug)]
pub struct WriterTask {
    pub spec: PostgresWriterSpec,
    pub config: tokio_postgres::Config,
    pub run_id: String,
    pub counters: Arc<WriterCounters>,
    pub changes: Arc<Mutex<Vec<Change>>>,
    pub stop: watch::Receiver<bool>,
    pub epoch: Instant,
}

impl WriterTask {
    fn note_error(&self, stats: &mut WriterStats, error: String) {
        super::producer::note_error(&mut stats.errors, self.epoch, error);
    }

    async fn connect(&self, stats: &mut WriterStats) -> Option<tokio_postgres::Client> {
        let mut first = true;
        loop {
            match crate::runtime::stack::postgres::connect(&self.config).await {
                Ok(c) => return Some(c),
                Err(e) => {
                    if first {
                        self.note_error(stats, format!("cannot connect: {e}"));
                        first = false;
                    }
                }
            }
            if *self.stop.borrow() {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub async fn run(mut self) -> WriterStats {
        let spec = self.spec.clone();
        let started_at_s = self.epoch.elapsed().as_secs_f64();
        let planned = match spec.amount {
            Amount::Records(n) => n,
            Amount::For(d) => (d.as_secs_f64() * f64::from(spec.rate)) as u64,
        };
        let mut stats = WriterStats {
            name: spec.name.clone(),
            table: spec.table.clone(),
            writer_id: spec.id,
            planned,
            committed: 0,
            inserted: 0,
            updated: 0,
            deleted: 0,
            failed: 0,
            unknown: 0,
            reconnects: 0,
            started_at_s,
            finished_at_s: started_at_s,
            throughput: 0.0,
            latency: Latency::default(),
            longest_gap_ms: 0,
            errors: Vec::new(),
        };
        let Some(mut client) = self.connect(&mut stats).await else {
            self.counters.done.store(true, Ordering::SeqCst);
            return stats;
        };
        let table = &spec.table;
        let insert = format!(
            "INSERT INTO {table} (id, producer, seq, version, payload) VALUES ($1, $2, $3, $4, $5)"
        );
        let update = format!(
            "UPDATE {table} SET version = $2, payload = $3, updated_at = now() WHERE id = $1"
        );
        let delete = format!("DELETE FROM {table} WHERE id = $1");
        let (limit, limit_time) = match spec.amount {
            Amount::Records(n) => (n, f64::INFINITY),
            Amount::For(d) => (u64::MAX, d.as_secs_f64()),
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(spec.id));
        let mut schedule = Schedule::new(f64::from(spec.rate), 0.0, None);
        // Rows alive and their current version.
        let mut live: Vec<(i64, i32)> = Vec::new();
        let mut inserted_seq: u64 = 0;
        let mut latencies_us: Vec<u32> = Vec::new();
        let start = Instant::now();
        let mut last_commit: Option<Instant> = None;
        let mut n: u64 = 0;
        while n < limit && !*self.stop.borrow() {
            let at = schedule.peek();
            if at > limit_time {
                break;
            }
            let intended = start + Duration::from_secs_f64(at);
            tokio::select! {
                () = tokio::time::sleep_until(intended.into()) => {}
                _ = self.stop.changed() => continue,
            }
            schedule.advance();
            n += 1;
            let roll: f64 = rng.random();
            let op = if live.is_empty() || roll >= spec.updates + spec.deletes {
                Op::Insert
            } else if roll < spec.updates {
                Op::Update
            } else {
                Op::Delete
            };
            let (id, version, pick) = match op {
                Op::Insert => {
                    let id = row_id(spec.id, inserted_seq);
                    (id, 1, None)
                }
                _ => {
                    let i = rng.random_range(0..live.len());
                    let (id, v) = live[i];
                    (id, if op == Op::Update { v + 1 } else { v }, Some(i))
                }
            };
            let text = payload(&self.run_id, id, version, spec.payload_size as usize);
            let result = match op {
                Op::Insert => {
                    let seq = i64::try_from(inserted_seq).unwrap_or(i64::MAX);
                    let producer = i32::try_from(spec.id).unwrap_or(i32::MAX);
                    client
                        .execute(&insert, &[&id, &producer, &seq, &version, &text])
                        .await
                }
                Op::Update => client.execute(&update, &[&id, &version, &text]).await,
                Op::Delete => client.execute(&delete, &[&id]).await,
            };
            let now = Instant::now();
            match result {
                Ok(_) => {
                    match (op, pick) {
                        (Op::Insert, _) => {
                            live.push((id, version));
                            inserted_seq += 1;
                            stats.inserted += 1;
                        }
                        (Op::Update, Some(i)) => {
                            live[i].1 = version;
                            stats.updated += 1;
                        }
                        (_, Some(i)) => {
                            live.swap_remove(i);
                            stats.deleted += 1;
                        }
                        _ => {}
                    }
                    stats.committed += 1;
                    self.counters.committed.fetch_add(1, Ordering::Relaxed);
                    if let Some(last) = last_commit {
                        let gap =
                            u64::try_from(now.duration_since(last).as_millis()).unwrap_or(u64::MAX);
                        stats.longest_gap_ms = stats.longest_gap_ms.max(gap);
                    }
                    last_commit = Some(now);
                    latencies_us.push(
                        u32::try_from(now.duration_since(intended).as_micros()).unwrap_or(u32::MAX),
                    );
                    if let Ok(mut c) = self.changes.lock() {
                        c.push(Change {
                            id,
                            version,
                            op,
                            at_s: now.duration_since(self.epoch).as_secs_f64(),
                            unknown: false,
                        });
                    }
                }
                Err(e) => {
                    let broken = client.is_closed();
                    self.note_error(&mut stats, e.to_string());
                    if broken {
                        // Sent, perhaps committed: the row is followed as "unknown" and not
                        // changed again (its state is not known to the writer).
                        stats.unknown += 1;
                        if let Some(i) = pick {
                            live.swap_remove(i);
                        } else {
                            inserted_seq += 1;
                        }
                        if let Ok(mut c) = self.changes.lock() {
                            c.push(Change {
                                id,
                                version,
                                op,
                                at_s: now.duration_since(self.epoch).as_secs_f64(),
                                unknown: true,
                            });
                        }
                        stats.reconnects += 1;
                        match self.connect(&mut stats).await {
                            Some(c) => client = c,
                            None => break,
                        }
                    } else {
                        stats.failed += 1;
                        self.counters.failed.fetch_add(1, Ordering::Relaxed);
                        if op == Op::Insert {
                            inserted_seq += 1;
                        }
                    }
                }
            }
        }
        stats.finished_at_s = self.epoch.elapsed().as_secs_f64();
        stats.throughput = stats.committed as f64 / (stats.finished_at_s - started_at_s).max(1e-3);
        stats.latency = latency(&mut latencies_us);
        self.counters.done.store(true, Ordering::SeqCst);
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_ids_keep_writers_apart() {
        assert_eq!(row_id(0, 5), 5);
        assert_eq!(row_id(2, 5), (2 << 40) | 5);
        assert_ne!(row_id(1, 0), row_id(0, 1 << 39));
    }

    #[test]
    fn payloads_are_a_function_of_the_row() {
        let a = payload("run1", 7, 2, 64);
        assert_eq!(a.len(), 64);
        assert!(a.starts_with("run1:7:2:"));
        assert_eq!(a, payload("run1", 7, 2, 64));
        assert_ne!(a, payload("run1", 7, 3, 64));
    }
}
