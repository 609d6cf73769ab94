//! YAML (and JSON, a subset of it) to a small position-carrying tree, one text at a time.
//!
//! Built on `yaml-rust2`'s event parser so every node keeps the line and column it starts at.
//! Aliases are expanded by copying the anchored node, within a budget so that a hostile file
//! cannot make memory explode. This module knows nothing about Kubernetes and must never panic on
//! any input.

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::Marker;

/// Most nodes alias expansion may add to one text.
const ALIAS_BUDGET: usize = 1_000_000;

/// A node and where it starts.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub value: Value,
    /// 1-based line, relative to the parsed text.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// The shape of a node.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// A scalar as written (no type resolution: the callers only read strings).
    Scalar(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order; the key node keeps its own position.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The entry for `key` in a mapping, with the key node.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.text() == Some(key))
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The value for `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The text of a scalar.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar text at `path` of mapping keys.
    pub fn str_at(&self, path: &[&str]) -> Option<&str> {
        path.iter()
            .try_fold(self, |node, key| node.get(key))
            .and_then(Node::text)
    }

    fn size(&self) -> usize {
        match &self.value {
            Value::Scalar(_) => 1,
            Value::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.size() + v.size())
                    .sum::<usize>()
            }
        }
    }
}

/// A syntax error: 1-based line and column relative to the parsed text, and the parser's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

enum Frame {
    Seq {
        start: Marker,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Marker,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

fn node(value: Value, mark: Marker) -> Node {
    Node {
        value,
        line: mark.line(),
        column: mark.col() + 1,
    }
}

/// Parses `text` into its documents' root nodes. Empty documents yield an empty scalar.
pub(super) fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: Vec<(usize, Node)> = Vec::new();
    let mut documents = Vec::new();
    let mut expanded = 0usize;
    loop {
        let (event, mark) = parser.next_token().map_err(|err| SyntaxError {
            line: err.marker().line(),
            column: err.marker().col() + 1,
            message: err.info().to_owned(),
        })?;
        let (finished, anchor) = match event {
            Event::StreamEnd => break,
            Event::Scalar(value, _, anchor, _) => (node(Value::Scalar(value), mark), anchor),
            Event::Alias(id) => {
                let Some((_, target)) = anchors.iter().rev().find(|(a, _)| *a == id) else {
                    return Err(SyntaxError {
                        line: mark.line(),
                        column: mark.col() + 1,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                expanded += target.size();
                if expanded > ALIAS_BUDGET {
                    return Err(SyntaxError {
                        line: mark.line(),
                        column: mark.col() + 1,
                        message: "aliases expand to too many nodes".into(),
                    });
                }
                (target.clone(), 0)
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq {
                    start: mark,
                    anchor,
                    items: Vec::new(),
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map {
                    start: mark,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    start,
                    anchor,
                    items,
                }) => (node(Value::Seq(items), start), anchor),
                Some(Frame::Map {
                    start,
                    anchor,
                    entries,
                    ..
                }) => (node(Value::Map(entries), start), anchor),
                None => continue,
            },
            _ => continue,
        };
        if anchor != 0 {
            anchors.push((anchor, finished.clone()));
        }
        match stack.last_mut() {
            None => documents.push(finished),
            Some(Frame::Seq { items, .. }) => items.push(finished),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(finished),
                Some(k) => entries.push((k, finished)),
            },
        }
    }
    Ok(documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_keys_keep_theirs() {
        let docs = parse("a: 1\nb:\n  c: [x, y]\n").expect("parses");
        assert_eq!(docs.len(), 1);
        let (key, value) = docs[0].entry("b").expect("b");
        assert_eq!((key.line, key.column), (2, 1));
        let c = value.get("c").expect("c");
        assert_eq!((c.line, c.column), (3, 6));
        assert_eq!(docs[0].str_at(&["a"]), Some("1"));
    }

    #[test]
    fn json_parses_with_positions() {
        let docs = parse("{\n  \"kind\": \"List\",\n  \"items\": []\n}\n").expect("parses");
        let (key, _) = docs[0].entry("kind").expect("kind");
        assert_eq!((key.line, key.column), (2, 3));
    }

    #[test]
    fn aliases_copy_and_are_bounded() {
        let docs = parse("a: &x {k: v}\nb: *x\n").expect("parses");
        assert_eq!(docs[0].str_at(&["b", "k"]), Some("v"));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, next) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            bomb.push_str(&format!(
                "{next}: &{next} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let err = parse(&bomb).expect_err("budget");
        assert!(err.message.contains("too many"), "{err:?}");
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let err = parse("a: 1\nb: [unclosed\n").expect_err("bad");
        assert!(err.line >= 2, "{err:?}");
    }
}
