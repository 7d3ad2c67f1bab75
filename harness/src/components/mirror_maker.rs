//! MirrorMaker 2 between a blue/green stack's clusters: Kafka's own `connect-mirror-maker`
//! (`org.apache.kafka.connect.mirror.MirrorMaker`, dedicated mode) from green's image, replicating
//! blue's topics into green under the same names (`IdentityReplicationPolicy`) and translating the
//! consumer groups' committed offsets (checkpoints, group offset sync). It logs in to both clusters
//! as the harness's admin over SCRAM, like the brokers do to each other.
//!
//! What matters for a switch, from MirrorMaker's sources: a group's offsets are written on green
//! only while the group has no member there, and never backwards; `offset.lag.max = 0` writes an
//! offset sync for every record, so a translated offset is exact rather than up to 100 records
//! early. Heartbeats are off (they would make a green->blue herder write onto blue) and so is ACL
//! sync (the stack gives both clusters their ACLs).

use super::kafka::{tool, SCRAM};
use super::{ConfigFile, CONFIG_DIR};
use crate::scenario::{Flavor, Stack, ADMIN_USER};
use crate::secrets::Credentials;

pub const PROPERTIES_FILE: &str = "mm2.properties";
/// The line MirrorMaker's source task logs once it replicates, e.g. `... replicating 6
/// topic-partitions blue->green: [orders-0, ...]`.
pub const REPLICATING: &str = "topic-partitions blue->green";

/// A regex list matching exactly these names (MirrorMaker's `topics` and `groups` are regexes).
fn exactly(names: &[String]) -> String {
    names
        .iter()
        .map(|n| n.replace('.', "\\\\."))
        .collect::<Vec<_>>()
        .join(",")
}

/// The properties file (it holds the admin's password: a secret file).
pub fn properties(
    blue: &Stack,
    green: &Stack,
    creds: &Credentials,
    topics: &[String],
    groups: &[String],
) -> String {
    let password = creds
        .password(ADMIN_USER)
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    let rf = green.kafka.brokers.min(3);
    let mut out = format!(
        "# rendered by kafka-harness: MirrorMaker 2, blue -> green\nclusters=blue,green\nblue.bootstrap.servers={}\ngreen.bootstrap.servers={}\n",
        super::internal_bootstrap(blue),
        super::internal_bootstrap(green)
    );
    for cluster in ["blue", "green"] {
        out.push_str(&format!(
            "{cluster}.security.protocol=SASL_PLAINTEXT\n{cluster}.sasl.mechanism={SCRAM}\n{cluster}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{ADMIN_USER}\" password=\"{password}\";\n"
        ));
    }
    out.push_str(&format!(
        "blue->green.enabled=true\nblue->green.topics={}\nblue->green.groups={}\ngreen->blue.enabled=false\nreplication.policy.class=org.apache.kafka.connect.mirror.IdentityReplicationPolicy\nemit.heartbeats.enabled=false\nemit.checkpoints.enabled=true\nemit.checkpoints.interval.seconds=1\nsync.group.offsets.enabled=true\nsync.group.offsets.interval.seconds=1\nrefresh.topics.interval.seconds=5\nrefresh.groups.interval.seconds=5\noffset.lag.max=0\nsync.topic.acls.enabled=false\noffset-syncs.topic.location=target\ngreen.offset.flush.interval.ms=1000\n",
        exactly(topics),
        exactly(groups),
    ));
    for key in [
        "replication.factor",
        "offset-syncs.topic.replication.factor",
        "checkpoints.topic.replication.factor",
        "heartbeats.topic.replication.factor",
        "offset.storage.replication.factor",
        "status.storage.replication.factor",
        "config.storage.replication.factor",
    ] {
        out.push_str(&format!("{key}={rf}\n"));
    }
    out
}

pub fn files(
    blue: &Stack,
    green: &Stack,
    creds: &Credentials,
    topics: &[String],
    groups: &[String],
) -> Vec<ConfigFile> {
    vec![ConfigFile::secret(
        PROPERTIES_FILE,
        properties(blue, green, creds, topics, groups),
    )]
}

/// The harness image's `kafka-run` runs MirrorMaker's main class, logging INFO to stdout as the
/// brokers do (its readiness is a log line).
pub fn command(flavor: Flavor) -> Vec<String> {
    let main = "org.apache.kafka.connect.mirror.MirrorMaker".to_owned();
    let file = format!("{CONFIG_DIR}/{PROPERTIES_FILE}");
    match flavor {
        Flavor::Harness => vec![tool(flavor, "kafka-run"), main, file],
        _ => vec![tool(flavor, "connect-mirror-maker"), file],
    }
}

pub fn env(heap: &str) -> Vec<(String, String)> {
    vec![
        ("KAFKA_CLI_HEAP_OPTS".into(), format!("-Xmx{heap}")),
        ("KAFKA_HEAP_OPTS".into(), format!("-Xmx{heap}")),
        (
            "KAFKA_CLI_LOG4J_OPTS".into(),
            "-Dlog4j.configuration=file:/opt/kafka/config/log4j.properties -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties".into(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use crate::scenario::{load_stack, Stack};
    use crate::secrets::Credentials;

    const BLUE_GREEN: &str = "name: bg\nzookeeper:\n  version: \"3.8.4\"\nkafka:\n  version: \"3.6.2\"\n  brokers: 3\ngreen:\n  kafka:\n    version: \"4.1.1\"\n    mode: kraft\n    brokers: 1\nsecurity:\n  users:\n    - name: app\n";

    fn stack() -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stack.yaml");
        std::fs::write(&path, BLUE_GREEN).expect("write");
        load_stack(&path).expect("valid stack")
    }

    #[test]
    fn replicates_named_topics_and_groups_into_green() {
        let blue = stack();
        let green = blue.green_stack().expect("green");
        let creds = Credentials::fixed(&blue);
        let p = super::properties(
            &blue,
            &green,
            &creds,
            &["orders".into(), "orders.v2".into()],
            &["orders-app".into()],
        );
        insta::assert_snapshot!("mm2_properties", creds.redact(&p));
        assert!(p.contains("blue.bootstrap.servers=kafka-1:9092,kafka-2:9092,kafka-3:9092\n"));
        assert!(p.contains("green.bootstrap.servers=green-kafka-1:9092\n"));
        assert!(p.contains("blue->green.topics=orders,orders\\\\.v2\n"));
        // Internal topics fit green's single broker.
        assert!(p.contains("checkpoints.topic.replication.factor=1\n"));
        let files = super::files(&blue, &green, &creds, &[], &[]);
        assert!(files.iter().all(|f| f.secret));
    }
}
