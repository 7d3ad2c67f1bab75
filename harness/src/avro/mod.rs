//! Avro records through a schema registry: `.avsc` files ([`load_avsc`]), deterministic records
//! generated from a schema ([`value`]), the Confluent wire format ([`wire`]) and a client of the
//! Confluent Schema Registry REST API ([`registry`]), which Apicurio also serves.

pub mod registry;
pub mod value;
pub mod wire;

pub use registry::{RegistryClient, RegistryError, SubjectStrategy};

use std::path::{Path, PathBuf};

/// An .avsc file, parsed.
#[derive(Debug, Clone)]
pub struct Avsc {
    pub path: PathBuf,
    /// The file's JSON text as registered (the registry canonicalizes it itself).
    pub text: String,
    pub schema: apache_avro::Schema,
    /// `namespace.name` of the top-level named type (RecordNameStrategy's subject); None for a
    /// non-named schema.
    pub full_name: Option<String>,
}

/// Why an .avsc file could not be loaded. Each message starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum AvscError {
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Not JSON: `fixtures/avro/broken.avsc:4:3: expected `,` or `}``.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// JSON, but not an Avro schema.
    #[error("{}: not a valid Avro schema: {message}", path.display())]
    Schema { path: PathBuf, message: String },
}

/// Read and parse an .avsc file.
pub fn load_avsc(path: &Path) -> Result<Avsc, AvscError> {
    let text = std::fs::read_to_string(path).map_err(|error| AvscError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse_avsc(path, text)
}

/// Parse the text of an .avsc file; `path` only names it in errors and in the result.
pub fn parse_avsc(path: &Path, text: String) -> Result<Avsc, AvscError> {
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        AvscError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: full.strip_suffix(&suffix).unwrap_or(&full).to_string(),
        }
    })?;
    let schema = apache_avro::Schema::parse(&json).map_err(|e| AvscError::Schema {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    // Valid Avro, but no producer could ever write a value of it: say so before anything starts.
    if let Some(message) = value::endless(&schema) {
        return Err(AvscError::Schema {
            path: path.to_path_buf(),
            message,
        });
    }
    let full_name = schema.name().map(|name| name.fullname(None));
    Ok(Avsc {
        path: path.to_path_buf(),
        text,
        schema,
        full_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's fixtures/avro, whatever the test's working directory.
    pub(crate) fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/avro")
            .join(name)
    }

    #[test]
    fn loads_the_order_fixtures() {
        for name in [
            "order-v1.avsc",
            "order-v2.avsc",
            "order-v3-incompatible.avsc",
        ] {
            let avsc = load_avsc(&fixture(name)).expect("fixture loads");
            assert_eq!(
                avsc.full_name.as_deref(),
                Some("com.example.orders.Order"),
                "{name}"
            );
            assert!(avsc.text.contains("\"Order\""));
        }
    }

    #[test]
    fn non_named_schema_has_no_full_name() {
        let avsc = parse_avsc(
            Path::new("s.avsc"),
            r#"{"type": "array", "items": "long"}"#.into(),
        )
        .expect("valid schema");
        assert_eq!(avsc.full_name, None);
    }

    #[test]
    fn json_error_names_file_line_and_column() {
        let path = Path::new("fixtures/avro/broken.avsc");
        let text = std::fs::read_to_string(fixture("broken.avsc")).expect("fixture readable");
        let err = parse_avsc(path, text).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "fixtures/avro/broken.avsc:4:3: expected `,` or `}`"
        );
        let err = load_avsc(&fixture("broken.avsc")).expect_err("must fail");
        assert!(
            matches!(
                err,
                AvscError::Json {
                    line: 4,
                    column: 3,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn schema_error_names_file() {
        let err = parse_avsc(
            Path::new("fixtures/avro/bad.avsc"),
            r#"{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nosuch"}]}"#
                .into(),
        )
        .expect_err("must fail");
        let msg = err.to_string();
        assert!(
            msg.starts_with("fixtures/avro/bad.avsc: not a valid Avro schema: "),
            "{msg}"
        );
        assert!(msg.contains("nosuch"), "{msg}");
    }

    #[test]
    fn a_schema_without_finite_values_is_refused_naming_file_and_field() {
        let err = parse_avsc(
            Path::new("fixtures/avro/loop.avsc"),
            r#"{"type": "record", "name": "R", "fields": [{"name": "me", "type": "R"}]}"#.into(),
        )
        .expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "fixtures/avro/loop.avsc: not a valid Avro schema: record `R` contains itself through \
             field `me` (not through an array, a map or a union): none of its values would end"
        );
    }

    #[test]
    fn missing_file_names_file() {
        let err = load_avsc(Path::new("fixtures/avro/nope.avsc")).expect_err("must fail");
        assert!(
            err.to_string()
                .starts_with("fixtures/avro/nope.avsc: cannot read: "),
            "{err}"
        );
    }
}
