//! A client of the Confluent Schema Registry REST API, which Apicurio Registry also serves under
//! `/apis/ccompat/v7`. Plain HTTP/1.1 only (the harness's registries run on the Docker network).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apache_avro::Schema;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The Confluent API's media type, for requests and accepted answers.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
/// How long one request may take, connecting included, unless [`RegistryClient::with_timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Bytes left as they are in a path segment: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How a record's schema is filed under a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectStrategy {
    /// TopicNameStrategy: `<topic>-value`.
    #[default]
    Topic,
    /// RecordNameStrategy: the record's full name, `namespace.name`.
    Record,
}

impl SubjectStrategy {
    /// The subject for a value of `topic` whose schema's named type is `full_name`; None for
    /// [`SubjectStrategy::Record`] with a schema that names no type.
    pub fn subject(self, topic: &str, full_name: Option<&str>) -> Option<String> {
        match self {
            SubjectStrategy::Topic => Some(format!("{topic}-value")),
            SubjectStrategy::Record => full_name.map(str::to_string),
        }
    }
}

/// A request the registry did not answer as asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistryError {
    /// Connection refused or reset, timeout.
    #[error("schema registry at {url} unreachable: {error}")]
    Unreachable { url: String, error: String },
    /// The registry said no, with its own Confluent-style error body
    /// `{"error_code":409,"message":"..."}`: e.g. 409 incompatible schema, 422 invalid schema, 404
    /// subject/schema not found.
    #[error("schema registry refused: HTTP {status}, error code {error_code}: {message}")]
    Refused {
        status: u16,
        error_code: i64,
        message: String,
    },
    /// Anything else (5xx, a body that is not the JSON expected).
    #[error("schema registry answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
}

/// A client of one registry. Clones share the caches and the request count. Needs a Tokio runtime.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    base_url: String,
    timeout: Duration,
    /// The media type asked for: the Confluent API's, or plain JSON for Apicurio's own API.
    accept: &'static str,
    http: Client<HttpConnector, Full<Bytes>>,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// (subject, schema text) → id.
    ids: Mutex<HashMap<(String, String), u32>>,
    /// id → writer schema; ids never change meaning.
    schemas: Mutex<HashMap<u32, Arc<Schema>>>,
    requests: AtomicU64,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Deserialize)]
struct SchemaAnswer {
    schema: String,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error_code: i64,
    message: String,
}

/// Where Apicurio serves the Confluent API, and its own.
const APICURIO_CCOMPAT: &str = "/apis/ccompat/v7";
const APICURIO_OWN: &str = "/apis/registry/v3";

impl RegistryClient {
    /// A client of the registry whose Confluent API is at `base_url` (e.g.
    /// `http://127.0.0.1:8080/apis/ccompat/v7`); a trailing `/` is ignored.
    pub fn new(base_url: &str) -> Self {
        RegistryClient {
            base_url: base_url.trim_end_matches('/').to_string(),
            timeout: DEFAULT_TIMEOUT,
            accept: CONTENT_TYPE,
            http: Client::builder(TokioExecutor::new()).build_http(),
            shared: Arc::default(),
        }
    }

    /// The same client with another per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How many HTTP requests were made (by this client and its clones).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Register an Avro schema under `subject` (POST /subjects/{subject}/versions), returning its
    /// id. Cached per (subject, text): a second call does no request.
    pub async fn register(&self, subject: &str, schema_text: &str) -> Result<u32, RegistryError> {
        let key = (subject.to_string(), schema_text.to_string());
        if let Some(id) = lock(&self.shared.ids).get(&key) {
            return Ok(*id);
        }
        let body = serde_json::json!({ "schema": schema_text });
        let path = format!("/subjects/{}/versions", encode_segment(subject));
        let (status, bytes) = self.call(Method::POST, &path, Some(body)).await?;
        let IdAnswer { id } = answer(status, &bytes)?;
        lock(&self.shared.ids).insert(key, id);
        Ok(id)
    }

    /// The writer schema registered with `id` (GET /schemas/ids/{id}), cached forever.
    pub async fn schema_by_id(&self, id: u32) -> Result<Arc<Schema>, RegistryError> {
        if let Some(schema) = lock(&self.shared.schemas).get(&id) {
            return Ok(schema.clone());
        }
        let (status, bytes) = self
            .call(Method::GET, &format!("/schemas/ids/{id}"), None)
            .await?;
        let SchemaAnswer {
            schema,
            schema_type,
        } = answer(status, &bytes)?;
        if let Some(kind) = schema_type.filter(|k| !k.eq_ignore_ascii_case("AVRO")) {
            return Err(RegistryError::Http {
                status,
                body: format!("schema {id} is of type {kind}, not AVRO"),
            });
        }
        let schema = Schema::parse_str(&schema).map_err(|e| RegistryError::Http {
            status,
            body: format!("schema {id} is not a valid Avro schema: {e}"),
        })?;
        let schema = Arc::new(schema);
        lock(&self.shared.schemas).insert(id, schema.clone());
        Ok(schema)
    }

    /// GET /subjects.
    pub async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let (status, bytes) = self.call(Method::GET, "/subjects", None).await?;
        answer(status, &bytes)
    }

    /// GET /subjects/{subject}/versions.
    pub async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let path = format!("/subjects/{}/versions", encode_segment(subject));
        let (status, bytes) = self.call(Method::GET, &path, None).await?;
        answer(status, &bytes)
    }

    /// PUT /config/{subject} `{"compatibility": level}`, or PUT /config (the global level) when
    /// `subject` is None. Levels: BACKWARD, FORWARD, FULL, NONE and their `_TRANSITIVE` forms.
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: &str,
    ) -> Result<(), RegistryError> {
        let path = match subject {
            Some(subject) => format!("/config/{}", encode_segment(subject)),
            None => "/config".to_string(),
        };
        let body = serde_json::json!({ "compatibility": level });
        let (status, bytes) = self.call(Method::PUT, &path, Some(body)).await?;
        answer::<serde_json::Value>(status, &bytes).map(|_| ())
    }

    /// The release the registry reports about itself: Apicurio's `GET /apis/registry/v3/system/info`
    /// (its own API, next to the Confluent one), or Confluent's `GET /v1/metadata/version`.
    pub async fn server_version(&self) -> Result<String, RegistryError> {
        #[derive(Deserialize)]
        struct VersionAnswer {
            version: String,
        }
        let (client, path) = match self.base_url.strip_suffix(APICURIO_CCOMPAT) {
            Some(root) => (
                RegistryClient {
                    accept: "application/json",
                    ..RegistryClient::new(&format!("{root}{APICURIO_OWN}"))
                }
                .with_timeout(self.timeout),
                "/system/info",
            ),
            None => (self.clone(), "/v1/metadata/version"),
        };
        let (status, bytes) = client.call(Method::GET, path, None).await?;
        answer::<VersionAnswer>(status, &bytes).map(|v| v.version)
    }

    /// Ready when GET /subjects answers 200 with a JSON array.
    pub async fn ready(&self) -> Result<(), RegistryError> {
        let (status, bytes) = self.call(Method::GET, "/subjects", None).await?;
        if status != 200 {
            return Err(error(status, &bytes));
        }
        answer::<Vec<serde_json::Value>>(status, &bytes).map(|_| ())
    }

    /// One request; the answer's status and body, whatever the status.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(u16, Bytes), RegistryError> {
        let url = format!("{}{path}", self.base_url);
        let unreachable = |error: String| RegistryError::Unreachable {
            url: self.base_url.clone(),
            error,
        };
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let request = Request::builder()
            .method(method)
            .uri(&url)
            .header(hyper::header::ACCEPT, self.accept)
            .header(hyper::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| unreachable(format!("bad URL {url}: {e}")))?;
        self.shared.requests.fetch_add(1, Ordering::Relaxed);
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| unreachable(chain(&e)))?;
            let status = response.status().as_u16();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the answer: {}", chain(&e))))?
                .to_bytes();
            Ok((status, bytes))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(unreachable(format!(
                "no answer within {:?} to {path}",
                self.timeout
            ))),
        }
    }
}

/// `subject` as one URL path segment.
pub fn encode_segment(subject: &str) -> String {
    utf8_percent_encode(subject, SEGMENT).to_string()
}

/// A 2xx answer's body as `T`, or the error the answer is.
fn answer<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, RegistryError> {
    if !(200..300).contains(&status) {
        return Err(error(status, body));
    }
    serde_json::from_slice(body).map_err(|_| RegistryError::Http {
        status,
        body: body_text(body),
    })
}

/// The error a non-2xx answer is: [`RegistryError::Refused`] for a 4xx with a Confluent-style
/// error body, [`RegistryError::Http`] otherwise.
fn error(status: u16, body: &[u8]) -> RegistryError {
    if (400..500).contains(&status) {
        if let Ok(ErrorAnswer {
            error_code,
            message,
        }) = serde_json::from_slice(body)
        {
            return RegistryError::Refused {
                status,
                error_code,
                message,
            };
        }
    }
    RegistryError::Http {
        status,
        body: body_text(body),
    }
}

/// A body for an error message: text, at most 1000 characters.
fn body_text(body: &[u8]) -> String {
    const MAX: usize = 1000;
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], body.len()),
        None => text.into_owned(),
    }
}

/// An error with its sources: hyper's own message alone is "client error (Connect)".
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a cache lock leaves a consistent map: nothing is half-inserted.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn subject_strategies() {
        assert_eq!(
            SubjectStrategy::default().subject("orders", Some("com.example.orders.Order")),
            Some("orders-value".into())
        );
        assert_eq!(
            SubjectStrategy::Record.subject("orders", Some("com.example.orders.Order")),
            Some("com.example.orders.Order".into())
        );
        assert_eq!(SubjectStrategy::Record.subject("orders", None), None);
    }

    #[test]
    fn subjects_are_percent_encoded() {
        assert_eq!(encode_segment("orders-value"), "orders-value");
        assert_eq!(
            encode_segment("com.example.orders.Order"),
            "com.example.orders.Order"
        );
        assert_eq!(encode_segment("a/b c?d#e%f"), "a%2Fb%20c%3Fd%23e%25f");
        assert_eq!(encode_segment("tö~_"), "t%C3%B6~_");
    }

    #[test]
    fn error_bodies() {
        let refused = error(
            409,
            br#"{"error_code":409,"message":"Schema being registered is incompatible"}"#,
        );
        assert!(matches!(
            &refused,
            RegistryError::Refused { status: 409, error_code: 409, message }
                if message == "Schema being registered is incompatible"
        ));
        assert_eq!(
            refused.to_string(),
            "schema registry refused: HTTP 409, error code 409: Schema being registered is incompatible"
        );
        // Apicurio while its storage is not usable: a 5xx is never a refusal.
        let broken = error(500, br#"{"message":"delegate is null","error_code":0}"#);
        assert!(matches!(broken, RegistryError::Http { status: 500, .. }));
        let html = error(404, b"<html>not here</html>");
        assert!(
            matches!(&html, RegistryError::Http { status: 404, body } if body == "<html>not here</html>")
        );
        assert!(matches!(
            answer::<IdAnswer>(200, b"{\"idd\": 1}"),
            Err(RegistryError::Http { status: 200, .. })
        ));
        assert_eq!(
            answer::<IdAnswer>(200, b"{\"id\": 7}").expect("an id").id,
            7
        );
        let long = vec![b'x'; 5000];
        assert!(body_text(&long).ends_with("… (5000 bytes)"));
    }

    /// A registry stand-in: answers each request with `reply(method, path, body)` and records it.
    async fn fake(
        reply: fn(&str, &str, &str) -> (u16, String),
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!(
            "http://{}/apis/ccompat/v7",
            listener.local_addr().expect("bound")
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.expect("accept");
                let mut buf = Vec::new();
                let mut chunk = [0; 4096];
                let head_end = loop {
                    let n = socket.read(&mut chunk).await.expect("socket");
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().expect("content-length"))
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    let n = socket.read(&mut chunk).await.expect("socket");
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                let mut parts = head.split_whitespace();
                let (method, path) = (
                    parts.next().expect("request line"),
                    parts.next().expect("request line"),
                );
                assert!(head.contains(CONTENT_TYPE), "{head}");
                log.lock()
                    .expect("not poisoned")
                    .push(format!("{method} {path} {body}"));
                let (status, answer) = reply(method, path, &body);
                let response = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                socket.write_all(response.as_bytes()).await.expect("socket");
                socket.shutdown().await.expect("socket");
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn the_version_comes_from_apicurios_own_api() {
        let (url, seen) = fake(|method, path, _| match (method, path) {
            ("GET", "/apis/registry/v3/system/info") => (
                200,
                r#"{"name":"Apicurio Registry (SQL)","version":"3.0.9","builtOn":"x"}"#.into(),
            ),
            _ => (404, r#"{"error_code":404,"message":"no"}"#.into()),
        })
        .await;
        let client = RegistryClient::new(&url);
        assert_eq!(
            client
                .server_version()
                .await
                .expect("fake answers")
                .as_str(),
            "3.0.9"
        );
        assert_eq!(
            seen.lock().expect("not poisoned").as_slice(),
            ["GET /apis/registry/v3/system/info "]
        );
    }

    #[tokio::test]
    async fn requests_and_caches() {
        let (url, seen) = fake(|method, path, body| match (method, path) {
            ("POST", "/apis/ccompat/v7/subjects/a%2Fb/versions") => {
                assert!(body.starts_with("{\"schema\":"), "{body}");
                (200, r#"{"id":3}"#.into())
            }
            ("GET", "/apis/ccompat/v7/schemas/ids/3") => {
                (200, r#"{"schema":"{\"type\":\"string\"}"}"#.into())
            }
            ("GET", "/apis/ccompat/v7/subjects") => (200, r#"["a/b"]"#.into()),
            ("GET", "/apis/ccompat/v7/subjects/a%2Fb/versions") => (200, "[1,2]".into()),
            ("PUT", "/apis/ccompat/v7/config") => (200, r#"{"compatibility":"NONE"}"#.into()),
            ("PUT", "/apis/ccompat/v7/config/a%2Fb") => {
                assert_eq!(body, r#"{"compatibility":"BACKWARD"}"#);
                (200, r#"{"compatibility":"BACKWARD"}"#.into())
            }
            ("GET", "/apis/ccompat/v7/schemas/ids/4") => (
                404,
                r#"{"error_code":40403,"message":"Schema not found"}"#.into(),
            ),
            _ => (500, "what?".into()),
        })
        .await;
        let client = RegistryClient::new(&format!("{url}/"));
        assert_eq!(client.base_url(), url);
        let text = r#"{"type": "string"}"#;
        assert_eq!(
            client
                .register("a/b", text)
                .await
                .expect("fake registry answers"),
            3
        );
        assert_eq!(
            client
                .clone()
                .register("a/b", text)
                .await
                .expect("fake registry answers"),
            3
        );
        assert_eq!(client.requests(), 1);
        let schema = client.schema_by_id(3).await.expect("fake registry answers");
        assert_eq!(*schema, Schema::String);
        client.schema_by_id(3).await.expect("fake registry answers");
        assert_eq!(client.requests(), 2);
        assert_eq!(
            client.subjects().await.expect("fake registry answers"),
            ["a/b"]
        );
        assert_eq!(
            client.versions("a/b").await.expect("fake registry answers"),
            [1, 2]
        );
        client
            .set_compatibility(None, "NONE")
            .await
            .expect("fake registry answers");
        client
            .set_compatibility(Some("a/b"), "BACKWARD")
            .await
            .expect("fake registry answers");
        client.ready().await.expect("fake registry answers");
        let err = client.schema_by_id(4).await.expect_err("must fail");
        assert!(
            matches!(
                &err,
                RegistryError::Refused {
                    status: 404,
                    error_code: 40403,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(client.requests(), 8);
        assert_eq!(seen.lock().expect("not poisoned").len(), 8);
    }

    #[tokio::test]
    async fn unreachable() {
        // A port that was free a moment ago.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("bound");
        drop(listener);
        let client = RegistryClient::new(&format!("http://{addr}"));
        let err = client.subjects().await.expect_err("must fail");
        let RegistryError::Unreachable { url, error } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(url, &format!("http://{addr}"));
        assert!(error.to_lowercase().contains("refused"), "{error}");
        assert!(err
            .to_string()
            .starts_with(&format!("schema registry at http://{addr} unreachable: ")));
    }

    #[tokio::test]
    async fn timeout() {
        // Accepts, never answers.
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("bound");
        let keep = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let (socket, _) = listener.accept().await.expect("accept");
                held.push(socket);
            }
        });
        let client =
            RegistryClient::new(&format!("http://{addr}")).with_timeout(Duration::from_millis(200));
        let err = client.ready().await.expect_err("must fail");
        assert!(
            matches!(&err, RegistryError::Unreachable { error, .. } if error.starts_with("no answer within 200ms")),
            "{err:?}"
        );
        keep.abort();
    }

    #[test]
    fn client_is_send_and_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<RegistryClient>();
    }
}
