//! A YAML (and JSON, a subset of YAML 1.2) document as a tree whose every node knows
//! its 1-based line and column, built from yaml-rust2's marked event parser. The
//! readers in this crate walk it by hand so that each error can name the node's spot.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::ConfigError;
use crate::threshold::Location;

/// One node with its position.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// A node's content.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A scalar: its text, and whether it was written plain (unquoted), which decides
    /// whether `null`, `~` and the empty string mean "no value".
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in the order written.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Whether this is a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A short name of the node's shape for messages.
    pub fn shape(&self) -> &'static str {
        match &self.kind {
            _ if self.is_null() => "an empty value",
            Kind::Scalar { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// Parses `text` into its single document's root node (`None` for an empty document).
///
/// # Errors
/// [`ConfigError::Syntax`] at the scanner's position; a second document is refused too.
pub(crate) fn parse(text: &str, file: &str) -> Result<Option<Node>, ConfigError> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, true).map_err(|e| ConfigError::Syntax { location: loc(file, e.marker()), message: e.info().to_string() })?;
    if let Some((line, col)) = b.second_doc {
        return Err(ConfigError::Syntax {
            location: Location { file: file.to_string(), line, column: col },
            message: "more than one YAML document; write one document per file".into(),
        });
    }
    if let Some(alias) = b.bad_alias {
        return Err(ConfigError::Syntax {
            location: Location { file: file.to_string(), line: alias.0, column: alias.1 },
            message: "alias to an unknown anchor".into(),
        });
    }
    Ok(b.root)
}

fn loc(file: &str, m: &Marker) -> Location {
    Location { file: file.to_string(), line: m.line(), column: m.col() + 1 }
}

/// Builds the tree from events; anchors are resolved by copying the anchored node.
#[derive(Default)]
struct Builder {
    /// Open sequences/mappings: the node so far, its anchor id, and for mappings a
    /// pending key.
    stack: Vec<(Node, usize, Option<Node>)>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    docs: usize,
    second_doc: Option<(usize, usize)>,
    bad_alias: Option<(usize, usize)>,
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                if self.docs == 1 {
                    self.root = Some(node);
                }
            }
            Some((parent, _, pending)) => match &mut parent.kind {
                Kind::Seq(items) => items.push(node),
                Kind::Map(entries) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                },
                Kind::Scalar { .. } => {}
            },
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let (line, col) = (mark.line(), mark.col() + 1);
        match ev {
            Event::DocumentStart => {
                self.docs += 1;
                if self.docs == 2 {
                    self.second_doc = Some((line, col));
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = style == TScalarStyle::Plain;
                self.push_value(Node { kind: Kind::Scalar { text, plain }, line, col }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((Node { kind: Kind::Seq(Vec::new()), line, col }, anchor, None));
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push((Node { kind: Kind::Map(Vec::new()), line, col }, anchor, None));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((mut node, anchor, _)) = self.stack.pop() {
                    // yaml-rust2 marks a block mapping's start after its first key; the
                    // first key (or item) is where a reader sees it begin.
                    let first = match &node.kind {
                        Kind::Map(e) => e.first().map(|(k, _)| (k.line, k.col)),
                        Kind::Seq(v) => v.first().map(|n| (n.line, n.col)),
                        Kind::Scalar { .. } => None,
                    };
                    if let Some(first) = first {
                        if first < (node.line, node.col) {
                            (node.line, node.col) = first;
                        }
                    }
                    self.push_value(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(mut n) => {
                    // The alias's own position is where the value is used.
                    n.line = line;
                    n.col = col;
                    self.push_value(n, 0);
                }
                None => {
                    self.bad_alias.get_or_insert((line, col));
                }
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// Helpers that read typed values out of nodes and give positioned errors.
pub(crate) struct Reader<'a> {
    /// The file name used in every location.
    pub file: &'a str,
}

impl Reader<'_> {
    /// The location of `node`.
    pub fn at(&self, node: &Node) -> Location {
        Location { file: self.file.to_string(), line: node.line, column: node.col }
    }

    /// An [`ConfigError::InvalidValue`] at `node`.
    pub fn invalid(&self, node: &Node, what: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::InvalidValue { location: self.at(node), what: what.to_string(), message: message.into() }
    }

    /// The entries of a mapping, refusing duplicate keys and keys not in `allowed`
    /// (when given). Keys come back as strings.
    pub fn map<'n>(&self, node: &'n Node, what: &str, allowed: Option<&[&str]>) -> Result<Vec<(String, &'n Node, &'n Node)>, ConfigError> {
        let Kind::Map(entries) = &node.kind else {
            return Err(self.invalid(node, what, format!("expected a mapping, found {}", node.shape())));
        };
        let mut out: Vec<(String, &Node, &Node)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Kind::Scalar { text, .. } = &k.kind else {
                return Err(self.invalid(k, what, "mapping keys must be plain strings"));
            };
            if let Some(allowed) = allowed {
                if !allowed.contains(&text.as_str()) {
                    return Err(ConfigError::UnknownField {
                        location: self.at(k),
                        field: text.clone(),
                        context: what.to_string(),
                        expected: allowed.join(", "),
                    });
                }
            }
            if let Some((_, first, _)) = out.iter().find(|(t, _, _)| t == text) {
                return Err(ConfigError::DuplicateKey { location: self.at(k), key: text.clone(), first_line: first.line });
            }
            out.push((text.clone(), k, v));
        }
        Ok(out)
    }

    /// The text of a scalar that must have a value.
    pub fn string<'n>(&self, node: &'n Node, what: &str) -> Result<&'n str, ConfigError> {
        match &node.kind {
            Kind::Scalar { text, .. } if !node.is_null() => Ok(text),
            _ => Err(self.invalid(node, what, format!("expected a string, found {}", node.shape()))),
        }
    }

    /// A boolean (`true`/`false`, YAML 1.2 core schema spellings).
    pub fn bool(&self, node: &Node, what: &str) -> Result<bool, ConfigError> {
        match &node.kind {
            Kind::Scalar { text, plain: true } => match text.as_str() {
                "true" | "True" | "TRUE" => Ok(true),
                "false" | "False" | "FALSE" => Ok(false),
                _ => Err(self.invalid(node, what, format!("expected true or false, found {text:?}"))),
            },
            _ => Err(self.invalid(node, what, format!("expected true or false, found {}", node.shape()))),
        }
    }

    /// A sequence's items.
    pub fn seq<'n>(&self, node: &'n Node, what: &str) -> Result<&'n [Node], ConfigError> {
        match &node.kind {
            Kind::Seq(items) => Ok(items),
            _ => Err(self.invalid(node, what, format!("expected a list, found {}", node.shape()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        // Columns counted by hand: `b` is at column 3 of line 2, the quote of 'x' at 8.
        let root = parse("a:\n  b: ['x', y]\n", "f.yaml").unwrap().unwrap();
        let Kind::Map(top) = &root.kind else { panic!() };
        let (k, v) = &top[0];
        assert_eq!((k.line, k.col), (1, 1));
        let Kind::Map(inner) = &v.kind else { panic!() };
        let (bk, bv) = &inner[0];
        assert_eq!((bk.line, bk.col), (2, 3));
        let Kind::Seq(items) = &bv.kind else { panic!() };
        assert_eq!((items[0].line, items[0].col), (2, 7));
        assert_eq!((items[1].line, items[1].col), (2, 12));
    }

    #[test]
    fn syntax_error_has_position() {
        let e = parse("a: [1, 2\nb: 3\n", "f.yaml").unwrap_err();
        let l = e.location().unwrap();
        assert_eq!(l.file, "f.yaml");
        assert!(l.line >= 1);
    }

    #[test]
    fn anchors_are_copied_and_second_document_refused() {
        let root = parse("a: &x [1]\nb: *x\n", "f").unwrap().unwrap();
        let Kind::Map(top) = &root.kind else { panic!() };
        assert!(matches!(&top[1].1.kind, Kind::Seq(v) if v.len() == 1));
        assert!(parse("a: 1\n---\nb: 2\n", "f").is_err());
        assert!(parse("", "f").unwrap().is_none());
    }

    #[test]
    fn json_with_tabs_parses() {
        let root = parse("{\n\t\"a\": [\"p(95)\\u003c500\"],\n\t\"b\": null\n}", "f.json").unwrap().unwrap();
        let Kind::Map(top) = &root.kind else { panic!() };
        let Kind::Seq(items) = &top[0].1.kind else { panic!() };
        assert!(matches!(&items[0].kind, Kind::Scalar { text, .. } if text == "p(95)<500"));
        assert_eq!((items[0].line, items[0].col), (2, 8));
    }
}
