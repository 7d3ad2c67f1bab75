//! junit.xml: one test case per check (and one for the steps), so CI systems show a rehearsal like
//! any other test run. A check that failed as the scenario expected is a passing test case.

use std::fmt::Write as _;

use super::Report;

pub fn render(r: &Report) -> String {
    let class = format!("kafka-harness.{}", r.scenario);
    let mut cases = String::new();
    let mut failures = 0;
    let mut tests = 0;
    let mut case = |name: &str, failure: Option<String>, out: &str| {
        tests += 1;
        let _ = write!(
            cases,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\">",
            xml(&class),
            xml(name)
        );
        if let Some(f) = failure {
            failures += 1;
            let _ = write!(
                cases,
                "\n      <failure message=\"{}\">{}</failure>\n    ",
                xml(&first_line(&f)),
                xml(&f)
            );
        } else if !out.is_empty() {
            let _ = write!(cases, "\n      <system-out>{}</system-out>\n    ", xml(out));
        }
        cases.push_str("</testcase>\n");
    };
    if let Some(e) = &r.error {
        case("stack", Some(e.clone()), "");
    }
    let failed_steps: Vec<String> = r
        .steps
        .iter()
        .filter(|s| !s.as_declared())
        .map(|s| {
            format!(
                "step {}: {} {} — {}",
                s.index + 1,
                s.step,
                s.word(),
                s.detail
            )
        })
        .collect();
    if r.error.is_none() {
        let summary = format!("{} step(s)", r.steps.len());
        case(
            "steps",
            (!failed_steps.is_empty()).then(|| failed_steps.join("\n")),
            &summary,
        );
    }
    for c in &r.checks {
        let failure = (!c.as_declared()).then(|| format!("{}: {}", c.outcome(), c.evidence));
        let note = if c.expected_to_fail {
            format!("failed as expected: {}", c.evidence)
        } else {
            c.evidence.clone()
        };
        case(&c.name, failure, &note);
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"{tests}\" failures=\"{failures}\">\n  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" time=\"{:.3}\">\n{cases}  </testsuite>\n</testsuites>\n",
        xml(&r.scenario),
        r.duration_s
    )
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
