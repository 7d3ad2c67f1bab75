//! Following a writer's changes into Debezium's topic: a reader of the CDC topic (JSON values
//! without schemas, Debezium's envelope) collects each change event's row id, version and
//! operation; at the end every change the writer saw committed is looked up among them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde::Serialize;
use tokio::sync::watch;

use super::postgres_writer::{Change, Op};
use crate::client::{self, Auth};

/// One change event read from the topic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub id: i64,
    pub version: i32,
    pub op: Op,
    /// The record's timestamp (seconds of the run: when Debezium's producer sent it).
    pub at_s: f64,
}

/// The same from Debezium's Avro envelope (`before`/`after` unions of null and the row record,
/// `op` a string), decoded with its writer schema.
pub fn parse_avro(value: &apache_avro::types::Value) -> Option<(i64, i32, Op)> {
    use apache_avro::types::Value as V;
    let V::Record(fields) = value else {
        return None;
    };
    let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let unwrap = |v: &V| -> Option<Vec<(String, V)>> {
        match v {
            V::Union(_, inner) => match inner.as_ref() {
                V::Record(r) => Some(r.clone()),
                _ => None,
            },
            V::Record(r) => Some(r.clone()),
            _ => None,
        }
    };
    let (op, row) = match field("op")? {
        V::String(s) => match s.as_str() {
            "c" | "r" => (Op::Insert, unwrap(field("after")?)?),
            "u" => (Op::Update, unwrap(field("after")?)?),
            "d" => (Op::Delete, unwrap(field("before")?)?),
            _ => return None,
        },
        _ => return None,
    };
    let get = |name: &str| row.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let id = match get("id")? {
        V::Long(x) => x,
        V::Int(x) => i64::from(x),
        _ => return None,
    };
    let version = match get("version")? {
        V::Int(x) => x,
        _ => return None,
    };
    Some((id, version, op))
}

/// Debezium's envelope → (id, version, op); snapshot reads (`r`) count as inserts. `None` for a
/// value that is not a change event of a writer's row (a tombstone, another table's shape).
pub fn parse(value: &[u8]) -> Option<(i64, i32, Op)> {
    let v: serde_json::Value = serde_json::from_slice(value).ok()?;
    let (op, row) = match v["op"].as_str()? {
        "c" | "r" => (Op::Insert, &v["after"]),
        "u" => (Op::Update, &v["after"]),
        "d" => (Op::Delete, &v["before"]),
        _ => return None,
    };
    Some((
        row["id"].as_i64()?,
        i32::try_from(row["version"].as_i64()?).ok()?,
        op,
    ))
}

#[derive(Debug)]
pub struct CdcReader {
    pub topic: String,
    pub bootstrap: String,
    pub auth: Auth,
    pub events: Arc<Mutex<Vec<Event>>>,
    pub errors: Arc<Mutex<Vec<String>>>,
    pub stop: watch::Receiver<bool>,
    pub epoch: Instant,
    /// Unix milliseconds at `epoch`, to place record timestamps on the run's clock.
    pub epoch_unix_ms: i64,
    /// Avro values in the Confluent wire format, writer schemas fetched from this registry;
    /// `None`: JSON without schemas.
    pub registry: Option<Arc<crate::avro::RegistryClient>>,
}

impl CdcReader {
    pub async fn run(mut self) {
        let mut cfg = client::config(&self.bootstrap, &self.auth);
        cfg.set("group.id", format!("kh-cdc-reader-{}", self.topic))
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("topic.metadata.refresh.interval.ms", "2000");
        let consumer: StreamConsumer = match cfg.create() {
            Ok(c) => c,
            Err(e) => {
                self.error(format!("cannot create the CDC reader: {e}"));
                return;
            }
        };
        if let Err(e) = consumer.subscribe(&[&self.topic]) {
            self.error(format!("cannot subscribe to {}: {e}", self.topic));
            return;
        }
        loop {
            tokio::select! {
                m = consumer.recv() => match m {
                    Ok(m) => {
                        let parsed = match (&self.registry, m.payload()) {
                            (_, None) => None,
                            (None, Some(p)) => parse(p),
                            (Some(r), Some(p)) => match self.decode_avro(r, p).await {
                                Ok(v) => parse_avro(&v),
                                Err(e) => {
                                    self.error(e);
                                    None
                                }
                            },
                        };
                        let Some((id, version, op)) = parsed else { continue };
                        let ts = m.timestamp().to_millis().unwrap_or(self.epoch_unix_ms);
                        let at_s = (ts - self.epoch_unix_ms) as f64 / 1000.0;
                        if let Ok(mut e) = self.events.lock() {
                            e.push(Event { id, version, op, at_s });
                        }
                    }
                    // The topic does not exist until Debezium's first event: keep trying.
                    Err(e) => {
                        self.error(e.to_string());
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                },
                _ = self.stop.changed() => break,
            }
        }
    }

    async fn decode_avro(
        &self,
        registry: &crate::avro::RegistryClient,
        bytes: &[u8],
    ) -> Result<apache_avro::types::Value, String> {
        let (id, body) = crate::avro::wire::unframe(bytes).map_err(|e| e.to_string())?;
        let schema = registry
            .schema_by_id(id)
            .await
            .map_err(|e| format!("writer schema {id}: {e}"))?;
        crate::avro::value::decode(&schema, None, body)
    }

    fn error(&self, e: String) {
        if let Ok(mut errors) = self.errors.lock() {
            if !errors.contains(&e) && errors.len() < 10 {
                errors.push(e);
            }
        }
    }
}

/// The reconciliation of one writer's changes with its table's CDC topic.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct CdcIntegrity {
    pub writer: String,
    pub table: String,
    pub topic: String,
    /// Changes the writer saw committed.
    pub committed: u64,
    /// Of those, found in the topic.
    pub arrived: u64,
    /// Committed, never in the topic.
    pub lost: u64,
    /// Extra events of a change already seen (Debezium is at-least-once: a restart re-sends).
    pub duplicated: u64,
    /// Changes whose commit the writer did not see (the connection broke): in the topic or not,
    /// never an error.
    pub unknown: u64,
    /// Events of the writer's rows that match no change it made.
    pub unexpected: u64,
    /// From the commit to the event's timestamp in the topic.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// A few lost changes, as `id@version (op)`.
    pub lost_samples: Vec<String>,
}

/// Matches `changes` with `events`: a change is (id, version, op).
pub fn reconcile(
    writer: &str,
    table: &str,
    topic: &str,
    changes: &[Change],
    events: &[Event],
) -> CdcIntegrity {
    let mut seen: HashMap<(i64, i32, Op), (u32, f64)> = HashMap::new();
    for e in events {
        let entry = seen.entry((e.id, e.version, e.op)).or_insert((0, e.at_s));
        entry.0 += 1;
    }
    let mut out = CdcIntegrity {
        writer: writer.to_owned(),
        table: table.to_owned(),
        topic: topic.to_owned(),
        ..CdcIntegrity::default()
    };
    let mut latencies: Vec<f64> = Vec::new();
    let mut matched = 0_usize;
    for c in changes {
        let found = seen.get(&(c.id, c.version, c.op));
        if c.unknown {
            out.unknown += 1;
            if found.is_some() {
                matched += 1;
            }
            continue;
        }
        out.committed += 1;
        match found {
            Some(&(n, at)) => {
                out.arrived += 1;
                matched += 1;
                out.duplicated += u64::from(n.saturating_sub(1));
                latencies.push(((at - c.at_s) * 1000.0).max(0.0));
            }
            None => {
                out.lost += 1;
                if out.lost_samples.len() < 5 {
                    out.lost_samples
                        .push(format!("{}@{} ({:?})", c.id, c.version, c.op).to_lowercase());
                }
            }
        }
    }
    out.unexpected = u64::try_from(seen.len().saturating_sub(matched)).unwrap_or(0);
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if latencies.is_empty() {
            0.0
        } else {
            latencies[((latencies.len() - 1) as f64 * q).round() as usize]
        }
    };
    out.latency_p50_ms = at(0.5);
    out.latency_p99_ms = at(0.99);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debezium_envelopes() {
        let c = br#"{"before":null,"after":{"id":7,"producer":0,"seq":7,"version":1},"op":"c"}"#;
        assert_eq!(parse(c), Some((7, 1, Op::Insert)));
        let u = br#"{"before":{"id":7,"version":1},"after":{"id":7,"version":2},"op":"u"}"#;
        assert_eq!(parse(u), Some((7, 2, Op::Update)));
        let d = br#"{"before":{"id":7,"version":2},"after":null,"op":"d"}"#;
        assert_eq!(parse(d), Some((7, 2, Op::Delete)));
        assert_eq!(parse(b"null"), None);
    }

    #[test]
    fn lost_duplicated_and_unknown_changes() {
        let ch = |id, version, op, unknown| Change {
            id,
            version,
            op,
            at_s: 1.0,
            unknown,
        };
        let ev = |id, version, op| Event {
            id,
            version,
            op,
            at_s: 1.5,
        };
        let changes = [
            ch(1, 1, Op::Insert, false),
            ch(1, 2, Op::Update, false),
            ch(2, 1, Op::Insert, false),
            ch(3, 1, Op::Insert, true),
        ];
        let events = [
            ev(1, 1, Op::Insert),
            ev(1, 1, Op::Insert),
            ev(2, 1, Op::Insert),
            ev(9, 1, Op::Insert),
        ];
        let r = reconcile("w", "t", "x.public.t", &changes, &events);
        assert_eq!(
            (
                r.committed,
                r.arrived,
                r.lost,
                r.duplicated,
                r.unknown,
                r.unexpected
            ),
            (3, 2, 1, 1, 1, 1)
        );
        assert_eq!(r.lost_samples, ["1@2 (update)"]);
        assert!((r.latency_p50_ms - 500.0).abs() < 1e-6);
    }
}

/// A row of a ClickHouse base table, as read back.
#[derive(Debug, Clone, clickhouse::Row, serde::Deserialize)]
pub struct ClickHouseRow {
    pub id: i64,
    pub version: i32,
    pub __deleted: String,
}

/// One ClickHouse table compared with the PostgreSQL rows its writer left.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ClickHouseIntegrity {
    pub table: String,
    pub writer: String,
    /// Rows alive in PostgreSQL at the end (by the writer's committed changes).
    pub expected: u64,
    /// Rows the writer deleted.
    pub deleted: u64,
    /// Rows with the version PostgreSQL has (deleted ones marked deleted, or absent).
    pub matched: u64,
    /// Alive in PostgreSQL, absent in ClickHouse.
    pub missing: u64,
    /// In ClickHouse with an older version than PostgreSQL's.
    pub stale: u64,
    /// Deleted in PostgreSQL, alive in ClickHouse.
    pub not_deleted: u64,
    /// Rows ClickHouse has that the writer never committed.
    pub unexpected: u64,
    /// Rows whose last change had an unknown outcome: not judged.
    pub uncertain: u64,
    /// Seconds from the end of the writer until ClickHouse matched (None: it did not, within
    /// the wait).
    pub caught_up_after_s: Option<f64>,
    /// A few rows that did not match, as `id: what`.
    pub samples: Vec<String>,
    /// The read-back error, when ClickHouse could not be queried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ClickHouseIntegrity {
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.missing == 0
            && self.stale == 0
            && self.not_deleted == 0
            && self.unexpected == 0
    }
}

/// The final state of each row the writer touched: (version, deleted), `None` when its last
/// change had an unknown outcome.
pub fn final_rows(changes: &[Change]) -> HashMap<i64, Option<(i32, bool)>> {
    let mut rows: HashMap<i64, Option<(i32, bool)>> = HashMap::new();
    for c in changes {
        let state = (!c.unknown).then_some((c.version, c.op == Op::Delete));
        rows.insert(c.id, state);
    }
    rows
}

/// Compares ClickHouse's rows (after `FINAL`) with the writer's final state.
pub fn compare_clickhouse(
    table: &str,
    writer: &str,
    expected: &HashMap<i64, Option<(i32, bool)>>,
    rows: &[ClickHouseRow],
) -> ClickHouseIntegrity {
    let mut out = ClickHouseIntegrity {
        table: table.to_owned(),
        writer: writer.to_owned(),
        ..ClickHouseIntegrity::default()
    };
    let have: HashMap<i64, &ClickHouseRow> = rows.iter().map(|r| (r.id, r)).collect();
    let sample = |out: &mut ClickHouseIntegrity, s: String| {
        if out.samples.len() < 5 {
            out.samples.push(s);
        }
    };
    for (id, state) in expected {
        let Some((version, deleted)) = *state else {
            out.uncertain += 1;
            continue;
        };
        let row = have.get(id);
        let alive = row.filter(|r| r.__deleted != "true");
        if deleted {
            out.deleted += 1;
            if alive.is_some() {
                out.not_deleted += 1;
                sample(
                    &mut out,
                    format!("{id}: deleted in PostgreSQL, alive in ClickHouse"),
                );
            } else {
                out.matched += 1;
            }
            continue;
        }
        out.expected += 1;
        match alive {
            None => {
                out.missing += 1;
                sample(&mut out, format!("{id}: version {version} missing"));
            }
            Some(r) if r.version < version => {
                out.stale += 1;
                sample(
                    &mut out,
                    format!(
                        "{id}: version {} in ClickHouse, {version} in PostgreSQL",
                        r.version
                    ),
                );
            }
            Some(_) => out.matched += 1,
        }
    }
    out.unexpected = u64::try_from(
        rows.iter()
            .filter(|r| !expected.contains_key(&r.id))
            .count(),
    )
    .unwrap_or(0);
    out
}

#[cfg(test)]
mod clickhouse_tests {
    use super::*;

    #[test]
    fn final_state_against_clickhouse_rows() {
        let ch = |id, version, op, unknown| Change {
            id,
            version,
            op,
            at_s: 0.0,
            unknown,
        };
        let changes = [
            ch(1, 1, Op::Insert, false),
            ch(1, 2, Op::Update, false),
            ch(2, 1, Op::Insert, false),
            ch(2, 1, Op::Delete, false),
            ch(3, 1, Op::Insert, false),
            ch(4, 1, Op::Insert, true),
        ];
        let expected = final_rows(&changes);
        let row = |id, version, deleted: &str| ClickHouseRow {
            id,
            version,
            __deleted: deleted.into(),
        };
        let ok = [row(1, 2, "false"), row(2, 1, "true"), row(3, 1, "false")];
        let r = compare_clickhouse("t", "w", &expected, &ok);
        assert!(r.passed(), "{r:?}");
        assert_eq!(
            (r.expected, r.deleted, r.matched, r.uncertain),
            (2, 1, 3, 1)
        );
        let bad = [row(1, 1, "false"), row(2, 1, "false"), row(9, 1, "false")];
        let r = compare_clickhouse("t", "w", &expected, &bad);
        assert_eq!(
            (r.stale, r.not_deleted, r.missing, r.unexpected),
            (1, 1, 1, 1)
        );
    }
}
