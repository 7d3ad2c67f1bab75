//! The stack's Kafka Connect worker: started once the brokers (and PostgreSQL) answer, ready when
//! its REST API lists connectors; then the harness submits each declared connector and waits
//! until it and its task run. A connector or task that fails fails the start with its trace.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::{create_and_start, service_container, wait_until, Run, RunningStack, StartError};
use crate::components::connect;
use crate::progress::Progress;
use crate::runtime::docker::ContainerSpec;
use crate::scenario::{NodeId, Stack};
use crate::secrets::Credentials;

/// The worker's container, its REST port published on 127.0.0.1:`port`.
pub(super) fn container(
    run: &Run,
    stack: &Stack,
    port: u16,
    creds: &Credentials,
) -> Option<ContainerSpec> {
    let spec = stack.connect.as_ref()?;
    let mut c = service_container(
        run,
        NodeId::Connect(1),
        &spec.image,
        "connect-run",
        None,
        (port, connect::REST_PORT),
        connect::config_files(stack, creds),
    );
    c.env = vec![(
        "KAFKA_HEAP_OPTS".into(),
        format!("-Xmx{} -Xms64m -XX:TieredStopAtLevel=1", spec.heap),
    )];
    Some(c)
}

/// One REST call: the status and the body.
async fn call(
    port: u16,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<(u16, String), String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| format!("no answer within 10s to {path}"))?
}

/// A connector's state and its tasks' (with the trace of any that failed).
fn states(status: &serde_json::Value) -> (String, Vec<(String, Option<String>)>) {
    let connector = status["connector"]["state"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let tasks = status["tasks"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .map(|t| {
                    (
                        t["state"].as_str().unwrap_or("?").to_owned(),
                        t["trace"].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (connector, tasks)
}

impl RunningStack {
    /// Waits until connector `name` and its tasks run; a FAILED one is an error with its trace.
    async fn wait_running(
        &self,
        port: u16,
        name: &str,
        timeout: Duration,
    ) -> Result<(), StartError> {
        let failed = |what: String, error: String| StartError::Connect {
            what,
            error: self.creds.redact(&error),
        };
        let status_path = format!("/connectors/{name}/status");
        let deadline = Instant::now() + timeout;
        loop {
            let seen = call(port, Method::GET, &status_path, None).await;
            let (connector, tasks) = match &seen {
                Ok((200, body)) => states(&serde_json::from_str(body).unwrap_or_default()),
                _ => ("?".into(), Vec::new()),
            };
            if let Some(trace) = tasks
                .iter()
                .find(|(s, _)| s == "FAILED")
                .map(|(_, t)| t.clone().unwrap_or_default())
                .or_else(|| (connector == "FAILED").then(String::new))
            {
                let trace: String = trace.lines().take(12).collect::<Vec<_>>().join("\n    ");
                return Err(failed(
                    format!("connector {name}"),
                    format!("it FAILED:\n    {trace}"),
                ));
            }
            if connector == "RUNNING"
                && !tasks.is_empty()
                && tasks.iter().all(|(s, _)| s == "RUNNING")
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(failed(
                    format!("connector {name}"),
                    format!(
                        "not running within {}s (connector {connector}, tasks {:?})",
                        timeout.as_secs(),
                        tasks.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Replaces the worker with one of Debezium `to` (same group, same internal topics): the
    /// connectors resume from the offsets the old one committed. Done when every connector and
    /// task runs again; the evidence gives the release the worker reports before and after.
    pub async fn upgrade_connect(
        &self,
        to: &str,
        timeout: Duration,
        progress: &Progress,
    ) -> Result<(String, Vec<String>), (String, Vec<String>)> {
        let (Some(spec), Some(port)) = (&self.stack.connect, self.connect_port) else {
            return Err(("the stack has no connect".into(), vec![]));
        };
        let before = self
            .connect_version()
            .await
            .unwrap_or_else(|e| format!("unknown ({e})"));
        let node = NodeId::Connect(1);
        let name = self.run.container(node);
        let t0 = Instant::now();
        progress.say(format!("stopping {node} ({before})"));
        let err = |e: String| (self.creds.redact(&e), vec![format!("before: {before}")]);
        self.run
            .docker
            .stop(&name, Duration::from_secs(60))
            .await
            .map_err(|e| err(e.to_string()))?;
        let stopped = t0.elapsed().as_secs_f64();
        super::logs::keep(&self.run.docker, &self.run.logs, &name, &node.to_string()).await;
        self.run
            .docker
            .remove_container(&name)
            .await
            .map_err(|e| err(e.to_string()))?;
        let mut c = container(&self.run, &self.stack, port, &self.creds)
            .ok_or_else(|| err("no connect container".into()))?;
        c.image = format!("kafka-harness/connect:{to}");
        progress.say(format!("starting {node} on Debezium {to}"));
        create_and_start(&self.run, &c)
            .await
            .map_err(|e| err(e.to_string()))?;
        self.wait_connect(timeout)
            .await
            .map_err(|e| err(e.to_string()))?;
        let answered = t0.elapsed().as_secs_f64();
        let mut names = Vec::new();
        for k in &spec.connectors {
            names.push(k.name.clone());
            if k.flat {
                names.push(k.flat_name());
            }
        }
        for n in &names {
            self.wait_running(port, n, timeout)
                .await
                .map_err(|e| err(e.to_string()))?;
        }
        let after = self
            .connect_version()
            .await
            .unwrap_or_else(|e| format!("unknown ({e})"));
        let evidence = vec![
            format!("before: {before}; after: {after}"),
            format!(
                "worker stopped after {stopped:.1}s, answered after {answered:.1}s, {} connector(s) running after {:.1}s",
                names.len(),
                t0.elapsed().as_secs_f64()
            ),
        ];
        if !after.contains(to.trim_end_matches(".Final")) {
            return Err((
                format!("connect-1 reports {after} after the upgrade to {to}"),
                evidence,
            ));
        }
        Ok((
            format!(
                "connect-1 runs {after}; {} connector(s) resumed",
                names.len()
            ),
            evidence,
        ))
    }

    /// Ready = `GET /connectors` answers 200 (the worker joined its group and read its configs).
    pub(super) async fn wait_connect(&self, timeout: Duration) -> Result<(), StartError> {
        let Some(port) = self.connect_port else {
            return Ok(());
        };
        wait_until(&self.run, NodeId::Connect(1), timeout, || async move {
            match call(port, Method::GET, "/connectors", None).await {
                Ok((200, _)) => Ok(()),
                Ok((status, body)) => Err(format!("GET /connectors answered {status}: {body}")),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The Debezium release the worker runs, from the connector plugin it lists.
    pub(super) async fn connect_version(&self) -> Result<String, String> {
        let port = self.connect_port.ok_or("the stack has no connect")?;
        let (_, body) = call(port, Method::GET, "/connector-plugins", None).await?;
        let plugins: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        plugins
            .as_array()
            .and_then(|ps| {
                ps.iter().find(|p| {
                    p["class"].as_str()
                        == Some("io.debezium.connector.postgresql.PostgresConnector")
                })
            })
            .and_then(|p| p["version"].as_str())
            .map(|v| format!("Debezium {v}"))
            .ok_or_else(|| "the worker lists no Debezium PostgreSQL connector".into())
    }

    /// Starts the worker, waits for it, submits the connectors and waits until each runs.
    pub(super) async fn start_connect(&self, progress: &Progress) -> Result<(), StartError> {
        let (Some(spec), Some(port)) = (&self.stack.connect, self.connect_port) else {
            return Ok(());
        };
        let Some(c) = container(&self.run, &self.stack, port, &self.creds) else {
            return Ok(());
        };
        progress.say(format!(
            "starting Kafka Connect (Debezium {}, {} connector(s))",
            spec.version,
            spec.connectors.len()
        ));
        let t0 = Instant::now();
        create_and_start(&self.run, &c).await?;
        self.wait_connect(spec.start_timeout).await?;
        progress.say(format!(
            "Kafka Connect answers ({:.1}s)",
            t0.elapsed().as_secs_f64()
        ));
        let failed = |what: String, error: String| StartError::Connect {
            what,
            error: self.creds.redact(&error),
        };
        let mut submissions = Vec::new();
        for k in &spec.connectors {
            submissions.push((
                k.name.clone(),
                k.clone(),
                connect::connector_config(&self.stack, k),
            ));
            if k.flat {
                submissions.push((
                    k.flat_name(),
                    k.clone(),
                    connect::flat_connector_config(&self.stack, k),
                ));
            }
        }
        for (name, k, config) in &submissions {
            let body = serde_json::to_string(&config).unwrap_or_default();
            let path = format!("/connectors/{}/config", name);
            match call(port, Method::PUT, &path, Some(body)).await {
                Ok((200 | 201, _)) => {}
                Ok((status, body)) => {
                    return Err(failed(
                        format!("submitting connector {}", name),
                        format!("{status}: {body}"),
                    ))
                }
                Err(e) => return Err(failed(format!("submitting connector {}", name), e)),
            }
            self.wait_running(port, name, spec.start_timeout).await?;
            progress.say(format!(
                "connector {} runs: table(s) {} to {}",
                name,
                k.tables.join(", "),
                k.tables
                    .iter()
                    .map(|t| format!("{name}.public.{t}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }
}
