//! Kafka Connect with Debezium's PostgreSQL connector: the worker's properties (SCRAM to the
//! brokers, internal topics under `kh-connect-`), its Kafka user and ACLs, and each connector's
//! configuration. The database password reaches the connector through Kafka's FileConfigProvider
//! (`${file:...}`), never in the configuration the REST API stores and shows.

use std::collections::BTreeMap;

use super::kafka::SCRAM;
use super::ConfigFile;
use crate::scenario::{
    Acl, ConnectSpec, ConnectorSpec, Operation, Resource, Stack, User, CONNECT_USER, POSTGRES_DB,
    POSTGRES_USER,
};
use crate::secrets::Credentials;

/// The worker's REST port.
pub const REST_PORT: u16 = 8083;
/// The worker group and the prefix of its internal topics.
pub const GROUP: &str = "kh-connect";
const SECRETS_FILE: &str = "connect-secrets.properties";

/// Connector keys the harness sets from the stack; a stack's `config` may not override them.
pub const HARNESS_KEYS: [&str; 12] = [
    "connector.class",
    "database.hostname",
    "database.port",
    "database.user",
    "database.password",
    "database.dbname",
    "topic.prefix",
    "plugin.name",
    "slot.name",
    "publication.name",
    "table.include.list",
    "tasks.max",
];

/// Connect's Kafka user: its internal topics, the connectors' topics (created by Connect), its
/// group.
pub fn kafka_user(spec: &ConnectSpec) -> User {
    let topic_ops = vec![
        Operation::Describe,
        Operation::Read,
        Operation::Write,
        Operation::Create,
        Operation::DescribeConfigs,
    ];
    let mut acls = vec![Acl {
        resource: Resource::Topic(format!("{GROUP}-")),
        prefixed: true,
        operations: topic_ops.clone(),
    }];
    for k in &spec.connectors {
        let flat = k.flat.then(|| format!("{}.", k.flat_name()));
        for prefix in std::iter::once(format!("{}.", k.name)).chain(flat) {
            acls.push(Acl {
                resource: Resource::Topic(prefix),
                prefixed: true,
                operations: topic_ops.clone(),
            });
        }
    }
    acls.push(Acl {
        resource: Resource::Group(GROUP.to_owned()),
        prefixed: true,
        operations: vec![Operation::Read, Operation::Describe],
    });
    User {
        name: CONNECT_USER.to_owned(),
        acls,
    }
}

fn jaas(creds: &Credentials) -> String {
    let password = creds
        .password(CONNECT_USER)
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{CONNECT_USER}\" password=\"{password}\";"
    )
}

/// `connect-distributed.properties`: JSON without schemas on both sides (what the harness reads
/// back), internal topics replicated like production data, SCRAM for the worker and for its
/// connectors' producers, consumers and admin clients.
pub fn worker_properties(stack: &Stack, creds: &Credentials) -> String {
    let rf = stack.kafka.brokers.min(3);
    let jaas = jaas(creds);
    let mut out = format!(
        "bootstrap.servers={bootstrap}\n\
         group.id={GROUP}\n\
         config.storage.topic={GROUP}-configs\n\
         offset.storage.topic={GROUP}-offsets\n\
         status.storage.topic={GROUP}-status\n\
         config.storage.replication.factor={rf}\n\
         offset.storage.replication.factor={rf}\n\
         status.storage.replication.factor={rf}\n\
         offset.flush.interval.ms=1000\n\
         key.converter=org.apache.kafka.connect.json.JsonConverter\n\
         value.converter=org.apache.kafka.connect.json.JsonConverter\n\
         key.converter.schemas.enable=false\n\
         value.converter.schemas.enable=false\n\
         plugin.path=/opt/connect/plugins\n\
         listeners=http://0.0.0.0:{REST_PORT}\n\
         rest.advertised.host.name={host}\n\
         plugin.discovery=service_load\n\
         config.providers=file\n\
         config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider\n",
        bootstrap = super::internal_bootstrap(stack),
        host = crate::scenario::NodeId::Connect(1),
    );
    for prefix in ["", "producer.", "consumer.", "admin."] {
        out.push_str(&format!(
            "{prefix}security.protocol=SASL_PLAINTEXT\n{prefix}sasl.mechanism={SCRAM}\n{prefix}sasl.jaas.config={jaas}\n"
        ));
    }
    out
}

/// Files placed in the worker's container: its properties and the database password the
/// connectors read through the file provider.
pub fn config_files(stack: &Stack, creds: &Credentials) -> Vec<ConfigFile> {
    let password = creds
        .postgres()
        .map(|s| s.expose().to_owned())
        .unwrap_or_default();
    vec![
        ConfigFile::secret(
            "connect-distributed.properties",
            worker_properties(stack, creds),
        ),
        ConfigFile::secret(SECRETS_FILE, format!("postgres.password={password}\n")),
    ]
}

/// The slot and publication names of a connector (PostgreSQL identifiers: no `-`).
fn ident(name: &str) -> String {
    format!("kh_{}", name.replace('-', "_"))
}

/// A connector's configuration as submitted (`PUT /connectors/<name>/config`): the stack's
/// overlay first, the harness's keys over it.
pub fn connector_config(stack: &Stack, k: &ConnectorSpec) -> BTreeMap<String, String> {
    let mut c: BTreeMap<String, String> = BTreeMap::from([
        ("snapshot.mode".into(), "initial".into()),
        ("tombstones.on.delete".into(), "false".into()),
        ("publication.autocreate.mode".into(), "filtered".into()),
        (
            "topic.creation.default.replication.factor".into(),
            stack.kafka.brokers.min(3).to_string(),
        ),
        ("topic.creation.default.partitions".into(), "1".into()),
    ]);
    if k.avro {
        // Apicurio 2.6's converter in the Confluent wire format: magic byte, 4-byte content id,
        // no headers; schemas registered through the registry's v2 API.
        let url = format!(
            "http://{}:8080/apis/registry/v2",
            crate::scenario::NodeId::Registry(1)
        );
        for side in ["key", "value"] {
            c.extend([
                (
                    format!("{side}.converter"),
                    "io.apicurio.registry.utils.converter.AvroConverter".to_owned(),
                ),
                (
                    format!("{side}.converter.apicurio.registry.url"),
                    url.clone(),
                ),
                (
                    format!("{side}.converter.apicurio.registry.id-handler"),
                    "io.apicurio.registry.serde.Legacy4ByteIdHandler".into(),
                ),
                (
                    format!("{side}.converter.apicurio.registry.use-id"),
                    "contentId".into(),
                ),
                (
                    format!("{side}.converter.apicurio.registry.headers.enabled"),
                    "false".into(),
                ),
                (
                    format!("{side}.converter.apicurio.registry.auto-register"),
                    "true".into(),
                ),
            ]);
        }
        // Debezium's schema names (`<prefix>.public.<table>.Value`) may hold `-`, which Avro
        // names may not.
        c.insert("schema.name.adjustment.mode".into(), "avro".into());
    }
    c.extend(k.config.clone());
    let tables: Vec<String> = k.tables.iter().map(|t| format!("public.{t}")).collect();
    c.extend([
        (
            "connector.class".to_owned(),
            "io.debezium.connector.postgresql.PostgresConnector".to_owned(),
        ),
        (
            "database.hostname".into(),
            crate::scenario::NodeId::Postgres(1).to_string(),
        ),
        ("database.port".into(), super::postgres::PORT.to_string()),
        ("database.user".into(), POSTGRES_USER.into()),
        (
            "database.password".into(),
            format!(
                "${{file:{}/{SECRETS_FILE}:postgres.password}}",
                super::CONFIG_DIR
            ),
        ),
        ("database.dbname".into(), POSTGRES_DB.into()),
        ("topic.prefix".into(), k.name.clone()),
        ("plugin.name".into(), "pgoutput".into()),
        ("slot.name".into(), ident(&k.name)),
        ("publication.name".into(), ident(&k.name)),
        ("table.include.list".into(), tables.join(",")),
        ("tasks.max".into(), "1".into()),
    ]);
    c
}

/// The flattening twin of a connector ClickHouse reads: its own slot and publication, topics
/// `<name>-flat.public.<table>` holding each row's new state (`ExtractNewRecordState`; a delete
/// is the old row with `__deleted = "true"`).
pub fn flat_connector_config(stack: &Stack, k: &ConnectorSpec) -> BTreeMap<String, String> {
    // JSON rows, whatever the main connector writes: ClickHouse 18.16 reads JSONEachRow.
    let twin = ConnectorSpec {
        name: k.flat_name(),
        avro: false,
        ..k.clone()
    };
    let mut c = connector_config(stack, &twin);
    c.extend([
        ("transforms".to_owned(), "unwrap".to_owned()),
        (
            "transforms.unwrap.type".into(),
            "io.debezium.transforms.ExtractNewRecordState".into(),
        ),
        // A delete becomes the old row with `__deleted = "true"` and no tombstone (the key
        // Debezium 2.5+ and 3.x read; `delete.handling.mode` is gone in 3.x).
        (
            "transforms.unwrap.delete.tombstone.handling.mode".into(),
            "rewrite".into(),
        ),
    ]);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "name: cdc\nzookeeper:\n  version: \"3.8.4\"\nkafka:\n  version: \"3.9.1\"\n  brokers: 3\npostgres:\n  tables: [orders]\nconnect:\n  connectors:\n    - { name: app-cdc, tables: [orders] }\n";

    #[test]
    fn harness_keys_win_and_the_password_stays_in_its_file() {
        let k = ConnectorSpec {
            name: "app-cdc".into(),
            tables: vec!["orders".into()],
            config: BTreeMap::from([
                ("snapshot.mode".into(), "no_data".into()),
                ("slot.name".into(), "mine".into()),
            ]),
            flat: true,
            avro: false,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stack.yaml");
        std::fs::write(&path, STACK).expect("write");
        let stack = crate::scenario::load_stack(&path).expect("valid stack");
        let c = connector_config(&stack, &k);
        let props = worker_properties(&stack, &Credentials::fixed(&stack));
        assert!(props.contains("producer.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"kh-connect\" password=\"kh-connect-secret\";"));
        assert!(!props.contains("postgres-secret"));
        let flat = flat_connector_config(&stack, &k);
        assert_eq!(flat["topic.prefix"], "app-cdc-flat");
        assert_eq!(flat["slot.name"], "kh_app_cdc_flat");
        assert_eq!(
            flat["transforms.unwrap.delete.tombstone.handling.mode"],
            "rewrite"
        );
        assert_eq!(c["snapshot.mode"], "no_data");
        assert_eq!(c["slot.name"], "kh_app_cdc");
        assert_eq!(c["table.include.list"], "public.orders");
        assert!(c["database.password"].starts_with("${file:"));
        for key in HARNESS_KEYS {
            assert!(c.contains_key(key), "{key}");
        }
    }
}
