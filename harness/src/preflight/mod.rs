//! Config-compatibility preflight, before any container starts: production's broker settings (the
//! stack's `server_properties` overlay and its `config`) against the definitions each release of
//! the upgrade path gives itself (`defs`, extracted from its jars). Findings: keys the target does
//! not know (removed since the source, or unknown to both: a typo or a plugin's key), keys the
//! target calls deprecated, values naming classes the target's classpath lacks, and defaults that
//! change for keys production leaves alone. Plain functions over the definitions; no I/O here.

pub mod cli;
pub mod defs;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::components::kafka::{self, Origin};
use crate::scenario::{Component, Scenario, Stack, Step, Version};
pub use defs::{ConfigDefs, DefsError, KeyDef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The setting will not work on the target: the broker ignores it or fails to start.
    Error,
    /// Works today, but deserves a look before the upgrade (deprecated, unknown to every release).
    Warning,
    /// Worth knowing: a default that changes, a setting that became the default.
    Info,
}

impl Severity {
    fn word(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The source release knew the key, the target does not: the broker ignores it silently.
    RemovedKey,
    /// Neither the source nor the target knows the key: a typo, or a key only a plugin reads.
    UnknownKey,
    /// The target's documentation calls the key deprecated.
    DeprecatedKey,
    /// The value names a class the source has and the target's classpath lacks.
    MissingClass,
    /// The value does not parse as the key's type (a number, a boolean): the broker refuses to
    /// start (e.g. a `# comment` after the value, which Java properties keep as part of it).
    InvalidValue,
    /// The value names a class that is not part of Kafka in any release checked.
    ExternalClass,
    /// A key production leaves alone whose default changes between source and target.
    DefaultChanged,
    /// Production sets the key to what is the target's default anyway.
    NowDefault,
    /// Production sets the key to the source's default, which the target changes.
    PinsOldDefault,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    pub severity: Severity,
    pub kind: FindingKind,
    pub key: String,
    /// Who set the key: `production` (the stack's server_properties), `stack_config`, `harness`
    /// (a key the copy must own, checked so the harness's own settings fit the target), or
    /// `harness_default` for defaults nobody set.
    pub origin: Origin,
    /// The release the finding is about.
    pub version: String,
    /// One sentence, naming the value unless the key holds a secret.
    pub message: String,
}

/// What the preflight found for one scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Preflight {
    /// The release production runs now (the stack's Kafka version).
    pub from: String,
    /// The releases the scenario's Kafka rolling upgrades go to, in order.
    pub to: Vec<String>,
    /// How many keys production (server_properties and the stack's `config`) sets.
    pub keys_checked: usize,
    pub findings: Vec<Finding>,
    /// Set when the definitions could not be read (e.g. no JDK): nothing was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// The Kafka releases a scenario upgrades to, in step order, without repeats or the source itself.
pub fn targets(s: &Scenario) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for step in &s.steps {
        if let Step::RollingUpgrade {
            component: Component::Kafka,
            to,
            ..
        } = step
        {
            if *to != s.stack.kafka.version && !out.contains(to) {
                out.push(*to);
            }
        }
    }
    out
}

/// Every release the preflight of `s` needs definitions of: the source, then the targets.
pub fn releases(s: &Scenario) -> Vec<Version> {
    std::iter::once(s.stack.kafka.version)
        .chain(targets(s))
        .collect()
}

/// Loads (extracting once, then from the cache) the definitions of every release of `s` and runs
/// the comparison.
pub fn run(s: &Scenario, progress: &crate::progress::Progress) -> Result<Preflight, DefsError> {
    let mut defs = BTreeMap::new();
    for v in releases(s) {
        defs.insert(v, defs::load(v, progress)?);
    }
    // A migrating scenario reaches its targets as a KRaft cluster: the harness's own keys are
    // those of KRaft nodes there (production's file is the same either way).
    Ok(check(&s.final_stack(), &targets(s), &defs))
}

/// The config preflight of a run: never stops it (a run that goes ahead shows what the findings
/// do); without Maven or a JDK the report says it was not done.
pub async fn for_run(scenario: &Scenario, progress: &crate::progress::Progress) -> Preflight {
    let (s, p) = (scenario.clone(), progress.clone());
    let result = tokio::task::spawn_blocking(move || run(&s, &p))
        .await
        .unwrap_or_else(|e| {
            Err(DefsError::Unreadable {
                version: scenario.stack.kafka.version,
                reason: e.to_string(),
            })
        });
    let p = result.unwrap_or_else(|e| Preflight::unavailable(scenario, e.to_string()));
    progress.say(format!("preflight: {}", p.headline()));
    for f in p.findings.iter().filter(|f| f.severity == Severity::Error) {
        progress.say(format!("  ERROR {}: {}", f.key, f.message));
    }
    p
}

impl Preflight {
    pub fn unavailable(s: &Scenario, reason: String) -> Self {
        Self {
            from: s.stack.kafka.version.to_string(),
            to: targets(s).iter().map(ToString::to_string).collect(),
            unavailable: Some(reason),
            ..Self::default()
        }
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// One line: what was compared and how many findings of each severity.
    pub fn headline(&self) -> String {
        let path = std::iter::once(format!("{} (now)", self.from))
            .chain(self.to.iter().cloned())
            .collect::<Vec<_>>()
            .join(" -> ");
        if let Some(why) = &self.unavailable {
            return format!("preflight not done ({path}): {}", first_line(why));
        }
        format!(
            "{} production key(s) against Kafka {path}: {} error(s), {} warning(s), {} info",
            self.keys_checked,
            self.count(Severity::Error),
            self.count(Severity::Warning),
            self.count(Severity::Info)
        )
    }

    /// The plan's section: the headline, then one line per finding, most severe first.
    pub fn render_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "preflight: {}", self.headline());
        for f in &self.findings {
            if f.message.starts_with(&f.key) {
                let _ = writeln!(o, "  {:<7} {}", f.severity.word(), f.message);
            } else {
                let _ = writeln!(o, "  {:<7} {}: {}", f.severity.word(), f.key, f.message);
            }
        }
        o
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

/// The settings a preflight judges.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Keys the user set, in the order applied (later wins), with who set them.
    pub user: Vec<(String, String, Origin)>,
    /// What the copy runs for the keys the harness owns.
    pub harness: BTreeMap<String, String>,
    /// Keys the harness owns, including those it removes.
    pub owned: BTreeSet<String>,
}

impl Settings {
    /// A stack's: its overlay and `config`, and the keys `components::kafka` owns.
    pub fn of_stack(stack: &Stack) -> Self {
        let rendered = kafka::server_properties(
            stack,
            crate::scenario::NodeId::Kafka(1),
            kafka::Mode::declared(stack),
            stack.kafka.version,
            0,
            None,
        );
        let harness: BTreeMap<String, String> = rendered
            .entries
            .into_iter()
            .filter(|(_, (_, o))| *o == Origin::Harness)
            .map(|(k, (v, _))| (k, v))
            .collect();
        let owned = harness
            .keys()
            .cloned()
            .chain(rendered.overridden.iter().map(|o| o.key.clone()))
            .collect();
        let user = stack
            .kafka
            .overlay
            .iter()
            .flat_map(|o| {
                o.entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone(), Origin::Production))
            })
            .chain(
                stack
                    .kafka
                    .config
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone(), Origin::StackConfig)),
            )
            .collect();
        Self {
            user,
            harness,
            owned,
        }
    }
}

/// The comparison for a stack: its settings against `defs` of the stack's release and of each of
/// `targets`.
pub fn check(
    stack: &Stack,
    targets: &[Version],
    defs: &BTreeMap<Version, ConfigDefs>,
) -> Preflight {
    check_settings(
        stack.kafka.version,
        targets,
        &Settings::of_stack(stack),
        defs,
    )
}

/// The comparison itself. `defs` must hold `from` and every one of `targets`.
pub fn check_settings(
    from: Version,
    targets: &[Version],
    settings: &Settings,
    defs: &BTreeMap<Version, ConfigDefs>,
) -> Preflight {
    let mut p = Preflight {
        from: from.to_string(),
        to: targets.iter().map(ToString::to_string).collect(),
        ..Preflight::default()
    };
    let Some(src) = defs.get(&from) else {
        p.unavailable = Some(format!("no definitions of Kafka {from}"));
        return p;
    };
    // Production's value wherever production sets one, also where the copy runs the harness's.
    let mut set: BTreeMap<String, (String, Origin)> = settings
        .harness
        .iter()
        .map(|(k, v)| (k.clone(), (v.clone(), Origin::Harness)))
        .collect();
    for (k, v, origin) in &settings.user {
        set.insert(k.clone(), (v.clone(), *origin));
    }
    let owned = &settings.owned;
    p.keys_checked = set.values().filter(|(_, o)| *o != Origin::Harness).count();

    let mut findings = Vec::new();
    let mut push = |severity: Severity,
                    kind: FindingKind,
                    key: &str,
                    origin: Origin,
                    version: Version,
                    message: String| {
        // A key the copy owns is not production's problem in the rehearsal: say so, softly.
        let (severity, message) = if origin == Origin::Harness {
            // The copy's own settings: a finding here is the harness's to fix, not production's.
            (
                Severity::Warning.max(severity),
                format!("the harness's own setting: {message}"),
            )
        } else if owned.contains(key) {
            (
                Severity::Info.max(severity),
                format!("{message} (the harness sets its own value in the copy)"),
            )
        } else {
            (severity, message)
        };
        findings.push(Finding {
            severity,
            kind,
            key: key.to_owned(),
            origin,
            version: version.to_string(),
            message,
        });
    };

    for (key, (value, origin)) in &set {
        let origin = *origin;
        let in_src = lookup(src, key);
        let shown = shown_value(key, value, in_src.and_then(|k| k.def));
        let mut reported_unknown = false;
        let mut reported_deprecated = in_src
            .and_then(|k| k.def)
            .and_then(|d| d.deprecated.as_ref())
            .is_some();
        if in_src.is_none() {
            let hint = suggest(key, src)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            let also = if targets.is_empty() {
                String::new()
            } else {
                " or to any target".to_owned()
            };
            push(
                Severity::Warning,
                FindingKind::UnknownKey,
                key,
                origin,
                from,
                format!("{key}={shown} is unknown to Kafka {from}{also}: a typo, or a key only a plugin reads; the broker ignores it{hint}"),
            );
            reported_unknown = true;
        }
        if let Some(d) = in_src.and_then(|k| k.def) {
            if let Some(why) = &d.deprecated {
                push(
                    Severity::Warning,
                    FindingKind::DeprecatedKey,
                    key,
                    origin,
                    from,
                    format!("deprecated already in Kafka {from}: {why}"),
                );
            }
        }
        for &to in targets {
            let Some(dst) = defs.get(&to) else { continue };
            let in_dst = lookup(dst, key);
            match (in_src, in_dst) {
                (Some(_), None) => push(
                    Severity::Error,
                    FindingKind::RemovedKey,
                    key,
                    origin,
                    to,
                    format!("{key}={shown} is gone in Kafka {to} (Kafka {from} knew it): the broker ignores it silently"),
                ),
                (None, None) => {
                    if !reported_unknown {
                        push(
                            Severity::Warning,
                            FindingKind::UnknownKey,
                            key,
                            origin,
                            to,
                            format!("{key}={shown} is unknown to Kafka {to}"),
                        );
                    }
                }
                (_, Some(k)) => {
                    let why = k.def.and_then(|d| d.deprecated.as_ref());
                    if let (Some(why), false) = (why, reported_deprecated) {
                        push(
                            Severity::Warning,
                            FindingKind::DeprecatedKey,
                            key,
                            origin,
                            to,
                            format!("deprecated in Kafka {to}: {why}"),
                        );
                        reported_deprecated = true;
                    }
                }
            }
            if in_src.is_none() && in_dst.is_none() {
                reported_unknown = true;
            }
        }
        // A value of the wrong type stops the broker: judged by the first release that knows the key.
        let typed = std::iter::once((from, in_src))
            .chain(
                targets
                    .iter()
                    .filter_map(|t| defs.get(t).map(|d| (*t, lookup(d, key)))),
            )
            .find_map(|(v, k)| k.and_then(|k| k.def).map(|d| (v, d)));
        if let Some((v, d)) = typed {
            if let Some(expected) = type_error(value, &d.kind) {
                push(
                    Severity::Error,
                    FindingKind::InvalidValue,
                    key,
                    origin,
                    v,
                    format!("{key}={shown} is not {expected} (Kafka {v} reads it as {}): the broker refuses to start (ConfigException)", d.kind),
                );
            }
        }
        // Class names in the value: the broker loads them at start-up.
        let def = in_src.and_then(|k| k.def);
        for class in class_names(key, value, def) {
            let in_src_cp = src.classes.contains(&class);
            let mut missing_everywhere = !in_src_cp;
            for &to in targets {
                let Some(dst) = defs.get(&to) else { continue };
                if dst.classes.contains(&class) {
                    missing_everywhere = false;
                } else if in_src_cp {
                    push(
                        Severity::Error,
                        FindingKind::MissingClass,
                        key,
                        origin,
                        to,
                        format!("names class {class}, which Kafka {from} has and Kafka {to} does not: the broker will not start (ClassNotFoundException)"),
                    );
                }
            }
            if missing_everywhere {
                push(
                    Severity::Warning,
                    FindingKind::ExternalClass,
                    key,
                    origin,
                    from,
                    format!("names class {class}, which is not part of Kafka {}: it must come from production's own jars, which the copy's image lacks; check that its build supports the target", releases_named(from, targets)),
                );
            }
        }
    }

    // Defaults that move under production's feet, source against the last target.
    if let Some(&last) = targets.last() {
        if let Some(dst) = defs.get(&last) {
            for (key, d_src) in &src.configs {
                let Some(d_dst) = dst.configs.get(key) else {
                    continue;
                };
                if d_src.internal || d_dst.internal || same_default(d_src, d_dst) {
                    continue;
                }
                let old = shown_default(d_src);
                let new = shown_default(d_dst);
                match set.get(key) {
                    None => push(
                        Severity::Info,
                        FindingKind::DefaultChanged,
                        key,
                        Origin::HarnessDefault,
                        last,
                        format!("not set; its default changes from {old} (Kafka {from}) to {new} (Kafka {last})"),
                    ),
                    Some((value, origin)) if *origin != Origin::Harness => {
                        if same_value(value, d_dst.default.as_deref(), d_dst) {
                            push(
                                Severity::Info,
                                FindingKind::NowDefault,
                                key,
                                *origin,
                                last,
                                format!("production's value {value} is Kafka {last}'s default (it was {old}): the line can go after the upgrade"),
                            );
                        } else if same_value(value, d_src.default.as_deref(), d_src) {
                            push(
                                Severity::Info,
                                FindingKind::PinsOldDefault,
                                key,
                                *origin,
                                last,
                                format!("production pins Kafka {from}'s default {old}; Kafka {last}'s default is {new}"),
                            );
                        }
                    }
                    Some(_) => {}
                }
            }
        }
    }
    findings.sort_by(|a, b| {
        (a.severity, &a.key, a.kind, &a.version).cmp(&(b.severity, &b.key, b.kind, &b.version))
    });
    findings.dedup();
    p.findings = findings;
    p
}

fn shown_default(d: &KeyDef) -> String {
    match d.default.as_deref() {
        None => "(none)".to_owned(),
        Some("") => "\"\"".to_owned(),
        Some(v) => v.to_owned(),
    }
}

fn releases_named(from: Version, targets: &[Version]) -> String {
    let mut all: Vec<String> = std::iter::once(from)
        .chain(targets.iter().copied())
        .map(|v| v.to_string())
        .collect();
    all.dedup();
    all.join(" or ")
}

/// How a release knows a key.
#[derive(Debug, Clone, Copy)]
pub struct Known<'d> {
    /// The key of the ConfigDef (or of the plugin) it resolves to.
    pub key: &'d str,
    /// Its definition, for ConfigDef keys.
    pub def: Option<&'d KeyDef>,
    /// The plugin class reading it, for keys outside the ConfigDef.
    pub plugin: Option<&'d str>,
}

/// What a release knows of a broker key, if anything. Per-listener keys
/// (`listener.name.<listener>.<key>`, also `listener.name.<listener>.<mechanism>.<key>` for SASL)
/// resolve to the key they prefix; keys Kafka's own plugins read (the ACL authorizer's
/// `super.users`, its `authorizer.` prefix) and keys under a plugin's configured prefix (the
/// `*.impl.prefix` settings, e.g. `rsm.config.`) count as known.
pub fn lookup<'d>(defs: &'d ConfigDefs, key: &str) -> Option<Known<'d>> {
    let def = |k: &str| {
        defs.configs.get_key_value(k).map(|(k, d)| Known {
            key: k.as_str(),
            def: Some(d),
            plugin: None,
        })
    };
    if let Some(k) = def(key) {
        return Some(k);
    }
    if let Some(rest) = key.strip_prefix("listener.name.") {
        let (_, rest) = rest.split_once('.')?;
        return def(rest).or_else(|| rest.split_once('.').and_then(|(_, r)| def(r)));
    }
    if let Some((k, class)) = defs
        .plugin_keys
        .iter()
        .find(|(k, _)| *k == key || (k.ends_with('.') && key.starts_with(k.as_str())))
    {
        return Some(Known {
            key: k.as_str(),
            def: None,
            plugin: Some(class.as_str()),
        });
    }
    defs.configs
        .iter()
        .filter(|(k, _)| k.ends_with(".impl.prefix"))
        .find(|(_, d)| {
            d.default
                .as_deref()
                .is_some_and(|p| !p.is_empty() && p != "null" && key.starts_with(p))
        })
        .map(|(k, d)| Known {
            key: k.as_str(),
            def: Some(d),
            plugin: None,
        })
}

fn suggest<'d>(key: &str, defs: &'d ConfigDefs) -> Option<&'d str> {
    defs.configs
        .keys()
        .map(|c| (strsim::jaro_winkler(key, c), c.as_str()))
        .filter(|(score, _)| *score >= 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Whether a key holds a secret, by its type or, for keys no release knows, by its name.
fn secret(key: &str, def: Option<&KeyDef>) -> bool {
    def.map_or_else(
        || {
            let k = key.to_ascii_lowercase();
            [
                "passw",
                "pwd",
                "secret",
                "jaas",
                "token",
                "credential",
                "key.password",
            ]
            .iter()
            .any(|w| k.contains(w))
        },
        |d| d.kind == "password",
    )
}

fn shown_value(key: &str, value: &str, def: Option<&KeyDef>) -> String {
    if secret(key, def) {
        "[hidden]".to_owned()
    } else {
        value.to_owned()
    }
}

/// The class names a value holds: a class-typed value, every class-like item of a list, the login
/// module that opens a JAAS configuration, or a string that reads as a fully qualified class name
/// (`authorizer.class.name` is a string in every release).
pub fn class_names(key: &str, value: &str, def: Option<&KeyDef>) -> Vec<String> {
    if key.ends_with("sasl.jaas.config") {
        return value
            .split_whitespace()
            .next()
            .filter(|t| looks_like_class(t))
            .map(|t| vec![t.to_owned()])
            .unwrap_or_default();
    }
    if secret(key, def) {
        return Vec::new();
    }
    value
        .split(',')
        .map(str::trim)
        .filter(|t| looks_like_class(t))
        .map(str::to_owned)
        .collect()
}

/// `a.b.Name` (or `a.b.Outer$Inner`): identifier segments, a lower-case package, a capitalised name.
fn looks_like_class(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() < 2 {
        return false;
    }
    let ident = |p: &str| {
        !p.is_empty()
            && p.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
    };
    parts.iter().all(|p| ident(p))
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[parts.len() - 1]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
}

/// What a value should have been, when it does not parse as ConfigDef's `kind` does (after trimming).
fn type_error(value: &str, kind: &str) -> Option<&'static str> {
    let v = value.trim();
    let ok = match kind {
        "int" => v.parse::<i32>().is_ok(),
        "short" => v.parse::<i16>().is_ok(),
        "long" => v.parse::<i64>().is_ok(),
        "double" => v.parse::<f64>().is_ok(),
        "boolean" => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        _ => return None,
    };
    (!ok).then_some(match kind {
        "boolean" => "true or false",
        "double" => "a number",
        _ => "a whole number",
    })
}

fn items(v: &str) -> BTreeSet<&str> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Defaults equal for what the broker does: lists compare as sets (3.9 reordered some).
fn same_default(a: &KeyDef, b: &KeyDef) -> bool {
    match (a.default.as_deref(), b.default.as_deref()) {
        (Some(x), Some(y)) if a.kind == "list" && b.kind == "list" => items(x) == items(y),
        (x, y) => x == y,
    }
}

fn same_value(value: &str, default: Option<&str>, def: &KeyDef) -> bool {
    match default {
        Some(d) if def.kind == "list" => items(value) == items(d),
        Some(d) => value.trim().eq_ignore_ascii_case(d),
        None => false,
    }
}

#[cfg(test)]
mod tests;
