//! Blue/green: the per-switch table of report.md and report.html — one row per partition a
//! consumer group moved, one row per producer move.

use crate::load::switch::{SwitchKind, SwitchReport};

pub const HEADER: [&str; 9] = [
    "at",
    "switch",
    "partition",
    "committed → resumed",
    "rewound / skipped",
    "read again",
    "lost",
    "produce gap",
    "detail",
];

/// The table's rows, as text cells in `HEADER`'s order.
pub fn rows(switches: &[SwitchReport]) -> Vec<[String; 9]> {
    let mut rows = Vec::new();
    let shown = |o: Option<i64>| o.map_or_else(|| "none".to_owned(), |o| o.to_string());
    for s in switches {
        let at = format!("{:.1} s", s.at_s);
        match (s.kind, &s.producer) {
            (SwitchKind::Consumer, _) => {
                let what = format!(
                    "consumer {} (group {}) → {}, {} offsets",
                    s.load,
                    s.group.as_deref().unwrap_or("?"),
                    s.to,
                    s.offsets.as_deref().unwrap_or("?")
                );
                for p in &s.partitions {
                    rows.push([
                        at.clone(),
                        what.clone(),
                        p.partition.to_string(),
                        format!("{} → {}", shown(p.committed), shown(p.resumed_at)),
                        format!("{} / {}", p.rewound, p.skipped),
                        p.reread.to_string(),
                        p.lost.to_string(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
            (SwitchKind::Producer, Some(p)) => {
                let mirrored = p.mirrored_at_s.map_or_else(String::new, |m| {
                    format!(", MirrorMaker caught up +{:.2} s", m - p.repointed_at_s)
                });
                rows.push([
                    at,
                    format!("producer {} ({}) {} → {}", s.load, s.topic, p.from, p.to),
                    "all".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("{} ms", p.unavailable_ms),
                    format!(
                        "noticed +{:.2} s (alias TTL){mirrored}, first ack on {} +{:.2} s; {} record(s) late, {} failed",
                        p.noticed_at_s - p.repointed_at_s,
                        p.to,
                        p.first_new_ack_at_s - p.repointed_at_s,
                        p.held,
                        p.failed
                    ),
                ]);
            }
            (SwitchKind::Producer, None) => rows.push([
                at,
                format!("producer {} → {}", s.load, s.to),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                "re-pointed before it started".into(),
            ]),
        }
    }
    rows
}

/// The explanation shown above the table.
pub const INTRO: &str = "Each switch of a client to the other cluster. Consumers: per partition, the group's committed offset on the cluster it left and where it resumed, the offsets it went back (read again) or jumped over (skipped), the records the ledger saw read again after the switch, and those never read by the end. Producers: the time from the last acknowledgement on the old cluster to the first on the new one (nobody could produce).";
