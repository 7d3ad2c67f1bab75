//! The schema registry, watched while the run lasts: a real request (list subjects) every half
//! second, so a restart or an upgrade shows as a window of unavailability in the report. At the
//! end, every subject and its versions are read back from the registry's API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::avro::RegistryClient;

const EVERY: Duration = Duration::from_millis(500);

// The load notes these; the type lives here, with the report that lists them, so the probe
// needs nothing from the load.
/// A schema version registered during the run.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Registration {
    pub subject: String,
    /// The .avsc file name.
    pub schema: String,
    /// The id the registry gave it.
    pub id: u32,
    /// Seconds since the run started.
    pub at_s: f64,
    /// Who registered it: a producer starting, or a step.
    pub by: String,
}

/// A stretch during which the registry did not answer.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct RegistryWindow {
    /// Seconds since the run started: the first failed request.
    pub from_s: f64,
    /// The next request that succeeded (or the end of the run).
    pub to_s: f64,
    pub duration_ms: u64,
    /// The first error of the window.
    pub error: String,
    /// Still unavailable when the run ended.
    pub open: bool,
}

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct RegistryReport {
    /// The Confluent Schema Registry API the harness used.
    pub url: String,
    /// Requests the probe made.
    pub probes: u64,
    pub windows: Vec<RegistryWindow>,
    /// Every subject with its versions, read from the registry when the run ended.
    pub subjects: BTreeMap<String, Vec<u32>>,
    /// Why `subjects` could not be read, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects_error: Option<String>,
    /// Schema versions registered during the run.
    pub registrations: Vec<Registration>,
}

#[derive(Debug)]
pub struct RegistryProbe {
    client: Arc<RegistryClient>,
    stop: watch::Sender<bool>,
    task: JoinHandle<(u64, Vec<RegistryWindow>)>,
}

impl RegistryProbe {
    pub fn start(url: &str, epoch: Instant) -> Self {
        let client = Arc::new(RegistryClient::new(url).with_timeout(Duration::from_secs(2)));
        let (stop, mut stopped) = watch::channel(false);
        let probe = client.clone();
        let task = tokio::spawn(async move {
            let mut windows: Vec<RegistryWindow> = Vec::new();
            let mut open: Option<RegistryWindow> = None;
            let mut probes = 0;
            let mut tick = tokio::time::interval(EVERY);
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tick.tick() => {}
                }
                let at = epoch.elapsed().as_secs_f64();
                probes += 1;
                match probe.ready().await {
                    Ok(()) => {
                        if let Some(mut w) = open.take() {
                            w.open = false;
                            w.to_s = at;
                            w.duration_ms = ((at - w.from_s) * 1000.0) as u64;
                            windows.push(w);
                        }
                    }
                    Err(e) => {
                        open.get_or_insert(RegistryWindow {
                            from_s: at,
                            to_s: at,
                            duration_ms: 0,
                            error: e.to_string(),
                            open: true,
                        });
                    }
                }
            }
            if let Some(mut w) = open {
                let at = epoch.elapsed().as_secs_f64();
                w.to_s = at;
                w.duration_ms = ((at - w.from_s) * 1000.0) as u64;
                windows.push(w);
            }
            (probes, windows)
        });
        Self { client, stop, task }
    }

    pub async fn finish(self, registrations: Vec<Registration>) -> RegistryReport {
        let _ = self.stop.send(true);
        let (probes, windows) = self.task.await.unwrap_or_default();
        let mut report = RegistryReport {
            url: self.client.base_url().to_owned(),
            probes,
            windows,
            registrations,
            ..RegistryReport::default()
        };
        match self.client.subjects().await {
            Ok(subjects) => {
                for s in subjects {
                    match self.client.versions(&s).await {
                        Ok(v) => {
                            report.subjects.insert(s, v);
                        }
                        Err(e) => report.subjects_error = Some(format!("{s}: {e}")),
                    }
                }
            }
            Err(e) => report.subjects_error = Some(e.to_string()),
        }
        report
    }
}
