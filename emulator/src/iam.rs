//! IAM (query protocol, global) and STS: roles with trust, attached and inline policies and
//! tags; OpenID Connect providers; `GetCallerIdentity`. Also what EKS asks of IAM: whether a
//! role exists, trusts a service, has propagated, and carries a policy.
//!
//! Lists serialise as `<member>`; policy documents come back URL-encoded as IAM returns
//! them. It must never accept a policy ARN it does not know (no CreatePolicy is emulated).

use std::collections::BTreeMap;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::admin::Tagged;
use crate::data::managed_policy;
use crate::state::Ctx;
use crate::util::{hash_str, hex_digits, iso8601};
use crate::wire::{ApiError, ApiResult, Params, Xml};

/// Attached managed policies per role (IAM's default quota).
const MAX_ATTACHED: usize = 10;

/// All IAM objects.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Iam {
    roles: BTreeMap<String, Role>,
    oidc: BTreeMap<String, Oidc>,
}

/// An IAM role.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Role {
    name: String,
    id: String,
    path: String,
    /// `arn:aws:iam::ACCOUNT:role<path><name>`.
    pub arn: String,
    /// Creation time (ms), for propagation.
    pub created: u64,
    trust: String,
    description: Option<String>,
    max_session: i64,
    attached: Vec<String>,
    inline: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

impl Role {
    /// Whether the trust policy lets `service` (e.g. `eks.amazonaws.com`) assume the role.
    pub(crate) fn trusts(&self, service: &str) -> bool {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(&self.trust) else {
            return false;
        };
        let statements = match &doc["Statement"] {
            serde_json::Value::Array(a) => a.clone(),
            s @ serde_json::Value::Object(_) => vec![s.clone()],
            _ => Vec::new(),
        };
        statements.iter().any(|s| {
            let allows = s["Effect"] == "Allow";
            let action = match &s["Action"] {
                serde_json::Value::String(a) => a == "sts:AssumeRole" || a == "sts:*",
                serde_json::Value::Array(a) => {
                    a.iter().any(|a| a == "sts:AssumeRole" || a == "sts:*")
                }
                _ => false,
            };
            let principal = match &s["Principal"]["Service"] {
                serde_json::Value::String(p) => p == service,
                serde_json::Value::Array(a) => a.iter().any(|p| p == service),
                _ => false,
            };
            allows && action && principal
        })
    }

    /// Whether an AWS managed policy of this name is attached.
    pub(crate) fn has_managed(&self, name: &str) -> bool {
        self.attached
            .iter()
            .any(|a| a.ends_with(&format!("/{name}")))
    }

    /// The role name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Oidc {
    arn: String,
    url: String,
    client_ids: Vec<String>,
    thumbprints: Vec<String>,
    created: u64,
    tags: BTreeMap<String, String>,
}

/// A role by ARN.
pub(crate) fn role_by_arn<'i>(iam: &'i Iam, arn: &str) -> Option<&'i Role> {
    let name = arn.rsplit('/').next()?;
    iam.roles.get(name).filter(|r| r.arn == arn)
}

fn no_such(what: &str) -> ApiError {
    ApiError::new(404, "NoSuchEntity", what.to_owned())
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad("InvalidInput", message)
}

fn validation(param: &str, value: &str, constraint: &str) -> ApiError {
    ApiError::bad(
        "ValidationError",
        format!(
            "1 validation error detected: Value '{value}' at '{param}' failed to satisfy constraint: {constraint}"
        ),
    )
}

fn missing(param: &str) -> ApiError {
    ApiError::bad(
        "ValidationError",
        format!(
            "1 validation error detected: Value null at '{param}' failed to satisfy constraint: Member must not be null"
        ),
    )
}

fn encode(doc: &str) -> String {
    utf8_percent_encode(doc, NON_ALPHANUMERIC).to_string()
}

fn check_name(param: &str, name: &str, max: usize) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(validation(
            param,
            name,
            &format!(
                "Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length at most {max}"
            ),
        ))
    }
}

fn check_document(doc: &str) -> ApiResult<()> {
    match serde_json::from_str::<serde_json::Value>(doc) {
        Ok(serde_json::Value::Object(m)) if m.contains_key("Statement") => Ok(()),
        _ => Err(ApiError::bad(
            "MalformedPolicyDocument",
            "Syntax errors in policy.",
        )),
    }
}

fn parse_tags(p: &Params) -> ApiResult<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    for t in p.structs("Tags.member") {
        let key = t.get("Key").ok_or_else(|| missing("tags.member.key"))?;
        let value = t.get("Value").ok_or_else(|| missing("tags.member.value"))?;
        if key.is_empty() || key.len() > 128 || value.len() > 256 {
            return Err(validation(
                "tags.member.key",
                key,
                "Member must have length between 1 and 128",
            ));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid(format!(
                "The tag key '{key}' uses the reserved prefix aws:"
            )));
        }
        tags.insert(key.to_owned(), value.to_owned());
    }
    if tags.len() > 50 {
        return Err(ApiError::new(
            409,
            "LimitExceeded",
            "The number of tags has reached the maximum limit.",
        ));
    }
    Ok(tags)
}

fn tags_xml(x: &mut Xml, tags: &BTreeMap<String, String>) {
    x.list("Tags", "member", tags, |x, (k, v)| {
        x.leaf("Key", k).leaf("Value", v);
    });
}

fn role_xml(x: &mut Xml, r: &Role) {
    x.leaf("Path", &r.path)
        .leaf("RoleName", &r.name)
        .leaf("RoleId", &r.id)
        .leaf("Arn", &r.arn)
        .leaf("CreateDate", iso8601(r.created))
        .leaf("AssumeRolePolicyDocument", encode(&r.trust))
        .opt("Description", r.description.as_ref())
        .leaf("MaxSessionDuration", r.max_session);
    if !r.tags.is_empty() {
        tags_xml(x, &r.tags);
    }
    x.node("RoleLastUsed", |_| {});
}

fn role_mut<'i>(iam: &'i mut Iam, name: &str) -> ApiResult<&'i mut Role> {
    iam.roles
        .get_mut(name)
        .ok_or_else(|| no_such(&format!("The role with name {name} cannot be found.")))
}

/// Handles one IAM action.
pub(crate) fn handle(ctx: &mut Ctx<'_>, op: &str, p: &Params) -> ApiResult<Xml> {
    let mut x = Xml::new();
    match op {
        "CreateRole" => {
            let name = p.required("RoleName", missing)?;
            check_name("roleName", name, 64)?;
            let path = p.get("Path").unwrap_or("/");
            if !path.starts_with('/') || !path.ends_with('/') || path.len() > 512 {
                return Err(validation(
                    "path",
                    path,
                    "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007F]+\\u002F)",
                ));
            }
            let trust = p.required("AssumeRolePolicyDocument", missing)?;
            check_document(trust)?;
            let max_session = p
                .int("MaxSessionDuration", |k, v| {
                    validation(k, v, "Member must be a number")
                })?
                .unwrap_or(3600);
            if !(3600..=43200).contains(&max_session) {
                return Err(validation(
                    "maxSessionDuration",
                    &max_session.to_string(),
                    "Member must have value between 3600 and 43200",
                ));
            }
            let tags = parse_tags(p)?;
            let id = format!("AROA{}", ctx.hex(17).to_uppercase());
            let arn = format!("arn:aws:iam::{}:role{path}{name}", ctx.account());
            if ctx.cloud.iam.roles.contains_key(name) {
                return Err(ApiError::new(
                    409,
                    "EntityAlreadyExists",
                    format!("Role with name {name} already exists."),
                ));
            }
            let role = Role {
                name: name.to_owned(),
                id,
                path: path.to_owned(),
                arn,
                created: ctx.now,
                trust: trust.to_owned(),
                description: p.get("Description").map(str::to_owned),
                max_session,
                attached: Vec::new(),
                inline: BTreeMap::new(),
                tags,
            };
            x.node("Role", |x| role_xml(x, &role));
            ctx.cloud.iam.roles.insert(name.to_owned(), role);
        }
        "GetRole" => {
            let name = p.required("RoleName", missing)?;
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            x.node("Role", |x| role_xml(x, role));
        }
        "ListRoles" => {
            let prefix = p.get("PathPrefix").unwrap_or("/");
            let roles: Vec<&Role> = ctx
                .cloud
                .iam
                .roles
                .values()
                .filter(|r| r.path.starts_with(prefix))
                .collect();
            let (page, marker) = page(roles, p, |r| r.name.clone())?;
            x.list("Roles", "member", page, role_xml);
            truncation(&mut x, marker);
        }
        "UpdateRole" => {
            let name = p.required("RoleName", missing)?;
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            if let Some(d) = p.get("Description") {
                role.description = Some(d.to_owned());
            }
            if let Some(m) = p.int("MaxSessionDuration", |k, v| {
                validation(k, v, "Member must be a number")
            })? {
                role.max_session = m;
            }
        }
        "UpdateAssumeRolePolicy" => {
            let name = p.required("RoleName", missing)?;
            let doc = p.required("PolicyDocument", missing)?;
            check_document(doc)?;
            role_mut(&mut ctx.cloud.iam, name)?.trust = doc.to_owned();
        }
        "DeleteRole" => {
            let name = p.required("RoleName", missing)?;
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            if !role.attached.is_empty() {
                return Err(ApiError::new(
                    409,
                    "DeleteConflict",
                    "Cannot delete entity, must detach all policies first.",
                ));
            }
            if !role.inline.is_empty() {
                return Err(ApiError::new(
                    409,
                    "DeleteConflict",
                    "Cannot delete entity, must delete policies first.",
                ));
            }
            ctx.cloud.iam.roles.remove(name);
        }
        "AttachRolePolicy" => {
            let name = p.required("RoleName", missing)?;
            let arn = p.required("PolicyArn", missing)?;
            if !arn.starts_with("arn:aws:iam::") || !arn.contains(":policy/") {
                return Err(invalid(format!("ARN {arn} is not valid.")));
            }
            if managed_policy(arn).is_none() {
                return Err(no_such(&format!(
                    "Policy {arn} does not exist or is not attachable."
                )));
            }
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            if !role.attached.iter().any(|a| a == arn) {
                if role.attached.len() >= MAX_ATTACHED {
                    return Err(ApiError::new(
                        409,
                        "LimitExceeded",
                        format!("Cannot exceed quota for PoliciesPerRole: {MAX_ATTACHED}"),
                    ));
                }
                role.attached.push(arn.to_owned());
            }
        }
        "DetachRolePolicy" => {
            let name = p.required("RoleName", missing)?;
            let arn = p.required("PolicyArn", missing)?;
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            let before = role.attached.len();
            role.attached.retain(|a| a != arn);
            if role.attached.len() == before {
                return Err(no_such(&format!("Policy {arn} was not found.")));
            }
        }
        "ListAttachedRolePolicies" => {
            let name = p.required("RoleName", missing)?;
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            let attached: Vec<String> = role.attached.clone();
            let (page, marker) = page(attached, p, Clone::clone)?;
            x.list("AttachedPolicies", "member", page, |x, arn| {
                x.leaf("PolicyName", arn.rsplit('/').next().unwrap_or(&arn))
                    .leaf("PolicyArn", &arn);
            });
            truncation(&mut x, marker);
        }
        "PutRolePolicy" => {
            let name = p.required("RoleName", missing)?;
            let policy = p.required("PolicyName", missing)?;
            check_name("policyName", policy, 128)?;
            let doc = p.required("PolicyDocument", missing)?;
            check_document(doc)?;
            role_mut(&mut ctx.cloud.iam, name)?
                .inline
                .insert(policy.to_owned(), doc.to_owned());
        }
        "DeleteRolePolicy" => {
            let name = p.required("RoleName", missing)?;
            let policy = p.required("PolicyName", missing)?;
            if role_mut(&mut ctx.cloud.iam, name)?
                .inline
                .remove(policy)
                .is_none()
            {
                return Err(no_such(&format!(
                    "The role policy with name {policy} cannot be found."
                )));
            }
        }
        "ListRolePolicies" => {
            let name = p.required("RoleName", missing)?;
            let names: Vec<String> = role_mut(&mut ctx.cloud.iam, name)?
                .inline
                .keys()
                .cloned()
                .collect();
            let (page, marker) = page(names, p, Clone::clone)?;
            x.strings("PolicyNames", "member", page);
            truncation(&mut x, marker);
        }
        // Instance profiles are not emulated (managed node groups need none of their own), so
        // a role is never in one; the call exists because deleting a role requires checking.
        "ListInstanceProfilesForRole" => {
            let name = p.required("RoleName", missing)?;
            role_mut(&mut ctx.cloud.iam, name)?;
            x.strings("InstanceProfiles", "member", Vec::<String>::new());
            truncation(&mut x, None);
        }
        "GetRolePolicy" => {
            let name = p.required("RoleName", missing)?;
            let policy = p.required("PolicyName", missing)?;
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            let doc = role.inline.get(policy).ok_or_else(|| {
                no_such(&format!(
                    "The role policy with name {policy} cannot be found."
                ))
            })?;
            x.leaf("RoleName", name)
                .leaf("PolicyName", policy)
                .leaf("PolicyDocument", encode(doc));
        }
        "TagRole" => {
            let name = p.required("RoleName", missing)?;
            let tags = parse_tags(p)?;
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            let mut merged = role.tags.clone();
            merged.extend(tags);
            if merged.len() > 50 {
                return Err(ApiError::new(
                    409,
                    "LimitExceeded",
                    "The number of tags has reached the maximum limit.",
                ));
            }
            role.tags = merged;
        }
        "UntagRole" => {
            let name = p.required("RoleName", missing)?;
            let keys = p.list("TagKeys.member");
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            role.tags.retain(|k, _| !keys.contains(k));
        }
        "ListRoleTags" => {
            let name = p.required("RoleName", missing)?;
            let role = role_mut(&mut ctx.cloud.iam, name)?;
            tags_xml(&mut x, &role.tags);
            x.leaf("IsTruncated", "false");
        }
        "GetPolicy" => {
            let arn = p.required("PolicyArn", missing)?;
            let (path, name) = managed_policy(arn)
                .ok_or_else(|| no_such(&format!("Policy {arn} was not found.")))?;
            let attachments = ctx
                .cloud
                .iam
                .roles
                .values()
                .filter(|r| r.attached.iter().any(|a| a == arn))
                .count();
            x.node("Policy", |x| {
                x.leaf("PolicyName", name)
                    .leaf(
                        "PolicyId",
                        format!("ANPA{}", hex_digits(hash_str(0, name), 17).to_uppercase()),
                    )
                    .leaf("Arn", arn)
                    .leaf("Path", path)
                    .leaf("DefaultVersionId", "v1")
                    .leaf("AttachmentCount", attachments)
                    .leaf("PermissionsBoundaryUsageCount", 0)
                    .leaf("IsAttachable", "true")
                    .leaf("CreateDate", "2019-01-01T00:00:00Z")
                    .leaf("UpdateDate", "2024-01-01T00:00:00Z");
            });
        }
        "CreateOpenIDConnectProvider" => {
            let url = p.required("Url", missing)?;
            let Some(host) = url
                .strip_prefix("https://")
                .filter(|h| !h.is_empty() && !h.contains(' '))
            else {
                return Err(invalid(format!(
                    "Invalid Url: {url} (the URL must begin with https://)"
                )));
            };
            let host = host.trim_end_matches('/');
            let client_ids = p.list("ClientIDList.member");
            let mut thumbprints = p.list("ThumbprintList.member");
            for t in &thumbprints {
                if t.len() != 40 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(validation(
                        "thumbprintList",
                        t,
                        "Member must have length 40",
                    ));
                }
            }
            if thumbprints.len() > 5 {
                return Err(ApiError::new(
                    409,
                    "LimitExceeded",
                    "Thumbprint list exceeds 5 entries",
                ));
            }
            if thumbprints.is_empty() {
                // IAM fetches the issuer's CA thumbprint itself when none is given.
                thumbprints.push(hex_digits(hash_str(0, host), 40));
            }
            let tags = parse_tags(p)?;
            let arn = format!("arn:aws:iam::{}:oidc-provider/{host}", ctx.account());
            if ctx.cloud.iam.oidc.contains_key(&arn) {
                return Err(ApiError::new(
                    409,
                    "EntityAlreadyExists",
                    format!("Provider with url {url} already exists."),
                ));
            }
            x.leaf("OpenIDConnectProviderArn", &arn);
            tags_xml(&mut x, &tags);
            ctx.cloud.iam.oidc.insert(
                arn.clone(),
                Oidc {
                    arn,
                    url: host.to_owned(),
                    client_ids,
                    thumbprints,
                    created: ctx.now,
                    tags,
                },
            );
        }
        "GetOpenIDConnectProvider" => {
            let o = oidc(&mut ctx.cloud.iam, p)?;
            x.leaf("Url", &o.url)
                .strings("ClientIDList", "member", &o.client_ids)
                .strings("ThumbprintList", "member", &o.thumbprints)
                .leaf("CreateDate", iso8601(o.created));
            tags_xml(&mut x, &o.tags);
        }
        "DeleteOpenIDConnectProvider" => {
            let arn = oidc(&mut ctx.cloud.iam, p)?.arn.clone();
            ctx.cloud.iam.oidc.remove(&arn);
        }
        "ListOpenIDConnectProviders" => {
            x.list(
                "OpenIDConnectProviderList",
                "member",
                ctx.cloud.iam.oidc.keys(),
                |x, arn| {
                    x.leaf("Arn", arn);
                },
            );
        }
        "TagOpenIDConnectProvider" => {
            let tags = parse_tags(p)?;
            let o = oidc(&mut ctx.cloud.iam, p)?;
            o.tags.extend(tags);
        }
        "UntagOpenIDConnectProvider" => {
            let keys = p.list("TagKeys.member");
            let o = oidc(&mut ctx.cloud.iam, p)?;
            o.tags.retain(|k, _| !keys.contains(k));
        }
        "ListOpenIDConnectProviderTags" => {
            let o = oidc(&mut ctx.cloud.iam, p)?;
            tags_xml(&mut x, &o.tags);
            x.leaf("IsTruncated", "false");
        }
        "UpdateOpenIDConnectProviderThumbprint" => {
            let thumbprints = p.list("ThumbprintList.member");
            let o = oidc(&mut ctx.cloud.iam, p)?;
            o.thumbprints = thumbprints;
        }
        _ => {
            return Err(ApiError::bad(
                "InvalidAction",
                format!("The action {op} is not valid for this web service."),
            ));
        }
    }
    Ok(x)
}

fn oidc<'i>(iam: &'i mut Iam, p: &Params) -> ApiResult<&'i mut Oidc> {
    let arn = p.required("OpenIDConnectProviderArn", missing)?;
    if !arn.starts_with("arn:aws:iam::") {
        return Err(invalid(format!("ARN {arn} is not valid.")));
    }
    iam.oidc
        .get_mut(arn)
        .ok_or_else(|| no_such(&format!("OpenIDConnect Provider not found for arn {arn}")))
}

/// `MaxItems`/`Marker` paging; the marker is the key of the first item of the next page.
fn page<T>(
    items: Vec<T>,
    p: &Params,
    key: impl Fn(&T) -> String,
) -> ApiResult<(Vec<T>, Option<String>)> {
    let max = p
        .int("MaxItems", |k, v| {
            validation(k, v, "Member must be a number")
        })?
        .unwrap_or(100);
    if !(1..=1000).contains(&max) {
        return Err(validation(
            "maxItems",
            &max.to_string(),
            "Member must have value between 1 and 1000",
        ));
    }
    let max = usize::try_from(max).unwrap_or(100);
    let start = match p.get("Marker") {
        Some(m) => items
            .iter()
            .position(|i| key(i) == m)
            .ok_or_else(|| invalid("Invalid Marker"))?,
        None => 0,
    };
    let mut rest: Vec<T> = items.into_iter().skip(start).collect();
    let marker = rest.get(max).map(&key);
    rest.truncate(max);
    Ok((rest, marker))
}

fn truncation(x: &mut Xml, marker: Option<String>) {
    x.leaf("IsTruncated", marker.is_some());
    x.opt("Marker", marker);
}

/// Handles STS.
pub(crate) fn sts(ctx: &mut Ctx<'_>, op: &str, _p: &Params) -> ApiResult<Xml> {
    match op {
        "GetCallerIdentity" => {
            let account = ctx.account().to_owned();
            let mut x = Xml::new();
            x.leaf("UserId", caller_user_id(&account))
                .leaf("Account", &account)
                .leaf("Arn", caller_arn(&account));
            Ok(x)
        }
        _ => Err(ApiError::bad(
            "InvalidAction",
            format!("The action {op} is not valid for this web service."),
        )),
    }
}

/// The principal every request is made as.
pub(crate) fn caller_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:user/slipway-emulator")
}

fn caller_user_id(account: &str) -> String {
    format!(
        "AIDA{}",
        hex_digits(hash_str(0, account), 17).to_uppercase()
    )
}

/// Adds every tagged IAM object.
pub(crate) fn tagged(iam: &Iam, out: &mut Vec<Tagged>) {
    for r in iam.roles.values() {
        out.push(Tagged {
            service: "iam",
            kind: "role",
            id: r.arn.clone(),
            region: "global".to_owned(),
            tags: r.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        });
    }
    for o in iam.oidc.values() {
        out.push(Tagged {
            service: "iam",
            kind: "oidc-provider",
            id: o.arn.clone(),
            region: "global".to_owned(),
            tags: o.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(trust: &str) -> Role {
        Role {
            name: "r".into(),
            id: "AROA".into(),
            path: "/".into(),
            arn: "arn:aws:iam::000000000000:role/r".into(),
            created: 0,
            trust: trust.into(),
            description: None,
            max_session: 3600,
            attached: vec!["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy".into()],
            inline: BTreeMap::new(),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn trust_is_read_from_the_policy_not_from_substrings() {
        let eks = role(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        );
        assert!(eks.trusts("eks.amazonaws.com"));
        assert!(!eks.trusts("ec2.amazonaws.com"));
        let deny = role(
            r#"{"Statement":[{"Effect":"Deny","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        );
        assert!(!deny.trusts("eks.amazonaws.com"));
        let list = role(
            r#"{"Statement":{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":["sts:AssumeRole"]}}"#,
        );
        assert!(list.trusts("ec2.amazonaws.com"));
        assert!(eks.has_managed("AmazonEKSClusterPolicy"));
    }

    #[test]
    fn policy_documents_are_url_encoded_like_iam() {
        assert_eq!(encode(r#"{"a":1}"#), "%7B%22a%22%3A1%7D");
    }
}
