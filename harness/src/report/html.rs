//! report.html: the run as one self-contained page — a timeline of the steps with what went wrong
//! on it, charts over time, the checks with their evidence, versions before and after.
//!
//! The charts are plain SVG written here, not a plotting library: the page must open offline in
//! any browser (no CDN script or font), stay small (a point per second and series), render the
//! same everywhere without running code, and be snapshot-tested as text like the other reports.
//! Nothing on it is computed from anything but the `Report` the other reporters read.

use std::fmt::Write as _;

use super::{Report, Verdict};
use crate::checks::result::CheckStatus;
use crate::outcome::Status;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
];
const RED: &str = "#d62728";

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let verdict = r.verdict.word();
    let color = if r.verdict == Verdict::Pass {
        "#2ca02c"
    } else {
        RED
    };
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} — {verdict}</title><style>{}</style></head><body>\n",
        esc(&r.scenario),
        STYLE
    );
    let _ = writeln!(
        o,
        "<h1>{} <span class=\"badge\" style=\"background:{color}\">{verdict}</span></h1>\n\
         <p class=\"meta\">run <code>{}</code> on stack <code>{}</code> · {:.0} s · delivery semantics <code>{}</code>{}</p>",
        esc(&r.scenario),
        esc(&r.run_id),
        esc(&r.stack),
        r.duration_s,
        r.semantics,
        if r.expect_fail.is_empty() {
            String::new()
        } else {
            format!(
                " · planted defect: <code>{}</code> must fail",
                esc(&r.expect_fail.join(", "))
            )
        }
    );
    if let Some(e) = &r.error {
        let _ = writeln!(
            o,
            "<p class=\"error\">The stack could not be brought up: {}</p>",
            esc(e)
        );
    }
    let end = r.duration_s.max(1.0);
    let bands = step_bands(r);

    o.push_str("<h2>Timeline</h2>\n");
    o.push_str(&timeline(r, end, &bands));

    o.push_str("<h2>Over time</h2>\n");
    let produced: Vec<Series> = r
        .producers
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            // From the producer's first second: before it started there was no rate to draw.
            let first = p.started_at_s.floor().max(0.0) as usize;
            let per_s = |v: &[u32]| -> Vec<(f64, Option<f64>)> {
                v.iter()
                    .enumerate()
                    .skip(first)
                    .map(|(s, n)| (s as f64 + 0.5, Some(f64::from(*n))))
                    .collect()
            };
            let mut out = vec![Series {
                name: format!("{} acked/s", p.name),
                color: PALETTE[i % PALETTE.len()],
                points: per_s(&p.acked_per_s),
            }];
            if p.failed_per_s.iter().any(|n| *n > 0) {
                out.push(Series {
                    name: format!("{} failed/s", p.name),
                    color: RED,
                    points: per_s(&p.failed_per_s),
                });
            }
            out
        })
        .collect();
    o.push_str(&chart(
        "Records produced per second",
        "records/s",
        end,
        &produced,
        &bands,
    ));

    if let Some(c) = &r.canary {
        let slice =
            |f: fn(&crate::probes::canary::CanarySlice) -> Option<f64>| -> Vec<(f64, Option<f64>)> {
                c.timeline
                    .iter()
                    .map(|s| ((s.from_s + s.to_s) / 2.0, f(s)))
                    .collect()
            };
        let latency = [
            Series {
                name: "end-to-end p50".into(),
                color: PALETTE[0],
                points: slice(|s| s.e2e_p50_ms),
            },
            Series {
                name: "end-to-end p99".into(),
                color: PALETTE[1],
                points: slice(|s| s.e2e_p99_ms),
            },
        ];
        o.push_str(&chart(
            "Canary end-to-end latency (5 s slices)",
            "ms",
            end,
            &latency,
            &bands,
        ));
        let availability = [Series {
            name: "availability".into(),
            color: PALETTE[2],
            points: slice(|s| s.availability_percent),
        }];
        o.push_str(&chart(
            "Canary availability (5 s slices)",
            "%",
            end,
            &availability,
            &bands,
        ));
    } else {
        o.push_str("<p class=\"meta\">The canary probe did not run: no latency or availability chart.</p>\n");
    }
    let lag: Vec<Series> = r
        .consumers
        .iter()
        .enumerate()
        .map(|(i, c)| Series {
            name: format!("{} ({})", c.name, c.group),
            color: PALETTE[i % PALETTE.len()],
            points: c
                .lag
                .totals()
                .into_iter()
                .map(|(at_ms, lag)| (at_ms as f64 / 1000.0, Some(lag as f64)))
                .collect(),
        })
        .collect();
    o.push_str(&chart(
        "Consumer lag per group",
        "records",
        end,
        &lag,
        &bands,
    ));
    let urp = [Series {
        name: "under-replicated partitions".into(),
        color: RED,
        points: r
            .under_replicated
            .iter()
            .map(|s| (s.at_s, s.under_replicated.map(f64::from)))
            .collect(),
    }];
    o.push_str(&chart(
        "Under-replicated partitions (gaps: no broker answered)",
        "partitions",
        end,
        &urp,
        &bands,
    ));
    if let Some(m) = &r.mirror_lag {
        let series = [Series {
            name: "records blue has and green has not".into(),
            color: PALETTE[0],
            points: m.totals(),
        }];
        o.push_str(&chart(
            "MirrorMaker 2: green behind blue (gaps: a cluster did not answer)",
            "records",
            end,
            &series,
            &bands,
        ));
    }

    if !r.switches.is_empty() {
        let _ = writeln!(
            o,
            "<h2>Switches</h2>\n<p>{}</p>\n<table><tr>{}</tr>",
            esc(super::switches::INTRO),
            super::switches::HEADER
                .iter()
                .map(|h| format!("<th>{}</th>", esc(h)))
                .collect::<String>()
        );
        for row in super::switches::rows(&r.switches) {
            let cells: String = row.iter().map(|c| format!("<td>{}</td>", esc(c))).collect();
            let _ = writeln!(o, "<tr>{cells}</tr>");
        }
        o.push_str("</table>\n");
    }

    o.push_str("<h2>Checks</h2>\n<table><tr><th>check</th><th>result</th><th>evidence</th></tr>\n");
    for c in &r.checks {
        let class = if c.as_declared() { "ok" } else { "bad" };
        let mark = if c.status == CheckStatus::Pass {
            ""
        } else {
            " ✗"
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td class=\"{class}\">{}{mark}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(c.outcome()),
            esc(&c.evidence)
        );
    }
    o.push_str("</table>\n");

    o.push_str("<h2>Versions</h2>\n<table><tr><th>node</th><th>before</th><th>after</th></tr>\n");
    for v in &r.versions {
        let changed = if v.before == v.after {
            ""
        } else {
            " class=\"changed\""
        };
        let _ = writeln!(
            o,
            "<tr{changed}><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&v.node),
            esc(&v.before),
            esc(&v.after)
        );
    }
    o.push_str("</table>\n");

    o.push_str("<h2>Steps</h2>\n<table><tr><th>#</th><th>step</th><th>result</th><th>at</th><th>took</th><th>detail</th></tr>\n");
    for s in &r.steps {
        let (class, word) = if s.as_declared() {
            ("ok", s.word())
        } else {
            ("bad", s.word())
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td><td>{:.1} s</td><td>{:.1} s</td><td>{}</td></tr>",
            s.index + 1,
            esc(&s.step),
            s.started_at_s,
            s.duration_ms as f64 / 1000.0,
            esc(&s.detail)
        );
    }
    o.push_str("</table>\n");

    if !r.consumers.is_empty() {
        o.push_str("<h2>Integrity</h2>\n<table><tr><th>consumer</th><th>topic</th><th>acked</th><th>delivered</th><th>lost</th><th>duplicated</th><th>redelivered</th><th>reordered</th><th>corrupted</th></tr>\n");
        for c in crate::load::judged(&r.consumers) {
            let i = &c.integrity;
            let reordered = if c.service.is_some() {
                "not judged".to_owned()
            } else {
                i.reordered.to_string()
            };
            let topic = match (&c.service, &r.routing) {
                (Some(_), Some(routing)) => &routing.topic,
                _ => &c.topic,
            };
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{reordered}</td><td>{}</td></tr>",
                esc(&c.label()),
                esc(topic),
                i.acked,
                i.delivered,
                i.lost,
                i.duplicated,
                i.redelivered,
                i.corrupted
            );
        }
        o.push_str("</table>\n");
    }
    if let Some(routing) = &r.routing {
        o.push_str("<h2>Canary routing</h2>\n<table><tr><th>phase</th><th>threshold</th><th>from</th><th>to</th><th>to legacy</th><th>to canary</th><th>share</th><th>pause before</th></tr>\n");
        for (i, p) in routing.phases.iter().enumerate() {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{:.1} s</td><td>{:.1} s</td><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td></tr>",
                i + 1,
                p.threshold,
                p.started_at_s,
                p.ended_at_s,
                p.to_legacy,
                p.to_canary,
                p.share_text(),
                p.pause_ms
            );
        }
        o.push_str("</table>\n");
    }
    if !r.errors.is_empty() {
        o.push_str("<h2>Errors seen by the load</h2>\n<ul>\n");
        for e in r.errors.iter().take(50) {
            let _ = writeln!(
                o,
                "<li>{:.1} s · {} · {}</li>",
                e.at_s,
                esc(&e.source),
                esc(&e.error)
            );
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body></html>\n");
    o
}

/// One entry of a version matrix, for `matrix`.
#[derive(Debug)]
pub struct MatrixEntryRow<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub set: &'a str,
    pub verdict: &'a str,
    /// The entry's report.html, relative to the matrix page.
    pub link: String,
}

/// matrix.html: the version matrix of a scenario, each entry linking its own report.html.
pub fn matrix(scenario: &str, rows: &[MatrixEntryRow<'_>]) -> String {
    let mut o = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Version matrix of {0}</title><style>{STYLE}</style></head><body>\n<h1>Version matrix of {0}</h1>\n<table><tr><th>from</th><th>to</th><th>set</th><th>verdict</th><th>report</th></tr>\n",
        esc(scenario)
    );
    for r in rows {
        let class = if r.verdict == "pass" { "ok" } else { "bad" };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td><a href=\"{}\">report.html</a></td></tr>",
            esc(r.from),
            esc(r.to),
            esc(r.set),
            esc(r.verdict),
            esc(&r.link)
        );
    }
    o.push_str("</table>\n</body></html>\n");
    o
}

const STYLE: &str =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}code{background:#f3f3f3;padding:0 3px}\
.badge{color:#fff;border-radius:4px;padding:2px 8px;font-size:15px;vertical-align:middle}\
.meta{color:#555}.error{color:#d62728}table{border-collapse:collapse;width:100%}\
td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f6f6f6}.ok{color:#2a7a2a}.bad{color:#d62728;font-weight:600}\
.changed td{background:#fffbe6}svg{display:block;margin:6px 0 14px}\
svg text{font:11px system-ui,sans-serif;fill:#444}";

/// One line of a chart: points (seconds since the start, value); `None` breaks the line.
struct Series {
    name: String,
    color: &'static str,
    points: Vec<(f64, Option<f64>)>,
}

/// Something that lasted from one time to another (seconds since the start), with what it was.
struct Span {
    from: f64,
    to: f64,
    label: String,
    failed: bool,
}

fn step_bands(r: &Report) -> Vec<Span> {
    r.steps
        .iter()
        .map(|s| Span {
            from: s.started_at_s,
            to: s.started_at_s + s.duration_ms as f64 / 1000.0,
            label: format!("{}. {}", s.index + 1, s.step),
            failed: s.status != Status::Pass,
        })
        .collect()
}

fn mark(from: f64, to: f64, label: String) -> Span {
    Span {
        from,
        to,
        label,
        failed: true,
    }
}

fn x_of(t: f64, end: f64) -> f64 {
    LEFT + (t.clamp(0.0, end) / end) * (WIDTH - LEFT - RIGHT)
}

/// The steps as bands, with the canary's unavailability windows, the registry's and the load's
/// errors as markers on lanes of their own.
fn timeline(r: &Report, end: f64, bands: &[Span]) -> String {
    let lanes: [(&str, Vec<Span>); 3] = [
        (
            "canary down",
            r.canary.as_ref().map_or_else(Vec::new, |c| {
                c.windows
                    .iter()
                    .map(|w| {
                        mark(
                            w.from_s,
                            w.to_s,
                            format!(
                                "partition {} unavailable for {} ms",
                                w.partition, w.duration_ms
                            ),
                        )
                    })
                    .collect()
            }),
        ),
        (
            "registry down",
            r.registry.as_ref().map_or_else(Vec::new, |g| {
                g.windows
                    .iter()
                    .map(|w| {
                        mark(
                            w.from_s,
                            w.to_s,
                            format!("registry unavailable: {}", w.error),
                        )
                    })
                    .collect()
            }),
        ),
        (
            "load errors",
            r.errors
                .iter()
                .map(|e| mark(e.at_s, e.at_s, format!("{}: {}", e.source, e.error)))
                .collect(),
        ),
    ];
    let lane_h = 18.0;
    let top = 34.0;
    let height = top + lane_h * lanes.len() as f64 + 26.0;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg class=\"timeline\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"timeline\">"
    );
    for (i, b) in bands.iter().enumerate() {
        let (x0, x1) = (x_of(b.from, end), x_of(b.to, end));
        let fill = if i % 2 == 0 { "#dbe8f5" } else { "#eef4fa" };
        let stroke = if b.failed { RED } else { "none" };
        let _ = writeln!(
            o,
            "<rect x=\"{x0:.1}\" y=\"4\" width=\"{:.1}\" height=\"24\" fill=\"{fill}\" stroke=\"{stroke}\"><title>{}</title></rect>",
            (x1 - x0).max(1.0),
            esc(&b.label)
        );
        if x1 - x0 > 16.0 {
            let _ = writeln!(o, "<text x=\"{:.1}\" y=\"20\">{}</text>", x0 + 3.0, i + 1);
        }
    }
    for (k, (name, marks)) in lanes.iter().enumerate() {
        let y = top + lane_h * k as f64;
        let _ = writeln!(
            o,
            "<text x=\"2\" y=\"{:.1}\">{name}</text><line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/>",
            y + 12.0,
            WIDTH - RIGHT,
            y + 9.0,
            y + 9.0
        );
        for m in marks.iter().take(200) {
            let (x0, x1) = (x_of(m.from, end), x_of(m.to, end));
            let _ = writeln!(
                o,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"12\" fill=\"{RED}\" opacity=\"0.8\"><title>{:.1} s: {}</title></rect>",
                x0 - 1.0,
                y + 3.0,
                (x1 - x0).max(2.0),
                m.from,
                esc(&m.label)
            );
        }
    }
    axis(&mut o, end, height - 8.0);
    o.push_str("</svg>\n");
    o
}

/// Seconds along the bottom.
fn axis(o: &mut String, end: f64, y: f64) {
    let step = nice_step(end / 8.0);
    let mut t = 0.0;
    while t <= end + 1e-9 {
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"middle\">{}s</text>",
            x_of(t, end),
            t
        );
        t += step;
    }
    o.push('\n');
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

fn chart(title: &str, unit: &str, end: f64, series: &[Series], bands: &[Span]) -> String {
    let (top, plot_h) = (22.0, 150.0);
    let height = top + plot_h + 40.0;
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().filter_map(|p| p.1))
        .fold(0.0_f64, f64::max);
    let y_step = nice_step(max.max(1e-9) / 4.0);
    let y_max = (max / y_step).ceil().max(1.0) * y_step;
    let y_of = |v: f64| top + plot_h - (v / y_max) * plot_h;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "<svg class=\"chart\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    let _ = writeln!(
        o,
        "<text x=\"{LEFT}\" y=\"14\" font-weight=\"600\">{}</text>",
        esc(title)
    );
    for (i, b) in bands.iter().enumerate() {
        let (x0, x1) = (x_of(b.from, end), x_of(b.to, end));
        if i % 2 == 0 {
            let _ = writeln!(
                o,
                "<rect x=\"{x0:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{plot_h}\" fill=\"#f2f6fb\"><title>{}</title></rect>",
                (x1 - x0).max(0.5),
                esc(&b.label)
            );
        }
    }
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let y = y_of(v);
        let _ = writeln!(
            o,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            short(v)
        );
        v += y_step;
    }
    let _ = writeln!(o, "<text x=\"4\" y=\"14\">{}</text>", esc(unit));
    // After the title, whose width is about 6.5 px a character at this size.
    let mut legend_x = LEFT + 24.0 + 6.5 * title.chars().count() as f64;
    for s in series {
        let mut d = String::new();
        let mut pen_down = false;
        for (t, value) in &s.points {
            match value {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1}",
                        if pen_down { " L" } else { " M" },
                        x_of(*t, end),
                        y_of(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !d.is_empty() {
            let _ = writeln!(
                o,
                "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"><title>{}</title></path>",
                d.trim_start(),
                s.color,
                esc(&s.name)
            );
        }
        let _ = writeln!(
            o,
            "<rect x=\"{legend_x:.1}\" y=\"6\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"15\">{}</text>",
            s.color,
            legend_x + 14.0,
            esc(&s.name)
        );
        legend_x += 20.0 + 6.5 * s.name.chars().count() as f64;
    }
    if series
        .iter()
        .all(|s| s.points.iter().all(|p| p.1.is_none()))
    {
        let _ = writeln!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\">nothing recorded</text>",
            WIDTH / 2.0,
            top + plot_h / 2.0
        );
    }
    axis(&mut o, end, top + plot_h + 18.0);
    o.push_str("</svg>\n");
    o
}

/// 1500 as `1.5k`, 2000000 as `2M`.
fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", (v / 1e5).round() / 10.0)
    } else if v >= 1e3 {
        format!("{}k", (v / 1e2).round() / 10.0)
    } else if v.fract() == 0.0 {
        format!("{v}")
    } else {
        format!("{v:.1}")
    }
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_nice() {
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(0.0), 1.0);
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(40.0), "40");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn a_chart_draws_its_lines_and_breaks_at_gaps() {
        let s = Series {
            name: "a".into(),
            color: "#000",
            points: vec![
                (0.0, Some(1.0)),
                (1.0, Some(2.0)),
                (2.0, None),
                (3.0, Some(4.0)),
            ],
        };
        let svg = chart("t", "u", 4.0, &[s], &[]);
        let d = svg
            .split("<path d=\"")
            .nth(1)
            .and_then(|x| x.split('"').next())
            .unwrap_or_default();
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        assert!(!svg.contains("nothing recorded"));
        let empty = chart("t", "u", 4.0, &[], &[]);
        assert!(empty.contains("nothing recorded"));
    }
}
