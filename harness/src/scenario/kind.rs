//! Which kind of file a path holds, and the top-level shape every file must have.
//!
//! A file's kind is decided by what its author said, most explicit first: a `kind:` key, then the
//! editor's `$schema` comment, then the folder it lives in (`stacks/` or `scenarios/`), and only
//! then its keys. A guess from the keys is said with the file's errors, so a scenario that lost its
//! `stack:` key is not judged as a broken stack without a word.

use std::path::Path;

use super::diagnostics::{Diagnostic, InputError, Source};

/// The two kinds of input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stack,
    Scenario,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stack => "stack",
            Self::Scenario => "scenario",
        }
    }

    fn schema_file(self) -> &'static str {
        match self {
            Self::Stack => "stacks/stack.schema.json",
            Self::Scenario => "scenarios/scenario.schema.json",
        }
    }

    /// The top-level keys of this kind, from its JSON Schema (so they never go stale), required
    /// ones first.
    fn keys(self) -> String {
        let schema = match self {
            Self::Stack => schemars::schema_for!(super::serde_types::StackSerde),
            Self::Scenario => schemars::schema_for!(super::serde_types::ScenarioSerde),
        };
        let value = serde_json::to_value(schema).unwrap_or_default();
        let required: Vec<&str> = value["required"]
            .as_array()
            .map(|r| r.iter().filter_map(|k| k.as_str()).collect())
            .unwrap_or_default();
        let mut keys: Vec<String> = required.iter().map(|k| format!("`{k}`")).collect();
        if let Some(props) = value["properties"].as_object() {
            keys.extend(
                props
                    .keys()
                    .filter(|k| !required.contains(&k.as_str()))
                    .map(|k| format!("`{k}`")),
            );
        }
        format!(
            "a mapping with the keys {} (required: {}; see {})",
            keys.join(", "),
            required.join(", "),
            self.schema_file()
        )
    }
}

/// How a file's kind was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub kind: Kind,
    /// Why, in words that finish "read as a scenario file because ...".
    pub why: String,
    /// Only its keys spoke: worth saying when the file turns out broken.
    pub guessed: bool,
}

/// Decides the kind of the file in `source`. An empty file or one whose top level is not a
/// mapping is refused here, naming what each kind expects.
pub fn decide(source: &Source) -> Result<Decided, InputError> {
    let value: serde_yaml::Value = match serde_yaml::from_str(&source.text) {
        Ok(v) => v,
        // Syntax errors are reported, located, by the parse of whichever kind is tried.
        Err(_) => serde_yaml::Value::Null,
    };
    if let Some(kind) = explicit(&value) {
        return Ok(Decided {
            kind,
            why: "its `kind` says so".to_owned(),
            guessed: false,
        });
    }
    if let Some(kind) = schema_comment(&source.text) {
        return Ok(Decided {
            kind,
            why: format!("its `$schema` comment names {}", kind.schema_file()),
            guessed: false,
        });
    }
    if let Some(kind) = folder(&source.path) {
        return Ok(Decided {
            kind,
            why: format!("it lives in a `{}s/` folder", kind.name()),
            guessed: false,
        });
    }
    shape(source, &value, None)?;
    let has = |k: &str| value.as_mapping().is_some_and(|m| m.contains_key(k));
    let (kind, why) = if has("stack") || has("steps") {
        (Kind::Scenario, "it has a `stack` or `steps` key")
    } else if has("kafka") || has("zookeeper") || has("security") {
        (
            Kind::Stack,
            "it has a `kafka`, `zookeeper` or `security` key",
        )
    } else {
        (
            Kind::Stack,
            "nothing says otherwise (no `kind`, `$schema` comment or folder, and no `stack` key)",
        )
    };
    Ok(Decided {
        kind,
        why: why.to_owned(),
        guessed: true,
    })
}

/// Refuses an empty file and one whose top level is not a mapping, saying what `kind` (or, when
/// unknown, either kind) expects. Other problems are left to the typed parse.
pub fn top_level(source: &Source, kind: Option<Kind>) -> Result<(), InputError> {
    match serde_yaml::from_str::<serde_yaml::Value>(&source.text) {
        Ok(value) => shape(source, &value, kind),
        // Syntax errors are for the typed parse, which locates them.
        Err(_) => Ok(()),
    }
}

/// `top_level` of a document already parsed.
fn shape(source: &Source, value: &serde_yaml::Value, kind: Option<Kind>) -> Result<(), InputError> {
    let found = match value {
        serde_yaml::Value::Mapping(_) | serde_yaml::Value::Tagged(_) => return Ok(()),
        serde_yaml::Value::Null => None,
        serde_yaml::Value::Sequence(_) => Some("a sequence"),
        serde_yaml::Value::String(_) => Some("a string"),
        serde_yaml::Value::Number(_) => Some("a number"),
        serde_yaml::Value::Bool(_) => Some("a boolean"),
    };
    let expected = match kind {
        Some(k) => format!("a {} file is {}", k.name(), k.keys()),
        None => format!(
            "a stack file is {}; a scenario file is {}",
            Kind::Stack.keys(),
            Kind::Scenario.keys()
        ),
    };
    let message = match found {
        None => format!("the file is empty (or only comments): {expected}"),
        Some(what) => format!("the top level is {what}: {expected}"),
    };
    let (line, column) = if found.is_none() {
        (1, 1)
    } else {
        source.locate(&super::diagnostics::KeyPath::root())
    };
    Err(InputError::single(Diagnostic {
        file: source.path.clone(),
        line,
        column,
        key: String::new(),
        message,
    }))
}

/// Adds a note on how the kind was decided to a guessed file's errors.
pub fn with_note(mut e: InputError, source: &Source, decided: &Decided) -> InputError {
    if decided.guessed {
        let other = match decided.kind {
            Kind::Stack => Kind::Scenario,
            Kind::Scenario => Kind::Stack,
        };
        e.diagnostics.push(Diagnostic {
            file: source.path.clone(),
            line: 1,
            column: 1,
            key: String::new(),
            message: format!(
                "note: read as a {} file because {}; if it is a {} file, say `kind: {}` at its top (or add the `$schema` comment)",
                decided.kind.name(),
                decided.why,
                other.name(),
                other.name()
            ),
        });
    }
    e
}

fn explicit(value: &serde_yaml::Value) -> Option<Kind> {
    match value.as_mapping()?.get("kind")?.as_str()? {
        "stack" => Some(Kind::Stack),
        "scenario" => Some(Kind::Scenario),
        _ => None,
    }
}

/// `# yaml-language-server: $schema=...stack.schema.json` (or scenario.schema.json).
fn schema_comment(text: &str) -> Option<Kind> {
    text.lines()
        .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once("$schema=").map(|(_, s)| s.trim()))
        .find_map(|s| {
            if s.ends_with("scenario.schema.json") {
                Some(Kind::Scenario)
            } else if s.ends_with("stack.schema.json") {
                Some(Kind::Stack)
            } else {
                None
            }
        })
}

/// The nearest ancestor folder named `stacks` or `scenarios`.
fn folder(path: &Path) -> Option<Kind> {
    path.parent()?
        .ancestors()
        .filter_map(|a| a.file_name()?.to_str())
        .find_map(|name| match name {
            "stacks" => Some(Kind::Stack),
            "scenarios" => Some(Kind::Scenario),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(path: &str, text: &str) -> Source {
        Source::new(Path::new(path), text.to_owned())
    }

    #[test]
    fn the_most_explicit_sign_wins() {
        let d = decide(&source("stacks/x.yaml", "kind: scenario\nname: x\n")).expect("decided");
        assert_eq!((d.kind, d.guessed), (Kind::Scenario, false));
        let d = decide(&source(
            "scenarios/x.yaml",
            "# yaml-language-server: $schema=../stacks/stack.schema.json\nname: x\n",
        ))
        .expect("decided");
        assert_eq!(d.kind, Kind::Stack);
        let d = decide(&source(
            "/tmp/a/scenarios/deep/x.yaml",
            "name: x\nkafka: {}\n",
        ))
        .expect("decided");
        assert_eq!((d.kind, d.guessed), (Kind::Scenario, false));
        assert_eq!(d.why, "it lives in a `scenarios/` folder");
        let d = decide(&source("/tmp/x.yaml", "name: x\nsteps: []\n")).expect("decided");
        assert_eq!((d.kind, d.guessed), (Kind::Scenario, true));
        let d = decide(&source("/tmp/x.yaml", "name: x\n")).expect("decided");
        assert_eq!((d.kind, d.guessed), (Kind::Stack, true));
    }

    #[test]
    fn empty_files_and_sequences_say_what_is_expected() {
        let e = top_level(&source("x.yaml", "# nothing\n"), Some(Kind::Stack)).expect_err("empty");
        let m = &e.diagnostics[0].message;
        assert!(m.starts_with("the file is empty (or only comments): a stack file is a mapping with the keys `name`, `kafka`"), "{m}");
        let e = top_level(&source("x.yaml", "- a\n- b\n"), None).expect_err("a sequence");
        let m = &e.diagnostics[0].message;
        assert!(
            m.starts_with("the top level is a sequence: a stack file is"),
            "{m}"
        );
        assert!(
            m.contains("a scenario file is a mapping with the keys `name`, `stack`, `steps`"),
            "{m}"
        );
        assert!(!m.contains("Serde"), "{m}");
        assert!(top_level(&source("x.yaml", "name: x\n"), None).is_ok());
    }
}
