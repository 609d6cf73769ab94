//! Typed reading of raw nodes: mappings with known fields, strings, integers, lists, enums.
//!
//! Each reader reports what is wrong with the node it was given (wrong type, unknown field with
//! a did-you-mean, value outside an enumeration) and returns `None` for it, so a caller can go on
//! and collect every problem. Readers never look at other nodes and must never report a problem
//! twice for the same node.

use std::collections::BTreeMap;

use crate::report::{Code, Report, did_you_mean};
use crate::yaml::{Kind, Node, Resolved};

/// A mapping whose unknown keys have been reported.
pub(crate) struct Fields<'n> {
    pub node: &'n Node,
    entries: &'n [(Node, Node)],
}

impl<'n> Fields<'n> {
    /// The value of a field; a null value counts as absent.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, v)| k.text() == Some(key) && !v.is_null())
            .map(|(_, v)| v)
    }

    /// The key node of a field, for reporting at the key.
    pub fn key(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.text() == Some(key))
            .map(|(k, _)| k)
    }

    /// All entries, in order.
    pub fn entries(&self) -> &'n [(Node, Node)] {
        self.entries
    }
}

/// Reads a mapping with the given known fields. Keys listed in `special` are neither known nor
/// reported: the caller handles them (e.g. static credentials).
pub(crate) fn fields<'n>(
    r: &mut Report,
    node: &'n Node,
    what: &str,
    known: &[&str],
    special: &[&str],
) -> Option<Fields<'n>> {
    let Kind::Map(entries) = &node.kind else {
        wrong_type(r, node, "a mapping", what);
        return None;
    };
    for (key, _) in entries {
        let name = key.text().unwrap_or_default();
        if known.contains(&name) || special.contains(&name) {
            continue;
        }
        let help = if name == "<<" {
            Some(
                "YAML merge keys are not supported; put shared fields in `defaults` or a profile"
                    .to_owned(),
            )
        } else {
            did_you_mean(name, known.iter().copied()).or_else(|| {
                Some(format!(
                    "known fields: {}",
                    known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        };
        r.error(
            Code::UnknownField,
            key,
            format!("{} has no field `{name}`.", capitalize(what)),
            help,
        );
    }
    Some(Fields { node, entries })
}

/// `s` with its first letter in upper case, to start a sentence.
pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |first| first.to_uppercase().chain(c).collect())
}

/// Reports a type mismatch.
pub(crate) fn wrong_type(r: &mut Report, node: &Node, expected: &str, what: &str) {
    r.error(
        Code::WrongType,
        node,
        format!("Expected {expected} for {what}, found {}.", node.describe()),
        None,
    );
}

/// Reports a missing required field of a mapping.
pub(crate) fn missing(r: &mut Report, map: &Node, field: &str, what: &str) {
    r.error(
        Code::MissingField,
        map,
        format!("{what} needs the field `{field}`."),
        None,
    );
}

/// A string scalar.
pub(crate) fn string(r: &mut Report, node: &Node, what: &str) -> Option<String> {
    match node.scalar() {
        Some(Resolved::Str(s)) => Some(s.to_owned()),
        _ => {
            let help = node
                .text()
                .filter(|_| node.scalar().is_some())
                .map(|t| format!("quote it: \"{t}\""));
            r.error(
                Code::WrongType,
                node,
                format!("Expected a string for {what}, found {}.", node.describe()),
                help,
            );
            None
        }
    }
}

/// Any scalar except null, as text (tags and labels accept `team: 1`).
pub(crate) fn scalar_text(r: &mut Report, node: &Node, what: &str) -> Option<String> {
    match node.scalar() {
        Some(Resolved::Null) | None => {
            wrong_type(r, node, "a string", what);
            None
        }
        Some(_) => node.text().map(str::to_owned),
    }
}

/// An integer scalar.
pub(crate) fn int(r: &mut Report, node: &Node, what: &str) -> Option<i64> {
    match node.scalar() {
        Some(Resolved::Int(i)) => Some(i),
        Some(Resolved::Str(s)) if s.parse::<i64>().is_ok() => {
            r.error(
                Code::WrongType,
                node,
                format!("Expected an integer for {what}, found a string."),
                Some(format!("remove the quotes: {s}")),
            );
            None
        }
        _ => {
            wrong_type(r, node, "an integer", what);
            None
        }
    }
}

/// An integer that must be at least `min`.
pub(crate) fn int_at_least(r: &mut Report, node: &Node, what: &str, min: i64) -> Option<u32> {
    let v = int(r, node, what)?;
    match u32::try_from(v) {
        Ok(v) if i64::from(v) >= min => Some(v),
        _ => {
            r.error(
                Code::InvalidValue,
                node,
                format!("{what} must be at least {min}, found {v}."),
                None,
            );
            None
        }
    }
}

/// A boolean scalar.
pub(crate) fn boolean(r: &mut Report, node: &Node, what: &str) -> Option<bool> {
    match node.scalar() {
        Some(Resolved::Bool(b)) => Some(b),
        _ => {
            wrong_type(r, node, "a boolean (`true` or `false`)", what);
            None
        }
    }
}

/// A list; `None` (reported) when the node is not a sequence.
pub(crate) fn list<'n>(r: &mut Report, node: &'n Node, what: &str) -> Option<&'n [Node]> {
    match &node.kind {
        Kind::Seq(items) => Some(items),
        _ => {
            wrong_type(r, node, "a list", what);
            None
        }
    }
}

/// One of a fixed set of strings, with did-you-mean.
pub(crate) fn one_of(
    r: &mut Report,
    node: &Node,
    what: &str,
    allowed: &[&'static str],
) -> Option<&'static str> {
    let text = string(r, node, what)?;
    if let Some(v) = allowed.iter().find(|a| **a == text) {
        return Some(v);
    }
    let list = allowed
        .iter()
        .map(|a| format!("`{a}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let help = did_you_mean(&text, allowed.iter().copied())
        .unwrap_or_else(|| format!("use one of {list}"));
    r.error(
        Code::InvalidValue,
        node,
        format!("`{text}` is not a valid {what}; expected one of {list}."),
        Some(help),
    );
    None
}

/// A map of string to string; scalar values are taken as written.
pub(crate) fn string_map(r: &mut Report, node: &Node, what: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Kind::Map(entries) = &node.kind else {
        wrong_type(r, node, "a mapping", what);
        return out;
    };
    for (k, v) in entries {
        if let (Some(key), Some(value)) = (k.text(), scalar_text(r, v, what)) {
            out.insert(key.to_owned(), value);
        }
    }
    out
}

/// Whether `s` is an RFC 1123 DNS label: 1–63 lowercase letters, digits and `-`, starting and
/// ending with a letter or digit.
pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A string that must be a DNS label.
pub(crate) fn dns_label(r: &mut Report, node: &Node, what: &str) -> Option<String> {
    let s = string(r, node, what)?;
    if is_dns_label(&s) {
        return Some(s);
    }
    let fixed: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let fixed = fixed.trim_matches('-');
    let help = (is_dns_label(fixed) && fixed != s).then(|| format!("did you mean `{fixed}`?"));
    r.error(
        Code::InvalidName,
        node,
        format!("`{s}` is not a valid {what}: use 1 to 63 lowercase letters, digits and `-`, starting and ending with a letter or digit."),
        help,
    );
    None
}

/// Parses `30s`, `30m`, `24h`, `2d`, `1h30m` into seconds.
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut digits = String::new();
    let mut any = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let n: u64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
        any = true;
    }
    (any && digits.is_empty()).then_some(total)
}

/// A duration such as `24h`.
pub(crate) fn duration(r: &mut Report, node: &Node, what: &str) -> Option<std::time::Duration> {
    let s = match node.scalar() {
        Some(Resolved::Int(0)) => return Some(std::time::Duration::ZERO),
        _ => string(r, node, what)?,
    };
    match parse_duration(&s) {
        Some(secs) => Some(std::time::Duration::from_secs(secs)),
        None => {
            r.error(
                Code::InvalidValue,
                node,
                format!("`{s}` is not a valid {what}; write a number with a unit: `s`, `m`, `h`, `d` or `w`, e.g. `24h` or `1h30m`."),
                None,
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("1h30m"), Some(5_400));
        assert_eq!(parse_duration("2d"), Some(172_800));
        assert_eq!(parse_duration("24"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration("1y"), None);
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("prod-use1"));
        assert!(!is_dns_label("Prod"));
        assert!(!is_dns_label("-a"));
        assert!(!is_dns_label(&"a".repeat(64)));
    }
}
