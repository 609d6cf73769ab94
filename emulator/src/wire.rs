//! Wire formats: form-encoded query parameters (EC2's flattened lists, the query protocol's
//! `member` lists), an XML writer, the API error type and the allowed/required top-level
//! parameters of every emulated operation (generated from botocore's models).
//!
//! Only shapes live here; what an operation does lives in its service module. It must never
//! accept a parameter the real service would reject as unknown.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{Display, Write as _};
use std::sync::OnceLock;

/// An error answer: HTTP status, AWS error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// AWS error code, e.g. `InvalidVpcID.NotFound`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with the given status.
    pub(crate) fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A 400 error (EC2 answers nearly every client error with 400).
    pub(crate) fn bad(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
}

/// Result type of every operation handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// Flat form parameters (`Filter.1.Value.2=x`) with helpers for lists and structures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes.
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        Self(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// Adds parameters (query string after body).
    pub(crate) fn extend(&mut self, other: Params) {
        self.0.extend(other.0);
    }

    /// Every key.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// A scalar.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Whether any key is `prefix` or starts with `prefix.`.
    pub(crate) fn has(&self, prefix: &str) -> bool {
        self.0
            .keys()
            .any(|k| k == prefix || k.strip_prefix(prefix).is_some_and(|r| r.starts_with('.')))
    }

    /// The indices `N` of `prefix.N` / `prefix.N.…`, in numeric order.
    fn indices(&self, prefix: &str) -> Vec<(u64, String)> {
        let dotted = format!("{prefix}.");
        let mut out: Vec<(u64, String)> = self
            .0
            .keys()
            .filter_map(|k| k.strip_prefix(&dotted))
            .filter_map(|rest| {
                let n = rest.split('.').next().unwrap_or(rest);
                n.parse::<u64>().ok().map(|i| (i, n.to_owned()))
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// A list of scalars `prefix.1`, `prefix.2`, …
    pub(crate) fn list(&self, prefix: &str) -> Vec<String> {
        self.indices(prefix)
            .into_iter()
            .filter_map(|(_, n)| self.get(&format!("{prefix}.{n}")).map(str::to_owned))
            .collect()
    }

    /// A list of structures `prefix.N.Member`.
    pub(crate) fn structs(&self, prefix: &str) -> Vec<Params> {
        self.indices(prefix)
            .into_iter()
            .map(|(_, n)| self.sub(&format!("{prefix}.{n}")))
            .collect()
    }

    /// The members of the structure at `prefix`.
    pub(crate) fn sub(&self, prefix: &str) -> Params {
        let dotted = format!("{prefix}.");
        Params(
            self.0
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(&dotted).map(|r| (r.to_owned(), v.clone())))
                .collect(),
        )
    }

    /// A scalar that must be present.
    pub(crate) fn required(
        &self,
        key: &str,
        missing: impl FnOnce(&str) -> ApiError,
    ) -> ApiResult<&str> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(key))
    }

    /// A boolean (`true`/`false`), if present.
    pub(crate) fn bool(
        &self,
        key: &str,
        invalid: impl FnOnce(&str, &str) -> ApiError,
    ) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(invalid(key, other)),
        }
    }

    /// An integer, if present.
    pub(crate) fn int(
        &self,
        key: &str,
        invalid: impl FnOnce(&str, &str) -> ApiError,
    ) -> ApiResult<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| invalid(key, v)),
        }
    }
}

/// Escapes text for XML content and attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A minimal XML writer.
#[derive(Debug, Default)]
pub(crate) struct Xml(String);

impl Xml {
    /// An empty document fragment.
    pub(crate) fn new() -> Self {
        Self(String::new())
    }

    /// `<name>value</name>`.
    pub(crate) fn leaf(&mut self, name: &str, value: impl Display) -> &mut Self {
        let value = escape(&value.to_string());
        let _ = write!(self.0, "<{name}>{value}</{name}>");
        self
    }

    /// A leaf when the value is present.
    pub(crate) fn opt<T: Display>(&mut self, name: &str, value: Option<T>) -> &mut Self {
        if let Some(v) = value {
            self.leaf(name, v);
        }
        self
    }

    /// `<name>…</name>` with children written by `f`.
    pub(crate) fn node(&mut self, name: &str, f: impl FnOnce(&mut Xml)) -> &mut Self {
        let _ = write!(self.0, "<{name}>");
        f(self);
        let _ = write!(self.0, "</{name}>");
        self
    }

    /// A list wrapper `name` with one `item` element per entry.
    pub(crate) fn list<T>(
        &mut self,
        name: &str,
        item: &str,
        entries: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Xml, T),
    ) -> &mut Self {
        self.node(name, |x| {
            for e in entries {
                x.node(item, |x| f(x, e));
            }
        })
    }

    /// A list of scalars.
    pub(crate) fn strings<T: Display>(
        &mut self,
        name: &str,
        item: &str,
        entries: impl IntoIterator<Item = T>,
    ) -> &mut Self {
        self.node(name, |x| {
            for e in entries {
                x.leaf(item, e);
            }
        })
    }

    /// The text written so far.
    pub(crate) fn finish(self) -> String {
        self.0
    }
}

/// A problem with an operation's top-level parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// The service has no such operation (or the emulator does not serve it).
    UnknownOperation,
    /// A parameter the operation does not take.
    Unknown(String),
    /// A required parameter is absent.
    Missing(String),
}

struct OperationSpec {
    /// Wire names (`?name` for EKS query-string members) and whether each is required.
    members: Vec<(String, bool)>,
}

fn operations() -> &'static HashMap<(String, String), OperationSpec> {
    static OPS: OnceLock<HashMap<(String, String), OperationSpec>> = OnceLock::new();
    OPS.get_or_init(|| {
        include_str!("../data/operations.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let service = words.next()?.to_owned();
                let op = words.next()?.to_owned();
                let members = words
                    .map(|w| match w.strip_suffix('!') {
                        Some(name) => (name.to_owned(), true),
                        None => (w.to_owned(), false),
                    })
                    .collect();
                Some(((service, op), OperationSpec { members }))
            })
            .collect()
    })
}

fn spec(service: &str, op: &str) -> Result<&'static OperationSpec, Violation> {
    operations()
        .get(&(service.to_owned(), op.to_owned()))
        .ok_or(Violation::UnknownOperation)
}

/// Checks a query-protocol request: every key's first segment is a member, every required
/// member is present. `Action` and `Version` are the protocol's own.
pub(crate) fn check_query(service: &str, op: &str, params: &Params) -> Result<(), Violation> {
    let spec = spec(service, op)?;
    for key in params.keys() {
        let top = key.split('.').next().unwrap_or(key);
        if top == "Action" || top == "Version" {
            continue;
        }
        if !spec.members.iter().any(|(m, _)| m == top) {
            return Err(Violation::Unknown(top.to_owned()));
        }
    }
    for (member, required) in &spec.members {
        if *required && !params.has(member) {
            return Err(Violation::Missing(member.clone()));
        }
    }
    Ok(())
}

/// Checks a REST-JSON request: body keys and query-string keys against the operation.
pub(crate) fn check_json(
    service: &str,
    op: &str,
    body: &serde_json::Map<String, serde_json::Value>,
    query: &[(String, String)],
) -> Result<(), Violation> {
    let spec = spec(service, op)?;
    for key in body.keys() {
        if !spec.members.iter().any(|(m, _)| m == key) {
            return Err(Violation::Unknown(key.clone()));
        }
    }
    for (key, _) in query {
        let wire = format!("?{key}");
        if !spec.members.iter().any(|(m, _)| *m == wire) {
            return Err(Violation::Unknown(key.clone()));
        }
    }
    for (member, required) in &spec.members {
        if !*required {
            continue;
        }
        let present = match member.strip_prefix('?') {
            Some(q) => query.iter().any(|(k, _)| k == q),
            None => body.get(member).is_some_and(|v| !v.is_null()),
        };
        if !present {
            return Err(Violation::Missing(
                member.trim_start_matches('?').to_owned(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_lists_and_structures_parse_in_numeric_order() {
        let p = Params::parse(
            b"Action=DescribeVpcs&VpcId.10=c&VpcId.2=b&VpcId.1=a&Filter.1.Name=tag%3Aenv&Filter.1.Value.1=prod&Filter.2.Name=state&Filter.2.Value.1=available",
        );
        assert_eq!(p.list("VpcId"), ["a", "b", "c"]);
        let filters = p.structs("Filter");
        assert_eq!(filters.len(), 2);
        assert_eq!(filters[0].get("Name"), Some("tag:env"));
        assert_eq!(filters[0].list("Value"), ["prod"]);
        assert!(p.has("Filter"));
        assert!(!p.has("Filt"));
    }

    #[test]
    fn xml_is_escaped_and_nested() {
        let mut x = Xml::new();
        x.leaf("a", "<&>").list("set", "item", [1, 2], |x, n| {
            x.leaf("n", n);
        });
        assert_eq!(
            x.finish(),
            "<a>&lt;&amp;&gt;</a><set><item><n>1</n></item><item><n>2</n></item></set>"
        );
    }

    #[test]
    fn operations_table_checks_members() {
        let ok = Params::parse(b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0/16&TagSpecification.1.ResourceType=vpc");
        assert_eq!(check_query("ec2", "CreateVpc", &ok), Ok(()));
        let bad = Params::parse(b"Action=CreateVpc&CidrBlok=10.0.0.0/16");
        assert_eq!(
            check_query("ec2", "CreateVpc", &bad),
            Err(Violation::Unknown("CidrBlok".into()))
        );
        let missing = Params::parse(b"Action=DeleteVpc");
        assert_eq!(
            check_query("ec2", "DeleteVpc", &missing),
            Err(Violation::Missing("VpcId".into()))
        );
        assert_eq!(
            check_query("ec2", "RunInstances", &ok),
            Err(Violation::UnknownOperation)
        );
        let body = serde_json::json!({"name": "c", "roleArn": "r"});
        assert_eq!(
            check_json("eks", "CreateCluster", body.as_object().unwrap(), &[]),
            Err(Violation::Missing("resourcesVpcConfig".into()))
        );
        assert_eq!(
            check_json(
                "eks",
                "ListClusters",
                &serde_json::Map::new(),
                &[("maxResult".into(), "1".into())]
            ),
            Err(Violation::Unknown("maxResult".into()))
        );
    }
}
