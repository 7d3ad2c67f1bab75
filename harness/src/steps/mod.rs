//! Executing a scenario's steps against a running stack. Each step yields an outcome with its
//! timing and evidence; a failed step is a result to report, not an error, and later steps still run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::client::{self, Admission, Auth, Authorization};
use crate::load::LoadSet;
use crate::outcome::{Status, StepOutcome};
use crate::progress::Progress;
use crate::runtime::stack::{NodeUpgrade, RunningStack};
use crate::scenario::{DeniedOperation, ExpectedFailure, RefusedClient, Step};
use crate::secrets::Secret;

/// How long a refusal or denial probe waits for the broker's verdict.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `steps` in order; `expect_fail` holds those the scenario declares must fail.
pub async fn execute(
    running: &RunningStack,
    steps: &[Step],
    expect_fail: &[ExpectedFailure],
    load: &mut LoadSet,
    progress: &Progress,
) -> Vec<StepOutcome> {
    let mut next_seq: HashMap<String, u64> = HashMap::new();
    let mut outcomes = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let label = step.label();
        progress.say(format!("step {}/{}: {label}", index + 1, steps.len()));
        let started_at_s = progress.elapsed_secs();
        let t0 = Instant::now();
        let (status, detail, evidence) =
            match run_one(running, step, &mut next_seq, load, progress).await {
                Ok((detail, evidence)) => (Status::Pass, detail, evidence),
                Err((detail, evidence)) => (Status::Fail, detail, evidence),
            };
        // Client errors and component logs can quote configuration; passwords stay out of reports.
        let detail = running.creds.redact(&detail);
        let evidence: Vec<String> = evidence.iter().map(|e| running.creds.redact(e)).collect();
        let expected = expect_fail.iter().find(|e| e.index == index);
        let outcome = StepOutcome {
            index,
            step: label,
            status,
            started_at_s,
            duration_ms: u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
            detail,
            evidence,
            expected_to_fail: expected.is_some(),
            expected_because: expected.and_then(|e| e.because.clone()),
        };
        progress.say(format!("  {}: {}", outcome.word(), outcome.detail));
        outcomes.push(outcome);
    }
    outcomes
}

type Outcome = Result<(String, Vec<String>), (String, Vec<String>)>;

async fn run_one(
    running: &RunningStack,
    step: &Step,
    next_seq: &mut HashMap<String, u64>,
    load: &mut LoadSet,
    progress: &Progress,
) -> Outcome {
    let docker = &running.run.docker;
    let plain = |r: Result<String, String>| r.map(|d| (d, vec![])).map_err(|e| (e, vec![]));
    let bootstrap = running.bootstrap_servers();
    let run_id = running.run.id.clone();
    match step {
        Step::Produce {
            topic,
            user,
            records,
            timeout,
        } => {
            let first = *next_seq.get(topic).unwrap_or(&0);
            let acked = client::produce(
                &bootstrap,
                &running.auth(user),
                topic,
                &run_id,
                first,
                *records,
                *timeout,
            )
            .await
            .map_err(|e| (e, vec![]))?;
            next_seq.insert(topic.clone(), first + records);
            Ok((
                format!("{acked} record(s) acknowledged with acks=all"),
                vec![],
            ))
        }
        Step::Consume {
            topic,
            user,
            group,
            records,
            timeout,
        } => {
            let group = group
                .clone()
                .unwrap_or_else(|| format!("kafka-harness-{run_id}"));
            let seen = client::consume(
                bootstrap,
                running.auth(user),
                topic.clone(),
                group,
                run_id,
                *records,
                *timeout,
            )
            .await
            .map_err(|e| (e, vec![]))?;
            let evidence = vec![format!(
                "distinct={} duplicates={} corrupted={} other-runs={}",
                seen.records, seen.duplicates, seen.corrupted, seen.foreign
            )];
            if seen.corrupted > 0 || seen.duplicates > 0 {
                return Err((
                    format!(
                        "{} corrupted and {} duplicated record(s)",
                        seen.corrupted, seen.duplicates
                    ),
                    evidence,
                ));
            }
            Ok((
                format!(
                    "{} record(s) read back intact, none duplicated",
                    seen.records
                ),
                evidence,
            ))
        }
        Step::ExpectRefused(client) => {
            let (auth, must_mention) = match client {
                RefusedClient::Anonymous => (Auth::Anonymous, None),
                RefusedClient::WrongPassword { user } => (
                    Auth::Scram {
                        user: user.clone(),
                        password: Secret::generate(),
                    },
                    Some("authentication"),
                ),
            };
            let admission = client::try_connect(bootstrap.clone(), auth, PROBE_TIMEOUT)
                .await
                .map_err(|e| (e, vec![]))?;
            let evidence = match admission {
                Admission::Admitted => return Err(("the client was let in".to_owned(), vec![])),
                Admission::Refused(evidence) => evidence,
            };
            if let Some(word) = must_mention {
                if !evidence
                    .iter()
                    .any(|e| e.to_ascii_lowercase().contains(word))
                {
                    return Err((
                        "the client failed, but not with an authentication error".to_owned(),
                        evidence,
                    ));
                }
            }
            // A refusal only means something while the brokers serve everybody else.
            client::metadata(bootstrap, running.admin(), Duration::from_secs(10))
                .await
                .map_err(|e| {
                    (
                        format!("the admin could not connect either: {e}"),
                        evidence.clone(),
                    )
                })?;
            Ok((
                "refused, while the admin connects fine".to_owned(),
                evidence,
            ))
        }
        Step::ExpectDenied {
            user,
            topic,
            operation,
        } => {
            let auth = running.auth(user);
            let verdict = match operation {
                DeniedOperation::Read => {
                    client::try_read(bootstrap, auth, topic.clone(), PROBE_TIMEOUT).await
                }
                DeniedOperation::Write => {
                    client::try_write(&bootstrap, &auth, topic, PROBE_TIMEOUT).await
                }
            }
            .map_err(|e| (e, vec![]))?;
            match verdict {
                Authorization::Denied(e) => Ok(("denied by the authorizer".to_owned(), vec![e])),
                Authorization::Allowed(e) => Err(("the operation was allowed".to_owned(), vec![e])),
                Authorization::Inconclusive(e) => {
                    Err(("no verdict from the broker".to_owned(), vec![e]))
                }
            }
        }
        Step::Restart { node, timeout } => {
            running
                .restart(*node, *timeout, progress)
                .await
                .map_err(|e| (e.to_string(), vec![]))?;
            Ok((format!("{node} restarted and ready"), vec![]))
        }
        Step::Wait(d) => {
            // Long waits under load say how the load is doing, so a slow run is never silent.
            let end = tokio::time::Instant::now() + *d;
            while tokio::time::Instant::now() < end {
                let next = (tokio::time::Instant::now() + Duration::from_secs(5)).min(end);
                tokio::time::sleep_until(next).await;
                if load.is_active() && next < end {
                    progress.say(format!("  {}", load.progress()));
                }
            }
            Ok((
                format!("waited {}", crate::scenario::format_duration(*d)),
                vec![],
            ))
        }
        Step::Stop(node) => {
            docker
                .stop(&running.run.container(*node), Duration::from_secs(60))
                .await
                .map_err(|e| (e.to_string(), vec![]))?;
            Ok((format!("{node} stopped gracefully"), vec![]))
        }
        Step::RollingUpgrade {
            component,
            to,
            pin_protocol,
            node_timeout,
        } => {
            let rolled = running
                .rolling_upgrade(
                    *component,
                    *to,
                    pin_protocol.as_deref(),
                    *node_timeout,
                    progress,
                )
                .await;
            let (done, error) = match rolled {
                Ok(done) => (done, None),
                Err((e, done)) => (done, Some(e.to_string())),
            };
            let evidence: Vec<String> = done.iter().map(NodeUpgrade::evidence).collect();
            if let Some(e) = error {
                return Err((e, evidence));
            }
            let wrong: Vec<&str> = done
                .iter()
                .filter(|u| u.read_back != to.to_string())
                .map(|u| u.node.as_str())
                .collect();
            if !wrong.is_empty() {
                return Err((
                    format!("{} report(s) another version than {to}", wrong.join(", ")),
                    evidence,
                ));
            }
            let gap = done.iter().map(|u| u.harness_gap_ms).max().unwrap_or(0);
            Ok((
                format!(
                    "{} node(s) now report {to}; the harness's own time between one node in sync and the next stop: at most {gap} ms",
                    done.len()
                ),
                evidence,
            ))
        }
        Step::BumpMetadataVersion { to, timeout } => {
            let before = running
                .metadata_version()
                .await
                .map_err(|e| (e.to_string(), vec![]))?;
            progress.say(format!("  metadata.version {before} -> {to}"));
            let after = tokio::time::timeout(*timeout, running.bump_metadata_version(to))
                .await
                .map_err(|_| {
                    (
                        format!(
                            "metadata.version not finalized within {}",
                            crate::scenario::format_duration(*timeout)
                        ),
                        vec![],
                    )
                })?
                .map_err(|e| (e.to_string(), vec![]))?;
            let evidence = vec![format!("finalized metadata.version: {before} before, {after} after (read back with kafka-features describe)")];
            if after.split('-').next() == Some(to.as_str()) {
                Ok((format!("metadata.version is now {after}"), evidence))
            } else {
                Err((
                    format!("metadata.version reads {after} after the bump to {to}"),
                    evidence,
                ))
            }
        }
        Step::MigrateToKraft {
            phase,
            controllers,
            timeout,
        } => {
            running
                .migrate(*phase, *controllers, *timeout, progress)
                .await
        }
        Step::DrainBlue {
            topics,
            groups,
            timeout,
        } => {
            let evidence = running.drain_blue(topics, groups, *timeout).await?;
            Ok((
                "green holds every record of blue, and blue's groups have read everything".into(),
                evidence,
            ))
        }
        Step::RetireBlue => plain(running.retire_blue(progress).await),
        Step::SwitchConsumer {
            name,
            offsets,
            timeout,
        } => load.switch_consumer(name, *offsets, *timeout).await,
        Step::UpgradeConnect { to, timeout } => {
            running.upgrade_connect(to, *timeout, progress).await
        }
        Step::SwitchProducer {
            name,
            ttl,
            wait_for_mirror,
            timeout,
        } => {
            load.switch_producer(name, *ttl, *wait_for_mirror, *timeout)
                .await
        }
        Step::Kill(node) => {
            let name = running.run.container(*node);
            docker
                .kill(&name)
                .await
                .map_err(|e| (e.to_string(), vec![]))?;
            // The engine answers before the process is gone; a fault scenario must not go on
            // while the node still serves.
            for _ in 0..100 {
                if docker
                    .exit_code(&name)
                    .await
                    .map_err(|e| (e.to_string(), vec![]))?
                    .is_some()
                {
                    return Ok((format!("{node} killed with SIGKILL"), vec![]));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err((format!("{node} still runs 10s after SIGKILL"), vec![]))
        }
        Step::Start { node, timeout } => {
            running
                .start_node(*node, *timeout, progress)
                .await
                .map_err(|e| (e.to_string(), vec![]))?;
            Ok((format!("{node} started and ready"), vec![]))
        }
        Step::Pause(node) => {
            docker
                .pause(&running.run.container(*node))
                .await
                .map_err(|e| (e.to_string(), vec![]))?;
            Ok((format!("{node} paused"), vec![]))
        }
        Step::Unpause(node) => {
            docker
                .unpause(&running.run.container(*node))
                .await
                .map_err(|e| (e.to_string(), vec![]))?;
            Ok((format!("{node} unpaused"), vec![]))
        }
        Step::StartLoad(name) => plain(load.start(name)),
        Step::StopLoad(name) => plain(load.stop(name).await),
        Step::WaitLoad { name, timeout } => {
            let t0 = tokio::time::Instant::now();
            let mut result = None;
            // Poll in slices so progress keeps flowing while a long producer runs.
            while result.is_none() {
                let left = timeout.saturating_sub(t0.elapsed());
                match load
                    .wait_producer(name, left.min(Duration::from_secs(5)))
                    .await
                {
                    Ok(d) => result = Some(Ok(d)),
                    Err(e)
                        if e.contains("still running")
                            && !left.is_zero()
                            && left > Duration::from_secs(5) =>
                    {
                        progress.say(format!("  {}", load.progress()));
                    }
                    Err(e) => result = Some(Err(e)),
                }
            }
            plain(result.unwrap_or_else(|| Err("no outcome".to_owned())))
        }
        Step::Drain { name, timeout } => plain(load.drain(name, *timeout).await),
        Step::RestartConsumer(name) => plain(load.restart_consumer(name).await),
        Step::RegisterSchema {
            producer,
            schema,
            expect,
            compatibility,
            timeout,
        } => {
            load.register_schema(
                producer,
                schema,
                *expect,
                compatibility.as_deref(),
                *timeout,
            )
            .await
        }
        Step::SetThreshold {
            threshold,
            drain_timeout,
        } => load.set_threshold(*threshold, *drain_timeout).await,
        Step::Promote {
            from,
            drain_timeout,
        } => load.promote(*from, *drain_timeout).await,
        Step::RouterFault { fault, down_for } => plain(load.router_fault(*fault, *down_for).await),
    }
}
