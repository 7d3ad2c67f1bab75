//! `kafka-harness diff A B`: what changed between two runs of one scenario, from their report.json
//! files — availability, latency percentiles, lag, how long each step and each rolled node took,
//! and checks that stopped passing — so nightly CI can flag a regression.
//!
//! Reports are read as JSON values, not as `Report`: a baseline written by an older harness still
//! compares on the numbers both have. A number present in only one report is listed, not judged.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

/// How much worse B may be than A before the diff fails.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// Canary availability: percentage points B may lose.
    pub availability_drop_pp: f64,
    /// Latency percentiles: how much higher B's may be, in percent of A's ...
    pub latency_increase_pct: f64,
    /// ... ignored below this many milliseconds of difference (noise on a quiet broker).
    pub latency_floor_ms: f64,
    /// Consumer lag: how much higher B's maximum may be, in percent, ...
    pub lag_increase_pct: f64,
    /// ... ignored below this many records of difference.
    pub lag_floor: f64,
    /// Step and node phase times: how much longer B's may be, in percent, ...
    pub phase_increase_pct: f64,
    /// ... ignored below this many seconds of difference.
    pub phase_floor_s: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            availability_drop_pp: 1.0,
            latency_increase_pct: 50.0,
            latency_floor_ms: 50.0,
            lag_increase_pct: 50.0,
            lag_floor: 1000.0,
            phase_increase_pct: 50.0,
            phase_floor_s: 5.0,
        }
    }
}

/// What kind of number a row compares, which decides its tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Availability,
    Latency,
    Lag,
    Phase,
    /// Shown, never judged (throughput, the run's length).
    Info,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub metric: String,
    pub kind: Kind,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// B past the tolerance of `kind`.
    pub regressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub scenario: String,
    pub run_a: String,
    pub run_b: String,
    pub rows: Vec<Row>,
    /// Checks that passed (or failed as expected) in A and do not in B.
    pub checks_regressed: Vec<String>,
    /// Checks of A that B does not run (the scenario changed): listed, not judged.
    pub checks_missing: Vec<String>,
}

impl Diff {
    pub fn regressed(&self) -> bool {
        !self.checks_regressed.is_empty() || self.rows.iter().any(|r| r.regressed)
    }
}

/// Compares report B against baseline A. `Err` when the two are not reports of one scenario.
pub fn diff(a: &Value, b: &Value, t: &Tolerances) -> Result<Diff, String> {
    let scenario = |r: &Value| r["scenario"].as_str().map(str::to_owned);
    let (Some(sa), Some(sb)) = (scenario(a), scenario(b)) else {
        return Err("not a report.json of kafka-harness (no `scenario`)".to_owned());
    };
    if sa != sb {
        return Err(format!(
            "the reports are of two scenarios (`{sa}` and `{sb}`); diff compares runs of one"
        ));
    }
    let (ma, mb) = (metrics(a), metrics(b));
    let mut rows = Vec::new();
    for (metric, kind, va) in &ma {
        let vb = mb.iter().find(|(m, _, _)| m == metric).and_then(|x| x.2);
        rows.push(row(metric, *kind, *va, vb, t));
    }
    for (metric, kind, vb) in &mb {
        if !ma.iter().any(|(m, _, _)| m == metric) {
            rows.push(row(metric, *kind, None, *vb, t));
        }
    }
    // Each check's name, and whether it came out as its scenario declared.
    let checks = |r: &Value| -> Vec<(String, bool)> {
        r["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let as_declared = (c["status"] == "fail") == (c["expected_to_fail"] == true);
                Some((c["name"].as_str()?.to_owned(), as_declared))
            })
            .collect()
    };
    let (ca, cb) = (checks(a), checks(b));
    let mut checks_regressed = Vec::new();
    let mut checks_missing = Vec::new();
    for (name, _) in ca.iter().filter(|(_, ok)| *ok) {
        match cb.iter().find(|(n, _)| n == name) {
            Some((_, false)) => checks_regressed.push(name.clone()),
            Some((_, true)) => {}
            None => checks_missing.push(name.clone()),
        }
    }
    Ok(Diff {
        scenario: sa,
        run_a: a["run_id"].as_str().unwrap_or_default().to_owned(),
        run_b: b["run_id"].as_str().unwrap_or_default().to_owned(),
        rows,
        checks_regressed,
        checks_missing,
    })
}

fn row(metric: &str, kind: Kind, a: Option<f64>, b: Option<f64>, t: &Tolerances) -> Row {
    let regressed = match (a, b) {
        (Some(a), Some(b)) => match kind {
            Kind::Availability => a - b > t.availability_drop_pp,
            Kind::Latency => worse(a, b, t.latency_increase_pct, t.latency_floor_ms),
            Kind::Lag => worse(a, b, t.lag_increase_pct, t.lag_floor),
            Kind::Phase => worse(a, b, t.phase_increase_pct, t.phase_floor_s),
            Kind::Info => false,
        },
        _ => false,
    };
    Row {
        metric: metric.to_owned(),
        kind,
        a,
        b,
        regressed,
    }
}

/// B is more than `pct` percent and more than `floor` above A.
fn worse(a: f64, b: f64, pct: f64, floor: f64) -> bool {
    b - a > floor && b > a * (1.0 + pct / 100.0)
}

/// Every comparable number of one report, named so the same number of another run matches.
fn metrics(r: &Value) -> Vec<(String, Kind, Option<f64>)> {
    let mut m = Vec::new();
    let num = |v: &Value| v.as_f64();
    m.push((
        "run duration (s)".to_owned(),
        Kind::Info,
        num(&r["duration_s"]),
    ));
    let run = &r["canary"]["run"];
    if run.is_object() {
        m.push((
            "canary availability (%)".into(),
            Kind::Availability,
            num(&run["availability_percent"]),
        ));
        for (what, key) in [
            ("end-to-end", "e2e_latency"),
            ("produce", "produce_latency"),
        ] {
            for p in ["p50_ms", "p99_ms"] {
                m.push((
                    format!("canary {what} {} (ms)", &p[..3]),
                    Kind::Latency,
                    num(&run[key][p]),
                ));
            }
        }
        m.push((
            "canary longest unavailability (s)".into(),
            Kind::Phase,
            num(&run["longest_unavailability_ms"]).map(|ms| ms / 1000.0),
        ));
    }
    for p in r["producers"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or("?");
        for q in ["p50_ms", "p99_ms"] {
            m.push((
                format!("producer {name} latency {} (ms)", &q[..3]),
                Kind::Latency,
                num(&p["latency"][q]),
            ));
        }
        m.push((
            format!("producer {name} records/s"),
            Kind::Info,
            num(&p["throughput"]),
        ));
    }
    for c in r["consumers"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("?");
        m.push((
            format!("consumer {name} max lag"),
            Kind::Lag,
            num(&c["max_lag"]),
        ));
    }
    for s in r["steps"].as_array().into_iter().flatten() {
        let i = s["index"].as_u64().unwrap_or(0) + 1;
        let label = s["step"].as_str().unwrap_or("?");
        m.push((
            format!("step {i} {label} (s)"),
            Kind::Phase,
            num(&s["duration_ms"]).map(|ms| ms / 1000.0),
        ));
        // A rolling upgrade's evidence has a line per node: "kafka-1: 3.6.2 -> 3.9.1, reports
        // 3.9.1 after 25.3s (...)".
        for e in s["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let Some((node, rest)) = e.split_once(": ") else {
                continue;
            };
            let took = rest
                .split_once(" after ")
                .and_then(|(_, t)| t.split_once('s'))
                .and_then(|(t, _)| t.parse::<f64>().ok());
            if let Some(took) = took {
                m.push((
                    format!("step {i} {node} back in sync (s)"),
                    Kind::Phase,
                    Some(took),
                ));
            }
        }
    }
    m
}

/// The diff as Markdown: the regressions first, then every number.
pub fn markdown(d: &Diff) -> String {
    let mut o = format!(
        "# {} — run {} against baseline {}: {}\n\n",
        d.scenario,
        d.run_b,
        d.run_a,
        if d.regressed() {
            "REGRESSED"
        } else {
            "within tolerances"
        }
    );
    for c in &d.checks_regressed {
        let _ = writeln!(
            o,
            "- check `{c}` came out as declared in the baseline and does not now"
        );
    }
    for c in &d.checks_missing {
        let _ = writeln!(
            o,
            "- check `{c}` of the baseline is not run now (the scenario changed): not judged"
        );
    }
    let _ = writeln!(
        o,
        "\n| metric | baseline | this run | change | |\n|---|---|---|---|---|"
    );
    let shown = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    let mut rows: Vec<&Row> = d.rows.iter().collect();
    rows.sort_by_key(|r| !r.regressed);
    for r in rows {
        let change = match (r.a, r.b) {
            (Some(a), Some(b)) if r.kind == Kind::Availability => format!("{:+.1} pp", b - a),
            (Some(a), Some(b)) if a != 0.0 => format!("{:+.0} %", (b - a) / a.abs() * 100.0),
            (Some(a), Some(b)) => format!("{:+.1}", b - a),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {change} | {} |",
            r.metric,
            shown(r.a),
            shown(r.b),
            if r.regressed {
                "**past tolerance**"
            } else {
                ""
            }
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(run: &str, p99: f64, lag: i64, node_s: f64, check: &str) -> Value {
        json!({
            "scenario": "s", "run_id": run, "duration_s": 100.0,
            "canary": {"run": {"availability_percent": 99.5, "longest_unavailability_ms": 1200,
                "e2e_latency": {"p50_ms": 10.0, "p99_ms": p99}, "produce_latency": {"p50_ms": 5.0, "p99_ms": 20.0}}},
            "producers": [{"name": "w", "throughput": 2000.0, "latency": {"p50_ms": 4.0, "p99_ms": 30.0}}],
            "consumers": [{"name": "r", "max_lag": lag}],
            "steps": [{"index": 0, "step": "rolling upgrade of kafka to 3.9.1", "duration_ms": 75000,
                "evidence": [format!("kafka-1: 3.6.2 -> 3.9.1, reports 3.9.1 after {node_s}s (stop 2.0s)")]}],
            "checks": [{"name": "no_loss", "status": check, "expected_to_fail": false}]
        })
    }

    #[test]
    fn the_same_numbers_pass_and_worse_ones_are_flagged() {
        let t = Tolerances::default();
        let a = report("a", 200.0, 5000, 25.0, "pass");
        let same = diff(&a, &report("b", 220.0, 5200, 26.0, "pass"), &t).expect("one scenario");
        assert!(!same.regressed(), "{}", markdown(&same));
        let worse = diff(&a, &report("b", 900.0, 50000, 60.0, "fail"), &t).expect("one scenario");
        assert!(worse.regressed());
        let flagged: Vec<&str> = worse
            .rows
            .iter()
            .filter(|r| r.regressed)
            .map(|r| r.metric.as_str())
            .collect();
        assert_eq!(
            flagged,
            [
                "canary end-to-end p99 (ms)",
                "consumer r max lag",
                "step 1 kafka-1 back in sync (s)"
            ]
        );
        assert_eq!(worse.checks_regressed, ["no_loss"]);
        let md = markdown(&worse);
        assert!(
            md.contains("REGRESSED")
                && md.contains(
                    "| canary end-to-end p99 (ms) | 200.0 | 900.0 | +350 % | **past tolerance** |"
                ),
            "{md}"
        );
    }

    #[test]
    fn two_scenarios_do_not_compare() {
        let a = report("a", 1.0, 1, 1.0, "pass");
        let mut b = a.clone();
        b["scenario"] = json!("other");
        assert!(diff(&a, &b, &Tolerances::default()).is_err());
        assert!(diff(&json!({}), &a, &Tolerances::default()).is_err());
    }
}
