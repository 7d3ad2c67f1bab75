//! Reading stack and scenario files and turning them into validated domain types.
//! Every problem found is collected with its location, so one run of `validate` shows them all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diagnostics::{did_you_mean, valid_name, Checker, InputError, KeyPath, Source};
use super::kind::Kind;
use super::model::*;
use super::serde_types::*;

/// Kafka releases whose ZooKeeper mode the harness can run: 3.0 up to the last 3.x (4.0 removed it).
const KAFKA_ZK_MODE: (Version, Version) = (Version::new(3, 0, 0), Version::new(4, 0, 0));
/// Kafka releases whose KRaft mode the harness can run: `kafka-storage format --add-scram` (KIP-900)
/// arrived in 3.5.
const KAFKA_KRAFT_MODE: (Version, Version) = (Version::new(3, 5, 0), Version::new(5, 0, 0));
/// The Kafka releases a stack's mode supports, and how an error names that range.
fn kafka_releases(kraft: bool) -> ((Version, Version), &'static str) {
    if kraft {
        (
            KAFKA_KRAFT_MODE,
            "KRaft mode with SCRAM formatted into storage",
        )
    } else {
        (KAFKA_ZK_MODE, "ZooKeeper mode (removed in Kafka 4.0)")
    }
}

/// ZooKeeper releases whose server and 4lw commands the harness knows.
const ZOOKEEPER_SUPPORTED: (Version, Version) = (Version::new(3, 5, 0), Version::new(4, 0, 0));

/// Broker settings that must not exceed the number of brokers, or the broker cannot serve groups.
const PER_BROKER_COUNT_KEYS: &[&str] = &[
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "default.replication.factor",
];

/// A file of either kind (see `kind.rs` for how the kind is decided).
#[derive(Debug)]
pub enum Document {
    Stack(Box<Stack>),
    Scenario(Box<Scenario>),
}

pub fn load_document(path: &Path) -> Result<Document, InputError> {
    let source = Source::read(path)?;
    let decided = super::kind::decide(&source)?;
    let loaded = match decided.kind {
        Kind::Scenario => scenario_from_source(&source).map(|s| Document::Scenario(Box::new(s))),
        Kind::Stack => stack_from_source(&source).map(|s| Document::Stack(Box::new(s))),
    };
    loaded.map_err(|e| super::kind::with_note(e, &source, &decided))
}

pub fn load_stack(path: &Path) -> Result<Stack, InputError> {
    stack_from_source(&Source::read(path)?)
}

pub fn load_scenario(path: &Path) -> Result<Scenario, InputError> {
    scenario_from_source(&Source::read(path)?)
}

/// Version checks stay with the loader: `Version` is the model's, and the model sits above the
/// diagnostics that define `Checker`.
impl Checker<'_> {
    fn version(
        &mut self,
        path: &KeyPath,
        raw: &str,
        range: (Version, Version),
        what: &str,
    ) -> Version {
        match raw.parse::<Version>() {
            Ok(v) if v >= range.0 && v < range.1 => v,
            Ok(v) => {
                self.error(
                    path,
                    format!(
                        "unsupported version \"{v}\": {what} supports {} up to (not including) {}",
                        range.0, range.1
                    ),
                );
                v
            }
            Err(e) => {
                self.error(path, e);
                range.0
            }
        }
    }
}

fn zookeeper_spec(c: &mut Checker, zk_path: &KeyPath, raw: ZooKeeperSerde) -> ZooKeeperSpec {
    let version = c.version(
        &zk_path.key("version"),
        &raw.version,
        ZOOKEEPER_SUPPORTED,
        "the harness",
    );
    if !matches!(raw.nodes, 1 | 3 | 5 | 7) {
        c.error(
            &zk_path.key("nodes"),
            format!(
                "an ensemble of {} nodes cannot keep a majority well; expected 1, 3, 5 or 7",
                raw.nodes
            ),
        );
    }
    let image = image_ref(
        c,
        &zk_path.key("image"),
        raw.image.as_deref(),
        "zookeeper",
        version,
    );
    ZooKeeperSpec {
        version,
        nodes: raw.nodes,
        image,
        heap: heap(c, &zk_path.key("heap"), raw.heap, "128m"),
        jit: jit(raw.jit),
        start_timeout: c.duration(
            &zk_path.key("start_timeout"),
            raw.start_timeout.as_deref(),
            Duration::from_secs(90),
        ),
    }
}

/// Apicurio Registry releases the harness builds and configures (3.x serves the Confluent API
/// under `/apis/ccompat/v7`; 2.x had other artifacts and API paths).
const APICURIO_SUPPORTED: (Version, Version) = (Version::new(3, 0, 0), Version::new(4, 0, 0));
/// Confluent Platform releases of `cp-schema-registry` the harness configures.
const CONFLUENT_REGISTRY_SUPPORTED: (Version, Version) =
    (Version::new(5, 4, 0), Version::new(9, 0, 0));
/// The registry releases an image supports, and how an error names that range.
fn registry_releases(confluent: bool) -> ((Version, Version), &'static str) {
    if confluent {
        (
            CONFLUENT_REGISTRY_SUPPORTED,
            "confluentinc/cp-schema-registry",
        )
    } else {
        (APICURIO_SUPPORTED, "the harness's Apicurio Registry image")
    }
}

/// Compatibility levels of the Confluent Schema Registry API.
pub const COMPATIBILITY_LEVELS: [&str; 7] = [
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
];

/// `level` in upper case if it is a compatibility level; an error naming the levels otherwise.
pub(super) fn compatibility_level(c: &mut Checker, path: &KeyPath, level: &str) -> String {
    let upper = level.to_ascii_uppercase();
    if !COMPATIBILITY_LEVELS.contains(&upper.as_str()) {
        c.error(
            path,
            format!(
                "`{level}` is not a compatibility level; expected one of {}",
                COMPATIBILITY_LEVELS.join(", ")
            ),
        );
    }
    upper
}

fn registry_spec(c: &mut Checker, path: &KeyPath, raw: RegistrySerde) -> RegistrySpec {
    let confluent = raw
        .image
        .as_deref()
        .is_some_and(|i| i.contains("cp-schema-registry"));
    let (range, what) = registry_releases(confluent);
    let version = c.version(&path.key("version"), &raw.version, range, what);
    let image = image_ref(
        c,
        &path.key("image"),
        raw.image.as_deref(),
        "registry",
        version,
    );
    let storage = match raw.storage.as_deref() {
        None | Some("kafka") => RegistryStorage::Kafka,
        Some("memory") if !confluent => RegistryStorage::Memory,
        Some("memory") => {
            c.error(
                &path.key("storage"),
                "Confluent's registry keeps schemas in Kafka only; use `storage: kafka`",
            );
            RegistryStorage::Kafka
        }
        Some(other) => {
            c.error(
                &path.key("storage"),
                format!("`{other}`: expected `kafka` or `memory`"),
            );
            RegistryStorage::Kafka
        }
    };
    RegistrySpec {
        version,
        image,
        storage,
        heap: heap(c, &path.key("heap"), raw.heap, "192m"),
        start_timeout: c.duration(
            &path.key("start_timeout"),
            raw.start_timeout.as_deref(),
            Duration::from_secs(120),
        ),
        compatibility: compatibility_level(
            c,
            &path.key("compatibility"),
            raw.compatibility.as_deref().unwrap_or("BACKWARD"),
        ),
    }
}

fn connect_spec(
    c: &mut Checker,
    path: &KeyPath,
    raw: ConnectSerde,
    postgres: Option<&PostgresSpec>,
    registry: Option<&RegistrySpec>,
) -> ConnectSpec {
    let apicurio = registry.is_some_and(|r| r.image.flavor() == Flavor::Harness);
    let version = raw.version.unwrap_or_else(|| "3.6.1.Final".to_owned());
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = parts.len() == 4
        && parts[..3].iter().all(|p| p.parse::<u32>().is_ok())
        && parts[3] == "Final";
    if !numeric {
        c.error(
            &path.key("version"),
            format!("`{version}` is not a Debezium release; expected e.g. \"3.6.1.Final\""),
        );
    } else if parts[0].parse::<u32>().unwrap_or(0) < 2 {
        c.error(
            &path.key("version"),
            format!("Debezium {version}: the harness builds Debezium 2.x and 3.x"),
        );
    }
    let mut names = BTreeSet::new();
    for (i, k) in raw.connectors.iter().enumerate() {
        let kp = path.key("connectors").index(i);
        if !valid_name(&k.name) || k.name.contains('.') {
            c.error(
                &kp.key("name"),
                format!("`{}`: a connector name here is letters, digits, `-` and `_` (it prefixes topic names)", k.name),
            );
        }
        if !names.insert(k.name.as_str()) {
            c.error(
                &kp.key("name"),
                format!("connector `{}` is declared twice", k.name),
            );
        }
        if k.tables.is_empty() {
            c.error(&kp.key("tables"), "a connector captures at least one table");
        }
        for (j, t) in k.tables.iter().enumerate() {
            match postgres {
                None => c.error(
                    &kp.key("tables").index(j),
                    "the stack has no `postgres:` section for Debezium to read",
                ),
                Some(pg) if !pg.tables.contains(t) => {
                    let hint = did_you_mean(t, pg.tables.iter().map(String::as_str))
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    c.error(
                        &kp.key("tables").index(j),
                        format!(
                            "unknown table `{t}`: the stack's postgres declares {}{hint}",
                            pg.tables.join(", ")
                        ),
                    );
                }
                Some(_) => {}
            }
        }
        for key in k.config.keys() {
            if crate::components::connect::HARNESS_KEYS.contains(&key.as_str()) {
                c.error(
                    &kp.key("config").key(key),
                    format!("`{key}` is set by the harness (the connection, the slot, the tables and the topics follow from the stack)"),
                );
            }
        }
    }
    ConnectSpec {
        image: ImageRef::Built {
            tag: format!("kafka-harness/connect:{version}"),
        },
        version,
        heap: heap(c, &path.key("heap"), raw.heap, "384m"),
        start_timeout: c.duration(
            &path.key("start_timeout"),
            raw.start_timeout.as_deref(),
            Duration::from_secs(180),
        ),
        connectors: raw
            .connectors
            .into_iter()
            .enumerate()
            .map(|(i, k)| {
                let fp = path.key("connectors").index(i).key("format");
                let avro = match k.format.as_deref() {
                    None => apicurio,
                    Some("json") => false,
                    Some("avro") if apicurio => true,
                    Some("avro") => {
                        c.error(&fp, if registry.is_some() {
                            "Debezium writes Avro through Apicurio's converter: the stack's registry must be the harness's Apicurio (no `image:`)"
                        } else {
                            "Avro needs the stack's `registry:`; add one or use `format: json`"
                        });
                        false
                    }
                    Some(other) => {
                        c.error(&fp, format!("`{other}`: expected `avro` or `json`"));
                        false
                    }
                };
                ConnectorSpec {
                    name: k.name,
                    tables: k.tables,
                    config: k.config,
                    flat: false,
                    avro,
                }
            })
            .collect(),
    }
}

fn clickhouse_spec(
    c: &mut Checker,
    path: &KeyPath,
    raw: ClickHouseSerde,
    mut connect: Option<&mut ConnectSpec>,
    base_dir: &Path,
) -> ClickHouseSpec {
    let version = raw.version.unwrap_or_else(|| "18.16".to_owned());
    if version != "18.16" {
        c.error(
            &path.key("version"),
            format!("ClickHouse {version} is not packaged here: the harness builds its image from Debian bookworm's packages, which have 18.16 only"),
        );
    }
    let config = raw.config_xml.map(|f| {
        let file = base_dir.join(&f);
        if !file.is_file() {
            c.error(
                &path.key("config_xml"),
                format!("no file {}", file.display()),
            );
        }
        file
    });
    if raw.tables.is_empty() {
        c.error(&path.key("tables"), "at least one table is needed");
    }
    let mut names = BTreeSet::new();
    let mut tables = Vec::new();
    for (i, t) in raw.tables.into_iter().enumerate() {
        let tp = path.key("tables").index(i);
        let ident = !t.name.is_empty()
            && t.name
                .chars()
                .next()
                .is_some_and(|ch| ch.is_ascii_lowercase())
            && t.name
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        if !ident {
            c.error(&tp.key("name"), format!("`{}`: a table name here is lower-case letters, digits and `_`, starting with a letter", t.name));
        } else if !names.insert(t.name.clone()) {
            c.error(
                &tp.key("name"),
                format!("table `{}` is declared twice", t.name),
            );
        }
        let topic = match connect.as_deref_mut() {
            None => {
                c.error(
                    &tp.key("connector"),
                    "the stack has no `connect:` section whose topics ClickHouse could read",
                );
                String::new()
            }
            Some(k) => match k.connectors.iter_mut().find(|x| x.name == t.connector) {
                None => {
                    let known: Vec<&str> = k.connectors.iter().map(|x| x.name.as_str()).collect();
                    let hint = did_you_mean(&t.connector, known.iter().copied())
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    c.error(
                        &tp.key("connector"),
                        format!(
                            "unknown connector `{}`: `connect.connectors` has {}{hint}",
                            t.connector,
                            known.join(", ")
                        ),
                    );
                    String::new()
                }
                Some(x) if !x.tables.contains(&t.table) => {
                    c.error(
                        &tp.key("table"),
                        format!(
                            "connector `{}` does not capture table `{}` (it captures {})",
                            x.name,
                            t.table,
                            x.tables.join(", ")
                        ),
                    );
                    String::new()
                }
                Some(x) => {
                    x.flat = true;
                    x.flat_topic(&t.table)
                }
            },
        };
        match t.format.as_deref() {
            None | Some("JSONEachRow") => {}
            Some("AvroConfluent") => c.error(
                &tp.key("format"),
                format!("ClickHouse {version} has no AvroConfluent format (it came in 20.x; Debian packages 18.16 only): read Debezium's flattened JSON rows with `JSONEachRow`"),
            ),
            Some(other) => c.error(
                &tp.key("format"),
                format!("`{other}`: the harness's Kafka tables read `JSONEachRow` (or `AvroConfluent` on releases that have it)"),
            ),
        }
        tables.push(ClickHouseTable {
            name: t.name,
            connector: t.connector,
            source_table: t.table,
            topic,
            view_where: t.view_where,
        });
    }
    ClickHouseSpec {
        image: ImageRef::Built {
            tag: format!("kafka-harness/clickhouse:{version}"),
        },
        version,
        config,
        start_timeout: c.duration(
            &path.key("start_timeout"),
            raw.start_timeout.as_deref(),
            Duration::from_secs(60),
        ),
        tables,
    }
}

/// The PostgreSQL majors the harness builds: those Debian bookworm packages.
const POSTGRES_MAJORS: [u32; 1] = [15];

fn postgres_spec(
    c: &mut Checker,
    path: &KeyPath,
    raw: PostgresSerde,
    base_dir: &Path,
) -> PostgresSpec {
    let major = match raw.version.as_deref().unwrap_or("15").parse::<u32>() {
        Ok(m) if POSTGRES_MAJORS.contains(&m) => m,
        Ok(m) => {
            c.error(
                &path.key("version"),
                format!("PostgreSQL {m} is not packaged here: the harness builds its image from Debian bookworm's packages, which have {}", POSTGRES_MAJORS.map(|m| m.to_string()).join(", ")),
            );
            15
        }
        Err(_) => {
            c.error(
                &path.key("version"),
                format!(
                    "`{}`: expected a major release, e.g. \"15\"",
                    raw.version.as_deref().unwrap_or_default()
                ),
            );
            15
        }
    };
    let config = raw.postgresql_conf.map(|f| {
        let file = base_dir.join(&f);
        if !file.is_file() {
            c.error(
                &path.key("postgresql_conf"),
                format!("no file {}", file.display()),
            );
        }
        file
    });
    if raw.tables.is_empty() {
        c.error(&path.key("tables"), "at least one table is needed");
    }
    let mut seen = BTreeSet::new();
    for (i, t) in raw.tables.iter().enumerate() {
        let valid = t.len() <= 48
            && t.chars().next().is_some_and(|ch| ch.is_ascii_lowercase())
            && t.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        if !valid {
            c.error(
                &path.key("tables").index(i),
                format!("`{t}`: a table name here is lower-case letters, digits and `_`, starting with a letter (it names a Kafka topic too)"),
            );
        } else if !seen.insert(t.as_str()) {
            c.error(
                &path.key("tables").index(i),
                format!("table `{t}` is declared twice"),
            );
        }
    }
    PostgresSpec {
        major,
        image: ImageRef::Built {
            tag: format!("kafka-harness/postgres:{major}"),
        },
        config,
        tables: raw.tables,
        start_timeout: c.duration(
            &path.key("start_timeout"),
            raw.start_timeout.as_deref(),
            Duration::from_secs(60),
        ),
    }
}

fn stack_from_source(source: &Source) -> Result<Stack, InputError> {
    super::kind::top_level(source, Some(Kind::Stack))?;
    let raw: StackSerde = source.parse()?;
    let mut c = Checker::new(source);
    let root = KeyPath::root();
    if raw.kind == Some(FileKindSerde::Scenario) {
        c.error(
            &root.key("kind"),
            "this file says it is a scenario, but it is read as a stack (a scenario's `stack` must name a stack file)",
        );
    }
    let base_dir = source.path.parent().unwrap_or(Path::new("."));

    let k_path = root.key("kafka");
    let zk_path = root.key("zookeeper");
    let kraft = matches!(raw.kafka.mode, KafkaModeSerde::Kraft);
    let zookeeper = match (raw.zookeeper, kraft) {
        (Some(zk), false) => Some(zookeeper_spec(&mut c, &zk_path, zk)),
        (None, false) => {
            c.error(
                &k_path.key("mode"),
                "ZooKeeper mode needs a `zookeeper:` section (or say `mode: kraft`)",
            );
            None
        }
        (Some(_), true) => {
            c.error(
                &zk_path,
                "a KRaft stack has no ZooKeeper; remove this section (or say `mode: zookeeper`)",
            );
            None
        }
        (None, true) => None,
    };
    let kafka = kafka_section(&mut c, &k_path, raw.kafka, base_dir);

    let mut users = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, u) in raw.security.users.into_iter().enumerate() {
        let up = root.key("security").key("users").index(i);
        if u.name == ADMIN_USER {
            c.error(
                &up.key("name"),
                "`admin` is reserved for the harness's own super user",
            );
        } else if !valid_name(&u.name) {
            c.error(
                &up.key("name"),
                format!(
                    "`{}` is not a valid user name; use letters, digits, '.', '_' and '-'",
                    u.name
                ),
            );
        } else if !seen.insert(u.name.clone()) {
            c.error(
                &up.key("name"),
                format!("user `{}` is declared twice", u.name),
            );
        }
        let mut acls = Vec::new();
        for (j, a) in u.acls.into_iter().enumerate() {
            let ap = up.key("acls").index(j);
            let resource = match (a.topic, a.group, a.transactional_id, a.cluster) {
                (Some(t), None, None, false) => Resource::Topic(t),
                (None, Some(g), None, false) => Resource::Group(g),
                (None, None, Some(t), false) => Resource::TransactionalId(t),
                (None, None, None, true) => Resource::Cluster,
                _ => {
                    c.error(
                        &ap,
                        "an ACL names exactly one of `topic`, `group`, `transactional_id` or `cluster: true`",
                    );
                    continue;
                }
            };
            if a.operations.is_empty() {
                c.error(&ap.key("operations"), "at least one operation is needed");
            }
            acls.push(Acl {
                resource,
                prefixed: a.prefixed,
                operations: a.operations.into_iter().map(operation).collect(),
            });
        }
        users.push(User { name: u.name, acls });
    }

    if users.iter().any(|u| u.name == REGISTRY_USER) {
        c.error(
            &root.key("security").key("users"),
            format!("`{REGISTRY_USER}` is reserved for the schema registry's own user"),
        );
    }
    let registry = raw
        .registry
        .map(|r| registry_spec(&mut c, &root.key("registry"), r));
    if let Some(r) = registry
        .as_ref()
        .filter(|r| r.storage == RegistryStorage::Kafka)
    {
        users.push(crate::components::registry::kafka_user(r));
    }

    let green = raw.green.map(|g| {
        let gp = root.key("green");
        if !matches!(g.kafka.mode, KafkaModeSerde::Kraft) {
            c.error(
                &gp.key("kafka").key("mode"),
                "green runs KRaft (`mode: kraft`): a ZooKeeper-mode green would need an ensemble of its own",
            );
        }
        let kafka = kafka_section(&mut c, &gp.key("kafka"), g.kafka, base_dir);
        let mp = gp.key("mirror_maker");
        GreenSpec {
            kafka,
            mirror_maker: MirrorMakerSpec {
                heap: heap(&mut c, &mp.key("heap"), g.mirror_maker.heap, "256m"),
                start_timeout: c.duration(
                    &mp.key("start_timeout"),
                    g.mirror_maker.start_timeout.as_deref(),
                    Duration::from_secs(120),
                ),
            },
        }
    });

    let postgres = raw
        .postgres
        .map(|p| postgres_spec(&mut c, &root.key("postgres"), p, base_dir));
    if users.iter().any(|u| u.name == CONNECT_USER) {
        c.error(
            &root.key("security").key("users"),
            format!("`{CONNECT_USER}` is reserved for Kafka Connect's own user"),
        );
    }
    let mut connect = raw.connect.map(|k| {
        connect_spec(
            &mut c,
            &root.key("connect"),
            k,
            postgres.as_ref(),
            registry.as_ref(),
        )
    });
    if users.iter().any(|u| u.name == CLICKHOUSE_USER) {
        c.error(
            &root.key("security").key("users"),
            format!("`{CLICKHOUSE_USER}` is reserved for ClickHouse's own user"),
        );
    }
    let clickhouse = raw.clickhouse.map(|h| {
        clickhouse_spec(
            &mut c,
            &root.key("clickhouse"),
            h,
            connect.as_mut(),
            base_dir,
        )
    });
    if let Some(k) = &connect {
        users.push(crate::components::connect::kafka_user(k));
    }
    if let Some(h) = &clickhouse {
        users.push(crate::components::clickhouse::kafka_user(h));
    }

    c.finish(Stack {
        name: raw.name,
        description: raw.description,
        source: source.path.clone(),
        zookeeper,
        kafka,
        registry,
        postgres,
        connect,
        clickhouse,
        users,
        green,
        prefix: "",
    })
}

/// What every blue/green step needs: a green cluster, `blue` named, blue not yet retired.
fn blue_green_step(
    c: &mut Checker,
    path: &KeyPath,
    stack: &Stack,
    cluster: &str,
    retired: Option<usize>,
) {
    if stack.green.is_none() {
        c.error(
            path,
            format!(
                "stack {} has no `green:` cluster to copy blue into",
                stack.source.display()
            ),
        );
    } else if cluster != "blue" {
        c.error(
            &path.key("cluster"),
            format!("`{cluster}`: MirrorMaker copies blue into green; this step is about `blue`"),
        );
    } else if let Some(at) = retired {
        c.error(path, format!("blue was retired at step {}", at + 1));
    }
}

/// A `kafka:` section (the stack's cluster, or a blue/green stack's second one).
fn kafka_section(c: &mut Checker, k_path: &KeyPath, k: KafkaSerde, base_dir: &Path) -> KafkaSpec {
    let kraft = matches!(k.mode, KafkaModeSerde::Kraft);
    let (range, what) = kafka_releases(kraft);
    let k_version = c.version(&k_path.key("version"), &k.version, range, what);
    let mode = match (kraft, k.controllers) {
        (false, None) => KafkaMode::ZooKeeper,
        (false, Some(_)) => {
            c.error(
                &k_path.key("controllers"),
                "`controllers` is for KRaft stacks; add `mode: kraft` or remove it",
            );
            KafkaMode::ZooKeeper
        }
        (true, None) => KafkaMode::Kraft(Controllers::Combined),
        (true, Some(ControllersSerde::Named(w))) if w == "combined" => {
            KafkaMode::Kraft(Controllers::Combined)
        }
        (true, Some(ControllersSerde::Named(w))) => {
            c.error(
                &k_path.key("controllers"),
                format!(
                    "`{w}`: expected `combined` or a number of dedicated controllers (1, 3 or 5)"
                ),
            );
            KafkaMode::Kraft(Controllers::Combined)
        }
        (true, Some(ControllersSerde::Dedicated(n))) => {
            if !matches!(n, 1 | 3 | 5) {
                c.error(
                    &k_path.key("controllers"),
                    format!("a quorum of {n} controllers cannot keep a majority well; expected 1, 3 or 5"),
                );
            }
            KafkaMode::Kraft(Controllers::Dedicated(n))
        }
    };
    if mode == KafkaMode::Kraft(Controllers::Combined) && !matches!(k.brokers, 1 | 3 | 5) {
        c.error(
            &k_path.key("brokers"),
            format!(
                "with combined controllers every broker is a voter, and {} voters cannot keep a majority well; use 1, 3 or 5 brokers or dedicated `controllers`",
                k.brokers
            ),
        );
    }
    if !(1..=9).contains(&k.brokers) {
        c.error(
            &k_path.key("brokers"),
            format!("{} brokers: expected 1 to 9", k.brokers),
        );
    }
    let k_image = image_ref(
        c,
        &k_path.key("image"),
        k.image.as_deref(),
        "kafka",
        k_version,
    );
    let overlay = k.server_properties.as_deref().and_then(|rel| {
        let path = normalize(&base_dir.join(rel));
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(PropertiesFile {
                entries: parse_properties(&text),
                path,
            }),
            Err(e) => {
                c.error(
                    &k_path.key("server_properties"),
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    });
    let config: BTreeMap<String, String> = k.config.into_iter().map(|(k, v)| (k, v.0)).collect();
    check_counts_fit(c, k_path, overlay.as_ref(), &config, k.brokers);
    KafkaSpec {
        version: k_version,
        mode,
        brokers: k.brokers,
        image: k_image,
        heap: heap(c, &k_path.key("heap"), k.heap, "256m"),
        jit: jit(k.jit),
        start_timeout: c.duration(
            &k_path.key("start_timeout"),
            k.start_timeout.as_deref(),
            Duration::from_secs(180),
        ),
        overlay,
        config,
    }
}

fn scenario_from_source(source: &Source) -> Result<Scenario, InputError> {
    super::kind::top_level(source, Some(Kind::Scenario))?;
    let mut raw: ScenarioSerde = source.parse()?;
    let base_dir = source.path.parent().unwrap_or(Path::new("."));
    let stack_path = normalize(&base_dir.join(&raw.stack));
    let mut c = Checker::new(source);
    let root = KeyPath::root();
    if raw.kind == Some(FileKindSerde::Stack) {
        c.error(
            &root.key("kind"),
            "this file says it is a stack, but it is read as a scenario (`run` and `plan` take a scenario file)",
        );
    }
    if !stack_path.is_file() {
        c.error(
            &root.key("stack"),
            format!("stack file {} does not exist", stack_path.display()),
        );
        return Err(InputError {
            diagnostics: c.found,
        });
    }
    // Problems inside the stack are reported against the stack's own file.
    let stack = load_stack(&stack_path)?;

    let mut topics = Vec::new();
    let mut topic_names = BTreeSet::new();
    for (i, t) in raw.topics.into_iter().enumerate() {
        let tp = root.key("topics").index(i);
        if !valid_name(&t.name) || t.name.len() > 249 {
            c.error(
                &tp.key("name"),
                format!("`{}` is not a legal Kafka topic name", t.name),
            );
        } else if !topic_names.insert(t.name.clone()) {
            c.error(
                &tp.key("name"),
                format!("topic `{}` is declared twice", t.name),
            );
        }
        if t.partitions == 0 {
            c.error(&tp.key("partitions"), "a topic needs at least 1 partition");
        }
        let assignment = t.assignment.map(|a| {
            for (p, replicas) in a.iter().enumerate() {
                let mut seen = BTreeSet::new();
                if replicas.is_empty()
                    || replicas
                        .iter()
                        .any(|b| *b == 0 || *b > stack.kafka.brokers || !seen.insert(*b))
                {
                    c.error(
                        &tp.key("assignment").index(p),
                        format!(
                            "partition {p} needs distinct broker numbers between 1 and {}",
                            stack.kafka.brokers
                        ),
                    );
                }
            }
            a.into_iter()
                .map(|r| r.into_iter().map(i32::from).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        });
        let (partitions, replication_factor) = match &assignment {
            Some(a) => (
                u32::try_from(a.len()).unwrap_or(u32::MAX),
                u16::try_from(a.first().map_or(0, Vec::len)).unwrap_or(0),
            ),
            None => (t.partitions, t.replication_factor),
        };
        if assignment.is_none()
            && (t.replication_factor == 0 || t.replication_factor > u16::from(stack.kafka.brokers))
        {
            c.error(
                &tp.key("replication_factor"),
                format!(
                    "replication factor {} needs between 1 and the stack's {} broker(s)",
                    t.replication_factor, stack.kafka.brokers
                ),
            );
        }
        topics.push(Topic {
            name: t.name,
            partitions,
            replication_factor,
            config: t.config.into_iter().map(|(k, v)| (k, v.0)).collect(),
            assignment,
        });
    }

    let user_names: Vec<&str> = std::iter::once(ADMIN_USER)
        .chain(stack.users.iter().map(|u| u.name.as_str()))
        .collect();

    super::router::add_routed_topics(raw.canary_router.as_ref(), &mut topics, &mut topic_names);
    let load = load_section(
        &mut c,
        raw.load,
        &user_names,
        &topic_names,
        &SchemaContext {
            base_dir,
            stack: &stack,
        },
    );
    let router = super::router::router_section(
        &mut c,
        raw.canary_router.take(),
        &topics,
        &load.consumers,
        &user_names,
    );
    if let Some(r) = &router {
        super::router::routed_readers(&mut c, r, &load.consumers);
    }
    let mut router_steps = super::router::RouterSteps::default();
    // Postgres writers start, stop and finish like producers.
    let producer_names: Vec<&str> = load
        .producers
        .iter()
        .map(|p| p.name.as_str())
        .chain(load.postgres_writers.iter().map(|w| w.name.as_str()))
        .collect();
    let load_avro: BTreeMap<&str, &str> = load
        .producers
        .iter()
        .filter_map(|p| Some((p.name.as_str(), p.avro.as_ref()?.subject.as_str())))
        .collect();
    let schema_ctx = SchemaContext {
        base_dir,
        stack: &stack,
    };
    let consumer_names: Vec<&str> = load.consumers.iter().map(|p| p.name.as_str()).collect();
    let load_ref =
        |c: &mut Checker, path: KeyPath, name: &str, producers: bool, consumers: bool| {
            let mut known: Vec<&str> = Vec::new();
            if producers {
                known.extend(&producer_names);
            }
            if consumers {
                known.extend(&consumer_names);
            }
            if !known.contains(&name) {
                let what = match (producers, consumers) {
                    (true, true) => "producer or consumer",
                    (true, false) => "producer",
                    _ => "consumer",
                };
                let hint = did_you_mean(name, known.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                c.error(
                    &path,
                    format!("no {what} named `{name}` under `load`{hint}"),
                );
            }
        };
    // The nodes a step may name change when a migration adds controllers and retires ZooKeeper.
    let mut topology = super::migration::Topology::default();
    // Blue/green: the loads that use blue at each step (none may when it is retired).
    let on_blue = |name: &str| {
        load.producers.iter().any(|p| p.name == name)
            || load
                .consumers
                .iter()
                .any(|k| k.name == name && k.cluster == Cluster::Blue)
    };
    let mut using_blue: BTreeSet<String> = load
        .producers
        .iter()
        .filter(|p| !p.on_step)
        .map(|p| p.name.clone())
        .chain(
            load.consumers
                .iter()
                .filter(|k| !k.on_step && k.cluster == Cluster::Blue)
                .map(|k| k.name.clone()),
        )
        .collect();
    let mut retired: Option<usize> = None;
    // Blue consumers moved to green by a `switch_consumers`.
    let mut switched: BTreeSet<String> = BTreeSet::new();
    // Blue producers moved to green by a `switch_producers`.
    let mut switched_producers: BTreeSet<String> = BTreeSet::new();
    let node_ref = |c: &mut Checker,
                    topology: &super::migration::Topology,
                    path: KeyPath,
                    name: &str|
     -> Option<NodeId> {
        let nodes = topology.nodes(&stack);
        if let Some(why) = topology.gone(&stack, name) {
            c.error(&path, why);
            return None;
        }
        match name.parse::<NodeId>() {
            Ok(n) if nodes.iter().any(|x| x == name) => Some(n),
            _ => {
                let hint = did_you_mean(name, nodes.iter().map(String::as_str))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                c.error(
                    &path,
                    format!(
                        "unknown component `{name}`: the stack has {}{hint}",
                        nodes.join(", ")
                    ),
                );
                None
            }
        }
    };

    let mut steps = Vec::new();
    let step_count = raw.steps.len();
    // The release brokers and KRaft controllers run at each step, for the ordering checks.
    let (mut brokers_at, mut controllers_at) = (stack.kafka.version, stack.kafka.version);
    for (i, s) in raw.steps.into_iter().enumerate() {
        let sp = root.key("steps").index(i);
        let user = |c: &mut Checker, kind: &str, name: &str| {
            if !user_names.contains(&name) {
                let hint = did_you_mean(name, user_names.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                c.error(
                    &sp.key(kind).key("user"),
                    format!(
                        "unknown user `{name}`: the stack {} declares {}{hint}",
                        stack.source.display(),
                        user_names.join(", ")
                    ),
                );
            }
        };
        let kind = match s.into_kind() {
            Ok(k) => k,
            Err(n) => {
                c.error(&sp, format!("a step names exactly one kind (see the `steps` of the schema); this one names {n}"));
                continue;
            }
        };
        let step = match kind {
            StepKind::Produce(p) => {
                user(&mut c, "produce", &p.user);
                check_topic(&mut c, &sp.key("produce"), &p.topic, &topic_names);
                Step::Produce {
                    timeout: c.duration(
                        &sp.key("produce").key("timeout"),
                        p.timeout.as_deref(),
                        Duration::from_secs(30),
                    ),
                    topic: p.topic,
                    user: p.user,
                    records: p.records,
                }
            }
            StepKind::Consume(p) => {
                user(&mut c, "consume", &p.user);
                check_topic(&mut c, &sp.key("consume"), &p.topic, &topic_names);
                Step::Consume {
                    timeout: c.duration(
                        &sp.key("consume").key("timeout"),
                        p.timeout.as_deref(),
                        Duration::from_secs(60),
                    ),
                    topic: p.topic,
                    user: p.user,
                    group: p.group,
                    records: p.records,
                }
            }
            StepKind::ExpectRefused(r) => match (r.client, r.user) {
                (RefusedClientSerde::Anonymous, None) => {
                    Step::ExpectRefused(RefusedClient::Anonymous)
                }
                (RefusedClientSerde::Anonymous, Some(_)) => {
                    c.error(
                        &sp.key("expect_refused").key("user"),
                        "an anonymous client has no user; remove `user`",
                    );
                    continue;
                }
                (RefusedClientSerde::WrongPassword, Some(u)) => {
                    user(&mut c, "expect_refused", &u);
                    Step::ExpectRefused(RefusedClient::WrongPassword { user: u })
                }
                (RefusedClientSerde::WrongPassword, None) => {
                    c.error(
                        &sp.key("expect_refused"),
                        "`client: wrong_password` needs a `user` whose name to present",
                    );
                    continue;
                }
            },
            StepKind::ExpectDenied(d) => {
                user(&mut c, "expect_denied", &d.user);
                if d.user == ADMIN_USER {
                    c.error(
                        &sp.key("expect_denied").key("user"),
                        "`admin` is a super user and is never denied",
                    );
                }
                Step::ExpectDenied {
                    user: d.user,
                    topic: d.topic,
                    operation: match d.operation {
                        DeniedOperationSerde::Read => DeniedOperation::Read,
                        DeniedOperationSerde::Write => DeniedOperation::Write,
                    },
                }
            }
            StepKind::Restart(r) => {
                let Some(node) =
                    node_ref(&mut c, &topology, sp.key("restart").key("node"), &r.node)
                else {
                    continue;
                };
                Step::Restart {
                    node,
                    timeout: c.duration(
                        &sp.key("restart").key("timeout"),
                        r.timeout.as_deref(),
                        Duration::from_secs(180),
                    ),
                }
            }
            StepKind::Start(r) => {
                let Some(node) = node_ref(&mut c, &topology, sp.key("start").key("node"), &r.node)
                else {
                    continue;
                };
                Step::Start {
                    node,
                    timeout: c.duration(
                        &sp.key("start").key("timeout"),
                        r.timeout.as_deref(),
                        Duration::from_secs(180),
                    ),
                }
            }
            StepKind::Stop(n) => {
                match node_ref(&mut c, &topology, sp.key("stop").key("node"), &n.node) {
                    Some(node) => Step::Stop(node),
                    None => continue,
                }
            }
            StepKind::RollingUpgrade(u) if u.component == "connect" => {
                let up = sp.key("rolling_upgrade");
                match &stack.connect {
                    None => c.error(&up.key("component"), "the stack has no `connect:` section"),
                    Some(k) => {
                        let parts: Vec<&str> = u.to.split('.').collect();
                        let release = parts.len() == 4
                            && parts[..3].iter().all(|p| p.parse::<u32>().is_ok())
                            && parts[3] == "Final";
                        if !release {
                            c.error(
                                &up.key("to"),
                                format!(
                                    "`{}` is not a Debezium release; expected e.g. \"3.6.1.Final\"",
                                    u.to
                                ),
                            );
                        } else if u.to == k.version {
                            c.error(
                                &up.key("to"),
                                format!("connect already runs Debezium {}", u.to),
                            );
                        }
                    }
                }
                if u.pin_protocol.is_some() {
                    c.error(
                        &up.key("pin_protocol"),
                        "`pin_protocol` belongs to Kafka's rolling upgrades",
                    );
                }
                Step::UpgradeConnect {
                    to: u.to,
                    timeout: c.duration(
                        &up.key("node_timeout"),
                        u.node_timeout.as_deref(),
                        Duration::from_secs(180),
                    ),
                }
            }
            StepKind::RollingUpgrade(u) => {
                let up = sp.key("rolling_upgrade");
                let kraft = topology.kraft(&stack);
                let dedicated = topology.dedicated(&stack) > 0;
                let zookeeper = topology.zookeeper(&stack);
                let mut names = vec!["kafka"];
                if dedicated {
                    names.push("controller");
                }
                if zookeeper {
                    names.push("zookeeper");
                }
                if stack.registry.is_some() {
                    names.push("registry");
                }
                let component = match u.component.as_str() {
                    "kafka" => Component::Kafka,
                    "registry" if stack.registry.is_some() => Component::Registry,
                    "controller" if dedicated => Component::Controller,
                    "zookeeper" if zookeeper => Component::ZooKeeper,
                    other => {
                        let why = match other {
                            "controller" if kraft => {
                                " (its controllers are combined with the brokers: roll `kafka`)"
                            }
                            "controller" => " (a ZooKeeper-mode stack has no KRaft controllers)",
                            "zookeeper" if stack.zookeeper.is_some() => {
                                " (the migration's `finalize` retired ZooKeeper)"
                            }
                            "zookeeper" => " (a KRaft stack has no ZooKeeper)",
                            "registry" => " (the stack has no `registry:` section)",
                            _ => "",
                        };
                        let hint = did_you_mean(other, names.iter().copied())
                            .filter(|s| *s != other)
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                        c.error(
                            &up.key("component"),
                            format!(
                                "unknown component `{other}`{why}: this stack has {}{hint}",
                                names.join(", ")
                            ),
                        );
                        continue;
                    }
                };
                let to = match component {
                    Component::Kafka | Component::Controller => {
                        let (range, what) = kafka_releases(kraft);
                        c.version(&up.key("to"), &u.to, range, what)
                    }
                    Component::ZooKeeper => {
                        c.version(&up.key("to"), &u.to, ZOOKEEPER_SUPPORTED, "the harness")
                    }
                    Component::Registry => {
                        let confluent = stack
                            .registry
                            .as_ref()
                            .is_some_and(|r| matches!(r.image, ImageRef::Upstream { .. }));
                        let (range, what) = registry_releases(confluent);
                        c.version(&up.key("to"), &u.to, range, what)
                    }
                    // Never named above: Debian packages one PostgreSQL release, and Connect
                    // workers are not rolled yet.
                    Component::Postgres | Component::Connect | Component::ClickHouse => continue,
                };
                if matches!(component, Component::Kafka | Component::Controller) {
                    topology.refuse_roll(&mut c, &up);
                }
                // What each part runs after this step: KRaft brokers may not be newer than
                // their controllers.
                match component {
                    Component::Controller => controllers_at = to,
                    Component::Kafka => {
                        if dedicated && to > controllers_at {
                            c.error(
                                &up.key("to"),
                                format!(
                                    "brokers cannot run a newer release than their controllers ({controllers_at}); upgrade the controllers first: `rolling_upgrade: {{ component: controller, to: \"{to}\" }}`"
                                ),
                            );
                        }
                        brokers_at = to;
                        if !dedicated {
                            controllers_at = to;
                        }
                    }
                    Component::ZooKeeper
                    | Component::Registry
                    | Component::Postgres
                    | Component::Connect
                    | Component::ClickHouse => {}
                }
                if let Some(pin) = &u.pin_protocol {
                    let ok = pin.split('.').count() >= 2
                        && pin.split('.').take(2).all(|p| p.parse::<u32>().is_ok());
                    if kraft {
                        c.error(
                            &up.key("pin_protocol"),
                            "KRaft brokers have no inter.broker.protocol.version; finish a KRaft upgrade with a `bump_metadata_version` step",
                        );
                    } else if component != Component::Kafka {
                        c.error(
                            &up.key("pin_protocol"),
                            "only brokers have an inter-broker protocol to pin",
                        );
                    } else if !ok {
                        c.error(
                            &up.key("pin_protocol"),
                            format!("`{pin}` is not a protocol version; expected e.g. \"3.6\""),
                        );
                    }
                }
                Step::RollingUpgrade {
                    component,
                    to,
                    pin_protocol: u.pin_protocol,
                    node_timeout: c.duration(
                        &up.key("node_timeout"),
                        u.node_timeout.as_deref(),
                        Duration::from_secs(180),
                    ),
                }
            }
            StepKind::BumpMetadataVersion(b) => {
                let bp = sp.key("bump_metadata_version");
                if let Some((p, at)) = topology.migrating() {
                    c.error(
                        &bp,
                        format!("metadata.version cannot change during a ZooKeeper → KRaft migration (step {} ran phase `{}`); bump it after `finalize`", at + 1, p.name()),
                    );
                    continue;
                }
                if !topology.kraft(&stack) {
                    c.error(
                        &bp,
                        "metadata.version belongs to KRaft; in ZooKeeper mode a second roll without `pin_protocol` finishes the upgrade",
                    );
                    continue;
                }
                let running = Version::new(brokers_at.major, brokers_at.minor, 0)
                    .min(Version::new(controllers_at.major, controllers_at.minor, 0));
                let to =
                    b.to.unwrap_or_else(|| format!("{}.{}", running.major, running.minor));
                match format!("{to}.0").parse::<Version>() {
                    Ok(v) if v > running => c.error(
                        &bp.key("to"),
                        format!(
                            "metadata.version {to} needs every node on {to} or later; the stack runs {}.{} at this step",
                            running.major, running.minor
                        ),
                    ),
                    Ok(_) => {}
                    Err(_) => c.error(
                        &bp.key("to"),
                        format!("`{to}` is not a release line; expected e.g. \"4.1\""),
                    ),
                }
                Step::BumpMetadataVersion {
                    to,
                    timeout: c.duration(
                        &bp.key("timeout"),
                        b.timeout.as_deref(),
                        Duration::from_secs(60),
                    ),
                }
            }
            StepKind::MigrateToKraft(m) => {
                let step = topology.step(
                    &mut c,
                    &sp.key("migrate_to_kraft"),
                    i,
                    m,
                    &stack,
                    brokers_at,
                );
                if let Step::MigrateToKraft {
                    phase: MigrationPhase::Controllers,
                    ..
                } = step
                {
                    // The controllers start on the brokers' release.
                    controllers_at = brokers_at;
                }
                step
            }
            StepKind::DrainCluster(d) => {
                let dp = sp.key("drain_cluster");
                blue_green_step(&mut c, &dp, &stack, &d.cluster, retired);
                let mut groups: Vec<(String, String)> = Vec::new();
                for k in load
                    .consumers
                    .iter()
                    .filter(|k| k.cluster == Cluster::Blue && !switched.contains(&k.name))
                {
                    let pair = (k.group.clone(), k.topic.clone());
                    if !groups.contains(&pair) {
                        groups.push(pair);
                    }
                }
                Step::DrainBlue {
                    topics: topic_names.iter().cloned().collect(),
                    groups,
                    timeout: c.duration(
                        &dp.key("timeout"),
                        d.timeout.as_deref(),
                        Duration::from_secs(120),
                    ),
                }
            }
            StepKind::SwitchConsumers(w) => {
                let wp = sp.key("switch_consumers");
                blue_green_step(&mut c, &wp, &stack, "blue", retired);
                load_ref(&mut c, wp.key("name"), &w.name, false, true);
                match load.consumers.iter().find(|k| k.name == w.name) {
                    Some(k) if k.cluster == Cluster::Green => c.error(
                        &wp.key("name"),
                        format!("consumer `{}` reads green already", w.name),
                    ),
                    Some(_) if !switched.insert(w.name.clone()) => c.error(
                        &wp.key("name"),
                        format!("consumer `{}` was switched to green before", w.name),
                    ),
                    _ => {}
                }
                using_blue.remove(&w.name);
                let offsets = match w.offsets.as_deref() {
                    None | Some("translated") => SwitchOffsets::Translated,
                    Some("earliest") => SwitchOffsets::Earliest,
                    Some("latest") => SwitchOffsets::Latest,
                    Some(other) => {
                        c.error(
                            &wp.key("offsets"),
                            format!("`{other}`: expected `translated`, `earliest` or `latest`"),
                        );
                        SwitchOffsets::Translated
                    }
                };
                Step::SwitchConsumer {
                    name: w.name,
                    offsets,
                    timeout: c.duration(
                        &wp.key("timeout"),
                        w.timeout.as_deref(),
                        Duration::from_secs(60),
                    ),
                }
            }
            StepKind::SwitchProducers(w) => {
                let wp = sp.key("switch_producers");
                blue_green_step(&mut c, &wp, &stack, "blue", retired);
                load_ref(&mut c, wp.key("name"), &w.name, true, false);
                if load.postgres_writers.iter().any(|p| p.name == w.name) {
                    c.error(
                        &wp.key("name"),
                        format!("`{}` writes to PostgreSQL, not to a Kafka cluster", w.name),
                    );
                }
                if let Some(p) = load.producers.iter().find(|p| p.name == w.name) {
                    if !switched_producers.insert(w.name.clone()) {
                        c.error(
                            &wp.key("name"),
                            format!("producer `{}` was switched to green before", w.name),
                        );
                    }
                    // MirrorMaker copies blue to green only: what the producer writes to green
                    // from now on never reaches a consumer still reading blue.
                    let left: Vec<&str> = load
                        .consumers
                        .iter()
                        .filter(|k| {
                            k.topic == p.topic
                                && k.cluster == Cluster::Blue
                                && !switched.contains(&k.name)
                        })
                        .map(|k| k.name.as_str())
                        .collect();
                    if !left.is_empty() {
                        c.error(
                            &wp.key("name"),
                            format!(
                                "consumer(s) {} still read `{}` on blue at this step: what `{}` writes to green never reaches blue (MirrorMaker copies blue to green only); switch them first (`switch_consumers`)",
                                left.join(", "),
                                p.topic,
                                w.name
                            ),
                        );
                    }
                }
                using_blue.remove(&w.name);
                let ttl = c.duration(&wp.key("ttl"), w.ttl.as_deref(), Duration::from_secs(5));
                if ttl.is_zero() {
                    c.error(&wp.key("ttl"), "a TTL of 0 would make the producer resolve the alias without pause; give at least 100ms");
                }
                Step::SwitchProducer {
                    name: w.name,
                    ttl,
                    wait_for_mirror: w.wait_for_mirror.unwrap_or(true),
                    timeout: c.duration(
                        &wp.key("timeout"),
                        w.timeout.as_deref(),
                        Duration::from_secs(60),
                    ),
                }
            }
            StepKind::Retire(r) => {
                let rp = sp.key("retire");
                blue_green_step(&mut c, &rp, &stack, &r.cluster, retired);
                if r.timeout.is_some() {
                    c.error(&rp.key("timeout"), "`timeout` belongs to `drain_cluster`");
                }
                if !using_blue.is_empty() {
                    c.error(
                        &rp,
                        format!(
                            "{} still use(s) blue at this step; stop them first (`stop_load`, or `wait_load` for a producer)",
                            using_blue.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
                retired = Some(i);
                Step::RetireBlue
            }
            StepKind::Kill(n) => {
                match node_ref(&mut c, &topology, sp.key("kill").key("node"), &n.node) {
                    Some(node) => Step::Kill(node),
                    None => continue,
                }
            }
            StepKind::Pause(n) => {
                match node_ref(&mut c, &topology, sp.key("pause").key("node"), &n.node) {
                    Some(node) => Step::Pause(node),
                    None => continue,
                }
            }
            StepKind::Unpause(n) => {
                match node_ref(&mut c, &topology, sp.key("unpause").key("node"), &n.node) {
                    Some(node) => Step::Unpause(node),
                    None => continue,
                }
            }
            StepKind::StartLoad(l) => {
                load_ref(
                    &mut c,
                    sp.key("start_load").key("name"),
                    &l.name,
                    true,
                    true,
                );
                if on_blue(&l.name)
                    && !switched.contains(&l.name)
                    && !switched_producers.contains(&l.name)
                {
                    using_blue.insert(l.name.clone());
                }
                Step::StartLoad(l.name)
            }
            StepKind::StopLoad(l) => {
                load_ref(&mut c, sp.key("stop_load").key("name"), &l.name, true, true);
                using_blue.remove(&l.name);
                Step::StopLoad(l.name)
            }
            StepKind::WaitLoad(l) => {
                load_ref(
                    &mut c,
                    sp.key("wait_load").key("name"),
                    &l.name,
                    true,
                    false,
                );
                using_blue.remove(&l.name);
                Step::WaitLoad {
                    timeout: c.duration(
                        &sp.key("wait_load").key("timeout"),
                        l.timeout.as_deref(),
                        Duration::from_secs(600),
                    ),
                    name: l.name,
                }
            }
            StepKind::Drain(l) => {
                load_ref(&mut c, sp.key("drain").key("name"), &l.name, false, true);
                Step::Drain {
                    timeout: c.duration(
                        &sp.key("drain").key("timeout"),
                        l.timeout.as_deref(),
                        Duration::from_secs(120),
                    ),
                    name: l.name,
                }
            }
            StepKind::RestartConsumer(l) => {
                load_ref(
                    &mut c,
                    sp.key("restart_consumer").key("name"),
                    &l.name,
                    false,
                    true,
                );
                Step::RestartConsumer(l.name)
            }
            StepKind::RegisterSchema(r) => {
                let rp = sp.key("register_schema");
                let subject_of = load_avro.get(r.producer.as_str()).copied();
                if subject_of.is_none() {
                    load_ref(&mut c, rp.key("producer"), &r.producer, true, false);
                    if producer_names.contains(&r.producer.as_str()) {
                        c.error(
                            &rp.key("producer"),
                            format!("producer `{}` sends plain records; give it an `avro:` section to register schemas for it", r.producer),
                        );
                    }
                }
                let expect = match r.expect.as_deref() {
                    None | Some("accepted") => Registration::Accepted,
                    Some("refused") => Registration::Refused,
                    Some("unreachable") => Registration::Unreachable,
                    Some(other) => {
                        c.error(
                            &rp.key("expect"),
                            format!("`{other}`: expected `accepted`, `refused` or `unreachable`"),
                        );
                        Registration::Accepted
                    }
                };
                let compatibility = r
                    .compatibility
                    .as_deref()
                    .map(|l| compatibility_level(&mut c, &rp.key("compatibility"), l));
                let timeout = c.duration(
                    &rp.key("timeout"),
                    r.timeout.as_deref(),
                    Duration::from_secs(10),
                );
                let Some(schema) = schema_ctx.schema(&mut c, &rp.key("schema"), &r.schema) else {
                    continue;
                };
                Step::RegisterSchema {
                    producer: r.producer,
                    schema,
                    expect,
                    compatibility,
                    timeout,
                }
            }
            StepKind::SetThreshold(t) => {
                let p = sp.key("set_threshold");
                router_steps.check(&mut c, &p, "set_threshold", i, router.as_ref());
                Step::SetThreshold {
                    threshold: super::router::threshold(&mut c, &p.key("threshold"), t.threshold),
                    drain_timeout: c.duration(
                        &p.key("drain_timeout"),
                        t.drain_timeout.as_deref(),
                        Duration::from_secs(60),
                    ),
                }
            }
            StepKind::Promote(t) => {
                let p = sp.key("promote");
                router_steps.check(&mut c, &p, "promote", i, router.as_ref());
                Step::Promote {
                    from: super::router::promote_from(&mut c, &p.key("from"), t.from.as_deref()),
                    drain_timeout: c.duration(
                        &p.key("drain_timeout"),
                        t.drain_timeout.as_deref(),
                        Duration::from_secs(60),
                    ),
                }
            }
            StepKind::KillRouter(f) => {
                let p = sp.key("kill_router");
                router_steps.check(&mut c, &p, "kill_router", i, router.as_ref());
                Step::RouterFault {
                    fault: RouterFault::Kill,
                    down_for: c.duration(&p.key("down_for"), f.down_for.as_deref(), Duration::ZERO),
                }
            }
            StepKind::RestartRouter(f) => {
                let p = sp.key("restart_router");
                router_steps.check(&mut c, &p, "restart_router", i, router.as_ref());
                Step::RouterFault {
                    fault: RouterFault::Restart,
                    down_for: c.duration(&p.key("down_for"), f.down_for.as_deref(), Duration::ZERO),
                }
            }
            StepKind::Wait(w) => Step::Wait(c.duration(
                &sp.key("wait").key("duration"),
                Some(&w.duration),
                Duration::ZERO,
            )),
        };
        steps.push(step);
    }
    if steps.is_empty() && c.found.is_empty() {
        c.error(&root.key("steps"), "a scenario needs at least one step");
    }

    let canary = super::canary::canary_section(&mut c, raw.canary);
    let avro_consumers: Vec<&str> = load
        .consumers
        .iter()
        .filter(|k| k.avro.is_some())
        .map(|k| k.name.as_str())
        .collect();
    let raw_avro_reads = std::mem::take(&mut raw.checks.avro_reads);
    let mut checks = checks_section(&mut c, raw.checks, &consumer_names, step_count, &canary);
    for (i, a) in raw_avro_reads.into_iter().enumerate() {
        let ap = root.key("checks").key("avro_reads").index(i);
        if !avro_consumers.contains(&a.consumer.as_str()) {
            c.error(
                &ap.key("consumer"),
                format!(
                    "no Avro consumer named `{}` under `load.consumers` (Avro consumers: {})",
                    a.consumer,
                    if avro_consumers.is_empty() {
                        "none".to_owned()
                    } else {
                        avro_consumers.join(", ")
                    }
                ),
            );
        }
        if a.writer_schemas.is_empty() {
            c.error(&ap.key("writer_schemas"), "name at least one .avsc file");
        }
        let writer_schemas = a
            .writer_schemas
            .iter()
            .enumerate()
            .filter_map(|(j, w)| schema_ctx.schema(&mut c, &ap.key("writer_schemas").index(j), w))
            .collect();
        checks.avro_reads.push(AvroReads {
            consumer: a.consumer,
            writer_schemas,
        });
    }
    if checks.routed_exactly_once && router.is_none() {
        c.error(
            &root.key("checks").key("routed_exactly_once"),
            "`routed_exactly_once` judges canary routing; the scenario has no `canary_router:`",
        );
    }
    let mut expect_failed_steps: Vec<ExpectedFailure> = Vec::new();
    for (i, f) in raw.expect.failed_steps.into_iter().enumerate() {
        let (n, because) = match f {
            FailedStepSerde::Number(n) => (n, None),
            FailedStepSerde::Because { step, because } => (step, Some(because)),
        };
        let path = root.key("expect").key("failed_steps").index(i);
        if n == 0 || n > step_count {
            c.error(
                &path,
                format!("step {n} does not exist: the steps are numbered 1 to {step_count}"),
            );
        } else if expect_failed_steps.iter().any(|e| e.index == n - 1) {
            c.error(&path, format!("step {n} is listed twice"));
        } else {
            expect_failed_steps.push(ExpectedFailure {
                index: n - 1,
                because,
            });
        }
    }
    let enabled = checks.enabled();
    for (i, name) in raw.expect.fail.iter().enumerate() {
        if !enabled.contains(&name.as_str()) {
            let hint = did_you_mean(name, CHECK_NAMES.iter().copied())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            c.error(
                &root.key("expect").key("fail").index(i),
                format!(
                    "`{name}` is not among this scenario's checks ({}){hint}",
                    enabled.join(", ")
                ),
            );
        }
    }
    let semantics = match raw.semantics {
        Some(SemanticsSerde::AtLeastOnce) => Semantics::AtLeastOnce,
        Some(SemanticsSerde::Idempotent) => Semantics::Idempotent,
        Some(SemanticsSerde::ExactlyOnce) => Semantics::ExactlyOnce,
        None if load
            .producers
            .iter()
            .all(|p| p.idempotence && p.acks == "all") =>
        {
            Semantics::Idempotent
        }
        None => Semantics::AtLeastOnce,
    };

    let mut matrix = Vec::new();
    let upgrades = steps.iter().any(|s| {
        matches!(
            s,
            Step::RollingUpgrade {
                component: Component::Kafka | Component::Controller,
                ..
            }
        )
    });
    for (i, m) in raw.matrix.into_iter().enumerate() {
        let mp = root.key("matrix").index(i);
        let (range, what) = kafka_releases(stack.kafka.is_kraft());
        let from = c.version(&mp.key("from"), &m.from, range, what);
        // After a migration the upgrades go to KRaft releases.
        let (range, what) = kafka_releases(topology.kraft(&stack));
        let to = c.version(&mp.key("to"), &m.to, range, what);
        if topology.phase.is_some() && from < super::migration::MIGRATION_FROM {
            c.error(
                &mp.key("from"),
                format!(
                    "the scenario migrates to KRaft, which needs {} or later",
                    super::migration::MIGRATION_FROM
                ),
            );
        }
        if from >= to {
            c.error(
                &mp.key("to"),
                format!("an upgrade goes to a newer release than {from}, not {to}"),
            );
        }
        if !upgrades {
            c.error(
                &mp,
                "a version matrix varies the Kafka rolling upgrades, and this scenario has none",
            );
        }
        let entry = MatrixEntry {
            from,
            to,
            nightly: m.nightly,
        };
        if matrix.contains(&entry) {
            c.error(&mp, format!("{} -> {} is listed twice", from, to));
        }
        matrix.push(entry);
    }
    if !matrix.is_empty() && matrix.iter().all(|m| m.nightly) {
        c.error(
            &root.key("matrix"),
            "every entry is `nightly`; the default run needs at least one",
        );
    }

    c.finish(Scenario {
        matrix,
        name: raw.name,
        description: raw.description,
        source: source.path.clone(),
        stack,
        topics,
        load,
        steps,
        semantics,
        checks,
        expect_fail: raw.expect.fail,
        expect_failed_steps,
        canary,
        router,
    })
}

/// Where .avsc paths of a scenario are resolved, and whether its stack has a registry.
struct SchemaContext<'a> {
    base_dir: &'a Path,
    stack: &'a Stack,
}

impl SchemaContext<'_> {
    /// Reads and parses the .avsc file at `rel` (relative to the scenario); errors name the key
    /// and the file (with line and column for JSON syntax).
    fn schema(&self, c: &mut Checker, path: &KeyPath, rel: &str) -> Option<SchemaFile> {
        let file = normalize(&self.base_dir.join(rel));
        match crate::avro::load_avsc(&file) {
            Ok(a) => Some(SchemaFile(std::sync::Arc::new(a))),
            Err(e) => {
                c.error(path, e.to_string());
                None
            }
        }
    }

    /// Avro needs a registry in the stack; says so once per use.
    fn needs_registry(&self, c: &mut Checker, path: &KeyPath) {
        if self.stack.registry.is_none() {
            c.error(
                path,
                format!(
                    "Avro records need a schema registry, and stack {} has none; add a `registry:` section (e.g. `registry: {{ version: \"3.0.9\" }}`)",
                    self.stack.source.display()
                ),
            );
        }
    }
}

fn load_section(
    c: &mut Checker,
    raw: LoadSerde,
    users: &[&str],
    topics: &BTreeSet<String>,
    schemas: &SchemaContext<'_>,
) -> Load {
    let root = KeyPath::root().key("load");
    let mut names = BTreeSet::new();
    let mut check_common =
        |c: &mut Checker, path: &KeyPath, name: &str, user: &str, topic: &str| {
            if !names.insert(name.to_owned()) {
                c.error(
                    &path.key("name"),
                    format!("`{name}` names two loads; producer and consumer names must be unique"),
                );
            }
            if !users.contains(&user) {
                let hint = did_you_mean(user, users.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                c.error(
                    &path.key("user"),
                    format!(
                        "unknown user `{user}`: the stack declares {}{hint}",
                        users.join(", ")
                    ),
                );
            }
            check_topic(c, path, topic, topics);
        };
    let mut producers = Vec::new();
    for (i, p) in raw.producers.into_iter().enumerate() {
        let pp = root.key("producers").index(i);
        check_common(c, &pp, &p.name, &p.user, &p.topic);
        let avro = p.avro.and_then(|a| {
            let ap = pp.key("avro");
            schemas.needs_registry(c, &ap);
            let strategy = match a.subject_strategy.as_deref() {
                None | Some("topic") => crate::avro::SubjectStrategy::Topic,
                Some("record") => crate::avro::SubjectStrategy::Record,
                Some(other) => {
                    c.error(
                        &ap.key("subject_strategy"),
                        format!("`{other}`: expected `topic` (subject `{}-value`) or `record` (the record's full name)", p.topic),
                    );
                    crate::avro::SubjectStrategy::Topic
                }
            };
            let schema = schemas.schema(c, &ap.key("schema"), &a.schema)?;
            let Some(subject) = strategy.subject(&p.topic, schema.0.full_name.as_deref()) else {
                c.error(
                    &ap.key("subject_strategy"),
                    format!("{} is not a named type; the record strategy needs a record's full name", schema.name()),
                );
                return None;
            };
            Some(AvroProducerSpec { schema, subject })
        });
        if p.rate == 0 {
            c.error(&pp.key("rate"), "a rate of 0 records/s sends nothing");
        }
        let amount = match (p.duration.as_deref(), p.records) {
            (Some(d), None) => {
                Amount::For(c.duration(&pp.key("duration"), Some(d), Duration::from_secs(1)))
            }
            (None, Some(n)) => Amount::Records(n),
            _ => {
                c.error(
                    &pp,
                    "a producer needs exactly one of `duration` and `records`",
                );
                Amount::Records(0)
            }
        };
        if p.record_size < 64 {
            c.error(
                &pp.key("record_size"),
                format!(
                    "{} bytes cannot carry the record's ids; use at least 64",
                    p.record_size
                ),
            );
        }
        producers.push(ProducerSpec {
            id: u32::try_from(i).unwrap_or(u32::MAX),
            rate: p.rate,
            amount,
            ramp: c.duration(&pp.key("ramp"), p.ramp.as_deref(), Duration::ZERO),
            burst: p.burst.map(|b| {
                let every = c.duration(
                    &pp.key("burst").key("every"),
                    Some(&b.every),
                    Duration::from_secs(1),
                );
                if every.is_zero() || b.records == 0 {
                    c.error(
                        &pp.key("burst"),
                        "a burst needs a non-zero `every` and `records`",
                    );
                }
                (every, b.records)
            }),
            record_size: p.record_size,
            keys: p.keys,
            acks: match p.acks {
                AcksSerde::All => "all",
                AcksSerde::One => "1",
                AcksSerde::Zero => "0",
            },
            idempotence: p.idempotence,
            compression: match p.compression {
                CompressionSerde::None => "none",
                CompressionSerde::Gzip => "gzip",
                CompressionSerde::Snappy => "snappy",
                CompressionSerde::Lz4 => "lz4",
                CompressionSerde::Zstd => "zstd",
            },
            partitioner: p.partitioner.map(|x| match x {
                PartitionerSerde::ConsistentRandom => "consistent_random",
                PartitionerSerde::Murmur2Random => "murmur2_random",
                PartitionerSerde::Random => "random",
                PartitionerSerde::Fnv1aRandom => "fnv1a_random",
            }),
            delivery_timeout: c.duration(
                &pp.key("delivery_timeout"),
                p.delivery_timeout.as_deref(),
                Duration::from_secs(30),
            ),
            on_step: matches!(p.start, StartSerde::OnStep),
            name: p.name,
            topic: p.topic,
            user: p.user,
            avro,
        });
        if let Some(last) = producers.last() {
            if last.idempotence && last.acks != "all" {
                c.error(
                    &pp.key("idempotence"),
                    "idempotence needs `acks: all`; set `idempotence: false` for acks 1 or 0",
                );
            }
        }
    }
    let mut consumers = Vec::new();
    for (i, k) in raw.consumers.into_iter().enumerate() {
        let kp = root.key("consumers").index(i);
        check_common(c, &kp, &k.name, &k.user, &k.topic);
        if !valid_name(&k.group) {
            c.error(
                &kp.key("group"),
                format!("`{}` is not a usable group id", k.group),
            );
        }
        let avro = k.avro.map(|a| {
            let ap = kp.key("avro");
            schemas.needs_registry(c, &ap);
            AvroConsumerSpec {
                reader: a
                    .reader_schema
                    .and_then(|r| schemas.schema(c, &ap.key("reader_schema"), &r)),
            }
        });
        let cluster = match k.cluster.as_deref() {
            None | Some("blue") => Cluster::Blue,
            Some("green") if schemas.stack.green.is_some() => Cluster::Green,
            Some("green") => {
                c.error(
                    &kp.key("cluster"),
                    format!(
                        "stack {} has no `green:` cluster",
                        schemas.stack.source.display()
                    ),
                );
                Cluster::Blue
            }
            Some(other) => {
                c.error(
                    &kp.key("cluster"),
                    format!("`{other}`: expected `blue` or `green`"),
                );
                Cluster::Blue
            }
        };
        if cluster == Cluster::Green && avro.is_some() {
            c.error(
                &kp.key("cluster"),
                "an Avro consumer reads through the stack's registry, next to blue; read Avro on blue",
            );
        }
        consumers.push(ConsumerSpec {
            avro,
            cluster,
            name: k.name,
            topic: k.topic,
            user: k.user,
            group: k.group,
            commit: match k.commit {
                CommitSerde::Auto => Commit::Auto,
                CommitSerde::Sync => Commit::Sync,
                CommitSerde::Async => Commit::Async,
                CommitSerde::Never => Commit::Never,
            },
            on_step: matches!(k.start, StartSerde::OnStep),
        });
    }
    let postgres_writers = raw
        .postgres_writers
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let wp = root.key("postgres_writers").index(i);
            if !names.insert(w.name.clone()) {
                c.error(
                    &wp.key("name"),
                    format!("`{}` names two loads; load names must be unique", w.name),
                );
            }
            match schemas.stack.postgres.as_ref() {
                None => c.error(
                    &wp.key("table"),
                    format!(
                        "stack `{}` has no `postgres:` section to write to",
                        schemas.stack.name
                    ),
                ),
                Some(pg) if !pg.tables.contains(&w.table) => {
                    let hint = did_you_mean(&w.table, pg.tables.iter().map(String::as_str))
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    c.error(
                        &wp.key("table"),
                        format!(
                            "unknown table `{}`: the stack's postgres declares {}{hint}",
                            w.table,
                            pg.tables.join(", ")
                        ),
                    );
                }
                Some(_) => {}
            }
            let rate = w.rate.unwrap_or(10);
            if rate == 0 {
                c.error(&wp.key("rate"), "a rate of 0 changes/s writes nothing");
            }
            let amount = match (w.duration.as_deref(), w.changes) {
                (Some(d), None) => {
                    Amount::For(c.duration(&wp.key("duration"), Some(d), Duration::from_secs(1)))
                }
                (None, Some(n)) => Amount::Records(n),
                _ => {
                    c.error(&wp, "a writer needs exactly one of `duration` and `changes`");
                    Amount::Records(0)
                }
            };
            let mut share = |key: &str, v: Option<f64>, default: f64| {
                let v = v.unwrap_or(default);
                if !(0.0..=1.0).contains(&v) {
                    c.error(&wp.key(key), format!("{v} is not a share between 0 and 1"));
                }
                v.clamp(0.0, 1.0)
            };
            let updates = share("updates", w.updates, 0.2);
            let deletes = share("deletes", w.deletes, 0.0);
            if updates + deletes >= 1.0 {
                c.error(
                    &wp.key("updates"),
                    format!("updates ({updates}) and deletes ({deletes}) leave no inserts: their sum must be below 1"),
                );
            }
            PostgresWriterSpec {
                name: w.name,
                // After the producers' ids: a row's (producer, seq) is unique in the run.
                id: u32::try_from(producers.len() + i).unwrap_or(u32::MAX),
                table: w.table,
                rate,
                amount,
                updates,
                deletes,
                payload_size: w.payload_size.unwrap_or(100).clamp(16, 1 << 20),
                on_step: matches!(w.start, StartSerde::OnStep),
            }
        })
        .collect();
    Load {
        producers,
        consumers,
        postgres_writers,
    }
}

fn checks_section(
    c: &mut Checker,
    raw: ChecksSerde,
    consumers: &[&str],
    steps: usize,
    canary: &CanarySpec,
) -> Checks {
    let root = KeyPath::root().key("checks");
    let canary_checks = super::canary::canary_checks(
        c,
        raw.canary_availability,
        raw.canary_max_unavailability,
        raw.canary_e2e_p99,
        canary,
        steps,
    );
    let mut max_lag = Vec::new();
    for (i, m) in raw.max_lag.into_iter().enumerate() {
        let mp = root.key("max_lag").index(i);
        if !consumers.contains(&m.consumer.as_str()) {
            c.error(
                &mp.key("consumer"),
                format!("no consumer named `{}` under `load.consumers`", m.consumer),
            );
        }
        if let Some(n) = m.after_step {
            if n == 0 || n > steps {
                c.error(
                    &mp.key("after_step"),
                    format!("step {n} does not exist; steps are numbered 1 to {steps}"),
                );
            }
        }
        max_lag.push(MaxLag {
            consumer: m.consumer,
            max: m.max,
            after_step: m.after_step.map(|n| n.saturating_sub(1)),
            settle: c.duration(&mp.key("settle"), m.settle.as_deref(), Duration::ZERO),
        });
    }
    let produce_errors = raw.produce_errors.map(|b| {
        if b.max.is_none() && b.max_ratio.is_none() {
            c.error(
                &root.key("produce_errors"),
                "give `max`, `max_ratio`, or both",
            );
        }
        ErrorBudget {
            max: b.max,
            max_ratio: b.max_ratio,
        }
    });
    let max_unavailability = raw
        .max_unavailability
        .as_deref()
        .map(|d| c.duration(&root.key("max_unavailability"), Some(d), Duration::ZERO));
    let log_scan = match raw.log_scan {
        Some(l) if l.fail_on.is_empty() => {
            c.error(
                &root.key("log_scan").key("fail_on"),
                "name at least one kind, e.g. [class_not_found, failed_to_start]",
            );
            Vec::new()
        }
        Some(l) => l.fail_on.into_iter().map(log_kind).collect(),
        None => Vec::new(),
    };
    Checks {
        preflight: raw.preflight,
        log_scan,
        no_loss: raw.no_loss,
        no_duplicates: raw.no_duplicates,
        ordering: raw.ordering,
        max_lag,
        produce_errors,
        max_unavailability,
        canary_availability: canary_checks.availability,
        canary_max_unavailability: canary_checks.max_unavailability,
        canary_e2e_p99: canary_checks.e2e_p99,
        avro_reads: Vec::new(),
        routed_exactly_once: raw.routed_exactly_once,
        cdc_integrity: raw.cdc_integrity,
    }
}

fn log_kind(k: LogKindSerde) -> LogKind {
    match k {
        LogKindSerde::FailedToStart => LogKind::FailedToStart,
        LogKindSerde::ClassNotFound => LogKind::ClassNotFound,
        LogKindSerde::InvalidConfig => LogKind::InvalidConfig,
        LogKindSerde::UnknownConfig => LogKind::UnknownConfig,
        LogKindSerde::IgnoredConfig => LogKind::IgnoredConfig,
        LogKindSerde::ProtocolMismatch => LogKind::ProtocolMismatch,
        LogKindSerde::Error => LogKind::Error,
        LogKindSerde::Warning => LogKind::Warning,
    }
}

fn check_topic(c: &mut Checker, path: &KeyPath, topic: &str, declared: &BTreeSet<String>) {
    if !declared.contains(topic) {
        let hint = did_you_mean(topic, declared.iter().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        c.error(
            &path.key("topic"),
            format!("topic `{topic}` is not declared under `topics`{hint}"),
        );
    }
}

fn check_counts_fit(
    c: &mut Checker,
    k_path: &KeyPath,
    overlay: Option<&PropertiesFile>,
    config: &BTreeMap<String, String>,
    brokers: u8,
) {
    for key in PER_BROKER_COUNT_KEYS {
        let from_overlay = overlay.and_then(|o| {
            o.get(key)
                .map(|v| (v, format!("{} sets", o.path.display())))
        });
        let from_inline = config
            .get(*key)
            .map(|v| (v.as_str(), "`config` sets".to_owned()));
        if let Some((value, origin)) = from_inline.or(from_overlay) {
            if value
                .trim()
                .parse::<u32>()
                .is_ok_and(|n| n > u32::from(brokers))
            {
                c.error(
                    &k_path.key("brokers"),
                    format!("{origin} {key}={value}, which needs at least {value} brokers; the stack has {brokers}"),
                );
            }
        }
    }
}

fn image_ref(
    c: &mut Checker,
    path: &KeyPath,
    raw: Option<&str>,
    component: &str,
    version: Version,
) -> ImageRef {
    let Some(reference) = raw else {
        return ImageRef::Built {
            tag: format!("kafka-harness/{component}:{version}"),
        };
    };
    let repo = reference.rsplit_once(':').map_or(reference, |(r, _)| r);
    let repo = repo.rsplit('/').take(2).collect::<Vec<_>>();
    let repo = match repo.as_slice() {
        [name, org] => format!("{org}/{name}"),
        [name] => (*name).to_owned(),
        _ => String::new(),
    };
    let flavor = match (component, repo.as_str()) {
        (_, r) if r.starts_with("kafka-harness/") => Flavor::Harness,
        ("kafka", "apache/kafka") => Flavor::Apache,
        ("kafka", "confluentinc/cp-kafka") | ("zookeeper", "confluentinc/cp-zookeeper") => {
            Flavor::Confluent
        }
        ("kafka", "bitnami/kafka") | ("zookeeper", "bitnami/zookeeper") => Flavor::Bitnami,
        ("registry", "confluentinc/cp-schema-registry") => Flavor::Confluent,
        ("zookeeper", "zookeeper" | "library/zookeeper") => Flavor::OfficialZooKeeper,
        _ => {
            let known = match component {
                "kafka" => "apache/kafka, confluentinc/cp-kafka, bitnami/kafka",
                "registry" => "confluentinc/cp-schema-registry",
                _ => "zookeeper, confluentinc/cp-zookeeper, bitnami/zookeeper",
            };
            c.error(path, format!("unknown image `{reference}`: the harness knows how to configure {known}, or omit `image` to build one"));
            Flavor::Harness
        }
    };
    if flavor == Flavor::Harness {
        return ImageRef::Built {
            tag: reference.to_owned(),
        };
    }
    ImageRef::Upstream {
        reference: reference.to_owned(),
        flavor,
    }
}

fn jit(raw: JitSerde) -> Jit {
    match raw {
        JitSerde::Quick => Jit::Quick,
        JitSerde::Full => Jit::Full,
    }
}

fn heap(c: &mut Checker, path: &KeyPath, raw: Option<String>, default: &str) -> String {
    let h = raw.unwrap_or_else(|| default.to_owned());
    let ok = h.len() > 1
        && h[..h.len() - 1].chars().all(|ch| ch.is_ascii_digit())
        && matches!(h.chars().last(), Some('m' | 'g' | 'M' | 'G'));
    if !ok {
        c.error(
            path,
            format!("`{h}` is not a heap size; expected e.g. \"256m\" or \"1g\""),
        );
    }
    h
}

fn operation(o: OperationSerde) -> Operation {
    match o {
        OperationSerde::All => Operation::All,
        OperationSerde::Read => Operation::Read,
        OperationSerde::Write => Operation::Write,
        OperationSerde::Create => Operation::Create,
        OperationSerde::Delete => Operation::Delete,
        OperationSerde::Alter => Operation::Alter,
        OperationSerde::Describe => Operation::Describe,
        OperationSerde::ClusterAction => Operation::ClusterAction,
        OperationSerde::DescribeConfigs => Operation::DescribeConfigs,
        OperationSerde::AlterConfigs => Operation::AlterConfigs,
        OperationSerde::IdempotentWrite => Operation::IdempotentWrite,
    }
}

/// `a/b/../c` as `a/c`, without touching the file system, so messages show the paths people wrote.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Java properties: `key=value`, `key: value` or `key value`; `#`/`!` comments; `\` continues a line.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for line in text.lines() {
        let line = line.trim_start();
        if logical.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            logical.push_str(stripped);
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let sep = entry.find(['=', ':', ' ', '\t']).unwrap_or(entry.len());
        let key = entry[..sep].trim().to_owned();
        let rest = entry[sep..].trim_start();
        let value = rest
            .strip_prefix(['=', ':'])
            .unwrap_or(rest)
            .trim()
            .to_owned();
        out.push((key, value));
    }
    out
}

impl PropertiesFile {
    /// The value a Java `Properties` would hold for `key` (the last one wins).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every YAML file below `path` (or `path` itself), in a stable order.
pub fn yaml_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_forms() {
        let p = parse_properties("# c\n! c\na=1\nb : 2\nc 3\nd=x\\\n  y\n\ne=\n");
        assert_eq!(
            p,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into()),
                ("d".into(), "xy".into()),
                ("e".into(), String::new()),
            ]
        );
    }

    #[test]
    fn versions() {
        assert_eq!("3.7.2".parse::<Version>(), Ok(Version::new(3, 7, 2)));
        assert!("3.7".parse::<Version>().is_err());
        assert!(Version::new(3, 9, 1) < Version::new(3, 10, 0));
    }
}
