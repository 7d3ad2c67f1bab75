//! The records a producer sends, drawn ahead of its send loop on a thread of their own.
//!
//! A load producer's send loop is its bottleneck: it hands every record to librdkafka and takes in
//! every acknowledgement, on one thread. Drawing an Avro value and building the header that
//! carries its ids cost about as much again, so they are done beside it: a thread per producer
//! draws records in [`Chunk`]s, each about [`CHUNK_SPAN_S`] of the producer's schedule long (one
//! record at least, [`MAX_CHUNK`] at most), and keeps [`AHEAD`] chunks ready. A `register_schema`
//! step therefore reaches the records drawn after it, a few milliseconds of the schedule later.
//! Values depend on (producer, seq) only, never on when they are drawn.

use rdkafka::message::OwnedHeaders;
use tokio::sync::mpsc;

use super::avro::{ids_header, AvroWriter};
use super::record;

/// Records per chunk at most.
pub const MAX_CHUNK: usize = 256;
/// Chunks drawn and waiting while the send loop sends another.
pub const AHEAD: usize = 2;
/// The part of the producer's schedule a chunk covers, in seconds.
pub const CHUNK_SPAN_S: f64 = 0.005;

/// What a producer's records hold.
#[derive(Debug)]
pub enum Values {
    /// The harness's own records of `size` bytes ([`record::encode`]); with `ids_header`, their
    /// ids also in the header Avro records carry them in (the Avro benchmark's control).
    Plain { size: usize, ids_header: bool },
    /// Generated values in the writer schema of the moment, their ids in a header.
    Avro(AvroWriter),
}

/// Records `first_seq..first_seq + len()`, drawn.
#[derive(Debug)]
pub struct Chunk {
    pub first_seq: u64,
    bytes: Vec<u8>,
    records: Vec<Drawn>,
}

#[derive(Debug)]
struct Drawn {
    /// Where the record's value ends in `bytes` (it starts where the previous one ends).
    end: usize,
    headers: Option<OwnedHeaders>,
    /// Why the record cannot be sent (a value its schema refuses).
    error: Option<String>,
}

/// One record of a chunk, as the send loop takes it.
#[derive(Debug)]
pub enum Next<'a> {
    Send {
        payload: &'a [u8],
        headers: Option<OwnedHeaders>,
    },
    Failed(String),
}

impl Chunk {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Record `first_seq + i`; its headers and error are handed over (taken once).
    pub fn take(&mut self, i: usize) -> Next<'_> {
        let start = i.checked_sub(1).map_or(0, |p| self.records[p].end);
        let r = &mut self.records[i];
        match r.error.take() {
            Some(e) => Next::Failed(e),
            None => Next::Send {
                payload: &self.bytes[start..r.end],
                headers: r.headers.take(),
            },
        }
    }

    /// Gives back the headers of record `i`, which librdkafka did not take (its queue was full).
    pub fn put_back(&mut self, i: usize, headers: Option<OwnedHeaders>) {
        self.records[i].headers = headers;
    }
}

/// How many records a chunk holds for a producer sending `rate` records per second.
pub fn chunk_len(rate: f64) -> usize {
    // A float-to-int `as` saturates: a huge rate gives MAX_CHUNK, NaN gives 1.
    ((rate * CHUNK_SPAN_S) as usize).clamp(1, MAX_CHUNK)
}

/// Draws records `0..records` of producer `producer` of run `run`, `chunk` at a time, on a thread
/// named after the producer; the thread ends after the last record or when the receiver is
/// dropped.
pub fn spawn(
    name: &str,
    run: String,
    producer: u32,
    values: Values,
    records: u64,
    chunk: usize,
) -> std::io::Result<mpsc::Receiver<Chunk>> {
    let (tx, rx) = mpsc::channel(AHEAD);
    std::thread::Builder::new()
        .name(format!("draw {name}"))
        .spawn(move || {
            let mut first = 0;
            let mut scratch = Vec::new();
            while first < records {
                let n = records.saturating_sub(first).min(chunk as u64);
                let drawn = draw(&values, &run, producer, first..first + n, &mut scratch);
                if tx.blocking_send(drawn).is_err() {
                    break;
                }
                first += n;
            }
        })?;
    Ok(rx)
}

/// Draws records `seqs` (`scratch`: space for one record).
pub fn draw(
    values: &Values,
    run: &str,
    producer: u32,
    seqs: std::ops::Range<u64>,
    scratch: &mut Vec<u8>,
) -> Chunk {
    let n = usize::try_from(seqs.end - seqs.start).unwrap_or(0);
    let mut chunk = Chunk {
        first_seq: seqs.start,
        bytes: Vec::new(),
        records: Vec::with_capacity(n),
    };
    let mut head = Vec::new();
    // One writer schema for the whole chunk: a step that replaces it applies from the next.
    let schema = match values {
        Values::Avro(w) => Some(w.schema()),
        Values::Plain { .. } => None,
    };
    for seq in seqs {
        let (written, with_header) = match (values, &schema) {
            (Values::Plain { size, ids_header }, _) => {
                record::encode(run, producer, seq, *size, scratch);
                (Ok(()), *ids_header)
            }
            (Values::Avro(_), Some(Some(w))) => (w.write(producer, seq, scratch), true),
            (Values::Avro(_), _) => (Err("no writer schema registered yet".to_owned()), false),
        };
        if chunk.bytes.is_empty() {
            chunk.bytes.reserve(scratch.len() * n);
        }
        let drawn = match written {
            Ok(()) => {
                chunk.bytes.extend_from_slice(scratch);
                Drawn {
                    end: chunk.bytes.len(),
                    headers: with_header.then(|| ids_header(run, producer, seq, &mut head)),
                    error: None,
                }
            }
            Err(e) => Drawn {
                end: chunk.bytes.len(),
                headers: None,
                error: Some(e),
            },
        };
        chunk.records.push(drawn);
    }
    chunk
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Headers;

    #[test]
    fn chunks_span_a_few_milliseconds_of_the_schedule() {
        assert_eq!(chunk_len(10.0), 1);
        assert_eq!(chunk_len(0.0), 1);
        assert_eq!(chunk_len(2_000.0), 10);
        assert_eq!(chunk_len(10_000_000.0), MAX_CHUNK);
        assert_eq!(chunk_len(f64::NAN), 1);
    }

    #[test]
    fn plain_chunks_hold_what_record_encode_writes() {
        let values = Values::Plain {
            size: 100,
            ids_header: true,
        };
        let mut chunk = draw(&values, "r1", 3, 10..14, &mut Vec::new());
        assert_eq!((chunk.first_seq, chunk.len()), (10, 4));
        let mut expected = Vec::new();
        for i in 0..4 {
            record::encode("r1", 3, 10 + i as u64, 100, &mut expected);
            let Next::Send { payload, headers } = chunk.take(i) else {
                panic!("record {i} failed");
            };
            assert_eq!(payload, &expected[..]);
            let headers = headers.expect("the ids header");
            let ids = headers.get(0);
            assert_eq!(ids.key, super::super::avro::IDS_HEADER);
            assert_eq!(
                record::decode("r1", ids.value.unwrap_or_default()),
                record::Decoded::Ours {
                    producer: 3,
                    seq: 10 + i as u64,
                    intact: true
                }
            );
            // Taken once: what librdkafka did not take is given back.
            assert!(matches!(chunk.take(i), Next::Send { headers: None, .. }));
            chunk.put_back(i, Some(headers));
            assert!(matches!(
                chunk.take(i),
                Next::Send {
                    headers: Some(_),
                    ..
                }
            ));
        }
    }

    #[test]
    fn avro_chunks_use_the_writer_schema_of_the_moment() {
        use crate::avro::{load_avsc, RegistryClient};
        use crate::load::avro::WriterSchema;
        use crate::scenario::SchemaFile;
        use std::sync::Arc;
        let file = |name| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fixtures/avro")
                .join(name);
            SchemaFile(Arc::new(load_avsc(&path).expect("fixture loads")))
        };
        let current = Arc::new(tokio::sync::watch::channel(None).0);
        let values = Values::Avro(AvroWriter::new(
            Arc::new(RegistryClient::new("http://127.0.0.1:9")),
            "orders-value".to_owned(),
            file("order-v1.avsc"),
            current.clone(),
            Arc::default(),
        ));
        // Before the producer registered its schema: nothing can be written.
        let mut chunk = draw(&values, "r", 1, 0..2, &mut Vec::new());
        assert!(matches!(chunk.take(0), Next::Failed(e) if e.contains("no writer schema")));
        let mut expected = Vec::new();
        for (id, name) in [(7, "order-v1.avsc"), (8, "order-v2.avsc")] {
            let schema = Arc::new(WriterSchema::new(id, file(name)));
            current.send_replace(Some(schema.clone()));
            let mut chunk = draw(&values, "r", 1, 5..8, &mut Vec::new());
            for i in 0..3 {
                schema
                    .write(1, 5 + i as u64, &mut expected)
                    .expect("the fixture's values are written");
                assert_eq!(expected[1..5], id.to_be_bytes(), "{name}");
                let Next::Send { payload, headers } = chunk.take(i) else {
                    panic!("record {i} failed");
                };
                assert_eq!(payload, &expected[..], "{name}");
                assert!(
                    headers.is_some(),
                    "Avro records carry their ids in a header"
                );
            }
        }
    }

    #[tokio::test]
    async fn the_drawing_thread_draws_every_record_once_in_order() {
        let values = Values::Plain {
            size: 20,
            ids_header: false,
        };
        let mut rx = spawn("test", "r".to_owned(), 1, values, 1_000, 7).expect("a thread");
        let mut next = 0;
        while let Some(mut chunk) = rx.recv().await {
            assert_eq!(chunk.first_seq, next);
            assert!(chunk.len() <= 7 && !chunk.is_empty());
            for i in 0..chunk.len() {
                assert!(
                    matches!(chunk.take(i), Next::Send { headers: None, payload } if payload.len() == 20)
                );
            }
            next += chunk.len() as u64;
        }
        assert_eq!(next, 1_000);
    }
}
