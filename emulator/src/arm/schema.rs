//! The property trees of managed clusters and agent pools, generated from the AKS swagger by
//! `scripts/gen_arm_properties.py` into `data/arm-properties.txt`: unknown properties are
//! rejected with their path, read-only ones are dropped (ARM ignores them in a request),
//! JSON types and enum values are checked.
//!
//! Only shapes live here; it must never decide what a valid cluster is beyond the swagger.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::ArmError;

/// One property of the tree.
struct Prop {
    kind: &'static str,
    read_only: bool,
    required: bool,
    values: Vec<&'static str>,
}

type Tree = HashMap<(&'static str, &'static str), Prop>;

fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        include_str!("../../data/arm-properties.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let root = words.next()?;
                let path = words.next()?;
                let kind = words.next()?;
                let mut prop = Prop {
                    kind,
                    read_only: false,
                    required: false,
                    values: Vec::new(),
                };
                for flag in words {
                    match flag {
                        "ro" => prop.read_only = true,
                        "req" => prop.required = true,
                        _ => {
                            if let Some(list) = flag.strip_prefix("enum=") {
                                prop.values = list.split('|').collect();
                            }
                        }
                    }
                }
                Some(((root, path), prop))
            })
            .collect()
    })
}

fn content_error(message: String, path: &str) -> ArmError {
    ArmError::new(
        400,
        "InvalidRequestContent",
        format!("The request content was invalid and could not be deserialized: '{message} Path '{path}'.'"),
    )
    .target(path)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn fits(kind: &str, v: &Value) -> bool {
    match (kind, v) {
        (_, Value::Null) | ("any", _) => true,
        ("object" | "map", Value::Object(_)) => true,
        ("number", Value::Number(_)) => true,
        (k, v) => k == type_name(v),
    }
}

/// Checks `body` against the tree of `root` (`managedClusters` or `agentPools`) and drops
/// read-only properties from it.
pub(crate) fn check(root: &'static str, body: &mut Value) -> Result<(), ArmError> {
    walk(root, "", body)
}

fn walk(root: &'static str, path: &str, value: &mut Value) -> Result<(), ArmError> {
    let t = tree();
    match value {
        Value::Object(map) => {
            let is_map = t.get(&(root, path)).is_some_and(|p| p.kind == "map");
            let mut drop = Vec::new();
            for (key, child) in map.iter_mut() {
                let child_path = match (path.is_empty(), is_map) {
                    (true, _) => key.clone(),
                    (false, true) => format!("{path}.*"),
                    (false, false) => format!("{path}.{key}"),
                };
                let shown = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let Some(prop) = t.get(&(root, child_path.as_str())) else {
                    return Err(content_error(
                        format!("Could not find member '{key}' on object of type '{root}'."),
                        &shown,
                    ));
                };
                if prop.read_only {
                    drop.push(key.clone());
                    continue;
                }
                if !fits(prop.kind, child) {
                    return Err(content_error(
                        format!(
                            "Error converting value of type {} to {}.",
                            type_name(child),
                            prop.kind
                        ),
                        &shown,
                    ));
                }
                if let Value::String(s) = &*child
                    && !prop.values.is_empty()
                    && !prop.values.iter().any(|v| v.eq_ignore_ascii_case(s))
                {
                    return Err(ArmError::new(
                        400,
                        "InvalidParameter",
                        format!(
                            "The value of parameter {shown} is invalid: '{s}' is not one of {}.",
                            prop.values.join(", ")
                        ),
                    )
                    .target(&shown));
                }
                walk(root, &child_path, child)?;
            }
            for key in drop {
                map.remove(&key);
            }
            if !is_map {
                let prefix = if path.is_empty() {
                    String::new()
                } else {
                    format!("{path}.")
                };
                for ((r, p), prop) in t {
                    if *r != root || !prop.required || prop.read_only {
                        continue;
                    }
                    if let Some(name) = p.strip_prefix(prefix.as_str())
                        && !name.contains(['.', '['])
                        && map.get(name).is_none_or(Value::is_null)
                    {
                        let shown = format!("{prefix}{name}");
                        return Err(ArmError::new(
                            400,
                            "InvalidParameter",
                            format!("Required parameter {shown} is missing (null)."),
                        )
                        .target(&shown));
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            let item_path = format!("{path}[]");
            for item in items {
                walk(root, &item_path, item)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_properties_are_refused_with_their_path() {
        let mut body = json!({"location": "westeurope", "properties": {"kubernetesVersion": "1.34", "networkProfile": {"podCidrr": "x"}}});
        let e = check("managedClusters", &mut body).unwrap_err();
        assert_eq!(e.code, "InvalidRequestContent");
        assert_eq!(
            e.target.as_deref(),
            Some("properties.networkProfile.podCidrr")
        );
    }

    #[test]
    fn read_only_properties_are_dropped_and_maps_take_any_key() {
        let mut body = json!({
            "id": "x", "location": "l", "tags": {"any": "thing"},
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/s/x": {"principalId": "p"}}},
            "properties": {"provisioningState": "Succeeded", "agentPoolProfiles": [{"name": "system", "currentOrchestratorVersion": "1"}]}
        });
        check("managedClusters", &mut body).unwrap();
        assert!(body.get("id").is_none());
        assert!(body["properties"].get("provisioningState").is_none());
        assert!(
            body["properties"]["agentPoolProfiles"][0]
                .get("currentOrchestratorVersion")
                .is_none()
        );
        assert_eq!(
            body["identity"]["userAssignedIdentities"]["/subscriptions/s/x"],
            json!({})
        );
    }

    #[test]
    fn types_enums_and_required_members_are_checked() {
        let mut bad_type = json!({"properties": {"count": "3"}});
        assert_eq!(
            check("agentPools", &mut bad_type).unwrap_err().code,
            "InvalidRequestContent"
        );
        let mut bad_enum = json!({"properties": {"mode": "Primary"}});
        assert_eq!(
            check("agentPools", &mut bad_enum).unwrap_err().code,
            "InvalidParameter"
        );
        let mut ok_enum = json!({"properties": {"mode": "system"}});
        assert!(check("agentPools", &mut ok_enum).is_ok());
        let mut no_name =
            json!({"location": "l", "properties": {"agentPoolProfiles": [{"count": 1}]}});
        let e = check("managedClusters", &mut no_name).unwrap_err();
        assert_eq!(
            e.target.as_deref(),
            Some("properties.agentPoolProfiles[].name")
        );
    }
}
