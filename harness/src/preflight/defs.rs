//! A Kafka release's own description of its broker configuration, extracted from its jars: the
//! broker's ConfigDef (every key, its type, default, importance, deprecation) and the classes on
//! its classpath. Extracted once per release by `stacks/images/tools/ConfigDefDump.java`, run with
//! the same runtime classpath the release's image is built from (resolved by Maven with
//! `stacks/images/kafka/pom.xml`), and cached as JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::progress::Progress;
use crate::scenario::Version;

/// The dumper; the binary carries it so that it works from any directory.
pub(crate) const DUMPER_SOURCE: &str =
    include_str!("../../../stacks/images/tools/ConfigDefDump.java");
/// The image's pom: the classpath checked is the classpath the image runs.
const POM: &str = include_str!("../../../stacks/images/kafka/pom.xml");
/// Must match `ConfigDefDump.FORMAT`; part of the cache file name.
pub const FORMAT: u32 = 1;

/// One release's definitions.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ConfigDefs {
    pub format: u32,
    /// As the release's own jars say (AppInfoParser).
    pub kafka_version: String,
    /// Where the broker ConfigDef was found, e.g. `kafka.server.KafkaConfig.configDef()`.
    #[serde(default)]
    pub config_def: String,
    pub configs: BTreeMap<String, KeyDef>,
    /// Keys (and key prefixes, ending in a dot) outside the ConfigDef that Kafka's own plugins read
    /// from the broker's config, e.g. the ACL authorizer's `super.users`, with the plugin's class.
    #[serde(default)]
    pub plugin_keys: BTreeMap<String, String>,
    /// Every named class on the release's runtime classpath.
    #[serde(default)]
    pub classes: BTreeSet<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct KeyDef {
    /// ConfigDef's type, lower case: boolean, string, int, short, long, double, list, class, password.
    #[serde(rename = "type")]
    pub kind: String,
    /// The default as Kafka writes it back (`ConfigDef.convertToString`); `None` with no default.
    pub default: Option<String>,
    #[serde(default)]
    pub has_default: bool,
    #[serde(default)]
    pub importance: String,
    /// The sentence of the key's documentation that calls it deprecated.
    #[serde(default)]
    pub deprecated: Option<String>,
    #[serde(default)]
    pub internal: bool,
    /// The validator, as Kafka prints it (e.g. `[PLAINTEXT, SSL]`).
    #[serde(default)]
    pub valid: Option<String>,
}

impl ConfigDefs {
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DefsError {
    #[error("`{tool}` was not found on PATH: the config preflight reads each Kafka release's own config definitions from its jars with Maven and a JDK.\n  Install them (Debian: `apt-get install -y maven default-jdk-headless`), or skip the preflight with `--no-preflight`")]
    ToolMissing { tool: &'static str },
    #[error("resolving Kafka {version}'s jars with `mvn` failed (exit {code}):\n{tail}")]
    Resolve {
        version: Version,
        code: i32,
        tail: String,
    },
    #[error(
        "reading Kafka {version}'s config definitions from its jars failed (exit {code}):\n{tail}"
    )]
    Dump {
        version: Version,
        code: i32,
        tail: String,
    },
    #[error("the extracted config definitions of Kafka {version} are unreadable: {reason}")]
    Unreadable { version: Version, reason: String },
    #[error("cache {}: {source}", path.display())]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where extracted definitions are kept: `$KAFKA_HARNESS_CACHE`, else `$XDG_CACHE_HOME/kafka-harness`,
/// else `~/.cache/kafka-harness`; definitions live in its `configdefs/` folder.
pub fn cache_dir() -> PathBuf {
    let root = std::env::var_os("KAFKA_HARNESS_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("kafka-harness"))
        })
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("kafka-harness"))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("kafka-harness-cache"));
    root.join("configdefs")
}

fn cache_file(dir: &Path, version: Version) -> PathBuf {
    dir.join(format!("kafka-{version}.f{FORMAT}.json"))
}

/// The definitions of `version`, from the cache or extracted (and cached) now.
pub fn load(version: Version, progress: &Progress) -> Result<ConfigDefs, DefsError> {
    let dir = cache_dir();
    let file = cache_file(&dir, version);
    if let Some(defs) = cached(&file) {
        return Ok(defs);
    }
    let cache = |source| DefsError::Cache {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(cache)?;
    // `java` runs the dumper from source, which takes a JDK (its compiler), not a bare JRE.
    for tool in ["mvn", "java", "javac"] {
        if which(tool).is_none() {
            return Err(DefsError::ToolMissing { tool });
        }
    }
    // One extraction at a time on this machine (parallel tests, two plans): Maven's local
    // repository is not made for several processes downloading the same artifacts at once.
    let _lock = Lock::take(&dir.join(".extract.lock")).map_err(cache)?;
    if let Some(defs) = cached(&file) {
        return Ok(defs);
    }
    progress.say(format!(
        "preflight: reading Kafka {version}'s config definitions from its jars (mvn + java, once; cached in {})",
        dir.display()
    ));
    let t0 = Instant::now();
    // Readers never see a half-written file: it is written aside and renamed into place.
    let scratch = tempdir_in(&dir).map_err(cache)?;
    let pom = scratch.join("pom.xml");
    let dumper = scratch.join("ConfigDefDump.java");
    let classpath = scratch.join("classpath");
    std::fs::write(&pom, POM).map_err(cache)?;
    std::fs::write(&dumper, DUMPER_SOURCE).map_err(cache)?;
    let out = Command::new("mvn")
        .args(["-q", "-B", "-Dstyle.color=never", "-f"])
        .arg(&pom)
        .arg("dependency:build-classpath")
        .arg(format!("-Dkafka.version={version}"))
        .arg("-DincludeScope=runtime")
        .arg(format!("-Dmdep.outputFile={}", classpath.display()))
        .output()
        .map_err(cache)?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(DefsError::Resolve {
            version,
            code: out.status.code().unwrap_or(-1),
            tail: tail(&out.stdout, &out.stderr),
        });
    }
    let cp = std::fs::read_to_string(&classpath).map_err(cache)?;
    let out = Command::new("java")
        .args(["-Xmx256m", "-cp", cp.trim()])
        .arg(&dumper)
        .output()
        .map_err(cache)?;
    let _ = std::fs::remove_dir_all(&scratch);
    if !out.status.success() {
        return Err(DefsError::Dump {
            version,
            code: out.status.code().unwrap_or(-1),
            tail: tail(&out.stdout, &out.stderr),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let defs = ConfigDefs::parse(&text).map_err(|e| DefsError::Unreadable {
        version,
        reason: e.to_string(),
    })?;
    let tmp = dir.join(format!(
        ".kafka-{version}.{}.{}.tmp",
        std::process::id(),
        unique()
    ));
    std::fs::write(&tmp, text.as_bytes()).map_err(cache)?;
    std::fs::rename(&tmp, &file).map_err(cache)?;
    progress.say(format!(
        "preflight: Kafka {version}: {} broker keys, {} classes, in {:.1}s",
        defs.configs.len(),
        defs.classes.len(),
        t0.elapsed().as_secs_f64()
    ));
    Ok(defs)
}

fn cached(file: &Path) -> Option<ConfigDefs> {
    let defs = ConfigDefs::parse(&std::fs::read_to_string(file).ok()?).ok()?;
    (defs.format == FORMAT).then_some(defs)
}

/// A lock file made with `create_new` (atomic), removed on drop. One left by a killed process is
/// taken over once it is older than any extraction takes.
#[derive(Debug)]
struct Lock(PathBuf);

impl Lock {
    const STALE: Duration = Duration::from_secs(600);

    fn take(path: &Path) -> std::io::Result<Self> {
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => return Ok(Self(path.to_owned())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok());
                    if age.is_some_and(|a| a > Self::STALE) {
                        let _ = std::fs::remove_file(path);
                    } else {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

fn tempdir_in(dir: &Path) -> std::io::Result<PathBuf> {
    let d = dir.join(format!(".extract-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

fn tail(stdout: &[u8], stderr: &[u8]) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(stdout),
        String::from_utf8_lossy(stderr)
    );
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}
