//! The schema registry: Apicurio Registry 3.x (the harness's own image, Confluent API under
//! `/apis/ccompat/v7`) or Confluent's `cp-schema-registry` (upstream image). Its configuration, its
//! start command, the Kafka user it keeps schemas as, and the topics it keeps them in.

use std::collections::BTreeMap;

use super::kafka::{INTERNAL_PORT, SCRAM};
use super::ConfigFile;
use crate::scenario::{
    Acl, Flavor, NodeId, Operation, RegistrySpec, RegistryStorage, Resource, Stack, Topic, User,
    REGISTRY_USER,
};
use crate::secrets::Credentials;

/// Apicurio's HTTP port (every API).
const APICURIO_PORT: u16 = 8080;
/// Confluent's listener.
const CONFLUENT_PORT: u16 = 8081;

/// Apicurio's topics (its defaults are `kafkasql-journal`, `kafkasql-snapshots`, `registry-events`).
const APICURIO_TOPICS: [&str; 3] = [
    "kh-registry-journal",
    "kh-registry-snapshots",
    "kh-registry-events",
];
/// Confluent's schema topic (its default).
const CONFLUENT_TOPIC: &str = "_schemas";

fn is_confluent(spec: &RegistrySpec) -> bool {
    spec.image.flavor() == Flavor::Confluent
}

/// The port the registry serves on inside its container.
pub fn container_port(spec: &RegistrySpec) -> u16 {
    if is_confluent(spec) {
        CONFLUENT_PORT
    } else {
        APICURIO_PORT
    }
}

/// The base URL of the Confluent Schema Registry API, reached through the published `host_port`.
pub fn api_url(spec: &RegistrySpec, host_port: u16) -> String {
    let path = if is_confluent(spec) {
        ""
    } else {
        "/apis/ccompat/v7"
    };
    format!("http://127.0.0.1:{host_port}{path}")
}

/// The topics the registry keeps its data in: created by the harness before the registry starts,
/// replicated like production data (RF min(brokers, 3), `min.insync.replicas` RF - 1), one
/// partition, never deleted by retention.
pub fn topics(stack: &Stack) -> Vec<Topic> {
    let Some(spec) = stack.registry.as_ref() else {
        return Vec::new();
    };
    if spec.storage != RegistryStorage::Kafka {
        return Vec::new();
    }
    let rf = u16::from(stack.kafka.brokers.min(3));
    let names: Vec<&str> = if is_confluent(spec) {
        vec![CONFLUENT_TOPIC]
    } else {
        APICURIO_TOPICS.to_vec()
    };
    names
        .into_iter()
        .map(|name| Topic {
            name: name.to_owned(),
            partitions: 1,
            replication_factor: rf,
            config: BTreeMap::from([
                ("cleanup.policy".to_owned(), "delete".to_owned()),
                ("retention.ms".to_owned(), "-1".to_owned()),
                ("retention.bytes".to_owned(), "-1".to_owned()),
                (
                    "min.insync.replicas".to_owned(),
                    rf.saturating_sub(1).max(1).to_string(),
                ),
            ]),
            assignment: None,
        })
        .collect()
}

/// The registry's Kafka user and the ACLs it needs (found by starting Apicurio with none and adding
/// what the authorizer denied; see stacks/images/README.md): its topics, and reading with consumer
/// groups of its own prefix (each Apicurio start replays the journal in a fresh `apicurio-<uuid>`).
pub fn kafka_user(spec: &RegistrySpec) -> User {
    let topic_ops = vec![
        Operation::Describe,
        Operation::Read,
        Operation::Write,
        Operation::DescribeConfigs,
    ];
    let (topics, group): (Vec<&str>, &str) = if is_confluent(spec) {
        (vec![CONFLUENT_TOPIC], "schema-registry")
    } else {
        (APICURIO_TOPICS.to_vec(), "apicurio-")
    };
    let mut acls: Vec<Acl> = topics
        .into_iter()
        .map(|t| Acl {
            resource: Resource::Topic(t.to_owned()),
            prefixed: false,
            operations: topic_ops.clone(),
        })
        .collect();
    acls.push(Acl {
        resource: Resource::Group(group.to_owned()),
        prefixed: true,
        operations: vec![Operation::Read, Operation::Describe],
    });
    User {
        name: REGISTRY_USER.to_owned(),
        acls,
    }
}

fn jaas(creds: &Credentials) -> String {
    let password = creds
        .password(REGISTRY_USER)
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{REGISTRY_USER}\" password=\"{password}\";"
    )
}

/// Apicurio's `registry.properties` (read by the image's start script).
pub fn render_apicurio_properties(stack: &Stack, creds: &Credentials) -> String {
    let mut out = format!("# rendered by kafka-harness for stack {}\n", stack.name);
    let kafka = stack
        .registry
        .as_ref()
        .is_some_and(|r| r.storage == RegistryStorage::Kafka);
    if !kafka {
        out.push_str("# storage: memory (Apicurio's default in-memory H2; lost on restart)\n");
        return out;
    }
    let [journal, snapshots, events] = APICURIO_TOPICS;
    out.push_str(&format!(
        "apicurio.storage.kind=kafkasql\n\
         apicurio.kafkasql.bootstrap.servers={}\n\
         apicurio.kafkasql.topic={journal}\n\
         apicurio.kafkasql.snapshots.topic={snapshots}\n\
         apicurio.events.kafka.topic={events}\n\
         apicurio.kafka.common.security.protocol=SASL_PLAINTEXT\n\
         apicurio.kafka.common.sasl.mechanism={SCRAM}\n\
         apicurio.kafka.common.sasl.jaas.config={}\n",
        super::internal_bootstrap(stack),
        jaas(creds)
    ));
    out
}

/// Files placed in the container before it starts.
pub fn config_files(stack: &Stack, creds: &Credentials) -> Vec<ConfigFile> {
    match stack.registry.as_ref() {
        Some(spec) if !is_confluent(spec) => vec![ConfigFile::secret(
            "registry.properties",
            render_apicurio_properties(stack, creds),
        )],
        _ => Vec::new(),
    }
}

/// The container's environment: the heap, and for Confluent's image its whole configuration.
pub fn env(stack: &Stack, creds: &Credentials) -> Vec<(String, String)> {
    let Some(spec) = stack.registry.as_ref() else {
        return Vec::new();
    };
    if !is_confluent(spec) {
        return vec![(
            "REGISTRY_HEAP_OPTS".into(),
            format!("-Xmx{} -Xms64m", spec.heap),
        )];
    }
    let brokers = (1..=stack.kafka.brokers)
        .map(|n| format!("SASL_PLAINTEXT://{}:{INTERNAL_PORT}", NodeId::Kafka(n)))
        .collect::<Vec<_>>()
        .join(",");
    vec![
        (
            "SCHEMA_REGISTRY_HOST_NAME".into(),
            NodeId::Registry(1).to_string(),
        ),
        (
            "SCHEMA_REGISTRY_LISTENERS".into(),
            format!("http://0.0.0.0:{CONFLUENT_PORT}"),
        ),
        (
            "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS".into(),
            brokers,
        ),
        (
            "SCHEMA_REGISTRY_KAFKASTORE_SECURITY_PROTOCOL".into(),
            "SASL_PLAINTEXT".into(),
        ),
        (
            "SCHEMA_REGISTRY_KAFKASTORE_SASL_MECHANISM".into(),
            SCRAM.into(),
        ),
        (
            "SCHEMA_REGISTRY_KAFKASTORE_SASL_JAAS_CONFIG".into(),
            jaas(creds),
        ),
        (
            "SCHEMA_REGISTRY_KAFKASTORE_TOPIC".into(),
            CONFLUENT_TOPIC.into(),
        ),
        (
            "SCHEMA_REGISTRY_HEAP_OPTS".into(),
            format!("-Xmx{} -Xms64m", spec.heap),
        ),
    ]
}

/// The container command; Confluent's image starts from its own entrypoint.
pub fn command(spec: &RegistrySpec) -> Vec<String> {
    if is_confluent(spec) {
        vec!["/etc/confluent/docker/run".into()]
    } else {
        vec!["registry-server-start".into()]
    }
}
