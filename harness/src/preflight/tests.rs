//! The comparison on excerpts of real dumps (`testdata/`, cut from the output of ConfigDefDump.java
//! for Kafka 3.0.2, 3.9.1 and 4.1.1).

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::scenario::load_stack;

fn defs() -> BTreeMap<Version, ConfigDefs> {
    [
        ("3.0.2", include_str!("testdata/kafka-3.0.2.excerpt.json")),
        ("3.9.1", include_str!("testdata/kafka-3.9.1.excerpt.json")),
        ("4.1.1", include_str!("testdata/kafka-4.1.1.excerpt.json")),
    ]
    .into_iter()
    .map(|(v, text)| {
        (
            v.parse().expect("test fixture"),
            ConfigDefs::parse(text).expect("test fixture"),
        )
    })
    .collect()
}

/// A stack on `version` whose production file holds `props` and whose `config` holds `config`.
fn stack(dir: &Path, version: &str, props: &str, config: &str) -> Stack {
    std::fs::write(dir.join("server.properties"), props).expect("test fixture");
    let yaml = format!(
        "name: t\nzookeeper: {{ version: \"3.8.4\" }}\nkafka:\n  version: \"{version}\"\n  server_properties: server.properties\n  config: {{ {config} }}\n"
    );
    let path = dir.join("stack.yaml");
    std::fs::write(&path, yaml).expect("test fixture");
    load_stack(&path).expect("test fixture")
}

fn v(s: &str) -> Version {
    s.parse().expect("test fixture")
}

fn find<'a>(p: &'a Preflight, key: &str, kind: FindingKind) -> Vec<&'a Finding> {
    p.findings
        .iter()
        .filter(|f| f.key == key && f.kind == kind)
        .collect()
}

#[test]
fn a_key_the_target_removed_is_an_error_naming_both_releases() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(
        dir.path(),
        "3.0.2",
        "zookeeper.sync.time.ms=2000\nnum.network.threads=3\n",
        "",
    );
    let p = check(&s, &[v("3.9.1")], &defs());
    let f = find(&p, "zookeeper.sync.time.ms", FindingKind::RemovedKey);
    assert_eq!(f.len(), 1, "{p:#?}");
    assert_eq!(f[0].severity, Severity::Error);
    assert_eq!(f[0].version, "3.9.1");
    assert_eq!(f[0].origin, Origin::Production);
    assert!(
        f[0].message.contains("Kafka 3.0.2 knew it"),
        "{}",
        f[0].message
    );
    // a key every release knows yields nothing
    assert!(p.findings.iter().all(|f| f.key != "num.network.threads"));
    assert_eq!(p.count(Severity::Error), 1, "{p:#?}");
    assert_eq!(p.keys_checked, 2);
}

#[test]
fn a_key_no_release_knows_is_a_typo_warning_with_a_suggestion() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(dir.path(), "3.9.1", "num.netwrk.threads=3\n", "");
    let p = check(&s, &[v("4.1.1")], &defs());
    let f = find(&p, "num.netwrk.threads", FindingKind::UnknownKey);
    assert_eq!(f.len(), 1, "reported once, not per release: {p:#?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].message.contains("did you mean `num.network.threads`"),
        "{}",
        f[0].message
    );
    assert!(find(&p, "num.netwrk.threads", FindingKind::RemovedKey).is_empty());
}

#[test]
fn deprecation_is_reported_once_from_the_first_release_that_says_so() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(dir.path(), "3.0.2", "offsets.commit.required.acks=-1\n", "");
    let p = check(&s, &[v("3.9.1"), v("4.1.1")], &defs());
    let dep = find(
        &p,
        "offsets.commit.required.acks",
        FindingKind::DeprecatedKey,
    );
    assert_eq!(dep.len(), 1, "{p:#?}");
    assert_eq!(dep[0].version, "3.9.1");
    assert!(dep[0].message.to_lowercase().contains("deprecated"));
    let gone = find(&p, "offsets.commit.required.acks", FindingKind::RemovedKey);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].version, "4.1.1");
}

#[test]
fn a_class_the_target_lacks_is_an_error_and_a_foreign_class_a_warning() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(
        dir.path(),
        "3.9.1",
        "sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerLoginCallbackHandler\nmetric.reporters=org.apache.kafka.common.metrics.JmxReporter,com.example.metrics.OurReporter\n",
        "",
    );
    let p = check(&s, &[v("4.1.1")], &defs());
    let missing = find(
        &p,
        "sasl.login.callback.handler.class",
        FindingKind::MissingClass,
    );
    assert_eq!(missing.len(), 1, "{p:#?}");
    assert_eq!(missing[0].severity, Severity::Error);
    assert!(missing[0].message.contains("ClassNotFoundException"));
    let foreign = find(&p, "metric.reporters", FindingKind::ExternalClass);
    assert_eq!(foreign.len(), 1, "JmxReporter is Kafka's own: {p:#?}");
    assert!(foreign[0]
        .message
        .contains("com.example.metrics.OurReporter"));
    assert!(find(&p, "metric.reporters", FindingKind::MissingClass).is_empty());
}

#[test]
fn keys_the_harness_owns_are_reported_as_such_not_as_production_errors() {
    let dir = tempfile::tempdir().expect("test fixture");
    // zookeeper.connect and the ACL authorizer are gone in 4.x, but the copy sets its own.
    let s = stack(
        dir.path(),
        "3.9.1",
        "zookeeper.connect=zk-1.prod:2181/kafka\nauthorizer.class.name=kafka.security.authorizer.AclAuthorizer\n",
        "",
    );
    let p = check(&s, &[v("4.1.1")], &defs());
    for key in ["zookeeper.connect", "authorizer.class.name"] {
        let fs: Vec<_> = p.findings.iter().filter(|f| f.key == key).collect();
        assert!(!fs.is_empty(), "{key}: {p:#?}");
        for f in fs {
            assert_eq!(f.severity, Severity::Info, "{f:?}");
            assert!(
                f.message.contains("the harness sets its own value"),
                "{f:?}"
            );
        }
    }
    // the harness's own SCRAM settings are known everywhere: nothing about them
    assert!(p
        .findings
        .iter()
        .all(|f| f.key != "sasl.enabled.mechanisms"));
}

#[test]
fn defaults_that_change_are_info_and_reordered_lists_are_not_a_change() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(dir.path(), "3.0.2", "log.retention.hours=168\n", "");
    let p = check(&s, &[v("3.9.1")], &defs());
    let ibp = find(
        &p,
        "inter.broker.protocol.version",
        FindingKind::DefaultChanged,
    );
    assert_eq!(ibp.len(), 1, "{p:#?}");
    assert!(
        ibp[0].message.contains("3.0-IV1") && ibp[0].message.contains("3.9-IV0"),
        "{}",
        ibp[0].message
    );
    assert_eq!(ibp[0].severity, Severity::Info);
    // 3.9 lists the same protocols in another order: no finding, and it is harness-owned anyway
    assert!(p
        .findings
        .iter()
        .all(|f| f.key != "listener.security.protocol.map"));
}

#[test]
fn production_values_that_became_the_default_or_pin_the_old_one() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(
        dir.path(),
        "3.0.2",
        "metadata.max.retention.bytes=104857600\n",
        "",
    );
    let p = check(&s, &[v("3.9.1")], &defs());
    assert_eq!(
        find(&p, "metadata.max.retention.bytes", FindingKind::NowDefault).len(),
        1,
        "{p:#?}"
    );
    let s = stack(dir.path(), "3.0.2", "metadata.max.retention.bytes=-1\n", "");
    let p = check(&s, &[v("3.9.1")], &defs());
    assert_eq!(
        find(
            &p,
            "metadata.max.retention.bytes",
            FindingKind::PinsOldDefault
        )
        .len(),
        1,
        "{p:#?}"
    );
}

#[test]
fn secrets_never_appear_and_jaas_login_modules_are_checked() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(
        dir.path(),
        "3.9.1",
        "ssl.keystore.passwrd=hunter2\nlistener.name.internal.scram-sha-512.sasl.jaas.config=com.example.GoneLoginModule required password=\"hunter2\";\n",
        "",
    );
    let p = check(&s, &[v("4.1.1")], &defs());
    let text = format!("{p:?}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(find(&p, "ssl.keystore.passwrd", FindingKind::UnknownKey).len() == 1);
    // the per-listener JAAS key resolves to sasl.jaas.config: known; its module is foreign
    let jaas = "listener.name.internal.scram-sha-512.sasl.jaas.config";
    assert!(find(&p, jaas, FindingKind::UnknownKey).is_empty(), "{p:#?}");
    assert_eq!(
        find(&p, jaas, FindingKind::ExternalClass).len(),
        1,
        "{p:#?}"
    );
}

#[test]
fn stack_config_keys_are_checked_and_named_as_such() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(dir.path(), "3.0.2", "", "zookeeper.sync.time.ms: 2000");
    let p = check(&s, &[v("3.9.1")], &defs());
    let f = find(&p, "zookeeper.sync.time.ms", FindingKind::RemovedKey);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].origin, Origin::StackConfig);
}

#[test]
fn plugin_prefixed_and_per_listener_keys_resolve() {
    let d = defs();
    let d391 = &d[&v("3.9.1")];
    assert_eq!(
        lookup(d391, "listener.name.internal.sasl.enabled.mechanisms").map(|k| k.key),
        Some("sasl.enabled.mechanisms")
    );
    assert_eq!(
        lookup(d391, "rsm.config.bucket").map(|k| k.key),
        Some("remote.log.storage.manager.impl.prefix")
    );
    assert!(lookup(d391, "listener.name.internal.no.such.key").is_none());
    assert!(lookup(&d[&v("3.0.2")], "rsm.config.bucket").is_none());
    // read by the ACL authorizer, not by KafkaConfig
    let su = lookup(d391, "super.users").expect("test fixture");
    assert_eq!(su.plugin, Some("kafka.security.authorizer.AclAuthorizer"));
    assert!(lookup(d391, "authorizer.zookeeper.url").is_some());
    assert!(lookup(&d[&v("4.1.1")], "authorizer.zookeeper.url").is_none());
}

#[test]
fn class_names_are_told_from_hosts_and_plain_words() {
    assert_eq!(
        class_names(
            "authorizer.class.name",
            "kafka.security.authorizer.AclAuthorizer",
            None
        ),
        vec!["kafka.security.authorizer.AclAuthorizer"]
    );
    assert!(class_names("zookeeper.connect", "zk1.example.com:2181", None).is_empty());
    assert!(class_names("super.users", "User:admin;User:Kafka.Admin", None).is_empty());
    assert!(class_names("log.message.format.version", "2.8", None).is_empty());
    assert_eq!(
        class_names("x", "a.b.Outer$Inner, c.D", None),
        vec!["a.b.Outer$Inner", "c.D"]
    );
}

#[test]
fn targets_are_the_kafka_upgrades_in_order_without_repeats() {
    let s = crate::scenario::load_scenario(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/rolling-upgrade-zk.yaml"
    )))
    .expect("test fixture");
    assert_eq!(targets(&s), vec![v("3.9.1")]);
    assert_eq!(releases(&s), vec![v("3.6.2"), v("3.9.1")]);
}

#[test]
fn a_value_of_the_wrong_type_is_an_error_such_as_a_trailing_comment() {
    let dir = tempfile::tempdir().expect("test fixture");
    let s = stack(
        dir.path(),
        "3.9.1",
        "log.retention.hours=168  # one week\nnum.network.threads= 3 \n",
        "",
    );
    let p = check(&s, &[v("4.1.1")], &defs());
    let bad = find(&p, "log.retention.hours", FindingKind::InvalidValue);
    assert_eq!(bad.len(), 1, "{p:#?}");
    assert_eq!(bad[0].severity, Severity::Error);
    assert!(
        bad[0].message.contains("is not a whole number"),
        "{}",
        bad[0].message
    );
    assert!(
        find(&p, "num.network.threads", FindingKind::InvalidValue).is_empty(),
        "spaces are trimmed"
    );
}

#[test]
fn the_cached_format_matches_the_dumper() {
    assert!(
        defs::DUMPER_SOURCE.contains(&format!("static final int FORMAT = {};", defs::FORMAT)),
        "ConfigDefDump.FORMAT and defs::FORMAT must change together"
    );
}
