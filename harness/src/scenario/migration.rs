//! `migrate_to_kraft` steps: their file form, and what the stack looks like at each step of a
//! scenario once a migration has begun (which nodes exist, which mode the brokers run, which
//! steps still make sense), for the located errors of the loader.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::diagnostics::{did_you_mean, Checker, KeyPath};
use super::model::{Controllers, KafkaMode, MigrationPhase, NodeId, Stack, Step, Version};

/// A ZooKeeper → KRaft migration phase, as Kafka's operations guide runs it (KIP-866). The four
/// phases come in order, each once: `controllers`, `brokers`, `kraft_brokers`, `finalize`. Until
/// `finalize` ZooKeeper must keep serving (the controllers write every change to it and the
/// ZooKeeper brokers depend on it); each phase checks that first and fails, naming what it
/// found, when it does not.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateToKraftSerde {
    /// `controllers`: start the KRaft controllers in migration mode and wait until they report
    /// they are ready for the migration. `brokers`: roll every broker with migration enabled and
    /// wait until the controllers have copied ZooKeeper's metadata and write to both. `kraft_brokers`:
    /// roll every broker as a KRaft broker. `finalize`: roll the controllers out of migration mode,
    /// wait until the active one completes the migration, then stop ZooKeeper.
    pub phase: String,
    /// Phase `controllers` only: how many controllers form the new quorum, 1, 3 or 5 (default
    /// 3). They are `controller-1` ... `controller-N` from then on.
    #[serde(default)]
    pub controllers: Option<u8>,
    /// How long the phase may take, e.g. "300s" (default).
    #[serde(default)]
    pub timeout: Option<String>,
}

/// The first release whose migration the harness runs: KIP-866's migration is production-ready
/// from 3.6 (SCRAM credentials migrate from 3.5).
pub const MIGRATION_FROM: Version = Version::new(3, 6, 0);

/// The stack as the steps before one left it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Topology {
    /// The last migration phase a step ran, and at which step.
    pub phase: Option<(MigrationPhase, usize)>,
    /// Controllers the migration provisions.
    pub controllers: u8,
}

impl Topology {
    /// Brokers run KRaft (declared so, or migrated).
    pub fn kraft(&self, stack: &Stack) -> bool {
        stack.kafka.is_kraft() || self.reached(MigrationPhase::KraftBrokers)
    }

    /// Dedicated controllers running now.
    pub fn dedicated(&self, stack: &Stack) -> u8 {
        if self.phase.is_some() {
            self.controllers
        } else {
            stack.kafka.dedicated_controllers()
        }
    }

    pub fn zookeeper(&self, stack: &Stack) -> bool {
        stack.zookeeper.is_some() && !self.reached(MigrationPhase::Finalize)
    }

    /// A migration has begun and is not finalized.
    pub fn migrating(&self) -> Option<(MigrationPhase, usize)> {
        self.phase.filter(|(p, _)| *p != MigrationPhase::Finalize)
    }

    fn reached(&self, phase: MigrationPhase) -> bool {
        self.phase.is_some_and(|(p, _)| p >= phase)
    }

    /// The nodes a step may name now.
    pub fn nodes(&self, stack: &Stack) -> Vec<String> {
        let mut now = stack.clone();
        if self.phase.is_some() {
            now.kafka.mode = KafkaMode::Kraft(Controllers::Dedicated(self.controllers));
        }
        if !self.zookeeper(stack) {
            now.zookeeper = None;
        }
        now.nodes().iter().map(NodeId::to_string).collect()
    }

    /// Why a node the stack declares cannot be named at this step, if it cannot.
    pub fn gone(&self, stack: &Stack, name: &str) -> Option<String> {
        let node = name.parse::<NodeId>().ok()?;
        match node {
            NodeId::ZooKeeper(_) if stack.zookeeper.is_some() && !self.zookeeper(stack) => Some(
                format!(
                    "`{name}` was retired by the migration's `finalize` (step {})",
                    self.phase.map_or(0, |(_, i)| i + 1)
                ),
            ),
            NodeId::Controller(_) if stack.zookeeper.is_some() && self.phase.is_none() => Some(
                format!("`{name}` exists only once `migrate_to_kraft: {{ phase: controllers }}` has run"),
            ),
            _ => None,
        }
    }

    /// Validates one `migrate_to_kraft` step at index `i` and records the phase it reaches.
    pub fn step(
        &mut self,
        c: &mut Checker,
        path: &KeyPath,
        i: usize,
        raw: MigrateToKraftSerde,
        stack: &Stack,
        brokers_at: Version,
    ) -> Step {
        let names: Vec<&str> = MigrationPhase::ALL.iter().map(|p| p.name()).collect();
        let phase = MigrationPhase::ALL
            .into_iter()
            .find(|p| p.name() == raw.phase);
        let Some(phase) = phase else {
            let hint = did_you_mean(&raw.phase, names.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            c.error(
                &path.key("phase"),
                format!(
                    "unknown phase `{}`: the phases are {}, in that order{hint}",
                    raw.phase,
                    names.join(", ")
                ),
            );
            return self.placeholder();
        };
        if stack.kafka.is_kraft() || stack.zookeeper.is_none() {
            c.error(
                path,
                "the stack already runs KRaft; a migration starts from a ZooKeeper-mode stack",
            );
        } else if brokers_at < MIGRATION_FROM {
            c.error(
                path,
                format!(
                    "the brokers run {brokers_at} at this step; the ZooKeeper → KRaft migration needs {MIGRATION_FROM} or later: upgrade them first (`rolling_upgrade: {{ component: kafka, to: \"3.9.1\" }}`)"
                ),
            );
        }
        let expected = match self.phase {
            None => Some(MigrationPhase::Controllers),
            Some((p, _)) => MigrationPhase::ALL.into_iter().find(|n| *n > p),
        };
        if expected != Some(phase) {
            let done = self
                .phase
                .map(|(p, at)| format!("; step {} ran `{}`", at + 1, p.name()))
                .unwrap_or_default();
            let next = expected.map_or_else(
                || "the migration is already finalized".to_owned(),
                |e| format!("the next phase is `{}`", e.name()),
            );
            c.error(
                &path.key("phase"),
                format!(
                    "`{}` cannot run here: {next}{done} (the phases are {}, each once)",
                    phase.name(),
                    names.join(" → ")
                ),
            );
        }
        let controllers = match (phase, raw.controllers) {
            (MigrationPhase::Controllers, None) => 3,
            (MigrationPhase::Controllers, Some(n @ (1 | 3 | 5))) => n,
            (MigrationPhase::Controllers, Some(n)) => {
                c.error(
                    &path.key("controllers"),
                    format!("{n} controller(s): a quorum is 1, 3 or 5 controllers (an even count adds no fault tolerance)"),
                );
                3
            }
            (_, Some(_)) => {
                c.error(
                    &path.key("controllers"),
                    "`controllers` belongs to phase `controllers`, which provisions them",
                );
                self.controllers
            }
            (_, None) => self.controllers,
        };
        let timeout = c.duration(
            &path.key("timeout"),
            raw.timeout.as_deref(),
            Duration::from_secs(300),
        );
        if expected == Some(phase) {
            self.phase = Some((phase, i));
            self.controllers = controllers;
        }
        Step::MigrateToKraft {
            phase,
            controllers,
            timeout,
        }
    }

    fn placeholder(&self) -> Step {
        Step::MigrateToKraft {
            phase: MigrationPhase::Controllers,
            controllers: self.controllers,
            timeout: Duration::ZERO,
        }
    }

    /// A rolling upgrade of Kafka nodes in the middle of a migration.
    pub fn refuse_roll(&self, c: &mut Checker, path: &KeyPath) {
        if let Some((p, at)) = self.migrating() {
            c.error(
                path,
                format!(
                    "a ZooKeeper → KRaft migration is under way (step {} ran phase `{}`): upgrade Kafka before its first phase or after `finalize`",
                    at + 1,
                    p.name()
                ),
            );
        }
    }
}
