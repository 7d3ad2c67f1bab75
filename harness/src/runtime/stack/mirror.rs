//! A blue/green stack's second cluster and the MirrorMaker 2 between the two: green starts like
//! any KRaft stack (its nodes' hosts and containers prefixed `green-`, on blue's network, with the
//! same users), gets the scenario's topics, then MirrorMaker starts from green's image and is
//! ready when its source task says it replicates. Draining waits until green holds every record
//! of blue (identity replication keeps partitions and, from a fresh green, offsets) and blue's
//! consumer groups have read everything; retiring stops MirrorMaker and blue's nodes.

use std::time::{Duration, Instant};

use super::{create_and_start, owner, run_as, start, RunningStack, StartError};
use crate::client;
use crate::components::mirror_maker;
use crate::progress::Progress;
use crate::runtime::docker::ContainerSpec;
use crate::scenario::{NodeId, Topic, GREEN_PREFIX};

/// The container (and host) name of MirrorMaker.
const MIRROR_MAKER: &str = "mirror-maker";

impl RunningStack {
    /// The name of MirrorMaker's container.
    pub fn mirror_maker_container(&self) -> String {
        format!("kh-{}-{MIRROR_MAKER}", self.run.id)
    }

    /// Green and MirrorMaker, for a stack that has them: `groups` are the consumer groups whose
    /// offsets MirrorMaker translates.
    pub async fn start_green(
        &mut self,
        topics: &[Topic],
        groups: &[String],
        progress: &Progress,
    ) -> Result<(), StartError> {
        let (Some(green_stack), Some(spec)) = (self.stack.green_stack(), self.stack.green.clone())
        else {
            return Ok(());
        };
        progress.say(format!(
            "green: Kafka {} beside blue's {}",
            green_stack.kafka.version, self.stack.kafka.version
        ));
        let green = start(
            &self.run.for_cluster(GREEN_PREFIX),
            &green_stack,
            self.creds.clone(),
            progress,
        )
        .await?;
        super::create_topics(&green, topics, progress).await?;
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        // Blue's release: a 4.x MirrorMaker lists consumer groups by type, which a 3.x blue
        // refuses (ListGroups v5), and then translates none.
        let image = self.stack.kafka.image.clone();
        let flavor = image.flavor();
        let name = self.mirror_maker_container();
        let container = ContainerSpec {
            name: name.clone(),
            alias: MIRROR_MAKER.into(),
            image: image.reference().to_owned(),
            cmd: mirror_maker::command(flavor),
            env: mirror_maker::env(&spec.mirror_maker.heap),
            labels: self.run.labels(Some(MIRROR_MAKER)),
            network: self.run.network(),
            user: run_as(flavor),
            files: mirror_maker::files(&self.stack, &green_stack, &self.creds, &names, groups),
            files_owner: owner(flavor),
            ..Default::default()
        };
        progress.say(format!(
            "starting MirrorMaker 2 {} (blue -> green: {}; groups {})",
            self.stack.kafka.version,
            names.join(", "),
            if groups.is_empty() {
                "none".to_owned()
            } else {
                groups.join(", ")
            }
        ));
        create_and_start(&self.run, &container).await?;
        self.green = Some(Box::new(green));
        let since = Instant::now();
        let run = &self.run;
        let timeout = spec.mirror_maker.start_timeout;
        wait_until_logged(run, &name, mirror_maker::REPLICATING, timeout).await?;
        progress.say(format!(
            "MirrorMaker replicates blue -> green ({:.1}s)",
            since.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// Waits until green holds every record blue has of `topics` and each of `groups` (on blue)
    /// has read everything; returns the evidence per topic.
    pub async fn drain_blue(
        &self,
        topics: &[String],
        groups: &[(String, String)],
        timeout: Duration,
    ) -> Result<Vec<String>, (String, Vec<String>)> {
        let Some(green) = &self.green else {
            return Err(("the stack has no green cluster".into(), vec![]));
        };
        let deadline = Instant::now() + timeout;
        loop {
            let mut behind = Vec::new();
            let mut evidence = Vec::new();
            for topic in topics {
                let (b, g) = match (
                    client::offsets(self.bootstrap_servers(), self.admin(), topic.clone(), None)
                        .await,
                    client::offsets(
                        green.bootstrap_servers(),
                        green.admin(),
                        topic.clone(),
                        None,
                    )
                    .await,
                ) {
                    (Ok(b), Ok(g)) => (b, g),
                    (Err(e), _) | (_, Err(e)) => {
                        behind.push(format!("{topic}: {e}"));
                        continue;
                    }
                };
                let lag: i64 = b
                    .iter()
                    .map(|(p, end, _)| {
                        let green_end = g.iter().find(|x| x.0 == *p).map_or(0, |x| x.1);
                        (end - green_end).max(0)
                    })
                    .sum();
                let blue_total: i64 = b.iter().map(|x| x.1).sum();
                let green_total: i64 = g.iter().map(|x| x.1).sum();
                evidence.push(format!(
                    "{topic}: blue holds {blue_total} record(s), green {green_total}"
                ));
                if lag > 0 {
                    behind.push(format!("{topic}: green {lag} record(s) behind blue"));
                }
            }
            for (group, topic) in groups {
                match client::offsets(
                    self.bootstrap_servers(),
                    self.admin(),
                    topic.clone(),
                    Some(group.clone()),
                )
                .await
                {
                    Ok(parts) => {
                        let lag: i64 = parts
                            .iter()
                            .map(|(_, end, at)| (end - at.unwrap_or(0)).max(0))
                            .sum();
                        if lag > 0 {
                            behind.push(format!("group {group} on blue: lag {lag}"));
                        }
                    }
                    Err(e) => behind.push(format!("group {group}: {e}")),
                }
            }
            if behind.is_empty() {
                return Ok(evidence);
            }
            if Instant::now() >= deadline {
                evidence.extend(behind.iter().cloned());
                return Err((
                    format!(
                        "blue not drained within {}s: {}",
                        timeout.as_secs(),
                        behind.join("; ")
                    ),
                    evidence,
                ));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Stops MirrorMaker, then every node of blue (brokers with their controlled shutdown).
    pub async fn retire_blue(&self, progress: &Progress) -> Result<String, String> {
        let docker = &self.run.docker;
        docker
            .stop(&self.mirror_maker_container(), Duration::from_secs(30))
            .await
            .map_err(|e| e.to_string())?;
        let mut nodes = self.current().nodes();
        // Brokers first, while their controllers and ZooKeeper still answer.
        nodes.sort_by_key(|n| !matches!(n, NodeId::Kafka(_)));
        for node in &nodes {
            progress.say(format!("  stopping blue's {node}"));
            docker
                .stop(&self.run.container(*node), Duration::from_secs(60))
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Ok(mut live) = self.live.lock() {
            live.blue_retired = true;
        }
        Ok(format!(
            "MirrorMaker and blue's {} node(s) stopped",
            nodes.len()
        ))
    }
}

/// Waits until container `name` has logged `needle`, failing fast when it exits.
async fn wait_until_logged(
    run: &super::Run,
    name: &str,
    needle: &str,
    timeout: Duration,
) -> Result<(), StartError> {
    super::wait_for_container(run, name, MIRROR_MAKER, timeout, || async {
        if run.docker.log_tail(name, 2000).await.contains(needle) {
            Ok(())
        } else {
            Err(format!("its log does not say `{needle}` yet"))
        }
    })
    .await
}
