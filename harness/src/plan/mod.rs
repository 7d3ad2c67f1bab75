//! The resolved plan of a scenario: what will run, on which images, with which users, topics and
//! steps, and which production settings the harness must override. Needs no Docker.

use std::fmt::Write as _;

use serde::Serialize;

use crate::components::kafka::{self, Overridden};
use crate::scenario::{
    format_duration, Amount, ImageRef, NodeId, Operation, Resource, Scenario, Version, ADMIN_USER,
};

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Plan {
    pub scenario: String,
    pub scenario_file: String,
    pub stack: String,
    pub stack_file: String,
    pub nodes: Vec<PlannedNode>,
    pub users: Vec<PlannedUser>,
    pub topics: Vec<PlannedTopic>,
    pub load: Vec<String>,
    pub steps: Vec<String>,
    pub semantics: String,
    pub checks: Vec<String>,
    pub expect_fail: Vec<String>,
    /// The version matrix, one line per entry (empty: the scenario runs as written).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matrix: Vec<String>,
    pub production_config: Option<String>,
    pub overridden: Vec<Overridden>,
    /// Production's settings against each release of the upgrade path (absent with `--no-preflight`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight: Option<crate::preflight::Preflight>,
    /// The canary probe, when it runs.
    pub canary: Option<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlannedNode {
    pub node: String,
    pub component: &'static str,
    pub version: String,
    pub image: String,
    /// `built` from Maven Central artifacts by the harness, or `upstream` (pulled).
    pub source: &'static str,
}

impl PlannedNode {
    fn new(node: NodeId, component: &'static str, version: Version, image: &ImageRef) -> Self {
        Self {
            node: node.to_string(),
            component,
            version: version.to_string(),
            image: image.reference().to_owned(),
            source: match image {
                ImageRef::Built { .. } => "built",
                ImageRef::Upstream { .. } => "upstream",
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlannedUser {
    pub name: String,
    pub acls: Vec<String>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlannedTopic {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u16,
    pub config: Vec<String>,
}

impl Plan {
    pub fn of(s: &Scenario) -> Self {
        let stack = &s.stack;
        let nodes = stack
            .nodes()
            .into_iter()
            .map(|node| match (node, &stack.zookeeper) {
                (NodeId::ZooKeeper(_), Some(zk)) => {
                    PlannedNode::new(node, "zookeeper", zk.version, &zk.image)
                }
                (NodeId::Registry(_), _) if stack.registry.is_some() => {
                    let r = stack.registry.as_ref().map(|r| (r.version, &r.image));
                    let (version, image) = r.unwrap_or((stack.kafka.version, &stack.kafka.image));
                    PlannedNode::new(node, "registry", version, image)
                }
                (NodeId::Postgres(_), _) => PlannedNode {
                    node: node.to_string(),
                    component: "postgres",
                    version: stack
                        .postgres
                        .as_ref()
                        .map_or_else(String::new, |p| p.major.to_string()),
                    image: stack
                        .postgres
                        .as_ref()
                        .map_or_else(String::new, |p| p.image.reference().to_owned()),
                    source: "built",
                },
                (NodeId::ClickHouse(_), _) => PlannedNode {
                    node: node.to_string(),
                    component: "clickhouse",
                    version: stack
                        .clickhouse
                        .as_ref()
                        .map_or_else(String::new, |h| h.version.clone()),
                    image: stack
                        .clickhouse
                        .as_ref()
                        .map_or_else(String::new, |h| h.image.reference().to_owned()),
                    source: "built",
                },
                (NodeId::Connect(_), _) => PlannedNode {
                    node: node.to_string(),
                    component: "connect",
                    version: stack
                        .connect
                        .as_ref()
                        .map_or_else(String::new, |k| k.version.clone()),
                    image: stack
                        .connect
                        .as_ref()
                        .map_or_else(String::new, |k| k.image.reference().to_owned()),
                    source: "built",
                },
                (NodeId::Controller(_), _) => {
                    PlannedNode::new(node, "controller", stack.kafka.version, &stack.kafka.image)
                }
                _ => PlannedNode::new(node, "kafka", stack.kafka.version, &stack.kafka.image),
            })
            .collect();
        let mut users = vec![PlannedUser {
            name: ADMIN_USER.to_owned(),
            acls: vec!["super user (the harness itself; brokers between themselves)".to_owned()],
        }];
        users.extend(stack.users.iter().map(|u| {
            PlannedUser {
                name: u.name.clone(),
                acls: u
                    .acls
                    .iter()
                    .map(|a| {
                        let ops: Vec<&str> = a
                            .operations
                            .iter()
                            .copied()
                            .map(Operation::kafka_name)
                            .collect();
                        let res = match &a.resource {
                            Resource::Topic(t) => format!("topic {t}"),
                            Resource::Group(g) => format!("group {g}"),
                            Resource::TransactionalId(t) => format!("transactional id {t}"),
                            Resource::Cluster => "cluster".to_owned(),
                        };
                        let prefixed = if a.prefixed { " (prefix)" } else { "" };
                        format!("{} on {res}{prefixed}", ops.join(", "))
                    })
                    .collect(),
            }
        }));
        // Port 0 stands for the port picked at run time.
        let props = kafka::server_properties(
            stack,
            NodeId::Kafka(1),
            kafka::Mode::declared(stack),
            stack.kafka.version,
            0,
            None,
        );
        let overridden = props
            .overridden
            .into_iter()
            .map(|mut o| {
                o.harness_value = o.harness_value.replace("127.0.0.1:0", "127.0.0.1:<port>");
                o
            })
            .collect();
        Self {
            scenario: s.name.clone(),
            scenario_file: s.source.display().to_string(),
            stack: stack.name.clone(),
            stack_file: stack.source.display().to_string(),
            nodes,
            users,
            topics: s
                .topics
                .iter()
                .map(|t| PlannedTopic {
                    name: t.name.clone(),
                    partitions: t.partitions,
                    replication_factor: t.replication_factor,
                    config: t.config.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                })
                .collect(),
            load: s
                .load
                .producers
                .iter()
                .map(|p| {
                    let amount = match p.amount {
                        Amount::For(d) => format!("for {}", format_duration(d)),
                        Amount::Records(n) => format!("{n} records"),
                    };
                    let ramp = if p.ramp.is_zero() { String::new() } else { format!(", ramp {}", format_duration(p.ramp)) };
                    let when = if p.on_step { ", started by a step" } else { "" };
                    let burst = p.burst.map_or(String::new(), |(every, n)| format!(", bursts of {n} every {}", format_duration(every)));
                    let value = p.avro.as_ref().map_or_else(
                        || format!("{} B", p.record_size),
                        |a| format!("Avro {} (subject {})", a.schema.name(), a.subject),
                    );
                    format!(
                        "producer {} -> {} as {}: {}/s {amount}{ramp}{burst}, {value}, keys {}, acks={}, idempotence={}, compression={}{when}",
                        p.name, p.topic, p.user, p.rate, p.keys, p.acks, p.idempotence, p.compression
                    )
                })
                .chain(s.load.consumers.iter().map(|c| {
                    let when = if c.on_step { ", started by a step" } else { "" };
                    let avro = c.avro.as_ref().map_or(String::new(), |a| match &a.reader {
                        Some(r) => format!(", Avro with reader schema {}", r.name()),
                        None => ", Avro with each writer schema".to_owned(),
                    });
                    format!("consumer {} <- {} as {}: group {}, commit {:?}{when}", c.name, c.topic, c.user, c.group, c.commit).to_lowercase() + &avro
                }))
                .chain(s.router.iter().map(|r| {
                    let mode = if r.transactional {
                        format!("in transactions (transactional.id {}-<run id>)", r.name)
                    } else {
                        "without transactions (offsets committed after a flush)".to_owned()
                    };
                    format!(
                        "router {} as {}: {} -> {} (legacy: {}) or {} (canary: {}) from threshold {}, {mode}, committing every {}",
                        r.name, r.user, r.topic, r.legacy_topic, r.legacy, r.canary_topic, r.canary, r.threshold, format_duration(r.commit_interval)
                    )
                }))
                .collect(),
            steps: s
                .steps
                .iter()
                .enumerate()
                .map(|(i, step)| {
                    let must_fail = s.expect_failed_steps.iter().find(|e| e.index == i);
                    match must_fail {
                        None => step.label(),
                        Some(e) => format!(
                            "{} (planted defect: must fail{})",
                            step.label(),
                            e.because
                                .as_ref()
                                .map(|b| format!(", saying \"{b}\""))
                                .unwrap_or_default()
                        ),
                    }
                })
                .collect(),
            semantics: s.semantics.to_string(),
            checks: s.checks.enabled().into_iter().map(str::to_owned).collect(),
            expect_fail: s.expect_fail.clone(),
            matrix: s
                .matrix
                .iter()
                .map(|e| {
                    format!(
                        "Kafka {} -> {} ({})",
                        e.from,
                        e.to,
                        if e.nightly {
                            "nightly: run --matrix all"
                        } else {
                            "default"
                        }
                    )
                })
                .collect(),
            production_config: stack
                .kafka
                .overlay
                .as_ref()
                .map(|o| o.path.display().to_string()),
            overridden,
            preflight: None,
            canary: crate::probes::canary::plan_line(s),
        }
    }

    pub fn render_text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "scenario {} ({})", self.scenario, self.scenario_file);
        let _ = writeln!(o, "stack    {} ({})", self.stack, self.stack_file);
        let _ = writeln!(o, "\nnodes:");
        for n in &self.nodes {
            let _ = writeln!(
                o,
                "  {:<14} {:<10} {:<8} {} ({})",
                n.node, n.component, n.version, n.image, n.source
            );
        }
        let _ = writeln!(o, "\nusers (SCRAM-SHA-512, passwords generated per run):");
        for u in &self.users {
            let acls = if u.acls.is_empty() {
                "no ACLs: denied everything".to_owned()
            } else {
                u.acls.join("; ")
            };
            let _ = writeln!(o, "  {:<14} {acls}", u.name);
        }
        let _ = writeln!(o, "\ntopics:");
        if self.topics.is_empty() {
            let _ = writeln!(o, "  (none)");
        }
        for t in &self.topics {
            let _ = writeln!(
                o,
                "  {:<14} partitions={} rf={} {}",
                t.name,
                t.partitions,
                t.replication_factor,
                t.config.join(" ")
            );
        }
        if !self.load.is_empty() {
            let _ = writeln!(o, "\nload:");
            for l in &self.load {
                let _ = writeln!(o, "  {l}");
            }
        }
        if let Some(c) = &self.canary {
            let _ = writeln!(o, "\ncanary: {c}");
        }
        let _ = writeln!(o, "\nsteps:");
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(o, "  {:>2}. {s}", i + 1);
        }
        if !self.checks.is_empty() {
            let _ = writeln!(
                o,
                "\nchecks ({} delivery): {}",
                self.semantics,
                self.checks.join(", ")
            );
        }
        if !self.expect_fail.is_empty() {
            let _ = writeln!(
                o,
                "planted defect: these checks must fail: {}",
                self.expect_fail.join(", ")
            );
        }
        if !self.matrix.is_empty() {
            let _ = writeln!(
                o,
                "\nversion matrix (each entry a run of its own; the plan above is the scenario as written):"
            );
            for m in &self.matrix {
                let _ = writeln!(o, "  {m}");
            }
        }
        if let Some(p) = &self.production_config {
            let _ = writeln!(o, "\nproduction config {p} is overlaid;");
        }
        if self.overridden.is_empty() {
            let _ = writeln!(o, "\nthe harness overrides no key set by the stack.");
        } else {
            let _ = writeln!(o, "the harness overrides these keys so the copy can run:");
            for k in &self.overridden {
                let _ = writeln!(
                    o,
                    "  {} = {}  (was {} from {:?})",
                    k.key, k.harness_value, k.user_value, k.from
                );
            }
        }
        if let Some(p) = &self.preflight {
            let _ = write!(o, "\n{}", p.render_text());
        }
        o
    }
}
