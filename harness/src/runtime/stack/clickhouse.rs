//! The stack's ClickHouse: started once Connect runs (its Kafka tables read Connect's topics),
//! ready when `SELECT 1` answers over HTTP with the run's password; then each declared table's
//! base table, Kafka engine table and materialized view are created.

use std::time::Duration;

use super::{create_and_start, service_container, wait_until, Run, RunningStack, StartError};
use crate::components::clickhouse;
use crate::progress::Progress;
use crate::runtime::docker::ContainerSpec;
use crate::scenario::{NodeId, Stack};
use crate::secrets::Credentials;

pub(super) fn container(
    run: &Run,
    stack: &Stack,
    port: u16,
    creds: &Credentials,
) -> Option<ContainerSpec> {
    let spec = stack.clickhouse.as_ref()?;
    Some(service_container(
        run,
        NodeId::ClickHouse(1),
        &spec.image,
        "clickhouse-run",
        Some("/var/lib/clickhouse"),
        (port, clickhouse::HTTP_PORT),
        clickhouse::config_files(spec, creds),
    ))
}

/// A client of the HTTP interface published on 127.0.0.1:`port`, as the default user. RowBinary
/// without validation: 18.16 predates RowBinaryWithNamesAndTypes.
pub fn client(port: u16, creds: &Credentials) -> ::clickhouse::Client {
    ::clickhouse::Client::default()
        .with_url(format!("http://127.0.0.1:{port}"))
        .with_user(clickhouse::USER)
        .with_password(
            creds
                .clickhouse()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
        )
        .with_validation(false)
}

impl RunningStack {
    /// The client of the stack's ClickHouse, when it has one.
    pub fn clickhouse_client(&self) -> Option<::clickhouse::Client> {
        Some(client(self.clickhouse_port?, &self.creds))
    }

    pub(super) async fn wait_clickhouse(&self, timeout: Duration) -> Result<(), StartError> {
        let Some(c) = self.clickhouse_client() else {
            return Ok(());
        };
        let redact = |e: String| self.creds.redact(&e);
        wait_until(&self.run, NodeId::ClickHouse(1), timeout, || {
            let c = c.clone();
            async move {
                c.query("SELECT 1")
                    .fetch_one::<u8>()
                    .await
                    .map(|_| ())
                    .map_err(|e| redact(e.to_string()))
            }
        })
        .await
    }

    pub(super) async fn clickhouse_version(&self) -> Result<String, String> {
        let c = self
            .clickhouse_client()
            .ok_or("the stack has no clickhouse")?;
        c.query("SELECT version()")
            .fetch_one::<String>()
            .await
            .map_err(|e| e.to_string())
    }

    /// Starts ClickHouse, waits for it, creates the declared tables.
    pub(super) async fn start_clickhouse(&self, progress: &Progress) -> Result<(), StartError> {
        let (Some(spec), Some(port)) = (&self.stack.clickhouse, self.clickhouse_port) else {
            return Ok(());
        };
        let Some(c) = container(&self.run, &self.stack, port, &self.creds) else {
            return Ok(());
        };
        progress.say(format!("starting ClickHouse {}", spec.version));
        create_and_start(&self.run, &c).await?;
        self.wait_clickhouse(spec.start_timeout).await?;
        let client = client(port, &self.creds);
        for t in &spec.tables {
            for statement in clickhouse::ddl(&self.stack, t) {
                client
                    .query(&statement)
                    .execute()
                    .await
                    .map_err(|e| StartError::ClickHouse {
                        what: format!("table {}: {statement}", t.name),
                        error: self.creds.redact(&e.to_string()),
                    })?;
            }
        }
        let version = self
            .clickhouse_version()
            .await
            .unwrap_or_else(|e| format!("unknown ({e})"));
        progress.say(format!(
            "ClickHouse {version} reads {}",
            spec.tables
                .iter()
                .map(|t| format!("{} into {}", t.topic, t.name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(())
    }
}
