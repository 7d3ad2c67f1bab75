//! One file per component: how its configuration files are rendered and how its container is started.
//! Rendering is pure (snapshot-tested); starting goes through `runtime`.

pub mod clickhouse;
pub mod connect;
pub mod kafka;
pub mod mirror_maker;
pub mod postgres;
pub mod registry;
pub mod zookeeper;

/// Where the harness copies rendered configuration inside every container.
pub const CONFIG_DIR: &str = "/etc/kafka-harness";

/// The brokers' INTERNAL (SASL) listeners as the stack's other containers reach them: its
/// registry, MirrorMaker, Connect and ClickHouse.
pub(crate) fn internal_bootstrap(stack: &crate::scenario::Stack) -> String {
    (1..=stack.kafka.brokers)
        .map(|n| {
            format!(
                "{}:{}",
                stack.host(crate::scenario::NodeId::Kafka(n)),
                kafka::INTERNAL_PORT
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

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

    use super::kafka::Mode;
    use crate::scenario::{load_stack, Flavor, NodeId, Stack};
    use crate::secrets::Credentials;

    const V39: crate::scenario::Version = crate::scenario::Version::new(3, 9, 1);

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
        let props = super::kafka::server_properties(
            &stack(ENSEMBLE),
            NodeId::Kafka(2),
            Mode::ZooKeeper,
            V39,
            40002,
            None,
        );
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
        let controller =
            super::kafka::server_properties(&s, NodeId::Controller(1), Mode::Kraft, V39, 0, None);
        insta::assert_snapshot!(
            "kraft_controller_properties",
            controller.render(NodeId::Controller(1))
        );
        // Before 3.9 a controller refuses to start with advertised.listeners set (KIP-853 came in 3.9).
        let mut with_advertised = s.clone();
        with_advertised.kafka.config.insert(
            "advertised.listeners".into(),
            "SASL_SSL://kafka-101.prod:9094".into(),
        );
        let v38 = super::kafka::server_properties(
            &with_advertised,
            NodeId::Controller(1),
            Mode::Kraft,
            crate::scenario::Version::new(3, 8, 1),
            0,
            None,
        );
        // Not the harness's, and not production's either (its file sets one).
        assert!(!v38.entries.contains_key("advertised.listeners"));
        assert!(v38
            .overridden
            .iter()
            .any(|o| o.key == "advertised.listeners" && o.harness_value == "(removed)"));
        assert!(controller.entries.contains_key("advertised.listeners"));
        let broker =
            super::kafka::server_properties(&s, NodeId::Kafka(2), Mode::Kraft, V39, 40002, None);
        insta::assert_snapshot!("kraft_broker_properties", broker.render(NodeId::Kafka(2)));
        // Production's ZooKeeper-mode identity and connection string are replaced, and said so.
        let keys: Vec<&str> = broker.overridden.iter().map(|o| o.key.as_str()).collect();
        assert!(keys.contains(&"broker.id") && keys.contains(&"zookeeper.connect"));
        assert!(!broker.entries.contains_key("zookeeper.connect"));
        insta::assert_snapshot!("kraft_jaas", super::kafka::render_jaas(Mode::Kraft, &creds));
        let files = super::kafka::broker_files(
            &broker,
            NodeId::Kafka(2),
            Mode::Kraft,
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
            super::kafka::command(Mode::Kraft, Flavor::Harness),
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
    fn migration_modes_render_kip_866_keys() {
        use crate::scenario::{Controllers, KafkaMode};
        let zk = stack(ENSEMBLE);
        let mut live = zk.clone();
        live.kafka.mode = KafkaMode::Kraft(Controllers::Dedicated(3));
        let creds = Credentials::fixed(&zk);

        // A ZooKeeper broker in migration mode: still itself, and pointed at the new quorum.
        let b = super::kafka::server_properties(
            &live,
            NodeId::Kafka(1),
            Mode::ZooKeeperMigrating,
            V39,
            40001,
            None,
        );
        let get = |k: &str| b.entries.get(k).map(|(v, _)| v.clone());
        assert_eq!(
            get("zookeeper.metadata.migration.enable").as_deref(),
            Some("true")
        );
        assert_eq!(get("broker.id").as_deref(), Some("1"));
        assert!(get("zookeeper.connect").is_some_and(|c| c.contains("zookeeper-1:2181")));
        assert_eq!(
            get("controller.quorum.voters").as_deref(),
            Some("101@controller-1:9094,102@controller-2:9094,103@controller-3:9094")
        );
        assert_eq!(
            get("authorizer.class.name").as_deref(),
            Some("kafka.security.authorizer.AclAuthorizer")
        );
        assert!(get("listener.security.protocol.map")
            .is_some_and(|m| m.contains("CONTROLLER:SASL_PLAINTEXT")));
        assert!(get("process.roles").is_none());
        assert!(super::kafka::render_jaas(Mode::ZooKeeperMigrating, &creds)
            .contains("controller.KafkaServer"));

        // A controller in migration mode: KRaft, with ZooKeeper and the inter-broker listener.
        let c = super::kafka::server_properties(
            &live,
            NodeId::Controller(2),
            Mode::KraftMigrating,
            V39,
            0,
            None,
        );
        let get = |k: &str| c.entries.get(k).map(|(v, _)| v.clone());
        assert_eq!(get("process.roles").as_deref(), Some("controller"));
        assert_eq!(get("node.id").as_deref(), Some("102"));
        assert_eq!(
            get("zookeeper.metadata.migration.enable").as_deref(),
            Some("true")
        );
        assert!(get("zookeeper.connect").is_some_and(|c| c.contains("zookeeper-1:2181")));
        assert_eq!(
            get("inter.broker.listener.name").as_deref(),
            Some("INTERNAL")
        );
        assert!(get("broker.id").is_none());
        // Formatted with ZooKeeper's cluster id and no credentials: those come from ZooKeeper.
        let files = super::kafka::broker_files(
            &c,
            NodeId::Controller(2),
            Mode::KraftMigrating,
            &creds,
            "-ZkClusterId",
            Flavor::Harness,
        );
        let script = files
            .iter()
            .find(|f| f.path.ends_with("start.sh"))
            .expect("start script");
        assert!(
            script.contents.contains("--cluster-id=-ZkClusterId"),
            "{}",
            script.contents
        );
        assert!(
            !script.contents.contains("--add-scram"),
            "{}",
            script.contents
        );
        assert!(!files.iter().any(|f| f.path.ends_with(".password")));

        // Out of migration mode: plain KRaft nodes, nothing of ZooKeeper left.
        for node in [NodeId::Controller(1), NodeId::Kafka(3)] {
            let p = super::kafka::server_properties(&live, node, Mode::Kraft, V39, 40003, None);
            for k in [
                "zookeeper.connect",
                "zookeeper.metadata.migration.enable",
                "broker.id",
            ] {
                assert!(!p.entries.contains_key(k), "{node}: {k}");
            }
        }
    }

    #[test]
    fn kraft_combined_node_is_broker_and_controller() {
        let s = stack(&KRAFT.replace("  controllers: 3\n", ""));
        let p =
            super::kafka::server_properties(&s, NodeId::Kafka(1), Mode::Kraft, V39, 40001, None);
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
        insta::assert_snapshot!("jaas", super::kafka::render_jaas(Mode::ZooKeeper, &creds));
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
