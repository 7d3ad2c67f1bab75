//! Passwords generated for each run. They live in memory and in the containers' credential files
//! only: `Secret` has no `Display`, and its `Debug` never shows the value.

use std::collections::BTreeMap;
use std::fmt;

use rand::distr::{Alphanumeric, SampleString};

use crate::scenario::{Stack, ADMIN_USER};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn generate() -> Self {
        Self(Alphanumeric.sample_string(&mut rand::rng(), 24))
    }

    /// The value, for the few places that must hand it to a client or a credential file.
    pub fn expose(&self) -> &str {
        &self.0
    }

    #[cfg(test)]
    pub fn fixed(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The SCRAM password of every user of a run, the harness's `admin` included.
#[derive(Debug, Clone)]
pub struct Credentials {
    passwords: BTreeMap<String, Secret>,
    /// The PostgreSQL superuser's, when the stack has a database (not a Kafka user).
    postgres: Option<Secret>,
    /// ClickHouse's default user's, when the stack has ClickHouse.
    clickhouse: Option<Secret>,
}

impl Credentials {
    pub fn generate(stack: &Stack) -> Self {
        let passwords = std::iter::once(ADMIN_USER.to_owned())
            .chain(stack.users.iter().map(|u| u.name.clone()))
            .map(|u| (u, Secret::generate()))
            .collect();
        Self {
            passwords,
            postgres: stack.postgres.as_ref().map(|_| Secret::generate()),
            clickhouse: stack.clickhouse.as_ref().map(|_| Secret::generate()),
        }
    }

    #[cfg(test)]
    pub fn fixed(stack: &Stack) -> Self {
        let passwords = std::iter::once(ADMIN_USER.to_owned())
            .chain(stack.users.iter().map(|u| u.name.clone()))
            .map(|u| {
                let s = Secret::fixed(&format!("{u}-secret"));
                (u, s)
            })
            .collect();
        Self {
            passwords,
            postgres: stack
                .postgres
                .as_ref()
                .map(|_| Secret::fixed("postgres-secret")),
            clickhouse: stack
                .clickhouse
                .as_ref()
                .map(|_| Secret::fixed("clickhouse-secret")),
        }
    }

    /// Users in a stable order with their passwords.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.passwords.iter().map(|(u, s)| (u.as_str(), s))
    }

    pub fn password(&self, user: &str) -> Option<&Secret> {
        self.passwords.get(user)
    }

    /// The PostgreSQL superuser's password.
    pub fn postgres(&self) -> Option<&Secret> {
        self.postgres.as_ref()
    }

    /// ClickHouse's default user's password.
    pub fn clickhouse(&self) -> Option<&Secret> {
        self.clickhouse.as_ref()
    }

    /// `text` with every password of this run replaced by `***`: for anything shown to a person,
    /// such as the log tail of a component that echoed its configuration.
    pub fn redact(&self, text: &str) -> String {
        self.passwords
            .values()
            .chain(self.postgres.iter())
            .chain(self.clickhouse.iter())
            .fold(text.to_owned(), |t, s| t.replace(s.expose(), "***"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::fixed("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(Secret::generate().expose().len(), 24);
    }

    #[test]
    fn redact_hides_every_password() {
        let stack = crate::scenario::load_stack(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../stacks/zk-scram-3.yaml"
        )))
        .expect("shipped stack loads");
        let creds = Credentials::generate(&stack);
        let leaked: String = creds
            .iter()
            .map(|(u, s)| format!("{u}={} ", s.expose()))
            .collect();
        let shown = creds.redact(&leaked);
        assert!(creds.iter().all(|(_, s)| !shown.contains(s.expose())));
        assert!(shown.contains("admin=***"));
    }
}
