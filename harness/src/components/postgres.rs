//! PostgreSQL, the application database: the files its container is given (the superuser's
//! password, production's postgresql.conf overlay), the tables the harness creates, and the
//! port it serves on.

use super::ConfigFile;
use crate::scenario::{PostgresSpec, POSTGRES_DB};
use crate::secrets::Credentials;

/// The port PostgreSQL serves on inside its container.
pub const PORT: u16 = 5432;

/// The file the image's start script reads the superuser's password from (initdb `--pwfile`).
pub const PASSWORD_FILE: &str = "postgres-password";
/// Production's settings, included by the image after the harness's own.
pub const CONFIG_FILE: &str = "postgresql.conf";

/// Files placed in the container before it starts. The overlay's contents were checked to exist
/// when the stack was loaded; a file gone since is an empty overlay, and says so.
pub fn config_files(spec: &PostgresSpec, creds: &Credentials) -> Vec<ConfigFile> {
    let overlay = spec.config.as_ref().map_or_else(
        || "# no postgresql_conf in the stack\n".to_owned(),
        |path| {
            std::fs::read_to_string(path)
                .unwrap_or_else(|e| format!("# {} could not be read: {e}\n", path.display()))
        },
    );
    vec![
        ConfigFile::secret(
            PASSWORD_FILE,
            creds
                .postgres()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default(),
        ),
        ConfigFile::new(CONFIG_FILE, overlay),
    ]
}

/// What the harness runs once PostgreSQL accepts connections: the application database.
pub fn create_database() -> String {
    format!("CREATE DATABASE {POSTGRES_DB}")
}

/// One declared table. Every row a writer inserts carries its record id (producer, seq) and a
/// version that each update raises, so a change can be followed to the CDC topic and beyond.
/// `REPLICA IDENTITY FULL`: delete and update events carry the whole old row.
pub fn table_ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table} (\
         id bigint PRIMARY KEY, \
         producer integer NOT NULL, \
         seq bigint NOT NULL, \
         version integer NOT NULL, \
         payload text NOT NULL, \
         updated_at timestamptz NOT NULL DEFAULT now()); \
         ALTER TABLE {table} REPLICA IDENTITY FULL"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_carry_the_record_ids() {
        let ddl = table_ddl("orders");
        assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY"));
        assert!(ddl.contains("version integer NOT NULL"));
        assert!(ddl.ends_with("ALTER TABLE orders REPLICA IDENTITY FULL"));
    }
}
