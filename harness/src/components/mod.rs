//! One file per component: how its configuration files are rendered and how its container is started.
//! Rendering is pure (snapshot-tested); starting goes through `runtime`.

pub mod kafka;
pub mod registry;
pub mod zookeeper;

/// Where the harness copies rendered configuration inside every container.
pub const CONFIG_DIR: &str = "/etc/kafka-harness";

/// A file placed into a container before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: String,
    pub contents: String,
    /// Credential files are readable by their owner only.
    pub secret: bool,
}

impl ConfigFile {
    pub fn new(name: &str, contents: String) -> Self {
        Self {
            path: format!("{CONFIG_DIR}/{name}"),
            contents,
            secret: false,
        }
    }

    pub fn secret(name: &str, contents: String) -> Self {
        Self {
            secret: true,
            ..Self::new(name, contents)
        }
    }
}

#[cfg(test)]
mod tests {
    //! Snapshots of every rendered file, so a change to what brokers are given shows up in review.

    use std::path::Path;

    use crate::scenario::{load_stack, Flavor, NodeId, Stack};
    use crate::secrets::Credentials;

    fn stack(yaml: &str) -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stack.yaml");
        std::fs::write(&path, yaml).expect("write");
        std::fs::write(
            dir.path().join("server.properties"),
            "broker.id=7\nlisteners=SSL://:9094\nlog.dirs=/data\nnum.io.threads=16\nlog.retention.hours=168\nsuper.users=User:ops\nzookeeper.connect=zk:2181/kafka/prod\n",
        )
        .expect("write");
        load_stack(&path).expect("valid stack")
    }

    const ENSEMBLE: &str = "name: snap\nzookeeper:\n  version: \"3.8.4\"\n  nodes: 3\nkafka:\n  version: \"3.7.2\"\n  brokers: 3\n  server_properties: server.properties\n  config:\n    num.io.threads: 4\nsecurity:\n  users:\n    - name: app\n      acls:\n        - { topic: orders, operations: [read, write] }\n        - { group: app-, prefixed: true, operations: [read] }\n";

    #[test]
    fn zoo_cfg_single_and_ensemble() {
        let single =
            stack("name: one\nzookeeper:\n  version: \"3.8.4\"\nkafka:\n  version: \"3.7.2\"\n");
        insta::assert_snapshot!("zoo_cfg_single", super::zookeeper::render_zoo_cfg(&single));
        insta::assert_snapshot!(
            "zoo_cfg_ensemble",
            super::zookeeper::render_zoo_cfg(&stack(ENSEMBLE))
        );
    }

    #[test]
    fn jit_is_quick_unless_the_stack_asks_for_full() {
        let opts = |yaml: &str| {
            super::kafka::broker_env(&stack(yaml))
                .into_iter()
                .find(|(k, _)| k == "KAFKA_JVM_PERFORMANCE_OPTS")
                .map(|(_, v)| v)
                .expect("performance opts set")
        };
        let quick =
            opts("name: q\nzookeeper:\n  version: \"3.8.4\"\nkafka:\n  version: \"3.7.2\"\n");
        assert!(
            quick.ends_with("-Djava.awt.headless=true -XX:TieredStopAtLevel=1"),
            "{quick}"
        );
        let full = opts("name: f\nzookeeper:\n  version: \"3.8.4\"\nkafka:\n  version: \"3.7.2\"\n  jit: full\n");
        assert!(
            full.starts_with("-server -XX:+UseG1GC") && !full.contains("Tiered"),
            "{full}"
        );
    }

    #[test]
    fn server_properties_overlaid_on_production() {
        let props =
            super::kafka::server_properties(&stack(ENSEMBLE), NodeId::Kafka(2), 40002, None);
        insta::assert_snapshot!("server_properties", props.render(NodeId::Kafka(2)));
        let keys: Vec<&str> = props.overridden.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "broker.id",
                "listeners",
                "log.dirs",
                "super.users",
                "zookeeper.connect"
            ]
        );
    }

    const KRAFT: &str = "name: kraft\nkafka:\n  version: \"3.9.1\"\n  mode: kraft\n  controllers: 3\n  brokers: 3\n  server_properties: server.properties\nsecurity:\n  users:\n    - name: app\n      acls:\n        - { topic: orders, operations: [read, write] }\n        - { group: app-, prefixed: true, operations: [read] }\n";

    #[test]
    fn kraft_dedicated_controllers() {
        let s = stack(KRAFT);
        let creds = Credentials::fixed(&s);
        let controller = super::kafka::server_properties(&s, NodeId::Controller(1), 0, None);
        insta::assert_snapshot!(
            "kraft_controller_properties",
            controller.render(NodeId::Controller(1))
        );
        let broker = super::kafka::server_properties(&s, NodeId::Kafka(2), 40002, None);
        insta::assert_snapshot!("kraft_broker_properties", broker.render(NodeId::Kafka(2)));
        // Production's ZooKeeper-mode identity and connection string are replaced, and said so.
        let keys: Vec<&str> = broker.overridden.iter().map(|o| o.key.as_str()).collect();
        assert!(keys.contains(&"broker.id") && keys.contains(&"zookeeper.connect"));
        assert!(!broker.entries.contains_key("zookeeper.connect"));
        insta::assert_snapshot!("kraft_jaas", super::kafka::render_jaas(&s, &creds));
        let files = super::kafka::broker_files(
            &s,
            &broker,
            NodeId::Kafka(2),
            &creds,
            "AAAAAAAAAAAAAAAAAAAAAA",
            Flavor::Harness,
        );
        let script = files
            .iter()
            .find(|f| f.path.ends_with("start.sh"))
            .expect("start script");
        insta::assert_snapshot!("kraft_start_sh", script.contents);
        for (_, secret) in creds.iter() {
            assert!(!script.contents.contains(secret.expose()));
        }
        assert!(
            files
                .iter()
                .filter(|f| f.path.ends_with(".password")
                    || f.path.ends_with("admin-client.properties"))
                .all(|f| f.secret)
        );
        assert_eq!(
            super::kafka::command(&s, Flavor::Harness),
            ["sh", "/etc/kafka-harness/start.sh"]
        );
        let acls = super::kafka::acl_commands(&s);
        assert_eq!(acls.len(), 2);
        assert_eq!(
            acls[1].1.join(" "),
            "--add --allow-principal User:app --operation Read --group app- --resource-pattern-type prefixed"
        );
    }

    #[test]
    fn kraft_combined_node_is_broker_and_controller() {
        let s = stack(&KRAFT.replace("  controllers: 3\n", ""));
        let p = super::kafka::server_properties(&s, NodeId::Kafka(1), 40001, None);
        let get = |k: &str| p.entries.get(k).map(|(v, _)| v.as_str());
        assert_eq!(get("process.roles"), Some("broker,controller"));
        assert_eq!(
            get("controller.quorum.voters"),
            Some("1@kafka-1:9094,2@kafka-2:9094,3@kafka-3:9094")
        );
        assert_eq!(
            get("listeners"),
            Some("INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:9093,CONTROLLER://0.0.0.0:9094")
        );
    }

    #[test]
    fn cluster_ids_are_kafka_uuids() {
        let id = super::kafka::new_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, super::kafka::new_cluster_id());
    }

    #[test]
    fn jaas_and_bootstrap() {
        let s = stack(ENSEMBLE);
        let creds = Credentials::fixed(&s);
        insta::assert_snapshot!("jaas", super::kafka::render_jaas(&s, &creds));
        let (files, cmd) = super::kafka::bootstrap(&s, Flavor::Harness, &creds);
        let script = files
            .iter()
            .find(|f| f.path.ends_with("bootstrap.sh"))
            .expect("script");
        insta::assert_snapshot!("bootstrap_sh", script.contents);
        assert_eq!(cmd, ["sh", "/etc/kafka-harness/bootstrap.sh"]);
        // Passwords sit in the owner-only credential files, never in the script that names them.
        for (_, secret) in creds.iter() {
            assert!(!script.contents.contains(secret.expose()));
        }
        assert!(files
            .iter()
            .filter(|f| f.path.contains("scram-"))
            .all(|f| f.secret));
        let _ = Path::new(".");
    }
}
