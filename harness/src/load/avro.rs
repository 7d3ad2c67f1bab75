//! Avro load: what an Avro producer writes (a generated value in the Confluent wire format, its ids
//! in the value's first top-level string field, or in a header when the schema has none) and how
//! an Avro consumer judges what it reads (writer schema fetched by id, read with its own reader
//! schema, compared with what the ids generate). The integrity oracle sees the same (producer,
//! seq, intact) as for plain records.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::message::{Header, Headers, OwnedHeaders};
use serde::Serialize;
use tokio::sync::watch;

use super::record::{self, Decoded};
use crate::avro::{value, wire, RegistryClient, RegistryError};
use crate::probes::registry::Registration;
use crate::scenario::SchemaFile;

/// Tries to fetch an unknown writer schema (every 500 ms) before a record counts as undecodable.
const FETCH_TRIES: u32 = 120;

/// The header carrying a record's ids (`KH1 <run> <producer> <seq> 0 `) when its schema has no
/// field for them ([`value::carrier`]).
pub const IDS_HEADER: &str = "kafka-harness";

/// The schema an Avro producer writes with now; a `register_schema` step replaces it.
#[derive(Debug)]
pub struct WriterSchema {
    pub id: u32,
    pub file: SchemaFile,
    /// Built once per schema, for every record written with it; the error, reported with each
    /// record, when the schema's names do not resolve.
    encoder: Result<value::Encoder, String>,
}

impl WriterSchema {
    pub fn new(id: u32, file: SchemaFile) -> Self {
        let encoder = value::Encoder::new(Arc::new(file.0.schema.clone()));
        Self { id, file, encoder }
    }
}

/// Where an Avro producer's writer schema lives: set when the producer registers its schema,
/// replaced by `register_schema` steps.
pub type CurrentSchema = Arc<watch::Sender<Option<Arc<WriterSchema>>>>;

/// The registrations of a run, in order.
pub type Registrations = Arc<Mutex<Vec<Registration>>>;

/// The Avro side of a producer.
#[derive(Debug)]
pub struct AvroWriter {
    pub registry: Arc<RegistryClient>,
    pub subject: String,
    /// The schema the producer starts with, unless a step already set another.
    pub initial: SchemaFile,
    pub current: CurrentSchema,
    pub registrations: Registrations,
    /// The ids' text of the record being written.
    ids: Vec<u8>,
    /// The writer schema of the last record, and what says when it was set or replaced since.
    cached: Option<Arc<WriterSchema>>,
    changes: watch::Receiver<Option<Arc<WriterSchema>>>,
}

/// How long a starting producer retries registering its schema while the registry does not answer.
const REGISTER_AT_START: Duration = Duration::from_secs(60);

impl AvroWriter {
    pub fn new(
        registry: Arc<RegistryClient>,
        subject: String,
        initial: SchemaFile,
        current: CurrentSchema,
        registrations: Registrations,
    ) -> Self {
        Self {
            registry,
            subject,
            initial,
            ids: Vec::with_capacity(48),
            cached: None,
            changes: {
                // Whatever is current when the producer starts is new to it.
                let mut changes = current.subscribe();
                changes.mark_changed();
                changes
            },
            current,
            registrations,
        }
    }

    /// Registers the initial schema (unless the producer already has one); failed tries are
    /// reported through `on_error`.
    pub async fn start(
        &self,
        producer: &str,
        at_s: impl Fn() -> f64,
        on_error: impl FnMut(&RegistryError),
    ) -> Result<(), String> {
        if self.current.borrow().is_some() {
            return Ok(());
        }
        let id = register(
            &self.registry,
            &self.subject,
            &self.initial,
            REGISTER_AT_START,
            on_error,
        )
        .await
        .map_err(|e| {
            format!(
                "cannot register {} under subject {}: {e}",
                self.initial.name(),
                self.subject
            )
        })?;
        note_registration(
            &self.registrations,
            Registration {
                subject: self.subject.clone(),
                schema: self.initial.name(),
                id,
                at_s: at_s(),
                by: format!("producer {producer}"),
            },
        );
        self.current
            .send_replace(Some(Arc::new(WriterSchema::new(id, self.initial.clone()))));
        Ok(())
    }

    /// Writes record `seq`'s value into `out`, its ids in it, or in the header returned when the
    /// writer schema has no field for them.
    pub fn payload(
        &mut self,
        run: &str,
        producer: u32,
        seq: u64,
        out: &mut Vec<u8>,
    ) -> Result<Option<OwnedHeaders>, String> {
        // One atomic load per record while the schema stays (a step may replace it any time).
        if self.changes.has_changed().unwrap_or(false) {
            self.cached = self.changes.borrow_and_update().clone();
        }
        let Some(w) = &self.cached else {
            return Err("no writer schema registered yet".to_owned());
        };
        wire::start(w.id, out);
        record::encode(run, producer, seq, 0, &mut self.ids);
        let in_value = match &w.encoder {
            Ok(encoder) => encoder
                .write_record(producer, seq, Some(&self.ids), out)
                .map(|()| encoder.carries_ids()),
            Err(e) => Err(e.clone()),
        };
        let in_value = in_value.map_err(|e| {
            format!(
                "{}: record {seq} does not match the schema: {e}",
                w.file.name()
            )
        })?;
        Ok((!in_value).then(|| ids_header(&self.ids)))
    }
}

/// The header that carries a record's ids (their text, from [`record::encode`]).
pub fn ids_header(ids: &[u8]) -> OwnedHeaders {
    OwnedHeaders::new_with_capacity(1).insert(Header {
        key: IDS_HEADER,
        value: Some(ids),
    })
}

/// Adds a registration to the run's list (the same id twice is kept once).
pub fn note_registration(all: &Registrations, r: Registration) {
    if let Ok(mut all) = all.lock() {
        if !all.iter().any(|x| x.id == r.id && x.subject == r.subject) {
            all.push(r);
        }
    }
}

/// Registers `file` under `subject`, retrying while the registry does not answer (a refusal is
/// final) until `timeout`; each failed try is reported through `on_error`.
pub async fn register(
    registry: &RegistryClient,
    subject: &str,
    file: &SchemaFile,
    timeout: Duration,
    mut on_error: impl FnMut(&RegistryError),
) -> Result<u32, RegistryError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match registry.register(subject, &file.0.text).await {
            Ok(id) => return Ok(id),
            Err(e @ RegistryError::Refused { .. }) => return Err(e),
            Err(e) => {
                on_error(&e);
                if tokio::time::Instant::now() >= deadline {
                    return Err(e);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// What an Avro consumer read, per writer schema.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct AvroReadStats {
    /// The consumer's reader schema (file name); null: each record read with its writer schema.
    pub reader_schema: Option<String>,
    /// Records read per writer schema id.
    pub by_writer_schema: BTreeMap<u32, u64>,
    /// Records whose value could not be decoded (bad framing, unknown id, resolution failure).
    pub undecodable: u64,
    /// Times fetching a writer schema from the registry failed (each retried).
    pub schema_fetch_errors: u64,
}

/// The Avro side of a consumer.
#[derive(Debug)]
pub struct AvroReader {
    pub registry: Arc<RegistryClient>,
    pub stats: Arc<Mutex<AvroReadStats>>,
    /// The consumer's reader schema (None: each record read with its writer schema), shared by
    /// the judges.
    reader_schema: Option<Arc<apache_avro::Schema>>,
    /// One per writer schema id seen, built with the first record written with it (or why it
    /// could not be).
    judges: Mutex<HashMap<u32, Result<Arc<value::Judge>, String>>>,
}

impl AvroReader {
    pub fn new(
        registry: Arc<RegistryClient>,
        reader: Option<SchemaFile>,
        stats: Arc<Mutex<AvroReadStats>>,
    ) -> Self {
        Self {
            registry,
            reader_schema: reader.map(|r| Arc::new(r.0.schema.clone())),
            stats,
            judges: Mutex::default(),
        }
    }

    /// Judges one record: its ids from its value's ids field (or its header), its value against
    /// what they generate. A value that cannot be decoded is one of ours delivered corrupted, with
    /// the reason to report, when its ids can still be read (a header, or a reader schema that
    /// cannot resolve the writer's); without ids it is no record of ours (its loss shows) and the
    /// reason is still reported.
    pub async fn judge(
        &self,
        run: &str,
        headers: Option<&rdkafka::message::BorrowedHeaders>,
        payload: &[u8],
    ) -> (Decoded, Option<String>) {
        let mut ids = headers
            .and_then(|h| h.iter().find(|h| h.key == IDS_HEADER))
            .and_then(|h| h.value)
            .map(|v| record::decode(run, v));
        let result = self.decode(run, &mut ids, payload).await;
        let ours = match ids {
            Some(Decoded::Ours { producer, seq, .. }) => Some((producer, seq)),
            Some(other) => return (other, None),
            None => None,
        };
        if let Ok(mut s) = self.stats.lock() {
            match (&ours, &result) {
                (Some(_), Ok((id, _))) => *s.by_writer_schema.entry(*id).or_default() += 1,
                (_, Err(_)) => s.undecodable += 1,
                (None, Ok(_)) => {}
            }
        }
        match ours {
            Some((producer, seq)) => {
                let intact = result.as_ref().is_ok_and(|(_, intact)| *intact);
                let error = result
                    .err()
                    .map(|e| format!("cannot decode an Avro record: {e}"));
                (
                    Decoded::Ours {
                        producer,
                        seq,
                        intact,
                    },
                    error,
                )
            }
            None => {
                let error = result
                    .err()
                    .map(|e| format!("cannot decode an Avro record (nor whose it is): {e}"));
                (Decoded::Foreign, error)
            }
        }
    }

    /// The writer schema id of `payload` and whether it is what `ids` generate; `ids` (from a
    /// header, or None) are replaced by those the value carries when the writer schema has a
    /// field for them.
    async fn decode(
        &self,
        run: &str,
        ids: &mut Option<Decoded>,
        payload: &[u8],
    ) -> Result<(u32, bool), String> {
        if ids.is_some_and(|d| !matches!(d, Decoded::Ours { .. })) {
            // Another run's, or not ours: no need to read it.
            return Ok((0, false));
        }
        let (id, body) = wire::unframe(payload).map_err(|e| e.to_string())?;
        let cached = self.judges.lock().ok().and_then(|j| j.get(&id).cloned());
        let judge = match cached {
            Some(judge) => judge?,
            None => {
                // A registry that does not answer is waited for again with the next record; a
                // reader schema that cannot read this writer's records will not with the next.
                let writer = self.writer_schema(id).await?;
                let judge = value::Judge::new(writer, self.reader_schema.clone()).map(Arc::new);
                if let Ok(mut judges) = self.judges.lock() {
                    judges.insert(id, judge.clone());
                }
                judge?
            }
        };
        let (carried, got) = judge.read(body);
        if let Some(carried) = carried {
            *ids = Some(record::decode(run, carried?.as_bytes()));
        }
        let Some(Decoded::Ours { producer, seq, .. }) = *ids else {
            return Ok((id, false));
        };
        let got = got?;
        // Judged against the ids' own text, not the text read: a field altered yet naming the
        // same ids is a corrupted record too.
        let mut text = Vec::new();
        record::encode(run, producer, seq, 0, &mut text);
        Ok((id, judge.intact(producer, seq, Some(&text), &got)))
    }

    /// The writer schema registered with `id`, waited for while the registry does not answer.
    async fn writer_schema(&self, id: u32) -> Result<Arc<apache_avro::Schema>, String> {
        let mut tries = 0;
        let writer = loop {
            match self.registry.schema_by_id(id).await {
                Ok(w) => break w,
                Err(e @ RegistryError::Refused { .. }) => {
                    return Err(format!("writer schema id {id}: {e}"))
                }
                Err(e) => {
                    // Down or restarting: wait for it, visibly, but not forever.
                    if let Ok(mut s) = self.stats.lock() {
                        s.schema_fetch_errors += 1;
                    }
                    tries += 1;
                    if tries >= FETCH_TRIES {
                        return Err(format!("writer schema id {id}: {e}"));
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        Ok(writer)
    }
}

#[cfg(test)]
mod tests {
    //! What a producer writes, judged by a consumer; no registry is asked (each judge is in place
    //! before the first record) and no broker is involved.

    use std::path::Path;

    use super::*;
    use crate::avro::parse_avsc;

    const RUN: &str = "run1";

    fn order_v1() -> SchemaFile {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/avro/order-v1.avsc"
        );
        SchemaFile(Arc::new(
            crate::avro::load_avsc(Path::new(path)).expect("loads"),
        ))
    }

    /// A schema with no field the ids can travel in.
    fn no_string_field() -> SchemaFile {
        let text = r#"{"type": "record", "name": "Tick", "fields": [
            {"name": "n", "type": "long"},
            {"name": "label", "type": ["null", "string"]}
        ]}"#;
        SchemaFile(Arc::new(
            parse_avsc(Path::new("tick.avsc"), text.to_owned()).expect("parses"),
        ))
    }

    fn registry() -> Arc<RegistryClient> {
        // Never asked: nothing listens here.
        Arc::new(RegistryClient::new("http://127.0.0.1:9"))
    }

    /// A producer writing with `file` as schema id 1, and a consumer that knows id 1.
    fn pair(file: &SchemaFile) -> (AvroWriter, AvroReader) {
        let current: CurrentSchema = Arc::new(watch::channel(None).0);
        current.send_replace(Some(Arc::new(WriterSchema::new(1, file.clone()))));
        let writer = AvroWriter::new(
            registry(),
            "t-value".to_owned(),
            file.clone(),
            current,
            Registrations::default(),
        );
        let reader = AvroReader::new(registry(), None, Arc::default());
        let judge = value::Judge::new(Arc::new(file.0.schema.clone()), None).map(Arc::new);
        reader.judges.lock().expect("lock").insert(1, judge);
        (writer, reader)
    }

    fn ours(producer: u32, seq: u64, intact: bool) -> Decoded {
        Decoded::Ours {
            producer,
            seq,
            intact,
        }
    }

    #[tokio::test]
    async fn ids_in_the_value_are_read_back_without_a_header() {
        let (mut writer, reader) = pair(&order_v1());
        let mut payload = Vec::new();
        let header = writer.payload(RUN, 3, 42, &mut payload).expect("writes");
        assert!(header.is_none(), "order-v1 has an `id` field for the ids");
        assert_eq!(
            reader.judge(RUN, None, &payload).await,
            (ours(3, 42, true), None)
        );
        assert_eq!(
            reader.judge("run2", None, &payload).await,
            (Decoded::OtherRun, None)
        );

        // Ids rewritten to name another record: judged as that one, and not intact.
        let at = payload
            .windows(4)
            .position(|w| w == b" 42 ")
            .expect("seq in the value");
        payload[at + 2] = b'3';
        assert_eq!(
            reader.judge(RUN, None, &payload).await,
            (ours(3, 43, false), None)
        );

        // Not Avro at all, no header: nobody's record, and the reason is reported.
        let (d, error) = reader.judge(RUN, None, b"KH1 run1 3 42 0 ").await;
        assert_eq!(d, Decoded::Foreign);
        assert!(error.is_some_and(|e| e.starts_with("cannot decode an Avro record (nor whose")));
        assert_eq!(reader.stats.lock().expect("lock").undecodable, 1);
    }

    #[tokio::test]
    async fn a_schema_without_a_string_field_sends_its_ids_in_a_header() {
        let (mut writer, reader) = pair(&no_string_field());
        let mut payload = Vec::new();
        let header = writer
            .payload(RUN, 5, 7, &mut payload)
            .expect("writes")
            .expect("a header");
        let headers = Some(header.as_borrowed());
        assert_eq!(
            reader.judge(RUN, headers, &payload).await,
            (ours(5, 7, true), None)
        );
        let last = payload.len() - 1;
        payload[last] ^= 0x02;
        assert_eq!(
            reader.judge(RUN, headers, &payload).await.0,
            ours(5, 7, false)
        );
        // Without its header, nobody's.
        assert_eq!(
            reader.judge(RUN, None, &payload).await,
            (Decoded::Foreign, None)
        );
    }
}
