//! Property values, including references to outputs of other resources.
//!
//! A desired property may reference an output of another resource (a subnet's `vpc_id` is the
//! VPC's `id` output). References stay symbolic in the plan and in recorded desired state; the
//! engine resolves them to concrete values just before the provider call.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Address;

/// Properties of a resource, ordered by name so diffs and digests are deterministic.
pub type Properties = BTreeMap<String, Value>;

/// A reference to an output of another resource, e.g. the `id` of a VPC.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutputRef {
    /// The resource whose output is referenced.
    pub address: Address,
    /// The output name, e.g. `id`, `arn`, `oidc_issuer`.
    pub output: String,
}

impl fmt::Display for OutputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.address, self.output)
    }
}

/// A property value. JSON-like, plus [`Value::Ref`].
///
/// Serialized as plain JSON; a reference is the object `{"$ref": "cluster/kind/name#output"}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// No value.
    #[default]
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    String(String),
    /// An ordered list.
    List(Vec<Value>),
    /// A map with deterministic key order.
    Map(BTreeMap<String, Value>),
    /// An output of another resource, known once that resource exists.
    Ref(OutputRef),
}

impl Value {
    /// Builds a reference to `output` of the resource at `address`.
    pub fn reference(address: &Address, output: &str) -> Self {
        Value::Ref(OutputRef {
            address: address.clone(),
            output: output.to_owned(),
        })
    }

    /// The string, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when this is an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The boolean, when this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Every output reference inside this value, depth first.
    pub fn refs(&self) -> Vec<&OutputRef> {
        let mut out = Vec::new();
        self.collect_refs(&mut out);
        out
    }

    fn collect_refs<'a>(&'a self, out: &mut Vec<&'a OutputRef>) {
        match self {
            Value::Ref(r) => out.push(r),
            Value::List(items) => items.iter().for_each(|v| v.collect_refs(out)),
            Value::Map(m) => m.values().for_each(|v| v.collect_refs(out)),
            _ => {}
        }
    }

    /// Replaces every reference with the value `lookup` returns for it.
    /// Returns the first reference `lookup` cannot resolve.
    pub fn resolve<F>(&self, lookup: &F) -> Result<Value, OutputRef>
    where
        F: Fn(&OutputRef) -> Option<Value>,
    {
        Ok(match self {
            Value::Ref(r) => lookup(r).ok_or_else(|| r.clone())?,
            Value::List(items) => Value::List(
                items
                    .iter()
                    .map(|v| v.resolve(lookup))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(m) => Value::Map(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), v.resolve(lookup)?)))
                    .collect::<Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Converts to plain JSON; references become `{"$ref": "…"}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Map(m) => {
                serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::Ref(r) => serde_json::json!({ "$ref": r.to_string() }),
        }
    }

    /// Converts from plain JSON; `{"$ref": "cluster/kind/name#output"}` becomes a reference.
    /// Floats are kept as their string form, since no cloud property here is fractional.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(Value::Int)
                .unwrap_or_else(|| Value::String(n.to_string())),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(m) => {
                if m.len() == 1
                    && let Some(r) = m.get("$ref").and_then(|v| v.as_str()).and_then(parse_ref)
                {
                    return Value::Ref(r);
                }
                Value::Map(
                    m.iter()
                        .map(|(k, v)| (k.clone(), Value::from_json(v)))
                        .collect(),
                )
            }
        }
    }
}

fn parse_ref(s: &str) -> Option<OutputRef> {
    let (address, output) = s.rsplit_once('#')?;
    Some(OutputRef {
        address: address.parse().ok()?,
        output: output.to_owned(),
    })
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Ref(r) => write!(f, "${{{r}}}"),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::Int(i64::from(i))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<BTreeMap<String, T>> for Value {
    fn from(m: BTreeMap<String, T>) -> Self {
        Value::Map(m.into_iter().map(|(k, v)| (k, v.into())).collect())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(|j| Value::from_json(&j))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_survive_json_round_trip() {
        let vpc = Address::new("c", "aws.vpc", "main");
        let v = Value::Map(BTreeMap::from([
            ("vpc_id".to_owned(), Value::reference(&vpc, "id")),
            ("cidr".to_owned(), Value::from("10.0.0.0/24")),
        ]));
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(
            json,
            r##"{"cidr":"10.0.0.0/24","vpc_id":{"$ref":"c/aws.vpc/main#id"}}"##
        );
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), v);
        assert_eq!(v.refs().len(), 1);
    }

    #[test]
    fn resolve_replaces_references_and_reports_missing_ones() {
        let vpc = Address::new("c", "aws.vpc", "main");
        let v = Value::List(vec![Value::reference(&vpc, "id"), Value::from(1i64)]);
        let resolved = v.resolve(&|_| Some(Value::from("vpc-123"))).unwrap();
        assert_eq!(
            resolved,
            Value::List(vec![Value::from("vpc-123"), Value::from(1i64)])
        );
        assert_eq!(v.resolve(&|_| None).unwrap_err().output, "id");
    }
}
