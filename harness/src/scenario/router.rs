//! The scenario's `canary_router:` section and its steps: their file form, their validated form,
//! and the conversion between them (with located errors, like the rest of the loader).

use std::collections::BTreeSet;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::diagnostics::{did_you_mean, valid_name, Checker, KeyPath};
use super::model::{ConsumerSpec, PromoteFrom, RouterSpec, Topic, ADMIN_USER};

/// Canary routing of a consumer service, as the seed system does it: a router (a transactional
/// consume-transform-produce loop the harness runs) reads `topic` and writes each record to
/// `<topic>-legacy` or `<topic>-canary`, by comparing a rate in [0,1) drawn from the record's key
/// (from its partition and offset when it has none) with the threshold. The legacy and the new
/// version of the service are two consumers of `load.consumers`, one per routed topic.
/// `set_threshold` steps raise the share, `promote` moves the new version onto `topic` itself.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryRouterSerde {
    /// Shown in progress lines and reports; also the router's consumer group and, with the run id,
    /// its `transactional.id`. Default `router`.
    #[serde(default)]
    pub name: Option<String>,
    /// The original topic (declared under `topics`). `<topic>-legacy` and `<topic>-canary` are
    /// created like it unless declared.
    pub topic: String,
    /// The stack user the router runs as: Read on `topic` and its group, Write on both routed
    /// topics, Write and Describe on its transactional id (`transactional_id:` ACL).
    pub user: String,
    /// Share of records routed to the new version when the run starts, from 0.0 to 1.0.
    pub threshold: f64,
    /// A consumer of `load.consumers` reading `<topic>-legacy`: the legacy version.
    pub legacy: String,
    /// A consumer of `load.consumers` reading `<topic>-canary`: the new version.
    pub canary: String,
    /// `true` (default): exactly-once through Kafka transactions (records and the router's
    /// consumed offsets committed together). `false`: a plain loop that commits its offsets
    /// every `commit_interval` after the records are acknowledged (at-least-once): the planted
    /// defect a `kill_router` step turns into duplicates.
    #[serde(default)]
    pub transactional: Option<bool>,
    /// How long a transaction (or, without transactions, an offset commit) collects records,
    /// e.g. "100ms" (default; "1s" without transactions).
    #[serde(default)]
    pub commit_interval: Option<String>,
    /// How far the share routed to the new version in a phase may lie from its threshold,
    /// e.g. 0.05 (default).
    #[serde(default)]
    pub share_tolerance: Option<f64>,
}

/// `set_threshold`: pause the router, wait until both services have handled everything routed,
/// change the threshold, resume.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetThresholdSerde {
    /// The new share of records for the new version, from 0.0 to 1.0.
    pub threshold: f64,
    /// How long the services may take to drain the routed topics, e.g. "60s" (default).
    #[serde(default)]
    pub drain_timeout: Option<String>,
}

/// `promote`: stop routing and move the new version onto the original topic.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteSerde {
    /// Where the new version starts reading the original topic: `translated` (default: per
    /// partition, the first offset the router had not routed), or the planted defects `latest`
    /// (the end of each partition: records produced meanwhile are skipped) and `earliest` (the
    /// beginning: everything routed is handled again).
    #[serde(default)]
    pub from: Option<String>,
    /// How long the services may take to drain the routed topics, e.g. "60s" (default).
    #[serde(default)]
    pub drain_timeout: Option<String>,
}

/// `kill_router` / `restart_router`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterFaultSerde {
    /// How long the router stays down before its new instance starts, e.g. "2s" (default 0s).
    #[serde(default)]
    pub down_for: Option<String>,
}

pub(super) fn router_section(
    c: &mut Checker,
    raw: Option<CanaryRouterSerde>,
    topics: &[Topic],
    consumers: &[ConsumerSpec],
    users: &[&str],
) -> Option<RouterSpec> {
    let raw = raw?;
    let path = KeyPath::root().key("canary_router");
    let name = raw.name.unwrap_or_else(|| "router".to_owned());
    if !valid_name(&name) {
        c.error(
            &path.key("name"),
            format!("`{name}` is not a valid name; use letters, digits, '.', '_' and '-'"),
        );
    }
    let legacy_topic = format!("{}-legacy", raw.topic);
    let canary_topic = format!("{}-canary", raw.topic);
    if !topics.iter().any(|t| t.name == raw.topic) {
        let hint = did_you_mean(&raw.topic, topics.iter().map(|t| t.name.as_str()))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        c.error(
            &path.key("topic"),
            format!("topic `{}` is not declared under `topics`{hint}", raw.topic),
        );
    }
    let partitions = |name: &str| topics.iter().find(|t| t.name == name).map(|t| t.partitions);
    for routed in [&legacy_topic, &canary_topic] {
        if let (Some(n), Some(m)) = (partitions(&raw.topic), partitions(routed)) {
            if m < n {
                c.error(
                    &path.key("topic"),
                    format!("`{routed}` has {m} partition(s) and `{}` {n}: the router keeps each record's partition, so a routed topic needs at least as many", raw.topic),
                );
            }
        }
    }
    if !users.contains(&raw.user.as_str()) {
        let hint = did_you_mean(&raw.user, users.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        c.error(
            &path.key("user"),
            format!(
                "unknown user `{}`: the stack declares {}{hint}",
                raw.user,
                users.join(", ")
            ),
        );
    } else if raw.user == ADMIN_USER {
        c.error(
            &path.key("user"),
            "the router runs as a service user of the stack (with its ACLs), not as `admin`",
        );
    }
    threshold(c, &path.key("threshold"), raw.threshold);
    for (key, consumer, topic) in [
        ("legacy", &raw.legacy, &legacy_topic),
        ("canary", &raw.canary, &canary_topic),
    ] {
        match consumers.iter().find(|k| &k.name == consumer) {
            None => {
                let hint = did_you_mean(consumer, consumers.iter().map(|k| k.name.as_str()))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                c.error(
                    &path.key(key),
                    format!("no consumer named `{consumer}` under `load.consumers`{hint}"),
                );
            }
            Some(k) if &k.topic != topic => c.error(
                &path.key(key),
                format!(
                    "consumer `{consumer}` reads `{}`; the {key} version reads `{topic}`, where the router writes its records",
                    k.topic
                ),
            ),
            Some(_) => {}
        }
    }
    if raw.legacy == raw.canary {
        c.error(
            &path.key("canary"),
            "the legacy and the new version are two different consumers",
        );
    }
    let transactional = raw.transactional.unwrap_or(true);
    let default_interval = if transactional {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let commit_interval = c.duration(
        &path.key("commit_interval"),
        raw.commit_interval.as_deref(),
        default_interval,
    );
    if commit_interval.is_zero() || commit_interval > Duration::from_secs(30) {
        c.error(
            &path.key("commit_interval"),
            "a commit interval lies between 1ms and 30s",
        );
    }
    let share_tolerance = raw.share_tolerance.unwrap_or(0.05);
    if !(0.0..=1.0).contains(&share_tolerance) {
        c.error(
            &path.key("share_tolerance"),
            format!("{share_tolerance} is not a share; expected 0.0 to 1.0, e.g. 0.05"),
        );
    }
    Some(RouterSpec {
        name,
        topic: raw.topic,
        legacy_topic,
        canary_topic,
        user: raw.user,
        threshold: raw.threshold,
        legacy: raw.legacy,
        canary: raw.canary,
        transactional,
        commit_interval,
        share_tolerance,
    })
}

/// Declares `<topic>-legacy` and `<topic>-canary` like the router's original topic unless the
/// scenario declares them itself, before the load section names them.
pub(super) fn add_routed_topics(
    raw: Option<&CanaryRouterSerde>,
    topics: &mut Vec<Topic>,
    names: &mut BTreeSet<String>,
) {
    let Some(raw) = raw else { return };
    let Some(source) = topics.iter().find(|t| t.name == raw.topic).cloned() else {
        return;
    };
    // The routed topics have the original's shape, so a record keeps its partition.
    for routed in [
        format!("{}-legacy", raw.topic),
        format!("{}-canary", raw.topic),
    ] {
        if names.insert(routed.clone()) {
            topics.push(Topic {
                name: routed,
                ..source.clone()
            });
        }
    }
}

/// Tracks the router steps in order: they need a router, and nothing routes after a promotion.
#[derive(Debug, Default)]
pub(super) struct RouterSteps {
    promoted_at: Option<usize>,
}

impl RouterSteps {
    /// Checks a router step (`kind` is its key) at 0-based `index`; `promote` marks the promotion.
    pub(super) fn check(
        &mut self,
        c: &mut Checker,
        path: &KeyPath,
        kind: &str,
        index: usize,
        router: Option<&RouterSpec>,
    ) {
        if router.is_none() {
            c.error(
                path,
                format!("`{kind}` needs a `canary_router:` section in the scenario"),
            );
            return;
        }
        if let Some(at) = self.promoted_at {
            c.error(
                path,
                format!(
                    "step {} promoted the new version and stopped the router; `{kind}` has no router to act on",
                    at + 1
                ),
            );
        }
        if kind == "promote" {
            self.promoted_at.get_or_insert(index);
        }
    }
}

pub(super) fn threshold(c: &mut Checker, path: &KeyPath, t: f64) -> f64 {
    if !(0.0..=1.0).contains(&t) {
        c.error(path, format!("{t} is not a share; expected 0.0 to 1.0"));
    }
    t
}

pub(super) fn promote_from(c: &mut Checker, path: &KeyPath, raw: Option<&str>) -> PromoteFrom {
    match raw {
        None | Some("translated") => PromoteFrom::Translated,
        Some("latest") => PromoteFrom::Latest,
        Some("earliest") => PromoteFrom::Earliest,
        Some(other) => {
            c.error(
                path,
                format!(
                    "`{other}` is not a start position; expected translated, latest or earliest"
                ),
            );
            PromoteFrom::Translated
        }
    }
}

/// Routed topics may not be read by consumers other than the two versions (their records are the
/// service's, judged together).
pub(super) fn routed_readers(c: &mut Checker, router: &RouterSpec, consumers: &[ConsumerSpec]) {
    for (i, k) in consumers.iter().enumerate() {
        let routed = k.topic == router.legacy_topic || k.topic == router.canary_topic;
        if routed && k.name != router.legacy && k.name != router.canary {
            c.error(
                &KeyPath::root().key("load").key("consumers").index(i).key("topic"),
                format!(
                    "`{}` is written by router `{}`; only its `legacy` and `canary` consumers read it",
                    k.topic, router.name
                ),
            );
        }
    }
}
