//! Kafka clients the harness itself uses (rdkafka): readiness probes, topic creation, the records of
//! simple produce/consume steps, and the probes that prove refusals. Configs never carry a password
//! anywhere but `sasl.password`, and client errors are recorded without the config.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication, TopicResult};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::components::kafka::SCRAM;
use crate::scenario::Topic;
use crate::secrets::Secret;

/// How a client authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No SASL at all: what an anonymous client tries.
    Anonymous,
    Scram {
        user: String,
        password: Secret,
    },
}

/// Records the errors librdkafka reports, so a refusal can be told apart from an unreachable broker.
#[derive(Debug, Default, Clone)]
pub struct Recorder {
    errors: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn push(&self, e: String) {
        if let Ok(mut errors) = self.errors.lock() {
            if errors.len() < 50 && !errors.contains(&e) {
                errors.push(e);
            }
        }
    }

    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl ClientContext for Recorder {
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, _fac: &str, _log_message: &str) {}

    fn error(&self, error: KafkaError, reason: &str) {
        self.push(format!("{error}: {reason}"));
    }
}

impl ConsumerContext for Recorder {}

pub fn config(bootstrap: &str, auth: &Auth) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "10000")
        .set("reconnect.backoff.max.ms", "1000")
        .set_log_level(RDKafkaLogLevel::Emerg);
    match auth {
        Auth::Anonymous => {
            c.set("security.protocol", "PLAINTEXT");
        }
        Auth::Scram { user, password } => {
            c.set("security.protocol", "SASL_PLAINTEXT")
                .set("sasl.mechanisms", SCRAM)
                .set("sasl.username", user)
                .set("sasl.password", password.expose());
        }
    }
    c
}

#[derive(Debug, Clone)]
pub struct ClusterMetadata {
    pub brokers: Vec<i32>,
}

/// One authenticated metadata request: the real readiness question for a broker.
pub async fn metadata(
    bootstrap: String,
    auth: Auth,
    timeout: Duration,
) -> Result<ClusterMetadata, String> {
    tokio::task::spawn_blocking(move || {
        let recorder = Recorder::default();
        let consumer: BaseConsumer<Recorder> = config(&bootstrap, &auth)
            .create_with_context(recorder.clone())
            .map_err(|e| e.to_string())?;
        match consumer.fetch_metadata(None, Timeout::After(timeout)) {
            Ok(md) => Ok(ClusterMetadata {
                brokers: md.brokers().iter().map(|b| b.id()).collect(),
            }),
            Err(e) => {
                let mut msg = e.to_string();
                if let Some(last) = recorder.errors().last() {
                    msg = format!("{msg} ({last})");
                }
                Err(msg)
            }
        }
    })
    .await
    .map_err(|e| e.to_string())?
}

/// How many partitions of the cluster have fewer in-sync replicas than replicas.
pub async fn under_replicated(bootstrap: String, auth: Auth) -> Result<usize, String> {
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config(&bootstrap, &auth)
            .create()
            .map_err(|e| e.to_string())?;
        let md = consumer
            .fetch_metadata(None, Timeout::After(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        Ok(md
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .filter(|p| p.isr().len() < p.replicas().len())
            .count())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Per partition of `topic`: its log end offset, and `group`'s committed offset there (when a
/// group is given and has one).
pub async fn offsets(
    bootstrap: String,
    auth: Auth,
    topic: String,
    group: Option<String>,
) -> Result<Vec<(i32, i64, Option<i64>)>, String> {
    tokio::task::spawn_blocking(move || {
        let mut cfg = config(&bootstrap, &auth);
        if let Some(g) = &group {
            cfg.set("group.id", g);
        }
        let consumer: BaseConsumer = cfg.create().map_err(|e| e.to_string())?;
        let timeout = Timeout::After(Duration::from_secs(5));
        let md = consumer
            .fetch_metadata(Some(&topic), timeout)
            .map_err(|e| e.to_string())?;
        let partitions: Vec<i32> = md
            .topics()
            .first()
            .map(|t| t.partitions().iter().map(|p| p.id()).collect())
            .unwrap_or_default();
        let committed = match &group {
            Some(_) => {
                let mut tpl = TopicPartitionList::new();
                for p in &partitions {
                    tpl.add_partition(&topic, *p);
                }
                Some(
                    consumer
                        .committed_offsets(tpl, timeout)
                        .map_err(|e| e.to_string())?,
                )
            }
            None => None,
        };
        partitions
            .into_iter()
            .map(|p| {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p, timeout)
                    .map_err(|e| e.to_string())?;
                let at = committed
                    .as_ref()
                    .and_then(|c| c.find_partition(&topic, p))
                    .and_then(|e| match e.offset() {
                        rdkafka::Offset::Offset(o) => Some(o),
                        _ => None,
                    });
                Ok((p, high, at))
            })
            .collect()
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Commits `offsets` (partition, offset) of `topic` for `group` without joining it (the group
/// must have no members); creates the group, empty, if it does not exist.
pub async fn commit_offsets(
    bootstrap: String,
    auth: Auth,
    group: String,
    topic: String,
    offsets: Vec<(i32, i64)>,
) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config(&bootstrap, &auth)
            .set("group.id", &group)
            .set("enable.auto.commit", "false")
            .create()
            .map_err(|e| e.to_string())?;
        let mut tpl = TopicPartitionList::new();
        for (p, o) in offsets {
            tpl.add_partition_offset(&topic, p, Offset::Offset(o))
                .map_err(|e| e.to_string())?;
        }
        consumer
            .commit(&tpl, rdkafka::consumer::CommitMode::Sync)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Outcome of a client that should have been turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// Turned away; the evidence is what librdkafka reported.
    Refused(Vec<String>),
}

pub async fn try_connect(
    bootstrap: String,
    auth: Auth,
    timeout: Duration,
) -> Result<Admission, String> {
    tokio::task::spawn_blocking(move || {
        let recorder = Recorder::default();
        let consumer: BaseConsumer<Recorder> = config(&bootstrap, &auth)
            .create_with_context(recorder.clone())
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        // librdkafka delivers authentication errors as events, which only a poll hands over.
        while Instant::now() < deadline {
            match consumer.fetch_metadata(None, Timeout::After(Duration::from_secs(2))) {
                Ok(_) => return Ok(Admission::Admitted),
                Err(e) => last = e.to_string(),
            }
            if let Some(Err(e)) = consumer.poll(Duration::from_millis(200)) {
                recorder.push(e.to_string());
            }
            let errors = recorder.errors();
            // An anonymous client gets no error event, only dropped connections: one failed
            // round is the verdict (the caller then proves the brokers still serve the admin).
            if matches!(auth, Auth::Anonymous)
                || errors
                    .iter()
                    .any(|e| e.to_ascii_lowercase().contains("authentication"))
            {
                break;
            }
        }
        let mut evidence = recorder.errors();
        evidence.push(last);
        Ok(Admission::Refused(evidence))
    })
    .await
    .map_err(|e| e.to_string())?
}

pub async fn create_topics(bootstrap: &str, admin: &Auth, topics: &[Topic]) -> Result<(), String> {
    if topics.is_empty() {
        return Ok(());
    }
    let client: AdminClient<DefaultClientContext> = config(bootstrap, admin)
        .create()
        .map_err(|e| e.to_string())?;
    // An explicit assignment places each partition's replicas on the brokers it names (leader
    // first); fault scenarios depend on where the replicas are.
    let assignments: Vec<Option<Vec<&[i32]>>> = topics
        .iter()
        .map(|t| {
            t.assignment
                .as_ref()
                .map(|a| a.iter().map(Vec::as_slice).collect())
        })
        .collect();
    let new: Vec<NewTopic> = topics
        .iter()
        .zip(&assignments)
        .map(|(t, assignment)| {
            let replication = match assignment {
                Some(a) => TopicReplication::Variable(a),
                None => TopicReplication::Fixed(i32::from(t.replication_factor)),
            };
            let mut nt = NewTopic::new(
                &t.name,
                i32::try_from(t.partitions).unwrap_or(i32::MAX),
                replication,
            );
            for (k, v) in &t.config {
                nt = nt.set(k, v);
            }
            nt
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    // Brokers answer metadata a moment before they know their controller; creation can fail with a
    // retriable error then, so it is retried (a topic that now exists counts as created).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let results = client
            .create_topics(new.iter(), &opts)
            .await
            .map_err(|e| e.to_string())?;
        let failed = topic_errors(results, RDKafkaErrorCode::TopicAlreadyExists);
        if failed.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(failed.join("; "));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The topics an admin request failed for, but for those that failed with `done` (the state it
/// was to reach is there already).
fn topic_errors(results: Vec<TopicResult>, done: RDKafkaErrorCode) -> Vec<String> {
    results
        .into_iter()
        .filter_map(|r| r.err())
        .filter(|(_, code)| *code != done)
        .map(|(name, code)| format!("topic {name}: {code}"))
        .collect()
}

/// Deletes `names` (a topic that does not exist counts as deleted).
pub async fn delete_topics(bootstrap: &str, admin: &Auth, names: &[&str]) -> Result<(), String> {
    let client: AdminClient<DefaultClientContext> = config(bootstrap, admin)
        .create()
        .map_err(|e| e.to_string())?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = client
        .delete_topics(names, &opts)
        .await
        .map_err(|e| e.to_string())?;
    let failed = topic_errors(results, RDKafkaErrorCode::UnknownTopicOrPartition);
    if failed.is_empty() {
        Ok(())
    } else {
        Err(failed.join("; "))
    }
}

/// The value of record `seq` of a run: a pure function of its ids, so a reader recomputes it.
pub fn payload(run_id: &str, seq: u64) -> String {
    format!("kafka-harness run={run_id} seq={seq}")
}

/// Produces `records` records with acks=all and idempotence; returns how many were acknowledged.
pub async fn produce(
    bootstrap: &str,
    auth: &Auth,
    topic: &str,
    run_id: &str,
    first_seq: u64,
    records: u64,
    timeout: Duration,
) -> Result<u64, String> {
    let producer: FutureProducer = config(bootstrap, auth)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", timeout.as_millis().to_string())
        .create()
        .map_err(|e| e.to_string())?;
    let sends = (first_seq..first_seq + records).map(|seq| {
        let key = format!("{run_id}-{seq}");
        let value = payload(run_id, seq);
        let producer = &producer;
        async move {
            producer
                .send(
                    FutureRecord::to(topic).key(&key).payload(&value),
                    Timeout::After(timeout),
                )
                .await
                .map(|_| ())
                .map_err(|(e, _)| e.to_string())
        }
    });
    let results = futures::future::join_all(sends).await;
    let acked = results.iter().filter(|r| r.is_ok()).count() as u64;
    if let Some(Err(first)) = results.into_iter().find(Result::is_err) {
        return Err(format!(
            "{acked} of {records} acknowledged; first error: {first}"
        ));
    }
    Ok(acked)
}

/// What a consume step saw of this run's records.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Consumed {
    pub records: u64,
    pub duplicates: u64,
    pub corrupted: u64,
    pub foreign: u64,
}

/// Reads `topic` from the beginning in `group` until `expected` distinct records of this run arrived.
pub async fn consume(
    bootstrap: String,
    auth: Auth,
    topic: String,
    group: String,
    run_id: String,
    expected: u64,
    timeout: Duration,
) -> Result<Consumed, String> {
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config(&bootstrap, &auth)
            .set("group.id", &group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "true")
            .create()
            .map_err(|e| e.to_string())?;
        consumer.subscribe(&[&topic]).map_err(|e| e.to_string())?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Consumed::default();
        let deadline = Instant::now() + timeout;
        let prefix = format!("{run_id}-");
        let mut last_error = None;
        while (seen.len() as u64) < expected && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                Some(Err(e)) => last_error = Some(e.to_string()),
                Some(Ok(m)) => {
                    let key = m.key().map(String::from_utf8_lossy).unwrap_or_default();
                    let Some(seq) = key
                        .strip_prefix(&prefix)
                        .and_then(|s| s.parse::<u64>().ok())
                    else {
                        out.foreign += 1;
                        continue;
                    };
                    let value = m.payload().map(String::from_utf8_lossy).unwrap_or_default();
                    if value != payload(&run_id, seq) {
                        out.corrupted += 1;
                    }
                    if !seen.insert(seq) {
                        out.duplicates += 1;
                    }
                }
            }
        }
        out.records = seen.len() as u64;
        consumer
            .commit_consumer_state(rdkafka::consumer::CommitMode::Sync)
            .ok();
        if out.records < expected {
            return Err(format!(
                "only {} of {expected} records arrived within {}s{}",
                out.records,
                timeout.as_secs(),
                last_error
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default()
            ));
        }
        Ok(out)
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Outcome of an operation an ACL should forbid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    Denied(String),
    Allowed(String),
    /// Neither happened in time: the check proves nothing either way.
    Inconclusive(String),
}

/// Tries to read partition 0 of `topic`. First the topic's metadata: Read implies Describe in
/// Kafka's authorizer, so a Describe denial proves Read is not granted. Otherwise a real fetch, where
/// only a topic-level denial counts (a denial of the probe's own group says nothing about the topic).
pub async fn try_read(
    bootstrap: String,
    auth: Auth,
    topic: String,
    timeout: Duration,
) -> Result<Authorization, String> {
    tokio::task::spawn_blocking(move || {
        let recorder = Recorder::default();
        let consumer: BaseConsumer<Recorder> = config(&bootstrap, &auth)
            .set(
                "group.id",
                format!("kafka-harness-acl-probe-{}", std::process::id()),
            )
            .set("enable.auto.commit", "false")
            .create_with_context(recorder.clone())
            .map_err(|e| e.to_string())?;
        let md = consumer
            .fetch_metadata(Some(&topic), Timeout::After(timeout))
            .map_err(|e| format!("metadata of {topic}: {e}"))?;
        if let Some(err) = md.topics().first().and_then(|t| t.error()) {
            let code = RDKafkaErrorCode::from(err);
            let text = format!("metadata of {topic}: {code}");
            return Ok(if code == RDKafkaErrorCode::TopicAuthorizationFailed {
                Authorization::Denied(format!("{text} (Describe denied, so Read is not granted)"))
            } else {
                Authorization::Inconclusive(text)
            });
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Beginning)
            .map_err(|e| e.to_string())?;
        consumer.assign(&tpl).map_err(|e| e.to_string())?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    return Ok(Authorization::Allowed(format!(
                        "read offset {}",
                        m.offset()
                    )))
                }
                Some(Err(e)) => recorder.push(e.to_string()),
                None => {}
            }
            if let Some(e) = recorder.errors().into_iter().find(|e| is_authorization(e)) {
                return Ok(Authorization::Denied(e));
            }
        }
        Ok(Authorization::Inconclusive(format!(
            "no record and no topic authorization error within {}s; seen: {}",
            timeout.as_secs(),
            recorder.errors().join("; ")
        )))
    })
    .await
    .map_err(|e| e.to_string())?
}

pub async fn try_write(
    bootstrap: &str,
    auth: &Auth,
    topic: &str,
    timeout: Duration,
) -> Result<Authorization, String> {
    let producer: FutureProducer = config(bootstrap, auth)
        .set("message.timeout.ms", timeout.as_millis().to_string())
        .create()
        .map_err(|e| e.to_string())?;
    let r = producer
        .send(
            FutureRecord::<(), _>::to(topic).payload("kafka-harness acl probe"),
            Timeout::After(timeout),
        )
        .await;
    Ok(match r {
        Ok(d) => Authorization::Allowed(format!("written at offset {}", d.offset)),
        Err((e, _)) if is_authorization(&e.to_string()) => Authorization::Denied(e.to_string()),
        Err((e, _)) => Authorization::Inconclusive(e.to_string()),
    })
}

fn is_authorization(message: &str) -> bool {
    message
        .to_ascii_lowercase()
        .contains("topic authorization failed")
}
