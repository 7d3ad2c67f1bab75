//! The Docker engine, through bollard (the client testcontainers is built on). We talk to it
//! directly so the API version is negotiated: Debian 12's engine (API 1.41) is what this project's
//! own CI can install, and testcontainers 0.28 pins a newer API that engine refuses.
//!
//! Everything created carries the run id as a label; teardown and `gc` find what to remove by label
//! alone, so nothing depends on in-memory bookkeeping surviving a crash.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, NetworkCreateRequest,
    NetworkingConfig, PortBinding, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    StopContainerOptionsBuilder, UploadToContainerOptionsBuilder, WaitContainerOptions,
};
use futures::StreamExt;

use crate::components::ConfigFile;

pub const LABEL_RUN: &str = "kafka-harness.run";
pub const LABEL_PID: &str = "kafka-harness.pid";
pub const LABEL_NODE: &str = "kafka-harness.node";

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error(
        "no Docker engine answers ({0}).\n  Start one: `dockerd --iptables=false &` as root (Debian: \
         `apt-get install -y docker.io` first), or run `bash .ci/run`, which installs and starts it.\n  \
         If the engine runs elsewhere, set DOCKER_HOST."
    )]
    Unavailable(String),
    #[error("docker: {action}: {source}")]
    Api {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
}

fn api(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> DockerError {
    let action = action.into();
    move |source| DockerError::Api { action, source }
}

/// What to start, independent of any engine.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    pub name: String,
    /// Name other containers reach it by on the run's network.
    pub alias: String,
    pub image: String,
    pub cmd: Vec<String>,
    pub env: Vec<(String, String)>,
    pub labels: HashMap<String, String>,
    pub network: String,
    /// Named volume and where to mount it.
    pub volume: Option<(String, String)>,
    /// (host port on 127.0.0.1, container port)
    pub publish: Vec<(u16, u16)>,
    pub user: Option<String>,
    pub files: Vec<ConfigFile>,
    /// Owner of the files placed into the container (the user the image runs as).
    pub files_owner: u64,
}

#[derive(Debug, Clone)]
pub struct Docker {
    api: bollard::Docker,
}

/// What teardown or gc removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub containers: usize,
    pub networks: usize,
    pub volumes: usize,
}

impl Docker {
    pub async fn connect() -> Result<Self, DockerError> {
        let client = bollard::Docker::connect_with_defaults()
            .map_err(|e| DockerError::Unavailable(e.to_string()))?;
        let client = tokio::time::timeout(Duration::from_secs(10), client.negotiate_version())
            .await
            .map_err(|_| DockerError::Unavailable("no answer within 10s".into()))?
            .map_err(|e| DockerError::Unavailable(e.to_string()))?;
        client
            .ping()
            .await
            .map_err(|e| DockerError::Unavailable(e.to_string()))?;
        Ok(Self { api: client })
    }

    pub async fn image_exists(&self, reference: &str) -> bool {
        self.api.inspect_image(reference).await.is_ok()
    }

    pub async fn pull(&self, reference: &str) -> Result<(), DockerError> {
        let (image, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let opts = CreateImageOptionsBuilder::new()
            .from_image(image)
            .tag(tag)
            .build();
        let mut stream = self.api.create_image(Some(opts), None, None);
        while let Some(item) = stream.next().await {
            item.map_err(api(format!("pull {reference}")))?;
        }
        Ok(())
    }

    pub async fn create_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<(), DockerError> {
        self.api
            .create_network(NetworkCreateRequest {
                name: name.to_owned(),
                driver: Some("bridge".into()),
                labels: Some(labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(api(format!("create network {name}")))?;
        Ok(())
    }

    pub async fn create_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<(), DockerError> {
        self.api
            .create_volume(VolumeCreateRequest {
                name: Some(name.to_owned()),
                labels: Some(labels.clone()),
                ..Default::default()
            })
            .await
            .map_err(api(format!("create volume {name}")))?;
        Ok(())
    }

    /// Creates the container and places its files; it does not start it.
    pub async fn create(&self, spec: &ContainerSpec) -> Result<(), DockerError> {
        let port_bindings: HashMap<String, Option<Vec<PortBinding>>> = spec
            .publish
            .iter()
            .map(|(host, container)| {
                (
                    format!("{container}/tcp"),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some(host.to_string()),
                    }]),
                )
            })
            .collect();
        let exposed: Vec<String> = spec
            .publish
            .iter()
            .map(|(_, c)| format!("{c}/tcp"))
            .collect();
        let mounts = spec.volume.as_ref().map(|(name, target)| {
            vec![Mount {
                target: Some(target.clone()),
                source: Some(name.clone()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]
        });
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: Some(spec.alias.clone()),
            cmd: Some(spec.cmd.clone()),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            labels: Some(spec.labels.clone()),
            user: spec.user.clone(),
            exposed_ports: Some(exposed),
            host_config: Some(HostConfig {
                port_bindings: Some(port_bindings),
                mounts,
                network_mode: Some(spec.network.clone()),
                // A peer that is stopped (mid-restart) otherwise takes Docker's DNS 20 s to fail
                // per lookup, long enough for a ZooKeeper ensemble to lose and not regain quorum.
                dns_options: Some(vec!["timeout:1".into(), "attempts:1".into()]),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    spec.network.clone(),
                    EndpointSettings {
                        aliases: Some(vec![spec.alias.clone()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        self.api
            .create_container(Some(opts), body)
            .await
            .map_err(api(format!("create container {}", spec.name)))?;
        if !spec.files.is_empty() {
            let archive = tar_of(&spec.files, spec.files_owner).map_err(|e| DockerError::Api {
                action: format!("pack files for {}", spec.name),
                source: bollard::errors::Error::IOError { err: e },
            })?;
            let opts = UploadToContainerOptionsBuilder::new().path("/").build();
            self.api
                .upload_to_container(&spec.name, Some(opts), bollard::body_full(archive.into()))
                .await
                .map_err(api(format!("copy config files into {}", spec.name)))?;
        }
        Ok(())
    }

    pub async fn start(&self, name: &str) -> Result<(), DockerError> {
        self.api
            .start_container(
                name,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(api(format!("start {name}")))
    }

    /// Graceful stop: SIGTERM, then SIGKILL after `grace`.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<(), DockerError> {
        let t = i32::try_from(grace.as_secs()).unwrap_or(i32::MAX);
        self.api
            .stop_container(name, Some(StopContainerOptionsBuilder::new().t(t).build()))
            .await
            .map_err(api(format!("stop {name}")))
    }

    pub async fn kill(&self, name: &str) -> Result<(), DockerError> {
        self.api
            .kill_container(
                name,
                Some(KillContainerOptionsBuilder::new().signal("KILL").build()),
            )
            .await
            .map_err(api(format!("kill {name}")))
    }

    pub async fn pause(&self, name: &str) -> Result<(), DockerError> {
        self.api
            .pause_container(name)
            .await
            .map_err(api(format!("pause {name}")))
    }

    pub async fn unpause(&self, name: &str) -> Result<(), DockerError> {
        self.api
            .unpause_container(name)
            .await
            .map_err(api(format!("unpause {name}")))
    }

    /// `None` while running, `Some(exit code)` once it has stopped.
    pub async fn exit_code(&self, name: &str) -> Result<Option<i64>, DockerError> {
        let info = self
            .api
            .inspect_container(
                name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(api(format!("inspect {name}")))?;
        let state = info.state.unwrap_or_default();
        if state.running.unwrap_or(false) {
            Ok(None)
        } else {
            Ok(Some(state.exit_code.unwrap_or(-1)))
        }
    }

    /// Waits for a one-shot container to finish and returns its exit code.
    pub async fn wait(&self, name: &str) -> Result<i64, DockerError> {
        let mut stream = self.api.wait_container(name, None::<WaitContainerOptions>);
        match stream.next().await {
            Some(Ok(r)) => Ok(r.status_code),
            // bollard reports a non-zero exit as an error carrying the code
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Ok(code),
            Some(Err(e)) => Err(api(format!("wait for {name}"))(e)),
            None => self.exit_code(name).await.map(|c| c.unwrap_or(-1)),
        }
    }

    /// Runs `cmd` inside a running container and returns its exit code and output (stdout and
    /// stderr interleaved). Used for the admin tools a running broker carries (ACLs, features).
    pub async fn exec(&self, name: &str, cmd: &[String]) -> Result<(i64, String), DockerError> {
        use bollard::exec::{CreateExecOptions, StartExecResults};
        let created = self
            .api
            .create_exec(
                name,
                CreateExecOptions {
                    cmd: Some(cmd.to_vec()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(api(format!("exec in {name}")))?;
        let mut out = String::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .api
            .start_exec(&created.id, None)
            .await
            .map_err(api(format!("exec in {name}")))?
        {
            while let Some(Ok(chunk)) = output.next().await {
                out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            }
        }
        let code = self
            .api
            .inspect_exec(&created.id)
            .await
            .map_err(api(format!("exec in {name}")))?
            .exit_code
            .unwrap_or(-1);
        Ok((code, out))
    }

    /// The last `lines` lines the container wrote, stdout and stderr interleaved.
    pub async fn log_tail(&self, name: &str, lines: usize) -> String {
        self.logs(name, LogsOptionsBuilder::new().tail(&lines.to_string()))
            .await
    }

    /// What the container wrote since `unix_s` (whole seconds), stdout and stderr interleaved.
    pub async fn log_since(&self, name: &str, unix_s: i32) -> String {
        self.logs(name, LogsOptionsBuilder::new().since(unix_s))
            .await
    }

    /// The container's whole log, stdout and stderr interleaved, each line prefixed with the
    /// engine's RFC 3339 timestamp. Empty when the container is gone.
    pub async fn log_timestamped(&self, name: &str) -> String {
        self.logs(name, LogsOptionsBuilder::new().timestamps(true))
            .await
    }

    /// Reads a container's log (stdout and stderr) as text with the given selection.
    async fn logs(&self, name: &str, opts: LogsOptionsBuilder) -> String {
        let opts = opts.stdout(true).stderr(true).build();
        let mut out = String::new();
        let mut stream = self.api.logs(name, Some(opts));
        while let Some(Ok(chunk)) = stream.next().await {
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        out
    }

    /// Name and node label of every container of a run, oldest first.
    pub async fn run_containers(&self, run: &str) -> Vec<(String, String)> {
        let Ok(mut list) = self.containers_of(run).await else {
            return Vec::new();
        };
        list.sort_by_key(|c| c.created.unwrap_or_default());
        list.into_iter()
            .filter_map(|c| {
                let name = c.names?.first()?.trim_start_matches('/').to_owned();
                let node = c
                    .labels
                    .and_then(|l| l.get(LABEL_NODE).cloned())
                    .unwrap_or_else(|| name.clone());
                Some((name, node))
            })
            .collect()
    }

    pub async fn remove_container(&self, name: &str) -> Result<(), DockerError> {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        self.api
            .remove_container(name, Some(opts))
            .await
            .map_err(api(format!("remove {name}")))
    }

    /// Every container (running or not) labelled with `run`.
    async fn containers_of(
        &self,
        run: &str,
    ) -> Result<Vec<bollard::models::ContainerSummary>, DockerError> {
        let filter = HashMap::from([("label", vec![format!("{LABEL_RUN}={run}")])]);
        self.api
            .list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filter)
                    .build(),
            ))
            .await
            .map_err(api("list containers"))
    }

    /// Removes every container, network and volume labelled with one of `runs`.
    pub async fn remove_runs(&self, runs: &[String]) -> Result<Removed, DockerError> {
        let mut removed = Removed::default();
        for run in runs {
            let filter = HashMap::from([("label", vec![format!("{LABEL_RUN}={run}")])]);
            let containers = self.containers_of(run).await?;
            let removals = containers
                .iter()
                .filter_map(|c| c.id.clone())
                .map(|id| async move { self.remove_container(&id).await });
            for r in futures::future::join_all(removals).await {
                r?;
                removed.containers += 1;
            }
            let networks = self
                .api
                .list_networks(Some(
                    ListNetworksOptionsBuilder::new().filters(&filter).build(),
                ))
                .await
                .map_err(api("list networks"))?;
            for n in networks.into_iter().filter_map(|n| n.name) {
                self.api
                    .remove_network(&n)
                    .await
                    .map_err(api(format!("remove network {n}")))?;
                removed.networks += 1;
            }
            let volumes = self
                .api
                .list_volumes(Some(
                    ListVolumesOptionsBuilder::new().filters(&filter).build(),
                ))
                .await
                .map_err(api("list volumes"))?;
            for v in volumes.volumes.unwrap_or_default() {
                self.api
                    .remove_volume(
                        &v.name,
                        Some(RemoveVolumeOptionsBuilder::new().force(true).build()),
                    )
                    .await
                    .map_err(api(format!("remove volume {}", v.name)))?;
                removed.volumes += 1;
            }
        }
        Ok(removed)
    }

    /// Run ids found on any harness-labelled resource, with the pid of the process that made them.
    pub async fn labelled_runs(&self) -> Result<HashMap<String, Option<u32>>, DockerError> {
        let filter = HashMap::from([("label", vec![LABEL_RUN.to_owned()])]);
        let mut runs: HashMap<String, Option<u32>> = HashMap::new();
        let mut note = |labels: Option<&HashMap<String, String>>| {
            if let Some(l) = labels {
                if let Some(run) = l.get(LABEL_RUN) {
                    let pid = l.get(LABEL_PID).and_then(|p| p.parse().ok());
                    let entry = runs.entry(run.clone()).or_insert(pid);
                    entry.get_or_insert_with(|| pid.unwrap_or_default());
                }
            }
        };
        for c in self
            .api
            .list_containers(Some(
                ListContainersOptionsBuilder::new()
                    .all(true)
                    .filters(&filter)
                    .build(),
            ))
            .await
            .map_err(api("list containers"))?
        {
            note(c.labels.as_ref());
        }
        for n in self
            .api
            .list_networks(Some(
                ListNetworksOptionsBuilder::new().filters(&filter).build(),
            ))
            .await
            .map_err(api("list networks"))?
        {
            note(n.labels.as_ref());
        }
        for v in self
            .api
            .list_volumes(Some(
                ListVolumesOptionsBuilder::new().filters(&filter).build(),
            ))
            .await
            .map_err(api("list volumes"))?
            .volumes
            .unwrap_or_default()
        {
            note(Some(&v.labels));
        }
        Ok(runs)
    }
}

/// A tar archive placing `files` at their absolute paths, owned by `owner`.
fn tar_of(files: &[ConfigFile], owner: u64) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = files
        .iter()
        .filter_map(|f| {
            f.path
                .rsplit_once('/')
                .map(|(d, _)| d.trim_start_matches('/').to_owned())
        })
        .filter(|d| !d.is_empty())
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_uid(owner);
        h.set_gid(owner);
        h.set_size(0);
        builder.append_data(&mut h, format!("{dir}/"), std::io::empty())?;
    }
    for f in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(if f.secret { 0o600 } else { 0o644 });
        h.set_uid(owner);
        h.set_gid(owner);
        h.set_size(f.contents.len() as u64);
        builder.append_data(
            &mut h,
            f.path.trim_start_matches('/'),
            f.contents.as_bytes(),
        )?;
    }
    builder.into_inner()
}
