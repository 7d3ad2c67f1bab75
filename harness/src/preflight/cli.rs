//! `kafka-harness preflight FILE --from X --to Y...`: the preflight of a config file alone, without
//! a stack or scenario — to check production's file before writing a scenario, or against releases
//! no stack can run yet.

use std::collections::BTreeMap;
use std::path::Path;

use super::{check_settings, defs, Settings};
use crate::components::kafka::Origin;
use crate::error::{EXIT_INVALID_INPUT, EXIT_OK, EXIT_PREFLIGHT_UNAVAILABLE};
use crate::progress::Progress;
use crate::scenario::{parse_properties, Version};

pub fn main(file: &Path, from: &str, to: &[String], json: bool) -> i32 {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", file.display());
            return EXIT_INVALID_INPUT;
        }
    };
    let parse = |flag: &str, v: &str| {
        v.parse::<Version>()
            .map_err(|e| eprintln!("error: --{flag}: {e}"))
    };
    let Ok(from) = parse("from", from) else {
        return EXIT_INVALID_INPUT;
    };
    let mut targets = Vec::new();
    for t in to {
        let Ok(t) = parse("to", t) else {
            return EXIT_INVALID_INPUT;
        };
        if t != from && !targets.contains(&t) {
            targets.push(t);
        }
    }
    let progress = Progress::new(false);
    let mut all = BTreeMap::new();
    for v in std::iter::once(from).chain(targets.iter().copied()) {
        match defs::load(v, &progress) {
            Ok(d) => {
                all.insert(v, d);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_PREFLIGHT_UNAVAILABLE;
            }
        }
    }
    let settings = Settings {
        user: parse_properties(&text)
            .into_iter()
            .map(|(k, v)| (k, v, Origin::Production))
            .collect(),
        ..Settings::default()
    };
    let p = check_settings(from, &targets, &settings, &all);
    if json {
        println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default());
    } else {
        println!("{}", file.display());
        print!("{}", p.render_text());
    }
    EXIT_OK
}
