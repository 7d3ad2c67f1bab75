//! Making sure every image a stack needs is present: built from official artifacts by
//! `stacks/images/build.sh`, or pulled for upstream references.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::docker::Docker;
use crate::progress::Progress;
use crate::scenario::{Component, ImageRef, Scenario, Stack, Step};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image {image}: {message}")]
    Build { image: String, message: String },
    #[error("image {image} could not be pulled ({message}); omit `image:` in the stack to build one from Maven Central artifacts instead")]
    Pull { image: String, message: String },
}

/// The folder with the Dockerfiles and build.sh: `KAFKA_HARNESS_IMAGES`, else the one in this checkout.
pub fn images_dir() -> PathBuf {
    std::env::var_os("KAFKA_HARNESS_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../stacks/images")))
}

/// (component, version, image) of every image a stack starts with.
pub fn needed(stack: &Stack) -> Vec<(&'static str, String, ImageRef)> {
    let mut out = Vec::new();
    if let Some(zk) = &stack.zookeeper {
        out.push(("zookeeper", zk.version.to_string(), zk.image.clone()));
    }
    out.push((
        "kafka",
        stack.kafka.version.to_string(),
        stack.kafka.image.clone(),
    ));
    if let Some(r) = &stack.registry {
        out.push(("registry", r.version.to_string(), r.image.clone()));
    }
    if let Some(p) = &stack.postgres {
        out.push(("postgres", p.major.to_string(), p.image.clone()));
    }
    if let Some(k) = &stack.connect {
        out.push(("connect", k.version.clone(), k.image.clone()));
    }
    if let Some(h) = &stack.clickhouse {
        out.push(("clickhouse", h.version.clone(), h.image.clone()));
    }
    // Green's brokers and MirrorMaker run green's release.
    if let Some(g) = stack
        .green
        .as_ref()
        .filter(|g| g.kafka.image != stack.kafka.image)
    {
        out.push(("kafka", g.kafka.version.to_string(), g.kafka.image.clone()));
    }
    out
}

/// The stack's images plus those its rolling upgrades move to, so nothing is built mid-run.
pub fn needed_by(scenario: &Scenario) -> Vec<(&'static str, String, ImageRef)> {
    let stack = &scenario.stack;
    let mut out = needed(stack);
    for step in &scenario.steps {
        if let (Step::UpgradeConnect { to, .. }, Some(k)) = (step, &stack.connect) {
            let image = ImageRef::Built {
                tag: format!("kafka-harness/connect:{to}"),
            };
            if *to != k.version && !out.iter().any(|(_, _, i)| *i == image) {
                out.push(("connect", to.clone(), image));
            }
        }
        if let Step::RollingUpgrade { component, to, .. } = step {
            let base = match (component, &stack.zookeeper, &stack.registry) {
                (Component::ZooKeeper, Some(zk), _) => &zk.image,
                (Component::Registry, _, Some(r)) => &r.image,
                _ => &stack.kafka.image,
            };
            let image = base.for_version(*component, *to);
            if !out.iter().any(|(_, _, i)| *i == image) {
                out.push((component.image_name(), to.to_string(), image));
            }
        }
    }
    out
}

pub async fn ensure(
    docker: &Docker,
    stack: &Stack,
    progress: &Progress,
    force: bool,
) -> Result<(), ImageError> {
    ensure_all(docker, needed(stack), progress, force).await
}

pub async fn ensure_all(
    docker: &Docker,
    images: Vec<(&'static str, String, ImageRef)>,
    progress: &Progress,
    force: bool,
) -> Result<(), ImageError> {
    for (component, version, image) in &images {
        let (component, version) = (*component, version.as_str());
        let reference = image.reference().to_owned();
        let present = match image {
            // Built images must also come from the current recipe (build.sh labels them).
            ImageRef::Built { .. } => is_current(component, version).await,
            ImageRef::Upstream { .. } => docker.image_exists(&reference).await,
        };
        if !force && present {
            continue;
        }
        match image {
            ImageRef::Built { .. } => {
                build(component, version, &reference, progress, force).await?
            }
            ImageRef::Upstream { .. } => {
                progress.say(format!("pulling {reference}"));
                docker
                    .pull(&reference)
                    .await
                    .map_err(|e| ImageError::Pull {
                        image: reference.clone(),
                        message: e.to_string(),
                    })?;
            }
        }
    }
    Ok(())
}

/// Whether the harness's own image of `component` at `version` exists and was built from the
/// recipe in this checkout (`build.sh --check`).
async fn is_current(component: &str, version: &str) -> bool {
    tokio::process::Command::new("bash")
        .arg(images_dir().join("build.sh"))
        .args(["--check", component, version])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

async fn build(
    component: &str,
    version: &str,
    reference: &str,
    progress: &Progress,
    force: bool,
) -> Result<(), ImageError> {
    let script = images_dir().join("build.sh");
    progress.say(format!(
        "building {reference} from Maven Central artifacts (first time only; a few minutes)"
    ));
    let mut cmd = tokio::process::Command::new("bash");
    cmd.arg(&script);
    if force {
        cmd.arg("--force");
    }
    let mut child = cmd
        .arg(component)
        .arg(version)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ImageError::Build {
            image: reference.to_owned(),
            message: format!("cannot run {}: {e}", script.display()),
        })?;
    let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut tail: Vec<String> = Vec::new();
    let (mut out, mut err) = (stdout, stderr);
    loop {
        let line = tokio::select! {
            l = async { match out.as_mut() { Some(o) => o.next_line().await, None => std::future::pending().await } } => {
                if matches!(l, Ok(None) | Err(_)) { out = None; }
                l.ok().flatten()
            }
            l = async { match err.as_mut() { Some(e) => e.next_line().await, None => std::future::pending().await } } => {
                if matches!(l, Ok(None) | Err(_)) { err = None; }
                l.ok().flatten()
            }
            else => break,
        };
        if out.is_none() && err.is_none() && line.is_none() {
            break;
        }
        if let Some(line) = line {
            // build.sh marks the lines meant for users; the rest is kept for the error message.
            if let Some(msg) = line.strip_prefix("==> ") {
                progress.say(format!("  {component} {version}: {msg}"));
            }
            tail.push(line);
            if tail.len() > 25 {
                tail.remove(0);
            }
        }
    }
    let status = child.wait().await.map_err(|e| ImageError::Build {
        image: reference.to_owned(),
        message: e.to_string(),
    })?;
    if !status.success() {
        return Err(ImageError::Build {
            image: reference.to_owned(),
            message: format!(
                "{} failed ({status}); its last lines:\n    {}",
                script.display(),
                tail.join("\n    ")
            ),
        });
    }
    progress.say(format!("built {reference}"));
    Ok(())
}
