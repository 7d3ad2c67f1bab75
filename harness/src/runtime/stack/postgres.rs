//! The stack's PostgreSQL: its container (started beside Kafka, it needs nothing of it), ready
//! when the superuser can log in over the published port, then the application database and its
//! tables are created.

use std::time::Duration;

use super::{service_container, wait_until, Run, RunningStack, StartError};
use crate::components::postgres;
use crate::progress::Progress;
use crate::runtime::docker::ContainerSpec;
use crate::scenario::{NodeId, Stack, POSTGRES_DB, POSTGRES_USER};
use crate::secrets::Credentials;

/// The container of `postgres-1`, its port published on 127.0.0.1:`port`.
pub(super) fn container(
    run: &Run,
    stack: &Stack,
    port: u16,
    creds: &Credentials,
) -> Option<ContainerSpec> {
    let spec = stack.postgres.as_ref()?;
    // The image runs as its postgres user (the harness's uid), which owns the files.
    Some(service_container(
        run,
        NodeId::Postgres(1),
        &spec.image,
        "postgres-run",
        Some("/var/lib/postgresql"),
        (port, postgres::PORT),
        postgres::config_files(spec, creds),
    ))
}

/// How the harness reaches `database` as the superuser.
pub fn config(port: u16, creds: &Credentials, database: &str) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    c.host("127.0.0.1")
        .port(port)
        .user(POSTGRES_USER)
        .dbname(database)
        .connect_timeout(Duration::from_secs(5));
    if let Some(p) = creds.postgres() {
        c.password(p.expose());
    }
    c
}

/// Connects and keeps the connection driven in the background.
pub async fn connect(config: &tokio_postgres::Config) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

impl RunningStack {
    /// How the harness reaches the application database, when the stack has one.
    pub fn postgres_config(&self) -> Option<tokio_postgres::Config> {
        Some(config(self.postgres_port?, &self.creds, POSTGRES_DB))
    }

    /// Ready = the superuser logs in and `SELECT 1` answers.
    pub(super) async fn wait_postgres(&self, timeout: Duration) -> Result<(), StartError> {
        let Some(port) = self.postgres_port else {
            return Ok(());
        };
        let cfg = config(port, &self.creds, "postgres");
        wait_until(&self.run, NodeId::Postgres(1), timeout, || {
            let cfg = cfg.clone();
            async move {
                let client = connect(&cfg).await?;
                client
                    .simple_query("SELECT 1")
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
        .await
    }

    /// The version the server reports, e.g. "15.14".
    pub(super) async fn postgres_version(&self) -> Result<String, String> {
        let cfg = self.postgres_config().ok_or("the stack has no postgres")?;
        let client = connect(&cfg).await?;
        let row = client
            .query_one("SHOW server_version", &[])
            .await
            .map_err(|e| e.to_string())?;
        let v: String = row.get(0);
        Ok(v.split_whitespace().next().unwrap_or(&v).to_owned())
    }

    /// Waits for the database, then creates `app` and the declared tables (once: a restarted
    /// server keeps them on its volume).
    pub(super) async fn start_postgres(&self, progress: &Progress) -> Result<(), StartError> {
        let Some(spec) = &self.stack.postgres else {
            return Ok(());
        };
        self.wait_postgres(spec.start_timeout).await?;
        let failed = |what: &str, e: String| StartError::Postgres {
            what: what.to_owned(),
            error: self.creds.redact(&e),
        };
        let port = self.postgres_port.unwrap_or(0);
        let admin = connect(&config(port, &self.creds, "postgres"))
            .await
            .map_err(|e| failed("logging in", e))?;
        let exists = admin
            .query_opt(
                "SELECT 1 FROM pg_database WHERE datname = $1",
                &[&POSTGRES_DB],
            )
            .await
            .map_err(|e| failed("listing databases", e.to_string()))?
            .is_some();
        if !exists {
            admin
                .simple_query(&postgres::create_database())
                .await
                .map_err(|e| failed("creating database app", e.to_string()))?;
        }
        let app = connect(&config(port, &self.creds, POSTGRES_DB))
            .await
            .map_err(|e| failed("logging in to app", e))?;
        for t in &spec.tables {
            app.batch_execute(&postgres::table_ddl(t))
                .await
                .map_err(|e| failed(&format!("creating table {t}"), e.to_string()))?;
        }
        let version = self
            .postgres_version()
            .await
            .unwrap_or_else(|e| format!("unknown ({e})"));
        progress.say(format!(
            "PostgreSQL {version} accepting connections (database {POSTGRES_DB}, table(s) {})",
            spec.tables.join(", ")
        ));
        Ok(())
    }
}
