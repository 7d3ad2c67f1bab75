//! The CLI on input that needs no Docker: shipped files validate, broken files are refused with
//! exit code 2 and a message naming file:line:column and the key, plans and schemas are stable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn harness(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-harness"))
        .current_dir(root())
        .args(args)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock") // proves nothing is started
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_shipped_file_validates() {
    let o = harness(&["validate", "stacks", "scenarios"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ok  scenarios/smoke.yaml"), "{out}");
}

/// A stack and a scenario in a temporary folder, with `edit` applied to the scenario text.
fn broken(stack: &str, scenario: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("stack.yaml"), stack).expect("write");
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, scenario).expect("write");
    (dir, path)
}

const STACK: &str = "name: s\nzookeeper:\n  version: \"3.8.4\"\nkafka:\n  version: \"3.7.2\"\n  brokers: 3\nsecurity:\n  users:\n    - name: app\n";
const SCENARIO: &str = "name: t\nstack: stack.yaml\ntopics:\n  - name: t1\n    partitions: 3\n    replication_factor: 3\nsteps:\n  - produce: { topic: t1, user: app }\n";

fn refused(stack: &str, scenario: &str, command: &str) -> String {
    let (dir, path) = broken(stack, scenario);
    let o = harness(&[command, path.to_str().expect("utf-8 path")]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2, got {:?}: {}",
        o.status,
        stderr(&o)
    );
    stderr(&o).replace(&dir.path().display().to_string(), "DIR")
}

#[test]
fn the_baseline_is_valid() {
    let (_dir, path) = broken(STACK, SCENARIO);
    let o = harness(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn unknown_key_names_line_column_and_suggests() {
    let err = refused(
        STACK,
        &SCENARIO.replace("replication_factor", "replicaton_factor"),
        "validate",
    );
    assert!(
        err.contains("DIR/scenario.yaml:6:5: topics[0]: unknown field `replicaton_factor`"),
        "{err}"
    );
    assert!(err.contains("did you mean `replication_factor`?"), "{err}");
}

#[test]
fn wrong_type_is_named() {
    let err = refused(
        STACK,
        &SCENARIO.replace("partitions: 3", "partitions: three"),
        "validate",
    );
    assert!(err.contains("DIR/scenario.yaml:5:17: topics[0].partitions: invalid type: string \"three\", expected u32"), "{err}");
}

#[test]
fn unknown_component_in_a_step() {
    let scenario = format!("{SCENARIO}  - restart: {{ node: kafka-7 }}\n");
    let err = refused(STACK, &scenario, "validate");
    assert!(
        err.contains("DIR/scenario.yaml:9:22: steps[1].restart.node: unknown component `kafka-7`"),
        "{err}"
    );
    assert!(
        err.contains("zookeeper-1, kafka-1, kafka-2, kafka-3"),
        "{err}"
    );
}

#[test]
fn unknown_user_and_topic_in_a_step() {
    let err = refused(
        STACK,
        &SCENARIO
            .replace("user: app", "user: apq")
            .replace("topic: t1", "topic: t2"),
        "validate",
    );
    assert!(
        err.contains("steps[0].produce.user: unknown user `apq`"),
        "{err}"
    );
    assert!(err.contains("did you mean `app`?"), "{err}");
    assert!(
        err.contains("steps[0].produce.topic: topic `t2` is not declared"),
        "{err}"
    );
}

#[test]
fn unsupported_version_is_reported_in_the_stack_file() {
    let err = refused(&STACK.replace("3.7.2", "4.0.0"), SCENARIO, "validate");
    assert!(
        err.contains("DIR/stack.yaml:5:12: kafka.version: unsupported version \"4.0.0\""),
        "{err}"
    );
    let err = refused(&STACK.replace("3.7.2", "3.7"), SCENARIO, "validate");
    assert!(
        err.contains("kafka.version: `3.7` is not a release version"),
        "{err}"
    );
}

#[test]
fn replication_beyond_the_brokers() {
    let err = refused(
        &STACK.replace("brokers: 3", "brokers: 1"),
        SCENARIO,
        "validate",
    );
    assert!(err.contains("topics[0].replication_factor: replication factor 3 needs between 1 and the stack's 1 broker(s)"), "{err}");
}

#[test]
fn unknown_step_kind_suggests() {
    let err = refused(
        STACK,
        &SCENARIO.replace("- produce:", "- prodce:"),
        "validate",
    );
    assert!(
        err.contains("unknown field `prodce`") && err.contains("did you mean `produce`?"),
        "{err}"
    );
}

#[test]
fn run_and_plan_refuse_bad_input_before_touching_docker() {
    for cmd in ["run", "plan"] {
        let err = refused(STACK, &SCENARIO.replace("user: app", "user: nobody"), cmd);
        assert!(err.contains("invalid input: nothing was started"), "{err}");
        assert!(!err.contains("Docker"), "{cmd} reached for Docker: {err}");
    }
}

#[test]
fn missing_overlay_file_is_named() {
    let stack = STACK.replace(
        "  brokers: 3\n",
        "  brokers: 3\n  server_properties: prod/server.properties\n",
    );
    let err = refused(&stack, SCENARIO, "validate");
    assert!(
        err.contains("kafka.server_properties: cannot read DIR/prod/server.properties"),
        "{err}"
    );
}

#[test]
fn production_settings_that_cannot_fit_the_stack() {
    let (dir, path) = broken(
        &STACK.replace(
            "  brokers: 3\n",
            "  brokers: 1\n  server_properties: server.properties\n",
        ),
        &SCENARIO.replace("replication_factor: 3", "replication_factor: 1"),
    );
    std::fs::write(
        dir.path().join("server.properties"),
        "offsets.topic.replication.factor=3\n",
    )
    .expect("write");
    let o = harness(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains(
            "offsets.topic.replication.factor=3, which needs at least 3 brokers; the stack has 1"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_without_docker_fails_and_says_how_to_start_one() {
    let o = harness(&[
        "run",
        "scenarios/smoke.yaml",
        "--report-dir",
        "target/no-docker",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(
        err.contains("no Docker engine answers") && err.contains("dockerd"),
        "{err}"
    );
}

#[test]
fn committed_schemas_match_the_types() {
    for (dir, name, schema) in kafka_harness::schemas() {
        let committed =
            std::fs::read_to_string(root().join(dir).join(name)).expect("schema committed");
        let generated = serde_json::to_string_pretty(&schema).expect("json") + "\n";
        assert!(
            committed == generated,
            "{dir}/{name} is stale: run `cargo run -- schema`"
        );
    }
}

#[test]
fn plan_of_a_scenario_with_load_and_a_planted_defect() {
    let o = harness(&["plan", "scenarios/negative-unclean-loss.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!(String::from_utf8_lossy(&o.stdout));
}

#[test]
fn expect_must_name_a_check_the_scenario_runs() {
    let scenario = format!("{SCENARIO}checks:\n  no_loss: true\nexpect:\n  fail: [no_duplicate]\n");
    let err = refused(STACK, &scenario, "validate");
    assert!(
        err.contains(
            "expect.fail[0]: `no_duplicate` is not among this scenario's checks (no_loss)"
        ),
        "{err}"
    );
}

#[test]
fn load_references_are_checked() {
    let scenario = SCENARIO.replace(
        "steps:\n",
        "load:\n  producers:\n    - { name: w, topic: t1, user: app, rate: 10, records: 10 }\n  consumers:\n    - { name: r, topic: t1, user: app, group: g }\nsteps:\n  - drain: { name: w }\n  - wait_load: { name: x }\n",
    );
    let err = refused(STACK, &scenario, "validate");
    assert!(
        err.contains("steps[0].drain.name: no consumer named `w` under `load`"),
        "{err}"
    );
    assert!(
        err.contains("steps[1].wait_load.name: no producer named `x` under `load`"),
        "{err}"
    );
}

#[test]
fn a_producer_needs_a_bound() {
    let scenario = SCENARIO.replace(
        "steps:\n",
        "load:\n  producers:\n    - { name: w, topic: t1, user: app, rate: 10 }\nsteps:\n",
    );
    let err = refused(STACK, &scenario, "validate");
    assert!(
        err.contains("load.producers[0]: a producer needs exactly one of `duration` and `records`"),
        "{err}"
    );
}

#[test]
fn plan_of_the_smoke_scenario() {
    let o = harness(&["plan", "scenarios/smoke.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    insta::assert_snapshot!(String::from_utf8_lossy(&o.stdout));
}

#[test]
fn plan_of_the_preflight_negative_control_flags_the_dropped_key() {
    let o = harness(&["plan", "scenarios/negative-preflight.yaml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "ERROR   zookeeper.sync.time.ms=2000 is gone in Kafka 3.9.1 (Kafka 3.0.2 knew it)"
        ),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn plan_json_carries_the_preflight_and_no_preflight_leaves_it_out() {
    let o = harness(&["plan", "scenarios/negative-preflight.yaml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).expect("test fixture");
    let findings = plan["preflight"]["findings"]
        .as_array()
        .expect("test fixture");
    let removed: Vec<_> = findings
        .iter()
        .filter(|f| f["kind"] == "removed_key")
        .collect();
    assert_eq!(removed.len(), 1, "{findings:#?}");
    assert_eq!(removed[0]["key"], "zookeeper.sync.time.ms");
    assert_eq!(removed[0]["severity"], "error");
    assert_eq!(removed[0]["origin"], "production");
    let o = harness(&[
        "plan",
        "scenarios/negative-preflight.yaml",
        "--json",
        "--no-preflight",
    ]);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).expect("test fixture");
    assert!(plan.get("preflight").is_none());
}

#[test]
fn preflight_of_a_file_against_several_releases() {
    let o = harness(&[
        "preflight",
        "fixtures/legacy-3.0/server.properties",
        "--from",
        "3.0.2",
        "--to",
        "3.9.1",
        "--to",
        "4.1.1",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let p: serde_json::Value = serde_json::from_slice(&o.stdout).expect("test fixture");
    let findings = p["findings"].as_array().expect("test fixture");
    let removed_in = |key: &str| -> Vec<String> {
        findings
            .iter()
            .filter(|f| f["key"] == key && f["kind"] == "removed_key")
            .map(|f| f["version"].as_str().expect("test fixture").to_owned())
            .collect()
    };
    assert_eq!(removed_in("zookeeper.sync.time.ms"), ["3.9.1", "4.1.1"]);
    // ZooKeeper mode is gone in 4.x: its connection settings with it
    assert_eq!(removed_in("zookeeper.connect"), ["4.1.1"]);
    assert_eq!(removed_in("zookeeper.session.timeout.ms"), ["4.1.1"]);
    assert!(removed_in("num.io.threads").is_empty());
}

#[test]
fn preflight_refuses_a_bad_release_and_says_what_to_install_without_a_jdk() {
    let o = harness(&[
        "preflight",
        "fixtures/legacy-3.0/server.properties",
        "--from",
        "3.x",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--from: `3.x` is not a release version"),
        "{}",
        stderr(&o)
    );

    let cache = tempfile::tempdir().expect("test fixture");
    let o = Command::new(env!("CARGO_BIN_EXE_kafka-harness"))
        .current_dir(root())
        .args(["plan", "scenarios/negative-preflight.yaml"])
        .env("PATH", cache.path())
        .env("KAFKA_HARNESS_CACHE", cache.path())
        .output()
        .expect("test fixture");
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("`mvn` was not found on PATH"), "{err}");
    assert!(
        err.contains("apt-get install -y maven default-jdk-headless"),
        "{err}"
    );
    assert!(err.contains("--no-preflight"), "{err}");
}

#[test]
fn canary_settings_and_checks_are_validated() {
    let scenario = format!(
        "{SCENARIO}canary:\n  interval: 10ms\n  availability_budget: soon\nchecks:\n  canary_availability: {{ min_percent: 120, during: 4 }}\n  canary_e2e_p99: {{ max: 1s, during: 1, per_step: true }}\n"
    );
    let err = refused(STACK, &scenario, "validate");
    for expected in [
        "DIR/scenario.yaml:10:13: canary.interval: the canary's interval must lie between 100ms and 60s",
        "DIR/scenario.yaml:11:24: canary.availability_budget: `soon` is not a duration",
        "DIR/scenario.yaml:13:39: checks.canary_availability.min_percent: 120 is not a percentage",
        "DIR/scenario.yaml:13:52: checks.canary_availability.during: step 4 does not exist; steps are numbered 1 to 1",
        "DIR/scenario.yaml:14:51: checks.canary_e2e_p99.per_step: give `during` (one step) or `per_step: true` (every step), not both",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in\n{err}");
    }
}

#[test]
fn canary_checks_need_the_canary() {
    let scenario = format!(
        "{SCENARIO}canary: {{ enabled: false }}\nchecks:\n  canary_max_unavailability: 10s\nexpect:\n  fail: [canary_availability]\n"
    );
    let err = refused(STACK, &scenario, "validate");
    assert!(
        err.contains("DIR/scenario.yaml:11:30: checks.canary_max_unavailability: the canary is turned off (`canary.enabled: false`)"),
        "{err}"
    );
    assert!(
        err.contains("expect.fail[0]: `canary_availability` is not among this scenario's checks (canary_max_unavailability)"),
        "{err}"
    );
}

#[test]
fn a_version_matrix_is_validated() {
    let scenario = format!(
        "{SCENARIO}matrix:\n  - {{ from: \"3.9.1\", to: \"3.6.2\", nightly: true }}\n  - {{ from: \"3.7.2\", to: \"4.1.1\", nightly: true }}\n"
    );
    let err = refused(STACK, &scenario, "validate");
    for expected in [
        "matrix[0].to: an upgrade goes to a newer release than 3.9.1, not 3.6.2",
        "matrix[0]: a version matrix varies the Kafka rolling upgrades, and this scenario has none",
        "matrix[1].to: unsupported version \"4.1.1\": ZooKeeper mode (removed in Kafka 4.0)",
        "matrix: every entry is `nightly`; the default run needs at least one",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in\n{err}");
    }
}

#[test]
fn avro_input_errors_name_the_file_and_the_key() {
    let avsc = root().join("fixtures/avro");
    let bad_level = STACK.replace(
        "security:",
        "registry:\n  version: \"3.0.9\"\n  compatibility: sideways\nsecurity:",
    );
    let err = refused(&bad_level, SCENARIO, "validate");
    assert!(
        err.contains(
            "DIR/stack.yaml:9:18: registry.compatibility: `sideways` is not a compatibility level"
        ),
        "{err}"
    );
    let with_registry = STACK.replace("security:", "registry:\n  version: \"3.0.9\"\nsecurity:");
    let scenario = SCENARIO.replace(
        "steps:\n",
        &format!(
            "load:\n  producers:\n    - {{ name: w, topic: t1, user: app, rate: 10, records: 10, avro: {{ schema: {broken} }} }}\n    - {{ name: p, topic: t1, user: app, rate: 10, records: 10 }}\n  consumers:\n    - {{ name: r, topic: t1, user: app, group: g, avro: {{ reader_schema: {missing} }} }}\nsteps:\n  - register_schema: {{ producer: p, schema: {v2}, expect: maybe }}\n",
            broken = avsc.join("broken.avsc").display(),
            missing = avsc.join("nope.avsc").display(),
            v2 = avsc.join("order-v2.avsc").display(),
        ),
    );
    let err = refused(&with_registry, &scenario, "validate");
    let fixtures = std::fs::canonicalize(&avsc)
        .expect("fixtures exist")
        .display()
        .to_string();
    let err = err.replace(&fixtures, "FIXTURES");
    for want in [
        "load.producers[0].avro.schema: FIXTURES/broken.avsc:4:3: expected `,` or `}`",
        "load.consumers[0].avro.reader_schema: FIXTURES/nope.avsc: cannot read",
        "steps[0].register_schema.producer: producer `p` sends plain records",
        "steps[0].register_schema.expect: `maybe`: expected `accepted`, `refused` or `unreachable`",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // Avro without a registry in the stack
    let scenario = SCENARIO.replace(
        "steps:\n",
        &format!(
            "load:\n  producers:\n    - {{ name: w, topic: t1, user: app, rate: 10, records: 10, avro: {{ schema: {} }} }}\nsteps:\n",
            avsc.join("order-v1.avsc").display()
        ),
    );
    let err = refused(STACK, &scenario, "run");
    assert!(
        err.contains("load.producers[0].avro: Avro records need a schema registry, and stack"),
        "{err}"
    );
}

/// A scenario with a canary router over `t1`, its two versions reading the routed topics.
const ROUTED: &str = "name: t\nstack: stack.yaml\ntopics:\n  - name: t1\n    partitions: 3\n    replication_factor: 3\ncanary_router:\n  topic: t1\n  user: app\n  threshold: 0.1\n  legacy: v1\n  canary: v2\nload:\n  consumers:\n    - { name: v1, topic: t1-legacy, user: app, group: g1 }\n    - { name: v2, topic: t1-canary, user: app, group: g2 }\nsteps:\n  - set_threshold: { threshold: 0.5 }\n  - promote: {}\nchecks:\n  routed_exactly_once: true\n";

#[test]
fn a_canary_router_is_validated() {
    let (_dir, path) = broken(STACK, ROUTED);
    let o = harness(&["plan", path.to_str().expect("utf-8"), "--no-preflight"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let plan = String::from_utf8_lossy(&o.stdout);
    // The routed topics are created like the original.
    assert!(plan.contains("t1-legacy      partitions=3 rf=3"), "{plan}");
    assert!(plan.contains("router router as app: t1 -> t1-legacy (legacy: v1) or t1-canary (canary: v2) from threshold 0.1, in transactions"), "{plan}");

    let err = refused(
        STACK,
        &ROUTED
            .replace("threshold: 0.1", "threshold: 1.5")
            .replace("canary: v2\n", "canary: v3\n")
            .replace("user: app\n  thr", "user: apq\n  thr"),
        "validate",
    );
    assert!(
        err.contains("DIR/scenario.yaml:10:14: canary_router.threshold: 1.5 is not a share"),
        "{err}"
    );
    assert!(
        err.contains("canary_router.canary: no consumer named `v3` under `load.consumers`"),
        "{err}"
    );
    assert!(
        err.contains("canary_router.user: unknown user `apq`"),
        "{err}"
    );
    assert!(err.contains("did you mean `app`?"), "{err}");

    let err = refused(
        STACK,
        &ROUTED.replace("topic: t1-canary", "topic: t1"),
        "validate",
    );
    assert!(
        err.contains("consumer `v2` reads `t1`; the canary version reads `t1-canary`"),
        "{err}"
    );

    let err = refused(
        STACK,
        &ROUTED.replace("  topic: t1\n  user", "  topic: t9\n  user"),
        "validate",
    );
    assert!(
        err.contains("canary_router.topic: topic `t9` is not declared under `topics`"),
        "{err}"
    );
}

#[test]
fn router_steps_need_a_router_and_nothing_routes_after_a_promotion() {
    let err = refused(
        STACK,
        &ROUTED.replace(
            "  - promote: {}\n",
            "  - promote: {}\n  - kill_router: {}\n",
        ),
        "validate",
    );
    assert!(
        err.contains(
            "steps[2].kill_router: step 2 promoted the new version and stopped the router"
        ),
        "{err}"
    );

    let err = refused(
        STACK,
        &format!("{SCENARIO}  - set_threshold: {{ threshold: 0.5 }}\ncanary_router_is: missing\n")
            .replace(
                "canary_router_is: missing\n",
                "checks:\n  routed_exactly_once: true\n",
            ),
        "validate",
    );
    assert!(
        err.contains("steps[1].set_threshold: `set_threshold` needs a `canary_router:` section"),
        "{err}"
    );
    assert!(err.contains("checks.routed_exactly_once: `routed_exactly_once` judges canary routing; the scenario has no `canary_router:`"), "{err}");

    let err = refused(
        STACK,
        &ROUTED.replace("promote: {}", "promote: { from: newest }"),
        "validate",
    );
    assert!(err.contains("steps[1].promote.from: `newest` is not a start position; expected translated, latest or earliest"), "{err}");
}

/// Validates one file written at `rel` inside a temporary folder; returns exit code and stderr.
fn validate_file(rel: &str, text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
    let o = harness(&["validate", path.to_str().expect("utf-8")]);
    (
        o.status.code(),
        stderr(&o).replace(&dir.path().display().to_string(), "DIR"),
    )
}

#[test]
fn an_empty_file_says_it_is_empty_and_what_each_kind_needs() {
    let (code, err) = validate_file("x.yaml", "# just a comment\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("DIR/x.yaml:1:1: the file is empty (or only comments): a stack file is a mapping with the keys `name`, `kafka`"), "{err}");
    assert!(
        err.contains("a scenario file is a mapping with the keys `name`, `stack`, `steps`"),
        "{err}"
    );
    assert!(!err.contains("missing field"), "{err}");
    // In a stacks/ folder, only what a stack needs.
    let (code, err) = validate_file("stacks/x.yaml", "");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("the file is empty (or only comments): a stack file is"),
        "{err}"
    );
    assert!(!err.contains("a scenario file is"), "{err}");
}

#[test]
fn a_sequence_at_the_top_names_the_mapping_it_should_be() {
    let (code, err) = validate_file("scenarios/x.yaml", "- name: x\n- stack: y\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("DIR/scenarios/x.yaml:1:1: the top level is a sequence: a scenario file is a mapping with the keys `name`, `stack`, `steps`"), "{err}");
    assert!(!err.contains("Serde"), "{err}");
    // Nested too: serde's Rust type names never reach the user.
    let (_, err) = validate_file("stacks/x.yaml", "name: x\nkafka: [1, 2]\n");
    assert!(
        err.contains("kafka: invalid type: sequence, expected a mapping"),
        "{err}"
    );
}

#[test]
fn a_scenario_without_its_stack_key_gets_scenario_errors() {
    // In scenarios/: read as a scenario, whatever its keys.
    let (code, err) = validate_file(
        "scenarios/x.yaml",
        "name: x\nsteps:\n  - wait: { duration: 1s }\n",
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing field `stack`"), "{err}");
    assert!(!err.contains("kafka"), "{err}");
    // The $schema comment says so too, wherever the file lives.
    let (_, err) = validate_file(
        "elsewhere/x.yaml",
        "# yaml-language-server: $schema=../scenarios/scenario.schema.json\nname: x\nkafka: {}\n",
    );
    assert!(err.contains("unknown field `kafka`"), "{err}");
    assert!(!err.contains("note:"), "{err}");
    // Guessed from the keys: the errors say so, and how to say otherwise.
    let (_, err) = validate_file("elsewhere/x.yaml", "name: x\ntopics: []\n");
    assert!(
        err.contains("note: read as a stack file because nothing says otherwise"),
        "{err}"
    );
    assert!(err.contains("say `kind: scenario` at its top"), "{err}");
    let (code, err) = validate_file("elsewhere/x.yaml", "kind: scenario\nname: x\ntopics: []\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("missing field `stack`"), "{err}");
    assert!(!err.contains("note:"), "{err}");
}

#[test]
fn diff_compares_two_runs_and_fails_past_its_tolerances() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = |run: &str, p99: f64, lag: u64, check: &str| {
        format!(
            r#"{{"scenario": "s", "run_id": "{run}", "duration_s": 60.0,
              "canary": {{"run": {{"availability_percent": 100.0, "longest_unavailability_ms": 0,
                "e2e_latency": {{"p50_ms": 10.0, "p99_ms": {p99}}}, "produce_latency": {{"p50_ms": 5.0, "p99_ms": 9.0}}}}}},
              "producers": [], "consumers": [{{"name": "r", "max_lag": {lag}}}], "steps": [],
              "checks": [{{"name": "no_loss", "status": "{check}", "expected_to_fail": false}}]}}"#
        )
    };
    let write = |name: &str, text: String| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("report.json"), text).expect("write");
        d.to_str().expect("utf-8").to_owned()
    };
    let a = write("a", report("a", 300.0, 5000, "pass"));
    let same = write("same", report("b", 310.0, 5100, "pass"));
    let worse = write("worse", report("c", 2000.0, 5100, "fail"));

    let o = harness(&["diff", &a, &same]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("within tolerances"));
    assert!(Path::new(&same).join("diff.md").is_file());
    assert!(Path::new(&same).join("diff.json").is_file());

    let o = harness(&["diff", &a, &worse]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(
            "| canary end-to-end p99 (ms) | 300.0 | 2000.0 | +567 % | **past tolerance** |"
        ),
        "{out}"
    );
    assert!(
        out.contains("check `no_loss` came out as declared in the baseline and does not now"),
        "{out}"
    );
    // A looser tolerance lets the latency through; the failed check still fails the diff.
    let o = harness(&["diff", &a, &worse, "--max-latency-increase", "1000"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&o.stdout).contains("past tolerance"));

    let other = write(
        "other",
        report("d", 1.0, 1, "pass").replace(r#""scenario": "s""#, r#""scenario": "t""#),
    );
    let o = harness(&["diff", &a, &other]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("the reports are of two scenarios (`s` and `t`)"),
        "{}",
        stderr(&o)
    );
    let o = harness(&["diff", &a, "/nonexistent/report.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("/nonexistent/report.json: cannot read"),
        "{}",
        stderr(&o)
    );
}

/// A ZooKeeper → KRaft migration in its four phases on a 3.7 ZooKeeper stack.
const MIGRATION: &str = "name: t\nstack: stack.yaml\ntopics:\n  - name: t1\n    partitions: 3\n    replication_factor: 3\nsteps:\n  - migrate_to_kraft: { phase: controllers, controllers: 3 }\n  - migrate_to_kraft: { phase: brokers }\n  - migrate_to_kraft: { phase: kraft_brokers }\n  - migrate_to_kraft: { phase: finalize }\n  - rolling_upgrade: { component: controller, to: \"4.1.1\" }\n  - rolling_upgrade: { component: kafka, to: \"4.1.1\" }\n  - bump_metadata_version: { to: \"4.1\" }\n  - restart: { node: controller-2 }\n";

#[test]
fn a_migration_is_validated_phase_by_phase() {
    let (_dir, path) = broken(STACK, MIGRATION);
    let o = harness(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Out of order, twice, an even quorum, a typo.
    let err = refused(
        STACK,
        &MIGRATION
            .replace("phase: brokers }", "phase: kraft_brokers }")
            .replace("controllers: 3", "controllers: 2")
            .replace("phase: finalize", "phase: finalise"),
        "validate",
    );
    assert!(
        err.contains("steps[1].migrate_to_kraft.phase: `kraft_brokers` cannot run here: the next phase is `brokers`; step 1 ran `controllers`"),
        "{err}"
    );
    assert!(
        err.contains(
            "steps[0].migrate_to_kraft.controllers: 2 controller(s): a quorum is 1, 3 or 5"
        ),
        "{err}"
    );
    assert!(
        err.contains("unknown phase `finalise`") && err.contains("did you mean `finalize`?"),
        "{err}"
    );

    // What only exists before, after or outside a migration.
    let err = refused(
        STACK,
        &MIGRATION.replace(
            "  - migrate_to_kraft: { phase: controllers",
            "  - restart: { node: controller-1 }\n  - migrate_to_kraft: { phase: controllers",
        )
        .replace(
            "  - migrate_to_kraft: { phase: kraft_brokers }\n",
            "  - rolling_upgrade: { component: kafka, to: \"3.9.1\" }\n  - bump_metadata_version: { to: \"3.9\" }\n  - migrate_to_kraft: { phase: kraft_brokers }\n",
        )
        .replace("  - restart: { node: controller-2 }\n", "  - stop: { node: zookeeper-1 }\n"),
        "validate",
    );
    assert!(
        err.contains("steps[0].restart.node: `controller-1` exists only once `migrate_to_kraft: { phase: controllers }` has run"),
        "{err}"
    );
    assert!(
        err.contains("steps[3].rolling_upgrade: a ZooKeeper → KRaft migration is under way (step 3 ran phase `brokers`)"),
        "{err}"
    );
    assert!(
        err.contains("steps[4].bump_metadata_version: metadata.version cannot change during a ZooKeeper → KRaft migration"),
        "{err}"
    );
    assert!(
        err.contains(
            "steps[10].stop.node: `zookeeper-1` was retired by the migration's `finalize` (step 7)"
        ),
        "{err}"
    );

    // A KRaft stack has nothing to migrate; a release before 3.6 cannot.
    let kraft = STACK
        .replace("zookeeper:\n  version: \"3.8.4\"\n", "")
        .replace("brokers: 3\n", "brokers: 3\n  mode: kraft\n");
    let err = refused(&kraft, MIGRATION, "validate");
    assert!(
        err.contains("steps[0].migrate_to_kraft: the stack already runs KRaft"),
        "{err}"
    );
    let err = refused(&STACK.replace("3.7.2", "3.5.2"), MIGRATION, "validate");
    assert!(
        err.contains("the brokers run 3.5.2 at this step; the ZooKeeper → KRaft migration needs 3.6.0 or later"),
        "{err}"
    );

    // Steps expected to fail must exist.
    let err = refused(
        STACK,
        &format!("{MIGRATION}expect:\n  failed_steps: [4, 12, {{ step: 4, because: x }}]\n"),
        "validate",
    );
    assert!(
        err.contains(
            "expect.failed_steps[1]: step 12 does not exist: the steps are numbered 1 to 8"
        ),
        "{err}"
    );
    assert!(
        err.contains("expect.failed_steps[2]: step 4 is listed twice"),
        "{err}"
    );
}

/// A blue/green stack: blue 3.7 on ZooKeeper, green 4.1 on KRaft.
const BLUE_GREEN: &str = "name: bg\nzookeeper:\n  version: \"3.8.4\"\nkafka:\n  version: \"3.7.2\"\n  brokers: 1\ngreen:\n  kafka:\n    version: \"4.1.1\"\n    mode: kraft\n    brokers: 1\nsecurity:\n  users:\n    - name: app\n";
const MIRRORED: &str = "name: t\nstack: stack.yaml\ntopics:\n  - name: t1\nload:\n  producers:\n    - { name: w, topic: t1, user: app, rate: 10, records: 10 }\n  consumers:\n    - { name: r, topic: t1, user: app, group: g1 }\n    - { name: g, topic: t1, user: app, group: g2, cluster: green }\nsteps:\n  - wait_load: { name: w }\n  - stop_load: { name: r }\n  - drain_cluster: { cluster: blue }\n  - retire: { cluster: blue }\n";

#[test]
fn a_blue_green_stack_and_its_steps_are_validated() {
    let (_dir, path) = broken(BLUE_GREEN, MIRRORED);
    let o = harness(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Green on ZooKeeper; a consumer on a green the stack lacks; steps on the wrong cluster.
    let err = refused(
        &BLUE_GREEN.replace("    mode: kraft\n", ""),
        MIRRORED,
        "validate",
    );
    assert!(
        err.contains("green.kafka.mode: green runs KRaft (`mode: kraft`)"),
        "{err}"
    );
    let err = refused(STACK, MIRRORED, "validate");
    assert!(
        err.contains("load.consumers[1].cluster: stack") && err.contains("has no `green:` cluster"),
        "{err}"
    );
    assert!(
        err.contains("steps[2].drain_cluster: stack")
            && err.contains("has no `green:` cluster to copy blue into"),
        "{err}"
    );
    let err = refused(
        BLUE_GREEN,
        &MIRRORED.replace(
            "drain_cluster: { cluster: blue }",
            "drain_cluster: { cluster: green }",
        ),
        "validate",
    );
    assert!(
        err.contains("steps[2].drain_cluster.cluster: `green`: MirrorMaker copies blue into green"),
        "{err}"
    );

    // Retiring blue while something still uses it, or twice.
    let err = refused(
        BLUE_GREEN,
        &MIRRORED
            .replace("  - stop_load: { name: r }\n", "")
            .replace(
                "  - retire: { cluster: blue }\n",
                "  - retire: { cluster: blue }\n  - retire: { cluster: blue }\n",
            ),
        "validate",
    );
    assert!(
        err.contains("steps[2].retire: r still use(s) blue at this step"),
        "{err}"
    );
    assert!(
        err.contains("steps[3].retire: blue was retired at step 3"),
        "{err}"
    );

    // Switching: a green consumer, twice, an unknown offsets mode.
    let err = refused(
        BLUE_GREEN,
        &MIRRORED.replace(
            "  - stop_load: { name: r }\n",
            "  - switch_consumers: { name: g }\n  - switch_consumers: { name: r, offsets: nearest }\n  - switch_consumers: { name: r }\n",
        ),
        "validate",
    );
    assert!(
        err.contains("steps[1].switch_consumers.name: consumer `g` reads green already"),
        "{err}"
    );
    assert!(
        err.contains("steps[2].switch_consumers.offsets: `nearest`: expected `translated`, `earliest` or `latest`"),
        "{err}"
    );
    assert!(
        err.contains("steps[3].switch_consumers.name: consumer `r` was switched to green before"),
        "{err}"
    );
    // A switched consumer no longer holds blue: retiring it is fine.
    let (_dir, path) = broken(
        BLUE_GREEN,
        &MIRRORED.replace(
            "  - stop_load: { name: r }\n",
            "  - switch_consumers: { name: r }\n",
        ),
    );
    let o = harness(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // Producers: before the topic's blue consumers, not a producer, twice, a zero TTL.
    let err = refused(
        BLUE_GREEN,
        &MIRRORED.replace(
            "  - wait_load: { name: w }\n  - stop_load: { name: r }\n",
            "  - switch_producers: { name: w }\n  - switch_consumers: { name: r }\n  - switch_producers: { name: r }\n  - switch_producers: { name: w, ttl: 0s }\n  - switch_producers: { name: w }\n",
        ),
        "validate",
    );
    assert!(
        err.contains("steps[0].switch_producers.name: consumer(s) r still read `t1` on blue at this step: what `w` writes to green never reaches blue"),
        "{err}"
    );
    assert!(
        err.contains("steps[2].switch_producers.name: no producer named `r` under `load`"),
        "{err}"
    );
    assert!(
        err.contains("steps[3].switch_producers.ttl: a TTL of 0"),
        "{err}"
    );
    assert!(
        err.contains("steps[4].switch_producers.name: producer `w` was switched to green before"),
        "{err}"
    );
    // Consumers first, then the producer: nothing holds blue when it retires.
    let (_dir, path) = broken(
        BLUE_GREEN,
        &MIRRORED.replace(
            "  - wait_load: { name: w }\n  - stop_load: { name: r }\n",
            "  - switch_consumers: { name: r }\n  - switch_producers: { name: w, ttl: 2s }\n",
        ),
    );
    let o = harness(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

const CDC: &str = "name: cdc\nzookeeper:\n  version: \"3.8.4\"\nkafka:\n  version: \"3.7.2\"\n  brokers: 1\npostgres:\n  tables: [orders]\nconnect:\n  connectors:\n    - { name: app-cdc, tables: [orders] }\nclickhouse:\n  tables:\n    - { name: orders, connector: app-cdc, table: orders }\n";
const WRITING: &str = "name: t\nstack: stack.yaml\nload:\n  postgres_writers:\n    - { name: app, table: orders, changes: 100 }\nsteps:\n  - wait_load: { name: app }\nchecks:\n  cdc_integrity: true\n";

#[test]
fn a_data_platform_stack_and_its_writers_are_validated() {
    let (_dir, path) = broken(CDC, WRITING);
    let o = harness(&["validate", path.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // A writer's unknown table; a connector's; ClickHouse naming an unknown connector, a table
    // the connector does not capture, a format 18.16 lacks; a connector overriding the slot.
    let err = refused(
        CDC,
        &WRITING.replace("table: orders", "table: order"),
        "validate",
    );
    assert!(
        err.contains("load.postgres_writers[0].table: unknown table `order`: the stack's postgres declares orders; did you mean `orders`?"),
        "{err}"
    );
    let err = refused(
        &CDC.replace("{ name: app-cdc, tables: [orders] }", "{ name: app-cdc, tables: [payments], config: { slot.name: mine } }")
            .replace("connector: app-cdc, table: orders }", "connector: app-cdc, table: orders, format: AvroConfluent }\n    - { name: other, connector: pg, table: orders }"),
        WRITING,
        "validate",
    );
    assert!(
        err.contains("connect.connectors[0].tables[0]: unknown table `payments`"),
        "{err}"
    );
    assert!(
        err.contains("connect.connectors[0].config.slot.name: `slot.name` is set by the harness"),
        "{err}"
    );
    assert!(
        err.contains(
            "clickhouse.tables[0].table: connector `app-cdc` does not capture table `orders`"
        ),
        "{err}"
    );
    assert!(
        err.contains("clickhouse.tables[0].format: ClickHouse 18.16 has no AvroConfluent format"),
        "{err}"
    );
    assert!(
        err.contains("clickhouse.tables[1].connector: unknown connector `pg`"),
        "{err}"
    );
    // Releases that are not packaged here; Avro without a registry.
    let err = refused(
        &CDC.replace("postgres:\n", "postgres:\n  version: \"16\"\n")
            .replace("clickhouse:\n", "clickhouse:\n  version: \"23.8\"\n")
            .replace(
                "{ name: app-cdc, tables: [orders] }",
                "{ name: app-cdc, tables: [orders], format: avro }",
            ),
        WRITING,
        "validate",
    );
    assert!(
        err.contains("postgres.version: PostgreSQL 16 is not packaged here"),
        "{err}"
    );
    assert!(
        err.contains("clickhouse.version: ClickHouse 23.8 is not packaged here"),
        "{err}"
    );
    assert!(
        err.contains("connect.connectors[0].format: Avro needs the stack's `registry:`"),
        "{err}"
    );
}
