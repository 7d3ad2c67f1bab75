//! Records generated from a schema as a pure function of (producer, seq), so that a reader can
//! recompute what a record must hold and judge it ([`Judge::intact`]).
//!
//! Every value in a record is drawn from a small random generator seeded with the producer, the
//! sequence number and the value's path in the record (`items[1].sku`), so adding a field to a
//! schema leaves the values of the other fields unchanged.
//!
//! A record's ids travel in its value when the schema has a place for them ([`carrier`]: the first
//! top-level field of type `string`, e.g. an order's `id`): that field holds the ids' text instead
//! of drawn letters, and a reader takes them from there ([`Judge::carried`]).
//!
//! A producer writes with an [`Encoder`] and a consumer judges with a [`Judge`]: both resolve their
//! schemas once, when built. The free functions (tests only) resolve the schema on every call: they
//! are the reference the two are checked against.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::{DecimalSchema, Name, NamesRef, RecordField, ResolvedSchema, UuidSchema};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::{Days, Decimal, Duration, Millis, Months, Schema, Uuid};

/// Containers nested deeper than this are generated empty and unions take their null branch, so
/// recursive schemas (a linked list) end.
const MAX_DEPTH: usize = 8;

#[cfg(test)]
/// The record (or value) that `producer` sends as its `seq`-th under `schema`.
pub fn generate(schema: &Schema, producer: u32, seq: u64) -> Value {
    // A schema parsed from one document always resolves; an unresolvable reference is generated
    // as null, which encode() then reports with the field's path.
    let resolved = ResolvedSchema::new(schema).ok();
    let empty = NamesRef::new();
    generate_with(
        schema,
        resolved.as_ref().map_or(&empty, |r| r.get_names()),
        producer,
        seq,
        None,
    )
}

fn generate_with(
    schema: &Schema,
    names: &NamesRef<'_>,
    producer: u32,
    seq: u64,
    ids: Option<(usize, &[u8])>,
) -> Value {
    let generator = Generator {
        names,
        producer,
        seq,
        ids,
    };
    generator.value(schema)
}

/// Where a record's ids can travel in its value: the first top-level field of type `string` (no
/// logical type, not in a union), as its position and name. None for a schema without one.
pub fn carrier(schema: &Schema) -> Option<(usize, &str)> {
    let Schema::Record(record) = schema else {
        return None;
    };
    let at = record
        .fields
        .iter()
        .position(|f| matches!(f.schema, Schema::String))?;
    Some((at, record.fields[at].name.as_str()))
}

#[cfg(test)]
/// The Avro binary datum of `value`, validated against `schema`: a value that does not match is an
/// error naming the first field that does not.
pub fn encode(schema: &Schema, value: &Value) -> Result<Vec<u8>, String> {
    let resolved = ResolvedSchema::new(schema).map_err(|e| e.to_string())?;
    let writer = datum_writer(schema, resolved.clone())?;
    let mut out = Vec::new();
    encode_with(schema, resolved.get_names(), &writer, true, value, &mut out)?;
    Ok(out)
}

/// A writer that does not validate: [`encode_with`] does when asked.
fn datum_writer<'s>(
    schema: &'s Schema,
    resolved: ResolvedSchema<'s>,
) -> Result<GenericDatumWriter<'s>, String> {
    GenericDatumWriter::builder(schema)
        .resolved_schemata(resolved)
        .validate(false)
        .build()
        .map_err(|e| e.to_string())
}

/// Appends the datum of `value` to `out` (left as it was on an error). With `validate`, a value
/// that does not match `schema` is refused before anything is written; without, the caller
/// promises it matches (an error then still names the field when the writer notices).
fn encode_with(
    schema: &Schema,
    names: &NamesRef<'_>,
    writer: &GenericDatumWriter<'_>,
    validate: bool,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let start = out.len();
    let written = if !validate || value.validate_with_names(schema, names) {
        writer
            .write_value_ref(out, value)
            .map_err(|e| e.to_string())
    } else {
        Err("value does not match schema".to_owned())
    };
    written.map(drop).map_err(|error| {
        out.truncate(start);
        // The writer only says "value does not match schema": find where.
        mismatch(value, schema, names, None, "").unwrap_or(error)
    })
}

/// Decode an Avro body written with `writer`, read with `reader` (schema resolution) or with the
/// writer schema when None. Bytes left over after the datum are an error.
pub fn decode(writer: &Schema, reader: Option<&Schema>, body: &[u8]) -> Result<Value, String> {
    let datum_reader = GenericDatumReader::builder(writer)
        .maybe_reader_schema(reader)
        .build()
        .map_err(|e| e.to_string())?;
    decode_with(&datum_reader, body)
}

fn decode_with(datum_reader: &GenericDatumReader<'_>, body: &[u8]) -> Result<Value, String> {
    let mut rest = body;
    let value = datum_reader
        .read_value(&mut rest)
        .map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes left over after the Avro datum ({} bytes read)",
            rest.len(),
            body.len() - rest.len()
        ));
    }
    Ok(value)
}

#[cfg(test)]
/// Whether `got` (decoded as by [`decode`]) is exactly what (producer, seq) generates under
/// `writer`, seen through `reader`.
pub fn intact(
    writer: &Schema,
    reader: Option<&Schema>,
    producer: u32,
    seq: u64,
    got: &Value,
) -> bool {
    expected(writer, reader, producer, seq).is_ok_and(|want| &want == got)
}

#[cfg(test)]
/// What a reader with `reader` (or `writer` when None) decodes from (producer, seq)'s record
/// written with `writer`.
pub fn expected(
    writer: &Schema,
    reader: Option<&Schema>,
    producer: u32,
    seq: u64,
) -> Result<Value, String> {
    let body = encode(writer, &generate(writer, producer, seq))?;
    decode(writer, reader, &body)
}

/// Writes generated records with one writer schema, resolved once.
pub struct Encoder {
    inner: EncoderInner,
    /// Whether each generated value is validated before it is written: only for a schema that the
    /// generator cannot always satisfy (see [`unsatisfiable`]).
    validate: bool,
    /// The position of the field that carries the ids, if the schema has one ([`carrier`]).
    carrier: Option<usize>,
}

#[ouroboros::self_referencing]
struct EncoderInner {
    schema: Arc<Schema>,
    #[borrows(schema)]
    #[covariant]
    resolved: ResolvedSchema<'this>,
    #[borrows(schema)]
    #[covariant]
    writer: GenericDatumWriter<'this>,
}

impl Encoder {
    /// Resolves `schema`'s names; an unresolvable reference is an error.
    pub fn new(schema: Arc<Schema>) -> Result<Self, String> {
        let inner = EncoderInnerTryBuilder {
            schema,
            resolved_builder: |s: &Arc<Schema>| ResolvedSchema::new(s).map_err(|e| e.to_string()),
            writer_builder: |s: &Arc<Schema>| {
                let resolved = ResolvedSchema::new(s).map_err(|e| e.to_string())?;
                datum_writer(s, resolved)
            },
        }
        .try_build()?;
        let validate = inner.with(|f| unsatisfiable(f.schema, f.resolved.get_names()).is_some());
        let carrier = carrier(inner.borrow_schema()).map(|(at, _)| at);
        Ok(Self {
            inner,
            validate,
            carrier,
        })
    }

    pub fn schema(&self) -> &Schema {
        self.inner.borrow_schema()
    }

    /// The name of the field that carries a record's ids, if the schema has one ([`carrier`]).
    pub fn carrier(&self) -> Option<&str> {
        carrier(self.schema()).map(|(_, name)| name)
    }

    /// Whether the records hold their ids (in the [`carrier`] field).
    pub fn carries_ids(&self) -> bool {
        self.carrier.is_some()
    }

    /// Where `ids` go in a record: nowhere without ids or a carrier field.
    fn carried<'i>(&self, ids: Option<&'i [u8]>) -> Option<(usize, &'i [u8])> {
        self.carrier.zip(ids)
    }

    /// The record (or value) that `producer` sends as its `seq`-th under this schema, with `ids`
    /// as the text of its carrier field (when it has one; drawn like any string without `ids`).
    pub fn generate(&self, producer: u32, seq: u64, ids: Option<&[u8]>) -> Value {
        generate_with(
            self.schema(),
            self.inner.borrow_resolved().get_names(),
            producer,
            seq,
            self.carried(ids),
        )
    }

    /// Appends the Avro binary datum of `value` to `out`, validated: a value that does not match
    /// is an error naming the first field that does not (`out` is left as it was).
    pub fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
        self.encode_value(value, true, out)
    }

    /// Appends the datum of (producer, seq)'s record to `out`: the bytes of
    /// `encode(schema, &self.generate(producer, seq, ids))`. The generated value is not validated
    /// again when the generator always satisfies the schema (most schemas); an error names the
    /// field that does not match.
    pub fn write_record(
        &self,
        producer: u32,
        seq: u64,
        ids: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        if !self.validate {
            // Written as it is drawn, without building the value.
            let start = out.len();
            let generator = Generator {
                names: self.inner.borrow_resolved().get_names(),
                producer,
                seq,
                ids: self.carried(ids),
            };
            let written = generator.walk(self.schema(), None, Path::ROOT, 0, &mut Datum { out });
            if written.is_ok() {
                return Ok(());
            }
            // Only a schema the generator cannot satisfy gets here, and those are validated: the
            // value path below names the field.
            out.truncate(start);
        }
        self.encode_value(&self.generate(producer, seq, ids), true, out)
    }

    fn encode_value(&self, value: &Value, validate: bool, out: &mut Vec<u8>) -> Result<(), String> {
        self.inner.with(|f| {
            encode_with(
                f.schema,
                f.resolved.get_names(),
                f.writer,
                validate,
                value,
                out,
            )
        })
    }
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("schema", &self.schema().canonical_form())
            .field("validate", &self.validate)
            .finish()
    }
}

/// Judges records written with one writer schema and read with one reader schema: both resolved
/// once.
pub struct Judge {
    encoder: Encoder,
    inner: JudgeInner,
}

#[ouroboros::self_referencing]
struct JudgeInner {
    writer: Arc<Schema>,
    reader: Option<Arc<Schema>>,
    #[borrows(writer, reader)]
    #[covariant]
    datum_reader: GenericDatumReader<'this>,
    /// Reads with the writer schema alone, for the ids' field.
    #[borrows(writer)]
    #[covariant]
    writer_reader: GenericDatumReader<'this>,
}

impl Judge {
    /// Reads with `reader`, or with `writer` when None.
    pub fn new(writer: Arc<Schema>, reader: Option<Arc<Schema>>) -> Result<Self, String> {
        let encoder = Encoder::new(writer.clone())?;
        let inner = JudgeInnerTryBuilder {
            writer,
            reader,
            datum_reader_builder: |w: &Arc<Schema>, r: &Option<Arc<Schema>>| {
                GenericDatumReader::builder(w)
                    .maybe_reader_schema(r.as_deref())
                    .build()
                    .map_err(|e| e.to_string())
            },
            writer_reader_builder: |w: &Arc<Schema>| {
                GenericDatumReader::builder(w)
                    .build()
                    .map_err(|e| e.to_string())
            },
        }
        .try_build()?;
        Ok(Self { encoder, inner })
    }

    /// The text that a body's ids field holds ([`carrier`]), read with the writer schema whatever
    /// the reader schema drops; None when the writer schema has no such field (the ids then travel
    /// in a header).
    pub fn carried(&self, body: &[u8]) -> Option<Result<String, String>> {
        let at = self.encoder.carrier?;
        let value = decode_with(self.inner.borrow_writer_reader(), body);
        Some(value.and_then(|v| ids_in(&v, at)))
    }

    /// What [`Judge::carried`] and [`Judge::decode`] give, the body decoded once when the reader
    /// reads with the writer schema.
    pub fn read(&self, body: &[u8]) -> (Option<Result<String, String>>, Result<Value, String>) {
        match self.encoder.carrier {
            Some(at) if self.inner.borrow_reader().is_none() => {
                let got = self.decode(body);
                let ids = got
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|v| ids_in(v, at));
                (Some(ids), got)
            }
            _ => (self.carried(body), self.decode(body)),
        }
    }

    /// Decodes a body written with the writer schema, read with the reader schema (schema
    /// resolution). Bytes left over after the datum are an error.
    pub fn decode(&self, body: &[u8]) -> Result<Value, String> {
        decode_with(self.inner.borrow_datum_reader(), body)
    }

    /// What this reader decodes from (producer, seq)'s record written with the writer schema,
    /// `ids` in its ids field.
    pub fn expected(&self, producer: u32, seq: u64, ids: Option<&[u8]>) -> Result<Value, String> {
        let mut body = Vec::new();
        self.encoder.write_record(producer, seq, ids, &mut body)?;
        self.decode(&body)
    }

    /// Whether `got` (decoded as by [`Judge::decode`]) is exactly what (producer, seq) generates
    /// under the writer schema, `ids` in its ids field, seen through the reader schema.
    pub fn intact(&self, producer: u32, seq: u64, ids: Option<&[u8]>, got: &Value) -> bool {
        self.expected(producer, seq, ids)
            .is_ok_and(|want| &want == got)
    }
}

/// The text of field `at` of a record read with the writer schema.
fn ids_in(value: &Value, at: usize) -> Result<String, String> {
    match value {
        Value::Record(fields) => match fields.get(at) {
            Some((_, Value::String(text))) => Ok(text.clone()),
            Some((name, other)) => Err(format!("field `{name}` holds {other:?}, not a string")),
            None => Err(format!("no field {at} in {value:?}")),
        },
        other => Err(format!("not a record: {other:?}")),
    }
}

impl fmt::Debug for Judge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Judge")
            .field("writer", &self.inner.borrow_writer().canonical_form())
            .field(
                "reader",
                &self
                    .inner
                    .borrow_reader()
                    .as_ref()
                    .map(|r| r.canonical_form()),
            )
            .finish()
    }
}

/// A record that contains itself through fields that always hold a record (not through an array,
/// a map or a union), e.g. "record `t.R` contains itself through field `next`": no value of it is
/// finite, so none can be generated (or written by anyone). None when there is no such record.
pub fn endless(schema: &Schema) -> Option<String> {
    /// Appends to `path` the fields that lead from `record` to `target` through records only.
    fn reaches<'s>(
        record: &'s Schema,
        target: &Name,
        names: &'s NamesRef<'_>,
        ns: Option<&str>,
        path: &mut Vec<&'s str>,
        seen: &mut Vec<Name>,
    ) -> bool {
        let Schema::Record(r) = record else {
            return false;
        };
        let ns = r.name.namespace().or(ns);
        for field in &r.fields {
            let (name, inner) = match &field.schema {
                Schema::Record(inner) => (
                    inner.name.fully_qualified_name(ns).into_owned(),
                    &field.schema,
                ),
                Schema::Ref { name } => {
                    let name = name.fully_qualified_name(ns);
                    match names.get(name.as_ref()) {
                        Some(inner) => (name.into_owned(), *inner),
                        None => continue,
                    }
                }
                _ => continue,
            };
            path.push(&field.name);
            if name == *target {
                return true;
            }
            if !seen.contains(&name) {
                let inner_ns = name.namespace().map(str::to_owned);
                seen.push(name);
                if reaches(inner, target, names, inner_ns.as_deref(), path, seen) {
                    return true;
                }
            }
            path.pop();
        }
        false
    }
    let resolved = ResolvedSchema::new(schema).ok()?;
    let names = resolved.get_names();
    let mut records: Vec<(&Name, &Schema)> = names
        .iter()
        .filter(|(_, s)| matches!(s, Schema::Record(_)))
        .map(|(n, s)| (n, *s))
        .collect();
    records.sort_by_key(|(n, _)| full(n));
    records.into_iter().find_map(|(name, record)| {
        let mut path = Vec::new();
        reaches(
            record,
            name,
            names,
            name.namespace(),
            &mut path,
            &mut Vec::new(),
        )
        .then(|| {
            format!(
                "record `{}` contains itself through field `{}` (not through an array, a map or \
                 a union): none of its values would end",
                full(name),
                path.join(".")
            )
        })
    })
}

/// Where the generator cannot give `schema` a value that matches it (it generates null there), or
/// None: a type with no values (an empty union or enum) or an unknown name. Each named type is
/// looked at once.
fn unsatisfiable(schema: &Schema, names: &NamesRef<'_>) -> Option<String> {
    fn walk<'s>(
        schema: &'s Schema,
        names: &'s NamesRef<'_>,
        ns: Option<&str>,
        seen: &mut Vec<&'s Name>,
    ) -> Option<String> {
        match schema {
            Schema::Ref { name } => {
                let name = name.fully_qualified_name(ns);
                match names.get_key_value(name.as_ref()) {
                    Some((key, target)) => {
                        if seen.contains(&key) {
                            return None;
                        }
                        seen.push(key);
                        walk(target, names, key.namespace(), seen)
                    }
                    None => Some(format!("unknown type `{}`", full(&name))),
                }
            }
            Schema::Array(array) => walk(&array.items, names, ns, seen),
            Schema::Map(map) => walk(&map.types, names, ns, seen),
            Schema::Union(union) if union.variants().is_empty() => Some("an empty union".into()),
            Schema::Union(union) => union
                .variants()
                .iter()
                .find_map(|v| walk(v, names, ns, seen)),
            Schema::Record(record) => {
                let ns = record.name.namespace().or(ns);
                record
                    .fields
                    .iter()
                    .find_map(|f| walk(&f.schema, names, ns, seen))
            }
            Schema::Enum(e) if e.symbols.is_empty() => {
                Some(format!("enum `{}` has no symbols", full(&e.name)))
            }
            _ => None,
        }
    }
    walk(schema, names, None, &mut Vec::new())
}

/// A value's path in its record, as the FNV-1a hash of its text (`items[1].sku`), extended a piece
/// at a time without building the text.
#[derive(Debug, Clone, Copy)]
struct Path {
    hash: u64,
    empty: bool,
}

impl Path {
    const ROOT: Path = Path {
        hash: 0xcbf2_9ce4_8422_2325,
        empty: true,
    };

    fn with(self, bytes: &[u8]) -> Path {
        let mut h = self.hash;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Path {
            hash: h,
            empty: self.empty && bytes.is_empty(),
        }
    }

    /// `path.name`, or `name` at the top.
    fn field(self, name: &str) -> Path {
        if self.empty {
            self.with(name.as_bytes())
        } else {
            self.with(b".").with(name.as_bytes())
        }
    }

    /// `path[i]`.
    fn index(self, i: u64) -> Path {
        self.with(b"[")
            .with(crate::load::record::digits(i, &mut [0; 20]))
            .with(b"]")
    }

    /// `path["key"]`.
    fn key(self, key: &str) -> Path {
        self.with(b"[\"").with(key.as_bytes()).with(b"\"]")
    }
}

struct Generator<'a, 's> {
    names: &'a NamesRef<'s>,
    producer: u32,
    seq: u64,
    /// The text that the top-level field at this position holds instead of drawn letters.
    ids: Option<(usize, &'a [u8])>,
}

impl Generator<'_, '_> {
    fn rng(&self, path: Path) -> Rng {
        // FNV-1a over the path, mixed with producer and seq: stable across platforms and Rust
        // releases (std's hasher is not promised to be).
        let mut rng = Rng(path.hash ^ u64::from(self.producer).rotate_left(40));
        rng.next();
        rng.0 ^= self.seq;
        rng.next();
        rng
    }

    fn value(&self, schema: &Schema) -> Value {
        let Ok(value) = self.walk(schema, None, Path::ROOT, 0, &mut Tree);
        value
    }

    /// Draws the value of `schema` at `path` and hands it to `sink`, part by part. Every value
    /// draws from a generator of its own (seeded by its path), so the order in which a sink asks
    /// for the parts does not change them.
    fn walk<S: Sink>(
        &self,
        schema: &Schema,
        ns: Option<&str>,
        path: Path,
        depth: usize,
        sink: &mut S,
    ) -> Result<S::Out, S::Error> {
        let mut r = self.rng(path);
        let leaf = match schema {
            Schema::Null => Value::Null,
            Schema::Boolean => Value::Boolean(r.next() & 1 == 1),
            Schema::Int => Value::Int(r.between(-100_000, 100_000) as i32),
            Schema::Long => Value::Long(r.between(-10_000_000_000, 10_000_000_000)),
            // Multiples of 1/4 and 1/128 well inside the mantissa: exact, never NaN.
            Schema::Float => Value::Float(r.between(-1_000_000, 1_000_000) as f32 / 4.0),
            Schema::Double => {
                Value::Double(r.between(-1_000_000_000, 1_000_000_000) as f64 / 128.0)
            }
            Schema::Bytes => {
                let len = r.below(17) as usize;
                return sink.drawn(Drawn::Bytes, len, &mut r);
            }
            Schema::String => {
                let len = r.letters_len(8, 24);
                return sink.drawn(Drawn::Letters, len, &mut r);
            }
            Schema::Array(array) => {
                let n = if depth >= MAX_DEPTH { 0 } else { r.below(4) };
                return sink.array(n, |sink, i| {
                    self.walk(&array.items, ns, path.index(i), depth + 1, sink)
                });
            }
            Schema::Map(map) => {
                let n = if depth >= MAX_DEPTH { 0 } else { r.below(4) };
                let keys = (0..n).map(|i| format!("{}{i}", r.letters(4, 8))).collect();
                return sink.map(keys, |sink, key| {
                    self.walk(&map.types, ns, path.key(key), depth + 1, sink)
                });
            }
            Schema::Union(union) => {
                let variants = union.variants();
                let null = variants.iter().position(|v| matches!(v, Schema::Null));
                // The branches other than null, one of which is picked.
                let others = variants.len() - usize::from(null.is_some());
                let index = match null {
                    Some(null) if others == 0 || depth >= MAX_DEPTH || r.below(8) == 0 => null,
                    _ if others == 0 => 0,
                    _ => {
                        let k = r.below(others as u64) as usize;
                        (0..variants.len())
                            .filter(|&i| Some(i) != null)
                            .nth(k)
                            .unwrap_or(0)
                    }
                };
                match variants.get(index) {
                    Some(variant) => {
                        return sink.union(index as u32, |sink| {
                            self.walk(variant, ns, path, depth + 1, sink)
                        })
                    }
                    // An empty union has no value; encode() reports it.
                    None => Value::Null,
                }
            }
            Schema::Record(record) => {
                let ns = record.name.namespace().or(ns);
                let ids = self
                    .ids
                    .filter(|_| depth == 0)
                    .and_then(|(at, text)| Some((record.fields.get(at)?, text)));
                return sink.record(&record.fields, |sink, field| match ids {
                    Some((carrier, text)) if std::ptr::eq(field, carrier) => sink.text(text),
                    _ => self.walk(&field.schema, ns, path.field(&field.name), depth + 1, sink),
                });
            }
            Schema::Enum(e) if e.symbols.is_empty() => Value::Null,
            Schema::Enum(e) => {
                let index = ((self.seq ^ r.next()) % e.symbols.len() as u64) as usize;
                return sink.symbol(index as u32, &e.symbols[index]);
            }
            Schema::Fixed(fixed) => return sink.drawn(Drawn::Fixed, fixed.size, &mut r),
            Schema::Decimal(DecimalSchema { precision, .. }) => {
                let digits = (*precision).clamp(1, 18) as u32;
                let bound = 10_i64.pow(digits) - 1;
                Value::Decimal(Decimal::from(twos_complement(r.between(-bound, bound))))
            }
            Schema::BigDecimal => {
                let text = format!("{}.{:03}", r.between(-1_000_000, 1_000_000), r.below(1000));
                match text.parse::<apache_avro::BigDecimal>() {
                    Ok(d) => Value::BigDecimal(d),
                    Err(_) => Value::Null,
                }
            }
            Schema::Uuid(_) => Value::Uuid(Uuid::from_u64_pair(r.next(), r.next())),
            Schema::Date => Value::Date(r.between(18_000, 22_000) as i32),
            Schema::TimeMillis => Value::TimeMillis(r.below(86_400_000) as i32),
            Schema::TimeMicros => Value::TimeMicros(r.below(86_400_000_000) as i64),
            Schema::TimestampMillis => Value::TimestampMillis(timestamp_millis(&mut r)),
            Schema::TimestampMicros => Value::TimestampMicros(timestamp_millis(&mut r) * 1000),
            Schema::TimestampNanos => Value::TimestampNanos(timestamp_millis(&mut r) * 1_000_000),
            Schema::LocalTimestampMillis => Value::LocalTimestampMillis(timestamp_millis(&mut r)),
            Schema::LocalTimestampMicros => {
                Value::LocalTimestampMicros(timestamp_millis(&mut r) * 1000)
            }
            Schema::LocalTimestampNanos => {
                Value::LocalTimestampNanos(timestamp_millis(&mut r) * 1_000_000)
            }
            Schema::Duration(_) => Value::Duration(Duration::new(
                Months::new(r.below(24) as u32),
                Days::new(r.below(31) as u32),
                Millis::new(r.below(86_400_000) as u32),
            )),
            Schema::Ref { name } => {
                let name = name.fully_qualified_name(ns);
                match self.names.get(name.as_ref()) {
                    Some(target) => {
                        return self.walk(target, name.namespace(), path, depth + 1, sink)
                    }
                    None => Value::Null,
                }
            }
        };
        sink.leaf(schema, leaf)
    }
}

/// Values of a length drawn byte by byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drawn {
    /// A string of letters a-z.
    Letters,
    Bytes,
    /// Bytes whose length is the schema's.
    Fixed,
}

/// What the generator hands a value to as it draws it: [`Tree`] builds the `Value`, [`Datum`]
/// writes its Avro binary encoding without building it.
trait Sink {
    type Out;
    type Error;
    /// A value without parts, drawn for `schema` (Null where the schema has no value to draw).
    fn leaf(&mut self, schema: &Schema, value: Value) -> Result<Self::Out, Self::Error>;
    /// A string, bytes or fixed of `len` bytes, to be drawn from `r` ([`Rng::fill`]).
    fn drawn(&mut self, kind: Drawn, len: usize, r: &mut Rng) -> Result<Self::Out, Self::Error>;
    /// A string that is not drawn: the ids' text.
    fn text(&mut self, text: &[u8]) -> Result<Self::Out, Self::Error>;
    /// Symbol `index` of an enum.
    fn symbol(&mut self, index: u32, symbol: &str) -> Result<Self::Out, Self::Error>;
    /// `n` items, the `i`-th drawn by `item`.
    fn array(
        &mut self,
        n: u64,
        item: impl FnMut(&mut Self, u64) -> Result<Self::Out, Self::Error>,
    ) -> Result<Self::Out, Self::Error>;
    /// An entry for each key (all different), its value drawn by `value`.
    fn map(
        &mut self,
        keys: Vec<String>,
        value: impl FnMut(&mut Self, &str) -> Result<Self::Out, Self::Error>,
    ) -> Result<Self::Out, Self::Error>;
    /// Branch `index` of a union, its value drawn by `variant`.
    fn union(
        &mut self,
        index: u32,
        variant: impl FnOnce(&mut Self) -> Result<Self::Out, Self::Error>,
    ) -> Result<Self::Out, Self::Error>;
    /// A record, the value of each field (in the schema's order) drawn by `field`.
    fn record(
        &mut self,
        fields: &[RecordField],
        field: impl FnMut(&mut Self, &RecordField) -> Result<Self::Out, Self::Error>,
    ) -> Result<Self::Out, Self::Error>;
}

/// Builds the generated `Value`.
struct Tree;

impl Sink for Tree {
    type Out = Value;
    type Error = std::convert::Infallible;

    fn leaf(&mut self, _: &Schema, value: Value) -> Result<Value, Self::Error> {
        Ok(value)
    }

    fn drawn(&mut self, kind: Drawn, len: usize, r: &mut Rng) -> Result<Value, Self::Error> {
        if kind == Drawn::Letters {
            return Ok(Value::String(r.string(len)));
        }
        let mut bytes = Vec::with_capacity(len);
        r.fill(kind, len, &mut bytes);
        Ok(match kind {
            Drawn::Fixed => Value::Fixed(len, bytes),
            _ => Value::Bytes(bytes),
        })
    }

    fn text(&mut self, text: &[u8]) -> Result<Value, Self::Error> {
        Ok(Value::String(String::from_utf8_lossy(text).into_owned()))
    }

    fn symbol(&mut self, index: u32, symbol: &str) -> Result<Value, Self::Error> {
        Ok(Value::Enum(index, symbol.to_owned()))
    }

    fn array(
        &mut self,
        n: u64,
        mut item: impl FnMut(&mut Self, u64) -> Result<Value, Self::Error>,
    ) -> Result<Value, Self::Error> {
        let items = (0..n).map(|i| item(self, i)).collect::<Result<_, _>>()?;
        Ok(Value::Array(items))
    }

    fn map(
        &mut self,
        keys: Vec<String>,
        mut value: impl FnMut(&mut Self, &str) -> Result<Value, Self::Error>,
    ) -> Result<Value, Self::Error> {
        let mut entries = HashMap::with_capacity(keys.len());
        for key in keys {
            let v = value(self, &key)?;
            entries.insert(key, v);
        }
        Ok(Value::Map(entries))
    }

    fn union(
        &mut self,
        index: u32,
        variant: impl FnOnce(&mut Self) -> Result<Value, Self::Error>,
    ) -> Result<Value, Self::Error> {
        Ok(Value::Union(index, Box::new(variant(self)?)))
    }

    fn record(
        &mut self,
        fields: &[RecordField],
        mut field: impl FnMut(&mut Self, &RecordField) -> Result<Value, Self::Error>,
    ) -> Result<Value, Self::Error> {
        let values = fields
            .iter()
            .map(|f| field(self, f).map(|v| (f.name.clone(), v)))
            .collect::<Result<_, _>>()?;
        Ok(Value::Record(values))
    }
}

/// Appends the Avro binary encoding of the generated value to a buffer as it is drawn: the bytes
/// apache-avro writes for the `Value` that [`Tree`] builds (a map's entries aside, which a
/// `Value::Map` keeps in no particular order). It trusts the value to match the schema, as the
/// generator's does where [`unsatisfiable`] finds nothing; a leaf without a value is an error.
struct Datum<'o> {
    out: &'o mut Vec<u8>,
}

impl Datum<'_> {
    /// Avro's `long` (and `int`): zig-zag, then 7 bits a byte, least significant first.
    fn long(&mut self, n: i64) {
        let mut z = ((n << 1) ^ (n >> 63)) as u64;
        while z >= 0x80 {
            self.out.push((z as u8) | 0x80);
            z >>= 7;
        }
        self.out.push(z as u8);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.long(bytes.len() as i64);
        self.out.extend_from_slice(bytes);
    }
}

impl Sink for Datum<'_> {
    type Out = ();
    type Error = String;

    fn leaf(&mut self, schema: &Schema, value: Value) -> Result<(), String> {
        match value {
            Value::Null if matches!(schema, Schema::Null) => {}
            Value::Null => {
                return Err(format!(
                    "no value matches {}",
                    short(&schema.canonical_form())
                ))
            }
            Value::Boolean(b) => self.out.push(u8::from(b)),
            Value::Int(i) | Value::Date(i) | Value::TimeMillis(i) => self.long(i64::from(i)),
            Value::Long(i)
            | Value::TimeMicros(i)
            | Value::TimestampMillis(i)
            | Value::TimestampMicros(i)
            | Value::TimestampNanos(i)
            | Value::LocalTimestampMillis(i)
            | Value::LocalTimestampMicros(i)
            | Value::LocalTimestampNanos(i) => self.long(i),
            Value::Float(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            Value::Double(x) => self.out.extend_from_slice(&x.to_le_bytes()),
            Value::Bytes(b) => self.bytes(&b),
            Value::String(s) => self.bytes(s.as_bytes()),
            Value::Enum(i, _) => self.long(i64::from(i)),
            Value::Fixed(_, b) => self.out.extend_from_slice(&b),
            Value::Duration(d) => self.out.extend_from_slice(&<[u8; 12]>::from(d)),
            Value::Uuid(u) if matches!(schema, Schema::Uuid(UuidSchema::String)) => {
                self.bytes(u.hyphenated().encode_lower(&mut [0; 36]).as_bytes());
            }
            // Decimals, big decimals, uuids in bytes or fixed: rare enough to go through
            // apache-avro's own writer, with the leaf's schema alone.
            value => {
                GenericDatumWriter::builder(schema)
                    .validate(false)
                    .build()
                    .and_then(|w| w.write_value_ref(self.out, &value))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    fn drawn(&mut self, kind: Drawn, len: usize, r: &mut Rng) -> Result<(), String> {
        if kind != Drawn::Fixed {
            self.long(len as i64);
        }
        r.fill(kind, len, self.out);
        Ok(())
    }

    fn text(&mut self, text: &[u8]) -> Result<(), String> {
        self.bytes(text);
        Ok(())
    }

    fn symbol(&mut self, index: u32, _: &str) -> Result<(), String> {
        self.long(i64::from(index));
        Ok(())
    }

    fn array(
        &mut self,
        n: u64,
        mut item: impl FnMut(&mut Self, u64) -> Result<(), String>,
    ) -> Result<(), String> {
        if n > 0 {
            self.long(n as i64);
            for i in 0..n {
                item(self, i)?;
            }
        }
        self.out.push(0);
        Ok(())
    }

    fn map(
        &mut self,
        keys: Vec<String>,
        mut value: impl FnMut(&mut Self, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        if !keys.is_empty() {
            self.long(keys.len() as i64);
            for key in &keys {
                self.bytes(key.as_bytes());
                value(self, key)?;
            }
        }
        self.out.push(0);
        Ok(())
    }

    fn union(
        &mut self,
        index: u32,
        variant: impl FnOnce(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        self.long(i64::from(index));
        variant(self)
    }

    fn record(
        &mut self,
        fields: &[RecordField],
        mut field: impl FnMut(&mut Self, &RecordField) -> Result<(), String>,
    ) -> Result<(), String> {
        fields.iter().try_for_each(|f| field(self, f))
    }
}

/// Between 2023-11-14 and about three years later.
fn timestamp_millis(r: &mut Rng) -> i64 {
    1_700_000_000_000 + r.below(100_000_000_000) as i64
}

/// The shortest big-endian two's complement bytes of `n` (Avro's decimal encoding).
fn twos_complement(n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// In 0..n (n > 0): the high half of a 128-bit product, no division.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// In lo..=hi.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below(hi.abs_diff(lo) + 1) as i64
    }

    /// The length of a string of letters: lo..=hi.
    fn letters_len(&mut self, lo: u64, hi: u64) -> usize {
        (lo + self.below(hi - lo + 1)) as usize
    }

    /// Appends `len` drawn bytes to `out`, eight from each draw: letters a-z (each byte of the
    /// draw scaled to 0..26), or the draw's bytes as they are.
    fn fill(&mut self, kind: Drawn, len: usize, out: &mut Vec<u8>) {
        let start = out.len();
        // Whole words, then the last one cut short: no copy of a variable length.
        out.resize(start + len.next_multiple_of(8), 0);
        for chunk in out[start..].chunks_exact_mut(8) {
            let draw = self.next();
            let word = match kind {
                Drawn::Letters => letters8(draw),
                Drawn::Bytes | Drawn::Fixed => draw,
            };
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out.truncate(start + len);
    }

    fn letters(&mut self, lo: u64, hi: u64) -> String {
        let len = self.letters_len(lo, hi);
        self.string(len)
    }

    /// `len` letters a-z.
    fn string(&mut self, len: usize) -> String {
        let mut bytes = Vec::with_capacity(len);
        self.fill(Drawn::Letters, len, &mut bytes);
        // Letters only: always UTF-8.
        String::from_utf8(bytes).unwrap_or_default()
    }
}

/// Each byte `b` of `draw` made the letter `b'a' + (b * 26 >> 8)`, all eight at once: the even and
/// the odd bytes are scaled in 16-bit lanes (26 * 255 fits), so no product reaches its neighbour.
fn letters8(draw: u64) -> u64 {
    const LOW_BYTES: u64 = 0x00ff_00ff_00ff_00ff;
    let even = (((draw & LOW_BYTES) * 26) >> 8) & LOW_BYTES;
    let odd = ((((draw >> 8) & LOW_BYTES) * 26) >> 8) & LOW_BYTES;
    (even | (odd << 8)) + 0x6161_6161_6161_6161
}

/// Where and how `value` does not match `schema`, or None where it does (as far as this walk
/// sees: the caller falls back to the writer's own message).
fn mismatch(
    value: &Value,
    schema: &Schema,
    names: &NamesRef<'_>,
    ns: Option<&str>,
    path: &str,
) -> Option<String> {
    let at = |what: String| {
        if path.is_empty() {
            Some(format!("the value: {what}"))
        } else {
            Some(format!("field `{path}`: {what}"))
        }
    };
    let child = |suffix: &str| {
        if path.is_empty() || suffix.starts_with('[') {
            format!("{path}{suffix}")
        } else {
            format!("{path}.{suffix}")
        }
    };
    match (schema, value) {
        (Schema::Ref { name }, _) => {
            let name = name.fully_qualified_name(ns);
            match names.get(name.as_ref()) {
                Some(target) => mismatch(value, target, names, name.namespace(), path),
                None => at(format!("unknown type `{}`", full(&name))),
            }
        }
        (Schema::Record(record), Value::Record(fields)) => {
            let ns = record.name.namespace().or(ns);
            for (field_name, _) in fields {
                if !record.lookup.contains_key(field_name) {
                    return at(format!(
                        "no field `{field_name}` in record `{}`",
                        full(&record.name)
                    ));
                }
            }
            for field in &record.fields {
                let got = fields.iter().find(|(n, _)| *n == field.name);
                match got {
                    Some((_, v)) => {
                        if let Some(problem) =
                            mismatch(v, &field.schema, names, ns, &child(&field.name))
                        {
                            return Some(problem);
                        }
                    }
                    None if field.default.is_none() && !field.is_nullable() => {
                        return Some(format!("field `{}`: missing", child(&field.name)));
                    }
                    None => {}
                }
            }
            None
        }
        (Schema::Array(array), Value::Array(items)) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| mismatch(v, &array.items, names, ns, &child(&format!("[{i}]")))),
        (Schema::Map(map), Value::Map(entries)) => entries
            .iter()
            .find_map(|(k, v)| mismatch(v, &map.types, names, ns, &child(&format!("[\"{k}\"]")))),
        (Schema::Union(union), Value::Union(index, v)) => {
            match union.variants().get(*index as usize) {
                Some(variant) => mismatch(v, variant, names, ns, path),
                None => at(format!(
                    "union branch {index} of a union of {}",
                    union.variants().len()
                )),
            }
        }
        _ => {
            if value.validate_with_names(schema, names) {
                None
            } else {
                at(format!(
                    "{} does not match schema {}",
                    short(&format!("{value:?}")),
                    short(&schema.canonical_form())
                ))
            }
        }
    }
}

fn full(name: &Name) -> String {
    name.fullname(None::<&str>)
}

fn short(text: &str) -> String {
    const MAX: usize = 100;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::avro::load_avsc;
    use crate::avro::tests::fixture;

    fn order(version: &str) -> Schema {
        load_avsc(&fixture(&format!("order-{version}.avsc")))
            .expect("fixture loads")
            .schema
    }

    fn field<'v>(value: &'v Value, name: &str) -> &'v Value {
        match value {
            Value::Record(fields) => {
                &fields
                    .iter()
                    .find(|(n, _)| n == name)
                    .expect("field present")
                    .1
            }
            other => panic!("not a record: {other:?}"),
        }
    }

    #[test]
    fn generate_is_a_pure_function_of_producer_and_seq() {
        let schema = order("v1");
        assert_eq!(generate(&schema, 1, 7), generate(&schema, 1, 7));
        assert_ne!(generate(&schema, 1, 7), generate(&schema, 1, 8));
        assert_ne!(generate(&schema, 1, 7), generate(&schema, 2, 7));
    }

    #[test]
    fn generated_orders_look_like_orders() {
        let schema = order("v1");
        let mut nulls = 0;
        let mut item_counts = [0; 4];
        for seq in 0..200 {
            let v = generate(&schema, 3, seq);
            let Value::String(id) = field(&v, "id") else {
                panic!("id")
            };
            assert!((8..=24).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase()));
            assert!(matches!(field(&v, "currency"), Value::Enum(i, s)
                if ["EUR", "USD", "GBP"][*i as usize] == s));
            assert!(
                matches!(field(&v, "created_at"), Value::TimestampMillis(t) if *t > 1_600_000_000_000)
            );
            let Value::Array(items) = field(&v, "items") else {
                panic!("items")
            };
            item_counts[items.len()] += 1;
            if matches!(field(&v, "note"), Value::Union(0, _)) {
                nulls += 1;
            }
        }
        assert!(item_counts.iter().all(|&n| n > 20), "{item_counts:?}");
        assert!((5..60).contains(&nulls), "{nulls} null notes of 200");
    }

    #[test]
    fn round_trip() {
        for version in ["v1", "v2", "v3-incompatible"] {
            let schema = order(version);
            for seq in 0..50 {
                let v = generate(&schema, 9, seq);
                let body = encode(&schema, &v).expect("encodes");
                assert_eq!(decode(&schema, None, &body).expect("decodes"), v);
                assert!(intact(&schema, None, 9, seq, &v));
            }
        }
    }

    #[test]
    fn intact_rejects_other_ids_and_flipped_bytes() {
        let schema = order("v1");
        let body = encode(&schema, &generate(&schema, 1, 42)).expect("encodes");
        let got = decode(&schema, None, &body).expect("decodes");
        assert!(intact(&schema, None, 1, 42, &got));
        assert!(!intact(&schema, None, 1, 43, &got));
        assert!(!intact(&schema, None, 2, 42, &got));
        for i in 0..body.len() {
            let mut flipped = body.clone();
            flipped[i] ^= 0x01;
            if let Ok(v) = decode(&schema, None, &flipped) {
                assert!(!intact(&schema, None, 1, 42, &v), "byte {i} flipped");
            }
        }
    }

    #[test]
    fn decode_refuses_trailing_bytes() {
        let schema = order("v1");
        let mut body = encode(&schema, &generate(&schema, 1, 1)).expect("encodes");
        body.push(0);
        let err = decode(&schema, None, &body).expect_err("must fail");
        assert!(err.starts_with("1 bytes left over"), "{err}");
        // A truncated body is refused, or read as something else (apache-avro reads a string
        // cut short in a union as null): never as the record.
        for cut in 2..body.len() {
            let short = &body[..body.len() - cut];
            assert!(
                decode(&schema, None, short).map_or(true, |v| !intact(&schema, None, 1, 1, &v)),
                "{cut} bytes cut"
            );
        }
    }

    #[test]
    fn reader_resolution_both_ways() {
        let (v1, v2) = (order("v1"), order("v2"));
        for seq in 0..30 {
            // A v2 writer read by a v1 reader: `channel` is dropped.
            let body = encode(&v2, &generate(&v2, 5, seq)).expect("encodes");
            let got = decode(&v2, Some(&v1), &body).expect("decodes");
            assert!(intact(&v2, Some(&v1), 5, seq, &got));
            assert!(!intact(&v2, Some(&v1), 5, seq + 1, &got));
            let Value::Record(fields) = &got else {
                panic!()
            };
            assert!(fields.iter().all(|(n, _)| n != "channel"));

            // A v1 writer read by a v2 reader: `channel` takes its default.
            let body = encode(&v1, &generate(&v1, 5, seq)).expect("encodes");
            let got = decode(&v1, Some(&v2), &body).expect("decodes");
            assert!(intact(&v1, Some(&v2), 5, seq, &got));
            assert_eq!(field(&got, "channel"), &Value::String("web".into()));
        }
        // Fields common to both versions get the same values.
        assert_eq!(
            field(&generate(&v1, 1, 1), "items"),
            field(&generate(&v2, 1, 1), "items")
        );
    }

    #[test]
    fn encode_names_the_mismatching_field() {
        let schema = order("v1");
        let mut v = generate(&schema, 1, 1);
        let Value::Record(fields) = &mut v else {
            panic!()
        };
        let items = &mut fields
            .iter_mut()
            .find(|(n, _)| n == "items")
            .expect("field present")
            .1;
        *items = Value::Array(vec![Value::Record(vec![
            ("sku".into(), Value::String("x".into())),
            ("quantity".into(), Value::String("many".into())),
        ])]);
        let err = encode(&schema, &v).expect_err("must fail");
        assert!(
            err.starts_with(
                "field `items[0].quantity`: String(\"many\") does not match schema \"int\""
            ),
            "{err}"
        );

        let wrong = order("v3-incompatible");
        let err = encode(&wrong, &generate(&schema, 1, 1)).expect_err("must fail");
        assert!(err.starts_with("field `amount_cents`: Long("), "{err}");

        let err = encode(&schema, &Value::Record(vec![("id".into(), Value::Null)]))
            .expect_err("must fail");
        assert!(err.starts_with("field `id`: Null does not match"), "{err}");
    }

    /// A schema with every kind of type, named types referred to again, and itself in a union.
    const EVERY_KIND: &str = r#"{
          "type": "record", "name": "All", "namespace": "t",
          "fields": [
            {"name": "n", "type": "null"},
            {"name": "b", "type": "boolean"},
            {"name": "i", "type": "int"},
            {"name": "l", "type": "long"},
            {"name": "f", "type": "float"},
            {"name": "d", "type": "double"},
            {"name": "by", "type": "bytes"},
            {"name": "s", "type": "string"},
            {"name": "fx", "type": {"type": "fixed", "name": "Sixteen", "size": 16}},
            {"name": "fx2", "type": "Sixteen"},
            {"name": "m", "type": {"type": "map", "values": {"type": "array", "items": "int"}}},
            {"name": "u", "type": ["null", "string", "long", "Sixteen"]},
            {"name": "dec", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
            {"name": "decf", "type": {"type": "fixed", "name": "D", "size": 8, "logicalType": "decimal", "precision": 18, "scale": 4}},
            {"name": "uuid", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "date", "type": {"type": "int", "logicalType": "date"}},
            {"name": "tm", "type": {"type": "int", "logicalType": "time-millis"}},
            {"name": "tu", "type": {"type": "long", "logicalType": "time-micros"}},
            {"name": "tsu", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "ltsm", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
            {"name": "dur", "type": {"type": "fixed", "name": "Dur", "size": 12, "logicalType": "duration"}},
            {"name": "next", "type": ["null", "All"], "default": null}
          ]
        }"#;

    #[test]
    fn every_kind_of_schema() {
        let schema = Schema::parse_str(EVERY_KIND).expect("valid schema");
        for seq in 0..50 {
            let v = generate(&schema, 1, seq);
            let body = encode(&schema, &v).expect("encodes");
            assert_eq!(
                decode(&schema, None, &body).expect("decodes"),
                v,
                "seq {seq}"
            );
            assert!(intact(&schema, None, 1, seq, &v));
        }
    }

    /// FNV-1a of a path's text, as values were seeded when paths were strings: the same seeds,
    /// so the same values as before.
    fn fnv(text: &str) -> u64 {
        Path::ROOT.with(text.as_bytes()).hash
    }

    #[test]
    fn eight_letters_at_once_are_each_bytes_letter() {
        let mut r = Rng(7);
        for draw in [0, u64::MAX, 0x0123_4567_89ab_cdef]
            .into_iter()
            .chain((0..10_000).map(|_| r.next()))
        {
            let each: Vec<u8> = draw
                .to_le_bytes()
                .iter()
                .map(|&b| b'a' + ((u16::from(b) * 26) >> 8) as u8)
                .collect();
            assert_eq!(letters8(draw).to_le_bytes()[..], each[..], "{draw:#x}");
        }
    }

    #[test]
    fn paths_hash_as_their_text() {
        let root = Path::ROOT;
        assert_eq!(root.field("items").hash, fnv("items"));
        assert_eq!(
            root.field("items").index(12).field("sku").hash,
            fnv("items[12].sku")
        );
        assert_eq!(root.index(0).field("a").hash, fnv("[0].a"));
        assert_eq!(root.field("m").key("ab3").hash, fnv("m[\"ab3\"]"));
        assert_eq!(root.index(0).hash, fnv("[0]"));
        assert!(root.empty && !root.field("a").empty);
    }

    #[test]
    fn encoder_writes_what_encode_writes() {
        for version in ["v1", "v2", "v3-incompatible"] {
            let schema = order(version);
            let encoder = Encoder::new(Arc::new(schema.clone())).expect("resolves");
            let mut out = vec![9];
            for seq in 0..100 {
                out.truncate(1);
                encoder
                    .write_record(4, seq, None, &mut out)
                    .expect("encodes");
                let want = encode(&schema, &generate(&schema, 4, seq)).expect("encodes");
                assert_eq!(out[1..], want[..], "{version} seq {seq}");
                assert_eq!(encoder.generate(4, seq, None), generate(&schema, 4, seq));
            }
        }
    }

    #[test]
    fn encoder_writes_every_kind_as_encode_does() {
        let schema = Schema::parse_str(EVERY_KIND).expect("valid schema");
        let encoder = Encoder::new(Arc::new(schema.clone())).expect("resolves");
        assert!(!encoder.validate, "written without building values");
        let mut out = Vec::new();
        for seq in 0..300 {
            out.clear();
            encoder
                .write_record(6, seq, None, &mut out)
                .expect("encodes");
            // Map entries are in no particular order in a `Value::Map`: compare what is read.
            let want = generate(&schema, 6, seq);
            assert_eq!(
                decode(&schema, None, &out).expect("decodes"),
                want,
                "seq {seq}"
            );
            let mut bytes = encode(&schema, &want).expect("encodes");
            bytes.sort_unstable();
            out.sort_unstable();
            assert_eq!(out, bytes, "the same bytes, seq {seq}");
        }
    }

    #[test]
    fn encoder_validates_what_it_is_given() {
        let schema = order("v1");
        let encoder = Encoder::new(Arc::new(schema.clone())).expect("resolves");
        let mut out = vec![1, 2];
        let err = encoder
            .encode(&Value::Record(vec![("id".into(), Value::Null)]), &mut out)
            .expect_err("must fail");
        assert!(err.starts_with("field `id`: Null does not match"), "{err}");
        assert_eq!(out, [1, 2], "nothing written on an error");
        let wrong = Encoder::new(Arc::new(order("v3-incompatible"))).expect("resolves");
        let err = wrong
            .encode(&generate(&schema, 1, 1), &mut out)
            .expect_err("must fail");
        assert!(err.starts_with("field `amount_cents`: Long("), "{err}");
    }

    #[test]
    fn encoder_keeps_validating_what_the_generator_cannot_satisfy() {
        let text = r#"{"type": "record", "name": "R", "fields": [
            {"name": "ok", "type": "long"},
            {"name": "never", "type": {"type": "enum", "name": "E", "symbols": []}}
        ]}"#;
        let Ok(schema) = Schema::parse_str(text) else {
            return; // The parser refuses an enum without symbols: nothing to guard.
        };
        let resolved = ResolvedSchema::new(&schema).expect("resolves");
        assert!(unsatisfiable(&schema, resolved.get_names()).is_some());
        let encoder = Encoder::new(Arc::new(schema)).expect("resolves");
        let err = encoder
            .write_record(1, 1, None, &mut Vec::new())
            .expect_err("must fail");
        assert!(
            err.starts_with("field `never`: Null does not match"),
            "{err}"
        );
    }

    #[test]
    fn a_record_that_always_contains_itself_is_endless() {
        let direct = r#"{"type": "record", "name": "R", "namespace": "t", "fields": [
            {"name": "id", "type": "int"},
            {"name": "me", "type": "R"}
        ]}"#;
        let schema = Schema::parse_str(direct).expect("parses");
        assert_eq!(
            endless(&schema).as_deref(),
            Some(
                "record `t.R` contains itself through field `me` (not through an array, a map \
                 or a union): none of its values would end"
            )
        );
        let indirect = r#"{"type": "record", "name": "A", "fields": [
            {"name": "b", "type": {"type": "record", "name": "B", "fields": [
                {"name": "n", "type": "long"},
                {"name": "back", "type": "A"}
            ]}}
        ]}"#;
        let schema = Schema::parse_str(indirect).expect("parses");
        let problem = endless(&schema).expect("endless");
        assert!(
            problem.starts_with("record `A` contains itself through field `b.back`"),
            "{problem}"
        );

        // A list ends with null, an empty array or map: finite.
        let finite = r#"{"type": "record", "name": "L", "fields": [
            {"name": "tail", "type": ["null", "L"]},
            {"name": "children", "type": {"type": "array", "items": "L"}},
            {"name": "named", "type": {"type": "map", "values": "L"}}
        ]}"#;
        assert_eq!(endless(&Schema::parse_str(finite).expect("parses")), None);
        assert_eq!(
            endless(&Schema::parse_str(EVERY_KIND).expect("parses")),
            None
        );
        for version in ["v1", "v2", "v3-incompatible", "v4"] {
            assert_eq!(endless(&order(version)), None, "{version}");
        }
    }

    #[test]
    fn recursive_schemas_are_satisfiable() {
        let text = r#"{"type": "record", "name": "List", "fields": [
            {"name": "head", "type": "int"},
            {"name": "tail", "type": ["null", "List"]}
        ]}"#;
        let schema = Schema::parse_str(text).expect("valid schema");
        let resolved = ResolvedSchema::new(&schema).expect("resolves");
        assert_eq!(unsatisfiable(&schema, resolved.get_names()), None);
        let v2 = order("v2");
        let resolved = ResolvedSchema::new(&v2).expect("resolves");
        assert_eq!(unsatisfiable(&v2, resolved.get_names()), None);
    }

    #[test]
    fn judge_judges_as_intact_does() {
        let (v1, v2) = (order("v1"), order("v2"));
        for (writer, reader) in [(&v1, None), (&v2, Some(&v1)), (&v1, Some(&v2))] {
            let judge = Judge::new(
                Arc::new(writer.clone()),
                reader.map(|r| Arc::new(r.clone())),
            )
            .expect("resolves");
            for seq in 0..30 {
                let body = encode(writer, &generate(writer, 2, seq)).expect("encodes");
                let got = judge.decode(&body).expect("decodes");
                assert_eq!(got, decode(writer, reader, &body).expect("decodes"));
                assert!(judge.intact(2, seq, None, &got));
                assert!(!judge.intact(2, seq + 1, None, &got));
                assert!(!judge.intact(3, seq, None, &got));
            }
        }
        let judge = Judge::new(Arc::new(v1.clone()), None).expect("resolves");
        let mut body = encode(&v1, &generate(&v1, 1, 1)).expect("encodes");
        body.push(0);
        let err = judge.decode(&body).expect_err("must fail");
        assert!(err.starts_with("1 bytes left over"), "{err}");
    }

    #[test]
    fn ids_travel_in_the_first_plain_string_field() {
        for version in ["v1", "v2", "v4"] {
            assert_eq!(carrier(&order(version)), Some((0, "id")), "{version}");
        }
        let text = r#"{"type": "record", "name": "R", "fields": [
            {"name": "n", "type": "long"},
            {"name": "maybe", "type": ["null", "string"]},
            {"name": "u", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "inner", "type": {"type": "record", "name": "I", "fields": [
                {"name": "s", "type": "string"}
            ]}},
            {"name": "label", "type": "string"},
            {"name": "other", "type": "string"}
        ]}"#;
        let schema = Schema::parse_str(text).expect("valid schema");
        assert_eq!(carrier(&schema), Some((4, "label")));
        let none = r#"{"type": "record", "name": "N", "fields": [
            {"name": "n", "type": "long"},
            {"name": "maybe", "type": ["null", "string"]}
        ]}"#;
        let none = Schema::parse_str(none).expect("valid schema");
        assert_eq!(carrier(&none), None);
        assert_eq!(carrier(&Schema::String), None, "not a record");
        let encoder = Encoder::new(Arc::new(none.clone())).expect("resolves");
        assert!(!encoder.carries_ids());
        let mut out = Vec::new();
        encoder
            .write_record(1, 2, Some(b"KH1 r 1 2 0 "), &mut out)
            .expect("encodes");
        assert_eq!(out, encode(&none, &generate(&none, 1, 2)).expect("encodes"));
    }

    #[test]
    fn the_ids_field_holds_the_ids_and_the_rest_is_unchanged() {
        let (v1, v2) = (order("v1"), order("v2"));
        let ids: &[u8] = b"KH1 run7 2 11 0 ";
        let encoder = Encoder::new(Arc::new(v2.clone())).expect("resolves");
        assert_eq!(encoder.carrier(), Some("id"));
        let mut body = Vec::new();
        encoder
            .write_record(2, 11, Some(ids), &mut body)
            .expect("encodes");
        let with = encoder.generate(2, 11, Some(ids));
        assert_eq!(
            body,
            encode(&v2, &with).expect("encodes"),
            "as drawn = through a Value"
        );
        let (Value::Record(with), Value::Record(without)) = (with, generate(&v2, 2, 11)) else {
            panic!("records")
        };
        for ((name, a), (_, b)) in with.iter().zip(&without) {
            if name == "id" {
                assert_eq!(*a, Value::String("KH1 run7 2 11 0 ".into()));
            } else {
                assert_eq!(a, b, "field {name}");
            }
        }
        // Read with the writer schema whatever the reader schema keeps.
        for reader in [None, Some(Arc::new(v1.clone()))] {
            let judge = Judge::new(Arc::new(v2.clone()), reader).expect("resolves");
            assert_eq!(
                judge.carried(&body),
                Some(Ok("KH1 run7 2 11 0 ".to_owned()))
            );
            let got = judge.decode(&body).expect("decodes");
            assert!(judge.intact(2, 11, Some(ids), &got));
            assert!(!judge.intact(2, 11, Some(b"KH1 run7 2 11 0"), &got));
            assert!(!judge.intact(2, 11, None, &got));
        }
        let judge = Judge::new(Arc::new(v2), None).expect("resolves");
        let err = judge.carried(&body[..3]).expect("a carrier");
        assert!(err.is_err(), "{err:?}");
    }

    #[test]
    fn twos_complement_is_minimal() {
        assert_eq!(twos_complement(0), [0]);
        assert_eq!(twos_complement(127), [0x7f]);
        assert_eq!(twos_complement(128), [0x00, 0x80]);
        assert_eq!(twos_complement(-1), [0xff]);
        assert_eq!(twos_complement(-128), [0x80]);
        assert_eq!(twos_complement(-129), [0xff, 0x7f]);
    }
}
