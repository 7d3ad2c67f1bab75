//! Blue/green: how far green is behind blue, once a second, per replicated partition — blue's log
//! end offset minus green's. MirrorMaker replicates under the same names into a fresh green, so
//! the two logs line up record for record; once producers write to green directly the difference
//! stops meaning lag (the probe is for the replication phase). A cluster that does not answer
//! leaves a gap.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::Serialize;

use super::ticker::Ticker;
use crate::client::{self, Auth};

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MirrorLagSample {
    /// Seconds since the run started.
    pub at_s: f64,
    pub topic: String,
    pub partition: i32,
    /// Records blue has that green has not (None: a cluster did not answer).
    pub lag: Option<i64>,
}

/// The largest lag one partition reached, and when.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MirrorLagPeak {
    pub topic: String,
    pub partition: i32,
    pub max: i64,
    pub at_s: f64,
    /// The last sample's lag.
    pub last: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MirrorLag {
    pub samples: Vec<MirrorLagSample>,
    pub peaks: Vec<MirrorLagPeak>,
}

impl MirrorLag {
    /// The peak per partition, from the samples.
    fn summarize(samples: Vec<MirrorLagSample>) -> Self {
        let mut peaks: Vec<MirrorLagPeak> = Vec::new();
        for s in &samples {
            let i = match peaks
                .iter()
                .position(|p| p.topic == s.topic && p.partition == s.partition)
            {
                Some(i) => i,
                None => {
                    peaks.push(MirrorLagPeak {
                        topic: s.topic.clone(),
                        partition: s.partition,
                        max: 0,
                        at_s: s.at_s,
                        last: None,
                    });
                    peaks.len() - 1
                }
            };
            let peak = &mut peaks[i];
            if let Some(lag) = s.lag {
                if lag > peak.max {
                    peak.max = lag;
                    peak.at_s = s.at_s;
                }
            }
            peak.last = s.lag;
        }
        peaks.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Self { samples, peaks }
    }

    /// Total lag over the partitions of each sampling instant, for the chart.
    pub fn totals(&self) -> Vec<(f64, Option<f64>)> {
        let mut out: Vec<(f64, Option<f64>)> = Vec::new();
        for s in &self.samples {
            match out.last_mut() {
                Some((at, total)) if (*at - s.at_s).abs() < 0.5 => {
                    *total = match (*total, s.lag) {
                        (Some(t), Some(l)) => Some(t + l as f64),
                        _ => None,
                    };
                }
                _ => out.push((s.at_s, s.lag.map(|l| l as f64))),
            }
        }
        out
    }
}

#[derive(Debug)]
pub struct MirrorLagProbe(Ticker<MirrorLagSample>);

impl MirrorLagProbe {
    /// Starts sampling `topics` on both clusters, on a thread of its own (watermark requests block).
    pub fn start(
        blue: String,
        green: String,
        admin: Auth,
        topics: Vec<String>,
        epoch: Instant,
    ) -> Self {
        Self(Ticker::start("mirror lag probe", move || {
            let b = client::config(&blue, &admin)
                .create::<BaseConsumer>()
                .ok()?;
            let g = client::config(&green, &admin)
                .create::<BaseConsumer>()
                .ok()?;
            let timeout = Duration::from_secs(2);
            let partitions: Vec<(String, i32)> = topics
                .iter()
                .flat_map(|t| {
                    b.fetch_metadata(Some(t), timeout)
                        .ok()
                        .and_then(|md| {
                            md.topics().first().map(|m| {
                                m.partitions()
                                    .iter()
                                    .map(|p| (t.clone(), p.id()))
                                    .collect::<Vec<_>>()
                            })
                        })
                        .unwrap_or_default()
                })
                .collect();
            Some(move || {
                let at_s = epoch.elapsed().as_secs_f64();
                partitions
                    .iter()
                    .map(|(topic, p)| MirrorLagSample {
                        at_s,
                        topic: topic.clone(),
                        partition: *p,
                        lag: match (
                            b.fetch_watermarks(topic, *p, timeout),
                            g.fetch_watermarks(topic, *p, timeout),
                        ) {
                            (Ok((_, blue_end)), Ok((_, green_end))) => {
                                Some((blue_end - green_end).max(0))
                            }
                            _ => None,
                        },
                    })
                    .collect()
            })
        }))
    }

    pub async fn finish(self) -> MirrorLag {
        MirrorLag::summarize(self.0.finish().await)
    }
}

#[cfg(test)]
mod tests {
    use super::{MirrorLag, MirrorLagSample};

    fn s(at_s: f64, partition: i32, lag: Option<i64>) -> MirrorLagSample {
        MirrorLagSample {
            at_s,
            topic: "orders".into(),
            partition,
            lag,
        }
    }

    #[test]
    fn peaks_and_totals() {
        let m = MirrorLag::summarize(vec![
            s(1.0, 0, Some(3)),
            s(1.0, 1, Some(5)),
            s(2.0, 0, Some(9)),
            s(2.0, 1, None),
            s(3.0, 0, Some(0)),
            s(3.0, 1, Some(0)),
        ]);
        assert_eq!(m.peaks[0].max, 9);
        assert!((m.peaks[0].at_s - 2.0).abs() < 1e-9);
        assert_eq!(m.peaks[1].max, 5);
        assert_eq!(m.peaks[1].last, Some(0));
        assert_eq!(
            m.totals(),
            vec![(1.0, Some(8.0)), (2.0, None), (3.0, Some(0.0))]
        );
    }
}
