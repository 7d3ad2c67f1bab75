//! report.md: what a reviewer reads in a minute — the verdict, the checks with their evidence, then
//! the numbers behind them.

use std::fmt::Write as _;

use super::Report;

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let verdict = r.verdict.word();
    let _ = writeln!(o, "# {} — {verdict}\n", r.scenario);
    let _ = writeln!(
        o,
        "Run `{}` on stack `{}`, {:.0} s, delivery semantics `{}`.{}\n",
        r.run_id,
        r.stack,
        r.duration_s,
        r.semantics,
        if r.expect_fail.is_empty() {
            String::new()
        } else {
            format!(
                " Planted defect: the checks `{}` must fail.",
                r.expect_fail.join("`, `")
            )
        }
    );
    if let Some(e) = &r.error {
        let _ = writeln!(o, "**The stack could not be brought up:** {e}\n");
    }
    if !r.checks.is_empty() {
        let _ = writeln!(
            o,
            "## Checks\n\n| check | result | evidence |\n|---|---|---|"
        );
        for c in &r.checks {
            let result = if c.as_declared() {
                c.outcome().to_owned()
            } else {
                format!("**{}**", c.outcome())
            };
            let _ = writeln!(o, "| {} | {result} | {} |", c.name, cell(&c.evidence));
        }
        o.push('\n');
    }
    if let Some(p) = &r.preflight {
        preflight(&mut o, p);
    }
    if !r.consumers.is_empty() {
        let _ = writeln!(
            o,
            "## Integrity (per consumer group)\n\n| consumer | topic | acked | delivered | lost | duplicated in the log | redelivered | reordered | corrupted | delivered, unacked |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        for c in &r.consumers {
            let i = &c.integrity;
            let _ = writeln!(
                o,
                "| {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.name,
                c.group,
                c.topic,
                i.acked,
                i.delivered,
                i.lost,
                i.duplicated,
                i.reordered,
                i.corrupted,
                i.delivered_unacked
            );
        }
        let _ = writeln!(o, "\n## Lag\n\n| consumer | max lag | time lag at the end | status at the end |\n|---|---|---|---|");
        for c in &r.consumers {
            let _ = writeln!(
                o,
                "| {} | {} | {} ms | {} |",
                c.name,
                c.max_lag,
                c.lag.time_lag_ms(),
                c.final_status
            );
        }
        o.push('\n');
    }
    if !r.producers.is_empty() {
        let _ = writeln!(
            o,
            "## Producers\n\n| producer | topic | sent | acked | failed | records/s | latency p50 / p99 / max (ms) | longest gap without ack |\n|---|---|---|---|---|---|---|---|"
        );
        for p in &r.producers {
            let gap = p
                .longest_gap_ms
                .iter()
                .max_by_key(|(_, g)| **g)
                .map_or("-".to_owned(), |(part, g)| {
                    format!("{g} ms (partition {part})")
                });
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {:.0} | {:.1} / {:.1} / {:.1} | {gap} |",
                p.name,
                p.topic,
                p.sent,
                p.acked,
                p.failed,
                p.throughput,
                p.latency.p50_ms,
                p.latency.p99_ms,
                p.latency.max_ms
            );
        }
        o.push('\n');
    }
    if !r.postgres_writers.is_empty() {
        let _ = writeln!(
            o,
            "## PostgreSQL writers\n\n| writer | table | committed | inserts | updates | deletes | failed | unknown | reconnects | changes/s | p50 ms | p99 ms | longest gap |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for w in &r.postgres_writers {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.1} | {:.1} | {} ms |",
                w.name,
                w.table,
                w.committed,
                w.inserted,
                w.updated,
                w.deleted,
                w.failed,
                w.unknown,
                w.reconnects,
                w.throughput,
                w.latency.p50_ms,
                w.latency.p99_ms,
                w.longest_gap_ms
            );
        }
        o.push('\n');
    }
    if !r.cdc.is_empty() {
        let _ = writeln!(
            o,
            "## Change data capture\n\nEach change a writer saw committed, looked up in its table's Debezium topic.\n\n| writer | topic | committed | arrived | lost | duplicated | unknown | unexpected | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        for c in &r.cdc {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |",
                c.writer,
                c.topic,
                c.committed,
                c.arrived,
                c.lost,
                c.duplicated,
                c.unknown,
                c.unexpected,
                c.latency_p50_ms,
                c.latency_p99_ms
            );
        }
        o.push('\n');
    }
    if !r.clickhouse.is_empty() {
        let _ = writeln!(
            o,
            "## ClickHouse against PostgreSQL\n\n| table | writer | alive expected | deleted | matched | missing | stale | not deleted | unexpected | uncertain | caught up after |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for h in &r.clickhouse {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                h.table,
                h.writer,
                h.expected,
                h.deleted,
                h.matched,
                h.missing,
                h.stale,
                h.not_deleted,
                h.unexpected,
                h.uncertain,
                h.caught_up_after_s
                    .map_or_else(|| "not within 30 s".to_owned(), |s| format!("{s:.1} s"))
            );
        }
        o.push('\n');
    }
    if let Some(c) = &r.canary {
        o.push_str(&super::canary::markdown(c));
    }
    if let Some(reg) = &r.registry {
        registry(&mut o, reg, &r.consumers);
    }
    if let Some(routing) = &r.routing {
        o.push_str(&super::routing::markdown(routing));
    }
    if let Some(m) = &r.mirror_lag {
        let _ = writeln!(
            o,
            "## MirrorMaker 2: green behind blue\n\nRecords blue had that green had not, sampled once a second per partition ({} sample(s)).\n\n| topic | partition | most behind | at | last sample |\n|---|---|---|---|---|",
            m.samples.len()
        );
        for p in &m.peaks {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:.1} s | {} |",
                p.topic,
                p.partition,
                p.max,
                p.at_s,
                p.last
                    .map_or_else(|| "no answer".to_owned(), |l| l.to_string())
            );
        }
        o.push('\n');
    }
    if !r.switches.is_empty() {
        let _ = writeln!(
            o,
            "## Switches\n\n{}\n\n| {} |\n|{}",
            super::switches::INTRO,
            super::switches::HEADER.join(" | "),
            "---|".repeat(super::switches::HEADER.len())
        );
        for row in super::switches::rows(&r.switches) {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            let _ = writeln!(o, "| {} |", cells.join(" | "));
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "## Steps\n\n| # | step | result | at | took | detail |\n|---|---|---|---|---|---|"
    );
    for s in &r.steps {
        let result = if s.as_declared() {
            s.word().to_owned()
        } else {
            format!("**{}**", s.word())
        };
        let _ = writeln!(
            o,
            "| {} | {} | {result} | {:.1} s | {:.1} s | {} |",
            s.index + 1,
            s.step,
            s.started_at_s,
            s.duration_ms as f64 / 1000.0,
            cell(&s.detail)
        );
    }
    if let Some(scan) = &r.log_scan {
        component_logs(&mut o, scan);
    }
    if !r.errors.is_empty() {
        let _ = writeln!(o, "\n## Errors seen by the load\n");
        for e in r.errors.iter().take(30) {
            let _ = writeln!(o, "- {:.1} s, {}: {}", e.at_s, e.source, e.error);
        }
    }
    let _ = writeln!(
        o,
        "\n## Nodes\n\n| node | component | version | image |\n|---|---|---|---|"
    );
    for n in &r.nodes {
        let _ = writeln!(
            o,
            "| {} | {} | {} | `{}` |",
            n.node, n.component, n.version, n.image
        );
    }
    if !r.overridden.is_empty() {
        let _ = writeln!(o, "\n## Production settings the harness overrode\n\n| key | production | harness |\n|---|---|---|");
        for k in &r.overridden {
            let _ = writeln!(
                o,
                "| {} | `{}` | `{}` |",
                k.key, k.user_value, k.harness_value
            );
        }
    }
    o
}

fn preflight(o: &mut String, p: &crate::preflight::Preflight) {
    let _ = writeln!(o, "## Config preflight\n\n{}\n", p.headline());
    if p.findings.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "| severity | key | from | release | finding |\n|---|---|---|---|---|"
    );
    for f in &p.findings {
        let _ = writeln!(
            o,
            "| {:?} | `{}` | {:?} | {} | {} |",
            f.severity,
            f.key,
            f.origin,
            f.version,
            cell(&f.message)
        );
    }
    o.push('\n');
}

fn component_logs(o: &mut String, scan: &crate::logscan::LogScan) {
    let counts: Vec<String> = scan
        .counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        o,
        "\n## Component logs\n\n{} line(s) of {} container log(s) scanned{}.\n",
        scan.lines,
        scan.containers,
        if counts.is_empty() {
            ": no ERROR or WARN entry".to_owned()
        } else {
            format!("; entries: {}", counts.join(", "))
        }
    );
    if scan.groups.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "| kind | node | during | count | first at | what |\n|---|---|---|---|---|---|"
    );
    for g in &scan.groups {
        let during = g
            .step
            .map_or_else(|| g.during.clone(), |n| format!("step {n}: {}", g.during));
        let what = g.subject.as_deref().map_or_else(
            || cell(&g.sample),
            |s| format!("`{s}`: {}", cell(&g.sample)),
        );
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {:.1} s | {what} |",
            g.kind.name(),
            g.node,
            during,
            g.count,
            g.first_at_s
        );
    }
    if scan.groups_left_out > 0 {
        let _ = writeln!(
            o,
            "\n{} more group(s) left out (counted above).",
            scan.groups_left_out
        );
    }
}

fn registry(
    o: &mut String,
    r: &crate::probes::registry::RegistryReport,
    consumers: &[crate::load::ConsumerResult],
) {
    let _ = writeln!(
        o,
        "## Schema registry

{}
",
        super::registry_line(r)
    );
    if !r.windows.is_empty() {
        let _ = writeln!(
            o,
            "| unavailable from | to | for | first error |\n|---|---|---|---|"
        );
        for w in &r.windows {
            let _ = writeln!(
                o,
                "| {:.1} s | {:.1} s{} | {} ms | {} |",
                w.from_s,
                w.to_s,
                if w.open { " (still down)" } else { "" },
                w.duration_ms,
                cell(&w.error)
            );
        }
        o.push('\n');
    }
    if !r.registrations.is_empty() {
        let _ = writeln!(
            o,
            "| registered | subject | id | at | by |\n|---|---|---|---|---|"
        );
        for g in &r.registrations {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {:.1} s | {} |",
                g.schema, g.subject, g.id, g.at_s, g.by
            );
        }
        o.push('\n');
    }
    for c in consumers {
        if let Some(a) = &c.avro {
            let by: Vec<String> = a
                .by_writer_schema
                .iter()
                .map(|(id, n)| format!("{n} with id {id}"))
                .collect();
            let _ = writeln!(
                o,
                "- {} (reader schema {}): read {}; {} undecodable",
                c.name,
                a.reader_schema.as_deref().unwrap_or("none"),
                if by.is_empty() {
                    "nothing".to_owned()
                } else {
                    by.join(", ")
                },
                a.undecodable
            );
        }
    }
    o.push('\n');
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
