//! Typed access to resolved properties, and the small conversions every kind shares: tags,
//! string lists, client tokens and the template substitution of IAM trust policies.
//!
//! It must never talk to AWS. A missing or mistyped property is a bug of the expansion or the
//! engine, reported as a fatal `InvalidProperty` error rather than a panic.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use slipway_provider::{
    Address, ErrorClass, Properties, ProviderError, ResourceState, TAG_ADDRESS, TAG_FLEET, Value,
};

/// Read access to the resolved properties of one resource.
#[derive(Clone, Copy)]
pub(crate) struct Props<'a> {
    props: &'a Properties,
    address: &'a Address,
}

impl<'a> Props<'a> {
    /// Wraps the properties of the resource at `address`.
    pub fn new(props: &'a Properties, address: &'a Address) -> Self {
        Self { props, address }
    }

    fn invalid(&self, key: &str, expected: &str) -> ProviderError {
        ProviderError::new(
            ErrorClass::Fatal,
            "resolve",
            "InvalidProperty",
            format!("property `{key}` must be {expected}"),
        )
        .at(self.address)
    }

    /// The raw value, when set and not null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.props.get(key).filter(|v| !matches!(v, Value::Null))
    }

    /// A required string.
    pub fn str(&self, key: &str) -> Result<&'a str, ProviderError> {
        self.opt_str(key)?
            .ok_or_else(|| self.invalid(key, "a string"))
    }

    /// An optional string (absent or null is `None`).
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ProviderError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(key, "a string")),
        }
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ProviderError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.invalid(key, "a boolean")),
        }
    }

    /// An optional integer that fits an `i32` (AWS sizes and ports).
    pub fn opt_i32(&self, key: &str) -> Result<Option<i32>, ProviderError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Int(i)) => i32::try_from(*i)
                .map(Some)
                .map_err(|_| self.invalid(key, "a 32-bit integer")),
            Some(_) => Err(self.invalid(key, "an integer")),
        }
    }

    /// A list of strings; absent is empty.
    pub fn strings(&self, key: &str) -> Result<Vec<String>, ProviderError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::List(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.invalid(key, "a list of strings"))
                })
                .collect(),
            Some(_) => Err(self.invalid(key, "a list of strings")),
        }
    }

    /// A list of maps; absent is empty.
    pub fn maps(&self, key: &str) -> Result<Vec<Props<'a>>, ProviderError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::List(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Map(m) => Ok(Props::new(m, self.address)),
                    _ => Err(self.invalid(key, "a list of maps")),
                })
                .collect(),
            Some(_) => Err(self.invalid(key, "a list of maps")),
        }
    }

    /// A nested map; absent is `None`.
    pub fn map(&self, key: &str) -> Result<Option<Props<'a>>, ProviderError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Map(m)) => Ok(Some(Props::new(m, self.address))),
            Some(_) => Err(self.invalid(key, "a map")),
        }
    }

    /// A map of strings; absent is empty.
    pub fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, ProviderError> {
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(Value::Map(m)) => m
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_owned()))
                        .ok_or_else(|| self.invalid(key, "a map of strings"))
                })
                .collect(),
            Some(_) => Err(self.invalid(key, "a map of strings")),
        }
    }

    /// The keys present.
    pub fn keys(&self) -> Vec<String> {
        self.props.keys().cloned().collect()
    }

    /// The `tags` map.
    pub fn tags(&self) -> Result<BTreeMap<String, String>, ProviderError> {
        self.string_map("tags")
    }
}

/// A string list value.
pub(crate) fn strings_value<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> Value {
    Value::List(items.into_iter().map(|s| Value::from(s.as_ref())).collect())
}

/// `live` in the order of `prior` where they share items, then the rest sorted: id lists
/// are sets to AWS, and this keeps an unchanged set equal to what was recorded.
fn order_like(live: &[Value], prior: &[Value]) -> Vec<Value> {
    let mut rest: Vec<&Value> = live.iter().collect();
    let mut out = Vec::with_capacity(live.len());
    for p in prior {
        if let Some(i) = rest.iter().position(|l| *l == p) {
            out.push(rest.remove(i).clone());
        }
    }
    let mut rest: Vec<Value> = rest.into_iter().cloned().collect();
    rest.sort_by_key(ToString::to_string);
    out.extend(rest);
    out
}

/// Reorders every top-level list of strings in `live` like the same list in `recorded`:
/// AWS returns ids, instance types and log types in an order of its own.
pub(crate) fn align_lists(live: &mut Properties, recorded: &Properties) {
    for (key, value) in live.iter_mut() {
        if let (Value::List(items), Some(Value::List(prior))) = (&*value, recorded.get(key))
            && items.iter().all(|v| matches!(v, Value::String(_)))
        {
            *value = Value::List(order_like(items, prior));
        }
    }
}

/// A string map value.
pub(crate) fn tags_value(tags: &BTreeMap<String, String>) -> Value {
    Value::Map(
        tags.iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

/// Live tags without the `aws:` ones AWS sets itself and nobody may change.
pub(crate) fn managed_tags(
    tags: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    tags.into_iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

/// Whether live tags say this object is the one Slipway created for `address` in `fleet`.
pub(crate) fn owned_by<'t>(
    tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    fleet: &str,
    address: &Address,
) -> bool {
    let address = address.to_string();
    let (mut fleet_ok, mut address_ok) = (false, false);
    for (k, v) in tags {
        fleet_ok |= k == TAG_FLEET && v == fleet;
        address_ok |= k == TAG_ADDRESS && v == address;
    }
    fleet_ok && address_ok
}

/// The digest of a create: the address, the resolved properties and the object it replaces.
///
/// Run-independent, so a create retried by a later run after an interruption sends the same
/// client token and gets the same object; different whenever the object would differ (a
/// replacement changes a property or at least replaces another object), so a new incarnation
/// never collides with an old one's token.
pub(crate) fn generation(
    address: &Address,
    props: &Properties,
    replacing: Option<&ResourceState>,
) -> String {
    let mut h = Sha256::new();
    h.update(address.to_string().as_bytes());
    h.update([0]);
    // serde_json keeps the map order given: Properties is a BTreeMap, so this is canonical.
    h.update(Value::Map(props.clone()).to_json().to_string().as_bytes());
    h.update([0]);
    if let Some(old) = replacing {
        h.update(old.cloud_id.as_deref().unwrap_or("").as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A client token (at most 64 characters, as EC2 and EKS accept) for a create.
pub(crate) fn client_token(generation: &str) -> String {
    format!("slipway-{}", &generation[..generation.len().min(48)])
}

/// Replaces each `{{name}}` in `template` with the string value of `vars[name]`.
/// Unknown or non-string placeholders are an error naming the placeholder.
pub(crate) fn substitute(
    template: &str,
    vars: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unterminated placeholder in `{template}`"))?;
        let name = &after[..end];
        let value = vars
            .get(name)
            .ok_or_else(|| format!("placeholder `{{{{{name}}}}}` has no value"))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_fills_every_placeholder_and_reports_unknown_ones() {
        let vars = BTreeMap::from([
            ("oidc_provider_arn".to_owned(), "arn:x".to_owned()),
            (
                "oidc_provider_url".to_owned(),
                "oidc.example/id/1".to_owned(),
            ),
        ]);
        assert_eq!(
            substitute(
                r#"{"F":"{{oidc_provider_arn}}","{{oidc_provider_url}}:sub":1}"#,
                &vars
            )
            .unwrap(),
            r#"{"F":"arn:x","oidc.example/id/1:sub":1}"#
        );
        assert!(substitute("{{nope}}", &vars).unwrap_err().contains("nope"));
        assert!(substitute("{{open", &vars).is_err());
        assert_eq!(
            substitute("${aws:username}", &vars).unwrap(),
            "${aws:username}"
        );
    }

    #[test]
    fn client_tokens_are_stable_and_change_with_the_incarnation() {
        let a = Address::new("c", "aws.nat_gateway", "nat-a");
        let p = Properties::from([("subnet_id".to_owned(), Value::from("subnet-1"))]);
        let g1 = generation(&a, &p, None);
        assert_eq!(g1, generation(&a, &p, None));
        let q = Properties::from([("subnet_id".to_owned(), Value::from("subnet-2"))]);
        assert_ne!(g1, generation(&a, &q, None));
        let token = client_token(&g1);
        assert!(token.len() <= 64, "{token}");
        assert!(token.starts_with("slipway-"));
    }

    #[test]
    fn live_lists_follow_the_recorded_order() {
        let mut live =
            Properties::from([("subnet_ids".to_owned(), strings_value(["c", "a", "b", "d"]))]);
        let recorded =
            Properties::from([("subnet_ids".to_owned(), strings_value(["b", "a", "x"]))]);
        align_lists(&mut live, &recorded);
        assert_eq!(live["subnet_ids"], strings_value(["b", "a", "c", "d"]));
    }

    #[test]
    fn ownership_needs_both_the_fleet_and_the_address() {
        let a = Address::new("c", "aws.vpc", "main");
        let tags = [(TAG_FLEET, "f"), (TAG_ADDRESS, "c/aws.vpc/main")];
        assert!(owned_by(tags, "f", &a));
        assert!(!owned_by(tags, "g", &a));
        assert!(!owned_by([(TAG_FLEET, "f")], "f", &a));
    }
}
