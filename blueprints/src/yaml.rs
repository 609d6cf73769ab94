//! YAML to a span-carrying node tree: the raw form every later phase reads.
//!
//! Built on `yaml-rust2`'s event parser so that every node keeps its file, line, column, byte
//! offset and length, plus the YAML path it was written at. Aliases are resolved by copying the
//! anchored node (spans point at the anchor); duplicate keys and unknown tags are reported. This
//! module knows nothing about the blueprint format and must never interpret values beyond the
//! YAML 1.2 core schema.

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::report::{Code, Report};

/// Where a node was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Span {
    /// Index of the source in load order.
    pub file: usize,
    /// Byte offset.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
    /// Line, 1-based.
    pub line: usize,
    /// Column in characters, 1-based.
    pub column: usize,
}

/// A YAML node with its span and path.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Span,
    /// YAML path, e.g. `clusters[0].nodePools[1].min`.
    pub path: String,
}

/// The shape of a node.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A scalar as written; `plain` is false for quoted, block and `!!str`-tagged scalars.
    Scalar { text: String, plain: bool },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with scalar keys, in document order, without duplicates.
    Map(Vec<(Node, Node)>),
}

/// A scalar resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float,
    Str(&'a str),
}

impl Resolved<'_> {
    /// "a string", "an integer", … for type errors.
    pub fn describe(&self) -> &'static str {
        match self {
            Resolved::Null => "null",
            Resolved::Bool(_) => "a boolean",
            Resolved::Int(_) => "an integer",
            Resolved::Float => "a floating-point number",
            Resolved::Str(_) => "a string",
        }
    }
}

impl Node {
    /// The scalar resolved with the core schema, or `None` for collections.
    pub fn scalar(&self) -> Option<Resolved<'_>> {
        let Kind::Scalar { text, plain } = &self.kind else {
            return None;
        };
        if !plain {
            return Some(Resolved::Str(text));
        }
        Some(resolve_plain(text))
    }

    /// True for a null scalar (`~`, `null` or nothing).
    pub fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Resolved::Null))
    }

    /// The scalar text as written, for scalars.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// "a mapping", "a list", or the scalar's type, for type errors.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar { .. } => self.scalar().map(|r| r.describe()).unwrap_or("a scalar"),
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.text() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

fn resolve_plain(text: &str) -> Resolved<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return Resolved::Float,
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map(Resolved::Int).unwrap_or(Resolved::Float);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && !hex.is_empty()
        && let Ok(v) = i64::from_str_radix(hex, 16)
    {
        return Resolved::Int(v);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && !oct.is_empty()
        && let Ok(v) = i64::from_str_radix(oct, 8)
    {
        return Resolved::Int(v);
    }
    if is_core_float(digits) {
        return Resolved::Float;
    }
    Resolved::Str(text)
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?` (sign already removed).
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(f) => all_digits(int) && all_digits(f) && !(int.is_empty() && f.is_empty()),
        None => !int.is_empty() && all_digits(int),
    };
    let exponent_ok = match exponent {
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && all_digits(e)
        }
        None => true,
    };
    // Without a dot or an exponent it is an integer, handled by the caller.
    mantissa_ok && exponent_ok && (frac.is_some() || exponent.is_some())
}

enum Frame {
    Seq {
        start: Span,
        path: String,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        path: String,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

struct Builder<'a> {
    file: usize,
    text: &'a str,
    /// Byte offset of each character, for converting the parser's character indices.
    char_offsets: Option<Vec<usize>>,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    documents: Vec<Node>,
}

impl Builder<'_> {
    fn byte_offset(&self, char_index: usize) -> usize {
        match &self.char_offsets {
            None => char_index.min(self.text.len()),
            Some(offsets) => offsets.get(char_index).copied().unwrap_or(self.text.len()),
        }
    }

    fn span(&self, mark: Marker, len: usize) -> Span {
        Span {
            file: self.file,
            offset: self.byte_offset(mark.index()),
            len,
            line: mark.line(),
            column: mark.col() + 1,
        }
    }

    /// The path a node starting now will have.
    fn child_path(&self, key_text: Option<&str>) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Seq { path, items, .. }) => format!("{path}[{}]", items.len()),
            Some(Frame::Map { path, key, .. }) => {
                let name = match (key, key_text) {
                    (Some(k), _) => k.text().unwrap_or("?").to_owned(),
                    (None, Some(t)) => t.to_owned(),
                    (None, None) => "?".to_owned(),
                };
                if path.is_empty() {
                    name
                } else {
                    format!("{path}.{name}")
                }
            }
        }
    }

    fn scalar_len(&self, offset: usize, text: &str, style: TScalarStyle) -> usize {
        let rest = &self.text[offset.min(self.text.len())..];
        match style {
            TScalarStyle::Plain => text
                .lines()
                .next()
                .map_or(0, str::len)
                .max(usize::from(text.is_empty())),
            TScalarStyle::SingleQuoted => quoted_len(rest, '\''),
            TScalarStyle::DoubleQuoted => quoted_len(rest, '"'),
            _ => rest.lines().next().map_or(1, str::len).max(1),
        }
    }

    /// Adds a finished node to its parent (or as a document).
    fn push(&mut self, node: Node, anchor: usize, report: &mut Report) {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if !matches!(node.kind, Kind::Scalar { .. }) {
                        report.error(
                            Code::YamlSyntax,
                            &node,
                            "Mapping keys must be plain strings; this key is a collection.",
                            None,
                        );
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    let first = entries
                        .iter()
                        .find(|(e, _)| e.text() == k.text())
                        .map(|(e, _)| e.span.line);
                    match first {
                        Some(line) => report.error(
                            Code::DuplicateKey,
                            &k,
                            format!("The key `{}` already appears on line {line} of this mapping; only the first is used.", k.text().unwrap_or_default()),
                            Some("remove one of the two entries".into()),
                        ),
                        None => entries.push((k, node)),
                    }
                }
            },
        }
    }

    fn check_tag(&self, tag: Option<&Tag>, at: &Node, report: &mut Report) -> bool {
        let Some(tag) = tag else { return false };
        let core = tag.handle == "!!" || tag.handle == "tag:yaml.org,2002:";
        if core
            && matches!(
                tag.suffix.as_str(),
                "str" | "int" | "float" | "bool" | "null" | "map" | "seq"
            )
        {
            return core && tag.suffix == "str";
        }
        report.error(
            Code::YamlTag,
            at,
            format!(
                "The tag `{}{}` has no meaning in a blueprint.",
                tag.handle, tag.suffix
            ),
            Some("remove the tag; only the YAML core tags such as `!!str` are accepted".into()),
        );
        false
    }
}

fn quoted_len(rest: &str, quote: char) -> usize {
    let mut chars = rest.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && rest[i + 1..].starts_with('\'') {
                chars.next();
                continue;
            }
            return i + 1;
        }
    }
    rest.len()
}

/// Parses one YAML text into its documents. A syntax error is reported and ends parsing of
/// this text: nothing it contained is returned.
pub(crate) fn parse(file: usize, text: &str, report: &mut Report) -> Vec<Node> {
    let char_offsets = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
    let mut b = Builder {
        file,
        text,
        char_offsets,
        stack: Vec::new(),
        anchors: Vec::new(),
        documents: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = match parser.next_token() {
            Ok(e) => e,
            Err(err) => {
                let m = *err.marker();
                let offset = b.byte_offset(m.index());
                report.push_at(
                    Code::YamlSyntax,
                    Span {
                        file,
                        offset,
                        len: usize::from(offset < text.len()),
                        line: m.line(),
                        column: m.col() + 1,
                    },
                    String::new(),
                    format!("The YAML parser stopped here: {}.", err.info()),
                    Some("fix the YAML syntax; nothing else in this file was checked".into()),
                );
                return Vec::new();
            }
        };
        match event {
            Event::StreamEnd => break,
            Event::Scalar(value, style, anchor, tag) => {
                let key_text = matches!(b.stack.last(), Some(Frame::Map { key: None, .. }))
                    .then_some(value.as_str());
                let mut path = b.child_path(key_text);
                if key_text.is_some() {
                    // Keys carry the path of the value they name.
                    path = match b.stack.last() {
                        Some(Frame::Map { path: p, .. }) if !p.is_empty() => format!("{p}.{value}"),
                        _ => value.clone(),
                    };
                }
                let start = b.span(mark, 0);
                let len = b.scalar_len(start.offset, &value, style);
                let mut node = Node {
                    kind: Kind::Scalar {
                        text: value,
                        plain: style == TScalarStyle::Plain,
                    },
                    span: Span { len, ..start },
                    path,
                };
                if b.check_tag(tag.as_ref(), &node, report)
                    && let Kind::Scalar { plain, .. } = &mut node.kind
                {
                    *plain = false;
                }
                b.push(node, anchor, report);
            }
            Event::Alias(id) => {
                let found = b
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone());
                match found {
                    Some(node) => b.push(node, 0, report),
                    None => {
                        report.push_at(
                            Code::YamlSyntax,
                            b.span(mark, 1),
                            b.child_path(None),
                            "This alias refers to an anchor that is not defined before it.".into(),
                            None,
                        );
                        return Vec::new();
                    }
                }
            }
            Event::SequenceStart(anchor, tag) => {
                let path = b.child_path(None);
                let start = b.span(mark, 0);
                let probe = Node {
                    kind: Kind::Seq(Vec::new()),
                    span: start,
                    path: path.clone(),
                };
                b.check_tag(tag.as_ref(), &probe, report);
                b.stack.push(Frame::Seq {
                    start,
                    path,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(anchor, tag) => {
                let path = b.child_path(None);
                let start = b.span(mark, 0);
                let probe = Node {
                    kind: Kind::Map(Vec::new()),
                    span: start,
                    path: path.clone(),
                };
                b.check_tag(tag.as_ref(), &probe, report);
                b.stack.push(Frame::Map {
                    start,
                    path,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = b.stack.pop() else { continue };
                let end = b.byte_offset(mark.index());
                let (node, anchor) = match frame {
                    Frame::Seq {
                        start,
                        path,
                        anchor,
                        items,
                    } => {
                        let start = block_start(text, start, items.first().map(|n| n.span));
                        let len = collection_len(
                            text,
                            start.offset,
                            items.last().map(|n| &n.span),
                            end,
                            ']',
                        );
                        (
                            Node {
                                kind: Kind::Seq(items),
                                span: Span { len, ..start },
                                path,
                            },
                            anchor,
                        )
                    }
                    Frame::Map {
                        start,
                        path,
                        anchor,
                        entries,
                        ..
                    } => {
                        let start = block_start(text, start, entries.first().map(|(k, _)| k.span));
                        let len = collection_len(
                            text,
                            start.offset,
                            entries.last().map(|(_, v)| &v.span),
                            end,
                            '}',
                        );
                        (
                            Node {
                                kind: Kind::Map(entries),
                                span: Span { len, ..start },
                                path,
                            },
                            anchor,
                        )
                    }
                };
                b.push(node, anchor, report);
            }
            Event::StreamStart | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => {}
        }
    }
    b.documents
}

/// Block collections start at their first entry (the parser marks them later); flow
/// collections at their bracket.
fn block_start(text: &str, start: Span, first: Option<Span>) -> Span {
    match first {
        Some(first) if !text[start.offset.min(text.len())..].starts_with(['{', '[']) => {
            Span { len: 0, ..first }
        }
        _ => start,
    }
}

fn collection_len(
    text: &str,
    start: usize,
    last: Option<&Span>,
    end_mark: usize,
    close: char,
) -> usize {
    if text[start.min(text.len())..].starts_with(['{', '['])
        && text[end_mark.min(text.len())..].starts_with(close)
    {
        return end_mark + 1 - start;
    }
    last.map_or(0, |s| (s.offset + s.len).saturating_sub(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Node {
        let mut report = Report::default();
        let mut docs = parse(0, text, &mut report);
        assert!(report.is_empty(), "{report:?}");
        docs.remove(0)
    }

    #[test]
    fn nodes_carry_positions_and_paths() {
        let root = parse_ok("a:\n  - name: x\n    min: 3\n  - { name: y, max: \"4\" }\n");
        let Kind::Seq(items) = &root.get("a").unwrap().kind else {
            panic!()
        };
        let min = items[0].get("min").unwrap();
        assert_eq!((min.span.line, min.span.column, min.span.len), (3, 10, 1));
        assert_eq!(min.path, "a[0].min");
        let max = items[1].get("max").unwrap();
        assert_eq!((max.span.line, max.span.column, max.span.len), (4, 21, 3));
        assert_eq!(max.scalar(), Some(Resolved::Str("4")));
        assert_eq!(
            &"a:\n  - name: x\n    min: 3\n  - { name: y, max: \"4\" }\n"[items[1].span.offset..]
                [..items[1].span.len],
            "{ name: y, max: \"4\" }"
        );
        assert_eq!((items[0].span.line, items[0].span.column), (2, 5));
    }

    #[test]
    fn core_schema_resolution() {
        let root = parse_ok(
            "a: 1.30\nb: 12\nc: ~\nd: true\ne: '1.30'\nf: 1e3\ng: 10.0.0.0/16\nh: 2027-01-31\n",
        );
        assert_eq!(root.get("a").unwrap().scalar(), Some(Resolved::Float));
        assert_eq!(root.get("a").unwrap().text(), Some("1.30"));
        assert_eq!(root.get("b").unwrap().scalar(), Some(Resolved::Int(12)));
        assert!(root.get("c").unwrap().is_null());
        assert_eq!(root.get("d").unwrap().scalar(), Some(Resolved::Bool(true)));
        assert_eq!(root.get("e").unwrap().scalar(), Some(Resolved::Str("1.30")));
        assert_eq!(root.get("f").unwrap().scalar(), Some(Resolved::Float));
        assert_eq!(
            root.get("g").unwrap().scalar(),
            Some(Resolved::Str("10.0.0.0/16"))
        );
        assert_eq!(
            root.get("h").unwrap().scalar(),
            Some(Resolved::Str("2027-01-31"))
        );
    }

    #[test]
    fn non_ascii_text_keeps_byte_offsets() {
        let text = "a: \"é…\"\nb: x\n";
        let root = parse_ok(text);
        let b = root.get("b").unwrap();
        assert_eq!(&text[b.span.offset..b.span.offset + b.span.len], "x");
        let a = root.get("a").unwrap();
        assert_eq!(&text[a.span.offset..a.span.offset + a.span.len], "\"é…\"");
    }

    #[test]
    fn aliases_resolve_to_the_anchored_node() {
        let root = parse_ok("a: &x { k: 1 }\nb: *x\n");
        assert_eq!(
            root.get("b").unwrap().get("k").unwrap().scalar(),
            Some(Resolved::Int(1))
        );
    }

    #[test]
    fn duplicate_keys_syntax_errors_and_tags_are_reported() {
        let mut report = Report::default();
        parse(0, "a: 1\nb: 2\na: 3\n", &mut report);
        parse(1, "a: [1, 2\n", &mut report);
        parse(2, "a: !custom 1\n", &mut report);
        let codes: Vec<_> = report
            .into_sorted()
            .iter()
            .map(|d| (d.code.id(), d.span.unwrap().line))
            .collect();
        assert_eq!(
            codes,
            [("duplicate-key", 3), ("yaml-syntax", 2), ("yaml-tag", 1)]
        );
    }
}
