//! ClickHouse reading Debezium's flattened topics: its Kafka user and ACLs, the config.d file
//! with the SCRAM login its Kafka engine uses (librdkafka settings, never on a command line), the
//! default user's password, and per table the Kafka engine table, the materialized view and the
//! ReplacingMergeTree base table.

use super::ConfigFile;
use crate::scenario::{
    Acl, ClickHouseSpec, ClickHouseTable, Operation, Resource, Stack, User, CLICKHOUSE_USER,
};
use crate::secrets::Credentials;

/// The HTTP interface's port.
pub const HTTP_PORT: u16 = 8123;
/// Consumer groups of the Kafka tables start with it.
pub const GROUP: &str = "kh-clickhouse";
/// The ClickHouse user the harness queries as.
pub const USER: &str = "default";

/// The columns every base and queue table has: the writer's row, Debezium's timestamp as text,
/// and `__deleted` (`ExtractNewRecordState` with `delete.handling.mode=rewrite`).
const COLUMNS: &str = "id Int64, producer Int32, seq Int64, version Int32, payload String, updated_at String, __deleted String";

pub fn kafka_user(spec: &ClickHouseSpec) -> User {
    let mut acls: Vec<Acl> = Vec::new();
    for t in &spec.tables {
        if !acls
            .iter()
            .any(|a| a.resource == Resource::Topic(t.topic.clone()))
        {
            acls.push(Acl {
                resource: Resource::Topic(t.topic.clone()),
                prefixed: false,
                operations: vec![Operation::Read, Operation::Describe],
            });
        }
    }
    acls.push(Acl {
        resource: Resource::Group(GROUP.to_owned()),
        prefixed: true,
        operations: vec![Operation::Read, Operation::Describe],
    });
    User {
        name: CLICKHOUSE_USER.to_owned(),
        acls,
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The config.d file with the Kafka engine's librdkafka settings (SCRAM as `kh-clickhouse`; a
/// new group reads from the start: Debezium creates the topic with its first event, after the
/// Kafka table subscribed, and librdkafka's default would skip what came before it joined).
pub fn kafka_xml(creds: &Credentials) -> String {
    let password = creds
        .password(CLICKHOUSE_USER)
        .map(|s| xml_escape(s.expose()))
        .unwrap_or_default();
    format!(
        "<yandex>\n  <kafka>\n    <security_protocol>sasl_plaintext</security_protocol>\n    <sasl_mechanism>SCRAM-SHA-512</sasl_mechanism>\n    <sasl_username>{CLICKHOUSE_USER}</sasl_username>\n    <sasl_password>{password}</sasl_password>\n    <auto_offset_reset>smallest</auto_offset_reset>\n  </kafka>\n</yandex>\n"
    )
}

/// The users.d file giving the default user the run's password.
pub fn users_xml(creds: &Credentials) -> String {
    let password = creds
        .clickhouse()
        .map(|s| xml_escape(s.expose()))
        .unwrap_or_default();
    format!(
        "<yandex>\n  <users>\n    <{USER}>\n      <password>{password}</password>\n    </{USER}>\n  </users>\n</yandex>\n"
    )
}

/// Files placed in the container before it starts.
pub fn config_files(spec: &ClickHouseSpec, creds: &Credentials) -> Vec<ConfigFile> {
    let mut files = vec![
        ConfigFile::secret("clickhouse.d/kh-kafka.xml", kafka_xml(creds)),
        ConfigFile::secret("users.d/kh-default.xml", users_xml(creds)),
    ];
    if let Some(path) = &spec.config {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            format!(
                "<yandex><!-- {} could not be read: {} --></yandex>\n",
                path.display(),
                xml_escape(&e.to_string())
            )
        });
        files.push(ConfigFile::new("clickhouse.d/production.xml", text));
    }
    files
}

/// The statements that create `t`'s tables, in order: the base table, the Kafka engine table
/// (reading from the earliest offset its group has not committed), the view between them.
pub fn ddl(stack: &Stack, t: &ClickHouseTable) -> Vec<String> {
    let bootstrap = super::internal_bootstrap(stack);
    let name = &t.name;
    let filter = t
        .view_where
        .as_ref()
        .map(|w| format!(" WHERE {w}"))
        .unwrap_or_default();
    vec![
        format!("CREATE TABLE IF NOT EXISTS {name} ({COLUMNS}) ENGINE = ReplacingMergeTree(version) ORDER BY id"),
        format!(
            "CREATE TABLE IF NOT EXISTS {name}_queue ({COLUMNS}) ENGINE = Kafka('{bootstrap}', '{}', '{GROUP}-{name}', 'JSONEachRow')",
            t.topic
        ),
        format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {name}_mv TO {name} AS SELECT * FROM {name}_queue{filter}"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_escaped_for_xml() {
        assert_eq!(xml_escape("a<b&c>"), "a&lt;b&amp;c&gt;");
    }
}
