//! Input errors that name the file, line, column and key, with a did-you-mean where it helps, and
//! the `Checker` that collects them while a file is converted.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::duration::parse_duration;

/// One segment of the path to a value inside a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path like `steps[2].restart.node`, used both to locate a value and to name it in messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.to_owned()));
        Self(segs)
    }

    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        Self(segs)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// One problem found in one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The key the problem is about, as a dotted path; empty for the document itself.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Everything wrong with the input, reported together so one edit-validate loop fixes it all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub diagnostics: Vec<Diagnostic>,
}

impl InputError {
    pub fn single(d: Diagnostic) -> Self {
        Self {
            diagnostics: vec![d],
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

/// The text of one input file, kept to turn key paths back into line and column.
#[derive(Debug)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
    tree: Option<marked_yaml::Node>,
}

impl Source {
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            InputError::single(Diagnostic {
                file: path.to_owned(),
                line: 1,
                column: 1,
                key: String::new(),
                message: format!("cannot read file: {e}"),
            })
        })?;
        Ok(Self::new(path, text))
    }

    pub fn new(path: &Path, text: String) -> Self {
        let tree = marked_yaml::parse_yaml(0, &text).ok();
        Self {
            path: path.to_owned(),
            text,
            tree,
        }
    }

    /// Where the value at `path` starts; the deepest existing ancestor when the value is absent.
    pub fn locate(&self, path: &KeyPath) -> (usize, usize) {
        let Some(mut node) = self.tree.as_ref() else {
            return (1, 1);
        };
        let mut best = start_of(node).unwrap_or((1, 1));
        for seg in &path.0 {
            let next = match seg {
                Seg::Key(k) => node.as_mapping().and_then(|m| m.get_node(k)),
                Seg::Index(i) => node.as_sequence().and_then(|s| s.get_node(*i)),
            };
            match next {
                Some(n) => {
                    node = n;
                    if let Some(pos) = start_of(n) {
                        best = pos;
                    }
                }
                None => break,
            }
        }
        best
    }

    pub fn error(&self, path: &KeyPath, message: impl Into<String>) -> Diagnostic {
        let (line, column) = self.locate(path);
        Diagnostic {
            file: self.path.clone(),
            line,
            column,
            key: path.to_string(),
            message: message.into(),
        }
    }

    /// Parse the whole document into `T`, turning serde's message into a located diagnostic.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, InputError> {
        serde_yaml::from_str(&self.text).map_err(|e| InputError::single(self.located(&e)))
    }

    fn located(&self, err: &serde_yaml::Error) -> Diagnostic {
        let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
        let full = err.to_string();
        // serde_yaml appends " at line L column C"; we print the location up front instead.
        let text = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(head, _)| head);
        // and prefixes the path of the offending value: "kafka.brokers: invalid type ...".
        let (key, message) = match text.split_once(": ") {
            Some((k, m)) if !k.contains(' ') && !k.is_empty() => (k.to_owned(), m.to_owned()),
            _ => (String::new(), text.to_owned()),
        };
        Diagnostic {
            file: self.path.clone(),
            line,
            column,
            key,
            message: with_suggestion(&without_type_names(&message)),
        }
    }
}

/// serde names the Rust type it expected ("expected struct KafkaSerde"): a reader of the file
/// needs the YAML shape instead.
fn without_type_names(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find("struct ") {
        let name_len = rest[at + 7..]
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .unwrap_or(rest.len() - at - 7);
        let name = &rest[at + 7..at + 7 + name_len];
        out.push_str(&rest[..at]);
        if name.ends_with("Serde") {
            out.push_str("a mapping");
        } else {
            out.push_str(&rest[at..at + 7 + name_len]);
        }
        rest = &rest[at + 7 + name_len..];
    }
    out.push_str(rest);
    out
}

fn start_of(node: &marked_yaml::Node) -> Option<(usize, usize)> {
    node.span().start().map(|m| (m.line(), m.column()))
}

/// Adds "did you mean `x`?" to serde's "unknown field/variant `y`, expected one of ..." messages.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))
    else {
        return message.to_owned();
    };
    let Some((given, tail)) = rest.split_once('`') else {
        return message.to_owned();
    };
    let candidates: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    match did_you_mean(given, candidates.iter().copied()) {
        Some(s) => format!("{message}; did you mean `{s}`?"),
        None => message.to_owned(),
    }
}

/// The closest candidate to `given`, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Collects diagnostics against one source file. Here rather than in the loader so the section
/// modules (canary.rs, router.rs), which the loader calls, never import it.
pub(super) struct Checker<'a> {
    source: &'a Source,
    pub(super) found: Vec<Diagnostic>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(source: &'a Source) -> Self {
        Self {
            source,
            found: Vec::new(),
        }
    }

    pub(super) fn error(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.found.push(self.source.error(path, message));
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T, InputError> {
        if self.found.is_empty() {
            Ok(value)
        } else {
            Err(InputError {
                diagnostics: self.found,
            })
        }
    }

    pub(super) fn duration(
        &mut self,
        path: &KeyPath,
        raw: Option<&str>,
        default: Duration,
    ) -> Duration {
        match raw.map(parse_duration) {
            None => default,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                self.error(path, e);
                default
            }
        }
    }
}

pub(super) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestion_picks_the_closest_field() {
        let m = "unknown field `verison`, expected one of `version`, `nodes`, `image`";
        assert_eq!(with_suggestion(m), format!("{m}; did you mean `version`?"));
    }

    #[test]
    fn type_names_become_shapes() {
        assert_eq!(
            without_type_names("invalid type: sequence, expected struct KafkaSerde"),
            "invalid type: sequence, expected a mapping"
        );
        assert_eq!(
            without_type_names("expected struct Foo"),
            "expected struct Foo"
        );
    }

    #[test]
    fn no_suggestion_when_nothing_is_close() {
        let m = "unknown field `zzz`, expected one of `version`, `nodes`";
        assert_eq!(with_suggestion(m), m);
    }

    #[test]
    fn locate_walks_keys_and_indexes() {
        let src = Source::new(
            Path::new("x.yaml"),
            "a:\n  b:\n    - c: 1\n    - c: 2\n".to_owned(),
        );
        let p = KeyPath::root().key("a").key("b").index(1).key("c");
        assert_eq!(src.locate(&p), (4, 10));
        assert_eq!(p.to_string(), "a.b[1].c");
        // a missing key falls back to its deepest existing ancestor (its line; block mappings
        // report a column one past their first key)
        assert_eq!(src.locate(&KeyPath::root().key("a").key("zzz")).0, 2);
    }
}
