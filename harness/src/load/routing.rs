//! The canary-routing steps on a running load: raising the threshold (pause, drain, resume),
//! router faults, and the promotion of the new version onto the original topic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::router::{self, Desired};
use super::LoadSet;
use crate::checks::routing::{Promotion, RoutingPhase, RoutingReport, ServiceVersion};
use crate::probes::lag::LagSampler;
use crate::scenario::{format_duration, PromoteFrom, RouterFault};

/// How long the router may take to commit what it has and stop reading.
const PAUSE_TIMEOUT: Duration = Duration::from_secs(60);

impl LoadSet {
    /// Ends the running router instance, `how` it is told to (`Stop`: after committing; `Kill`:
    /// at once), and waits for its thread. Nothing to do when none runs.
    pub(super) async fn stop_router(&mut self, how: Desired) {
        if let Some(slot) = &mut self.router {
            if let Some(task) = slot.task.take() {
                slot.shared.desire(how);
                let _ = task.await;
            }
        }
    }

    fn router_slot(&mut self) -> Result<&mut super::RouterSlot, String> {
        self.router
            .as_mut()
            .ok_or_else(|| "the scenario has no canary router".to_owned())
    }

    /// Pauses the router and waits until it has committed and both versions have handled every
    /// record it committed. Returns how long that took.
    async fn pause_and_drain(&mut self, drain_timeout: Duration) -> Result<Duration, String> {
        let t0 = Instant::now();
        let slot = self.router_slot()?;
        if slot.task.as_ref().is_none_or(|t| t.is_finished()) {
            return Err("the router is not running".to_owned());
        }
        slot.shared.desire(Desired::Pause);
        let shared = slot.shared.clone();
        while !shared.is_paused() {
            if t0.elapsed() > PAUSE_TIMEOUT {
                return Err(format!(
                    "the router did not pause within {}",
                    format_duration(PAUSE_TIMEOUT)
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let t_drain = Instant::now();
        loop {
            let handled = |v| self.routing.lock().map_or(0, |t| t.routed_handled(v));
            let behind: Vec<String> = [ServiceVersion::Legacy, ServiceVersion::Canary]
                .into_iter()
                .filter_map(|v| {
                    let (done, due) = (handled(v), shared.committed(v));
                    (done < due).then(|| format!("{}: {done} of {due}", v.name()))
                })
                .collect();
            if behind.is_empty() {
                return Ok(t0.elapsed());
            }
            if t_drain.elapsed() > drain_timeout {
                return Err(format!(
                    "the services did not handle every routed record within {} ({})",
                    format_duration(drain_timeout),
                    behind.join(", ")
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ends the current phase now and, with `next`, starts another one.
    fn next_phase(&self, next: Option<(f64, Duration)>) {
        let Some(slot) = &self.router else { return };
        let now = self.epoch.elapsed().as_secs_f64();
        if let Ok(mut phases) = slot.shared.phases.lock() {
            if let Some(p) = phases.last_mut() {
                p.ended_at_s = now;
            }
            if let Some((threshold, paused)) = next {
                phases.push(RoutingPhase {
                    threshold,
                    started_at_s: now,
                    ended_at_s: 0.0,
                    to_legacy: 0,
                    to_canary: 0,
                    pause_ms: u64::try_from(paused.as_millis()).unwrap_or(u64::MAX),
                    legacy_max_lag: 0,
                    canary_max_lag: 0,
                });
            }
        }
    }

    /// `set_threshold`: pause, drain both versions, change the threshold, resume.
    pub async fn set_threshold(
        &mut self,
        threshold: f64,
        drain_timeout: Duration,
    ) -> Result<(String, Vec<String>), (String, Vec<String>)> {
        let before = self.router.as_ref().map_or(0.0, |r| r.shared.threshold());
        let paused = match self.pause_and_drain(drain_timeout).await {
            Ok(d) => d,
            Err(e) => {
                // A router left paused would stall the rest of the run.
                if let Some(r) = &self.router {
                    r.shared.desire(Desired::Run(before));
                }
                return Err((e, vec![]));
            }
        };
        self.next_phase(Some((threshold, paused)));
        if let Some(r) = &self.router {
            r.shared.desire(Desired::Run(threshold));
        }
        let committed = self.router.as_ref().map_or((0, 0), |r| {
            (
                r.shared.committed(ServiceVersion::Legacy),
                r.shared.committed(ServiceVersion::Canary),
            )
        });
        Ok((
            format!(
                "threshold {before} -> {threshold}; the router was paused for {} ms while both versions drained",
                paused.as_millis()
            ),
            vec![format!(
                "routed so far: {} to legacy, {} to canary",
                committed.0, committed.1
            )],
        ))
    }

    /// `kill_router` / `restart_router`: the instance ends (mid-batch, or after committing), and
    /// a new one starts after `down_for`.
    pub async fn router_fault(
        &mut self,
        fault: RouterFault,
        down_for: Duration,
    ) -> Result<String, String> {
        let threshold = self.router_slot()?.shared.threshold();
        self.stop_router(match fault {
            RouterFault::Kill => Desired::Kill,
            RouterFault::Restart => Desired::Stop,
        })
        .await;
        tokio::time::sleep(down_for).await;
        self.router_slot()?.shared.desire(Desired::Run(threshold));
        self.start_router();
        let verb = match fault {
            RouterFault::Kill => "killed mid-batch (nothing committed or aborted)",
            RouterFault::Restart => "stopped after committing",
        };
        Ok(format!(
            "router {verb}; a new instance started after {}",
            format_duration(down_for)
        ))
    }

    /// `promote`: stop routing, translate the new version's position onto the original topic,
    /// retire the legacy version, and start the new version there.
    pub async fn promote(
        &mut self,
        from: PromoteFrom,
        drain_timeout: Duration,
    ) -> Result<(String, Vec<String>), (String, Vec<String>)> {
        let fail = |e: String| (e, vec![]);
        let paused = self.pause_and_drain(drain_timeout).await.map_err(fail)?;
        self.next_phase(None);
        self.stop_router(Desired::Stop).await;
        let spec = self.router_slot().map_err(fail)?.router.spec.clone();
        let (bootstrap, admin) = (self.bootstrap.clone(), self.admin.clone());
        let (group, topic) = (spec.name.clone(), spec.topic.clone());
        let router::Positions { committed, ends } = tokio::task::spawn_blocking(move || {
            router::positions(&bootstrap, &admin, &group, &topic)
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(fail)?;
        // Nothing committed on a partition: the router had routed none of it yet.
        let router_end: BTreeMap<i32, i64> = committed
            .iter()
            .map(|(&p, o)| (p, o.unwrap_or(0)))
            .collect();
        self.stop(&spec.legacy).await.map_err(fail)?;
        self.stop(&spec.canary).await.map_err(fail)?;
        let started_at = match from {
            PromoteFrom::Translated => router_end.clone(),
            PromoteFrom::Latest => ends,
            PromoteFrom::Earliest => router_end.keys().map(|&p| (p, 0)).collect(),
        };
        let canary_group = self.consumers[&spec.canary].spec.group.clone();
        let (bootstrap, admin, topic) = (
            self.bootstrap.clone(),
            self.admin.clone(),
            spec.topic.clone(),
        );
        let offsets = started_at.clone();
        tokio::task::spawn_blocking(move || {
            router::commit_offsets(&bootstrap, &admin, &canary_group, &topic, &offsets)
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(fail)?;
        // The new version now reads the original topic; its lag is measured there from now on.
        let (bootstrap, admin, epoch) = (self.bootstrap.clone(), self.admin.clone(), self.epoch);
        if let Some(c) = self.consumers.get_mut(&spec.canary) {
            c.spec.topic.clone_from(&spec.topic);
            c.routing = Some((ServiceVersion::Canary, true));
            if let Some((stop, task)) = c.sampler.take() {
                let _ = stop.send(true);
                let _ = task.await;
            }
            let (tx, rx) = watch::channel(false);
            let sampler = LagSampler {
                bootstrap,
                admin,
                group: c.spec.group.clone(),
                topic: spec.topic.clone(),
                series: c.lag.clone(),
                stop: rx,
                epoch,
            };
            c.sampler = Some((tx, tokio::spawn(sampler.run())));
        }
        self.start(&spec.canary).map_err(fail)?;
        let at_s = self.epoch.elapsed().as_secs_f64();
        let evidence = started_at
            .iter()
            .map(|(p, o)| {
                format!(
                    "{}/{p}: router stopped before offset {}, {} starts at {o}",
                    spec.topic,
                    router_end.get(p).copied().unwrap_or(0),
                    spec.canary
                )
            })
            .collect();
        if let Some(slot) = &mut self.router {
            slot.promotion = Some(Promotion {
                at_s,
                from: from.name().to_owned(),
                router_end,
                started_at,
            });
        }
        Ok((
            format!(
                "{} now reads {} from the {} offsets (router paused {} ms, then stopped); {} retired",
                spec.canary,
                spec.topic,
                from.name(),
                paused.as_millis(),
                spec.legacy
            ),
            evidence,
        ))
    }

    /// Judges who handled what; the router has been stopped (`finish` stops it before its services).
    pub(super) async fn finish_routing(
        &mut self,
        lag: &BTreeMap<String, crate::checks::lag::LagSeries>,
    ) -> Option<RoutingReport> {
        let slot = self.router.as_mut()?;
        let spec = slot.router.spec.clone();
        let shared = Arc::clone(&slot.shared);
        let promotion = slot.promotion.clone();
        if promotion.is_none() {
            self.next_phase(None);
        }
        let (bootstrap, admin, group, topic) = (
            self.bootstrap.clone(),
            self.admin.clone(),
            spec.name.clone(),
            spec.topic.clone(),
        );
        let mut errors = shared.errors.lock().map(|e| e.clone()).unwrap_or_default();
        let ends = match tokio::task::spawn_blocking(move || {
            router::positions(&bootstrap, &admin, &group, &topic)
        })
        .await
        {
            Ok(Ok(p)) => p.ends,
            Ok(Err(e)) => {
                errors.push((self.epoch.elapsed().as_secs_f64(), e));
                BTreeMap::new()
            }
            Err(e) => {
                errors.push((self.epoch.elapsed().as_secs_f64(), e.to_string()));
                BTreeMap::new()
            }
        };
        let verdict = self.routing.lock().ok().map(|t| {
            t.verdict(
                &ends,
                &promotion
                    .as_ref()
                    .map(|p| p.router_end.clone())
                    .unwrap_or_default(),
            )
        })?;
        let mut phases = shared.phases.lock().map(|p| p.clone()).unwrap_or_default();
        for p in &mut phases {
            let window = |name: &str| {
                lag.get(name).map_or(0, |series| {
                    series
                        .totals()
                        .iter()
                        .filter(|(at, _)| {
                            let s = *at as f64 / 1000.0;
                            s >= p.started_at_s && (p.ended_at_s == 0.0 || s <= p.ended_at_s)
                        })
                        .map(|(_, l)| *l)
                        .max()
                        .unwrap_or(0)
                })
            };
            p.legacy_max_lag = window(&spec.legacy);
            p.canary_max_lag = window(&spec.canary);
        }
        Some(RoutingReport {
            router: spec.name.clone(),
            topic: spec.topic.clone(),
            transactional: spec.transactional,
            legacy: spec.legacy.clone(),
            canary: spec.canary.clone(),
            phases,
            promotion,
            instances: shared.instances.load(std::sync::atomic::Ordering::SeqCst),
            commits: shared.commits.load(std::sync::atomic::Ordering::SeqCst),
            aborts: shared.aborts.load(std::sync::atomic::Ordering::SeqCst),
            errors,
            ends,
            verdict,
        })
    }
}
