//! IAM kinds: roles (trust policy, managed policy attachments, inline policies, tags) and the
//! cluster's OpenID Connect provider.
//!
//! IAM names are unique per account, so adoption looks the object up by its deterministic
//! name (role) or URL (OIDC provider); an existing object without this fleet's ownership tags
//! is a conflict and is never touched. Policy documents are compared as JSON, never as text,
//! because IAM returns them URL-encoded and re-serialized.

use std::collections::BTreeMap;

use aws_sdk_iam::types::Tag;
use slipway_provider::{ErrorClass, ProviderError, Value};

use super::props::{Props, managed_tags, owned_by};
use super::session::Session;
use crate::kinds::API_IAM;

/// IAM's tags as a map, `aws:` tags aside.
fn live_tags(tags: &[Tag]) -> BTreeMap<String, String> {
    managed_tags(
        tags.iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned())),
    )
}

fn iam_tags(s: &Session<'_>, tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ProviderError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| s.error(ErrorClass::Fatal, "TagRole", "InvalidTag", e.to_string()))
        })
        .collect()
}

fn owned(s: &Session<'_>, tags: &[Tag]) -> bool {
    owned_by(
        tags.iter().map(|t| (t.key(), t.value())),
        &s.ctx.fleet,
        s.address,
    )
}

fn not_owned(s: &Session<'_>, operation: &str, what: &str) -> ProviderError {
    s.error(
        ErrorClass::Conflict,
        operation,
        "EntityAlreadyExists",
        format!(
            "{what} exists but is not tagged as this fleet's `{}`; refusing to adopt it",
            s.address
        ),
    )
}

/// Decodes IAM's URL-encoded policy documents (RFC 3986 percent-encoding).
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document as JSON: IAM answers URL-encoded, callers send plain JSON.
pub(crate) fn policy_json(doc: &str) -> Option<serde_json::Value> {
    let text = if doc.trim_start().starts_with('{') {
        doc.to_owned()
    } else {
        url_decode(doc)
    };
    serde_json::from_str(&text).ok()
}

/// Whether two policy documents say the same thing.
fn same_policy(a: &str, b: &str) -> bool {
    match (policy_json(a), policy_json(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

pub(crate) mod role {
    //! The role kind. The trust policy's `{{name}}` placeholders are filled from
    //! `assume_role_policy_vars` (resolved references) before IAM sees it.

    use aws_sdk_iam::types::Role;
    use slipway_provider::{Created, LiveObject, Properties, ResourceState};

    use super::*;
    use crate::provider::props::{self, strings_value, tags_value};
    use crate::provider::session::{DEPENDENTS_GRACE, Poll, Waiter, found, poll, retry_conflicts};
    use crate::provider::{API_IAM_READ, Clients};

    /// The trust policy with its placeholders filled.
    fn trust_policy(s: &Session<'_>, p: Props<'_>) -> Result<String, ProviderError> {
        let template = p.str("assume_role_policy")?;
        let vars = p.string_map("assume_role_policy_vars")?;
        props::substitute(template, &vars)
            .map_err(|m| s.error(ErrorClass::Fatal, "CreateRole", "InvalidPolicyTemplate", m))
    }

    /// Inline policies: name → document (a JSON string, or a map serialized to one).
    fn inline_policies(p: Props<'_>) -> Result<BTreeMap<String, String>, ProviderError> {
        let Some(map) = p.map("inline_policies")? else {
            return Ok(BTreeMap::new());
        };
        let mut out = BTreeMap::new();
        for key in map.keys() {
            let doc = match map.get(&key) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_json().to_string(),
                None => continue,
            };
            out.insert(key, doc);
        }
        Ok(out)
    }

    pub(crate) async fn get(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<Option<Role>, ProviderError> {
        s.read(API_IAM_READ).await;
        let out = found(
            c.iam
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| s.fail("GetRole", e)),
        )?;
        Ok(out.and_then(|o| o.role().cloned()))
    }

    fn outputs(r: &Role) -> Properties {
        Properties::from([
            ("arn".to_owned(), Value::from(r.arn())),
            ("id".to_owned(), Value::from(r.role_id())),
        ])
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
    ) -> Result<Created, ProviderError> {
        let name = p.str("name")?;
        match get(c, s, name).await? {
            Some(r) if owned(s, r.tags()) => {}
            Some(_) => return Err(not_owned(s, "CreateRole", &format!("IAM role `{name}`"))),
            None => {
                let policy = trust_policy(s, p)?;
                s.mutating(
                    "CreateRole",
                    API_IAM,
                    serde_json::json!({ "role_name": name, "assume_role_policy": policy }),
                )
                .await?;
                c.iam
                    .create_role()
                    .role_name(name)
                    .path(p.opt_str("path")?.unwrap_or("/"))
                    .set_description(p.opt_str("description")?.map(str::to_owned))
                    .assume_role_policy_document(policy)
                    .set_tags(Some(iam_tags(s, &p.tags()?)?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateRole", e))?;
            }
        }
        converge(c, s, p).await
    }

    async fn attached(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<Vec<String>, ProviderError> {
        s.read(API_IAM_READ).await;
        let pages: Vec<_> = c
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| s.fail("ListAttachedRolePolicies", e))?;
        let mut arns: Vec<String> = pages
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect();
        arns.sort();
        Ok(arns)
    }

    async fn inline(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<BTreeMap<String, String>, ProviderError> {
        s.read(API_IAM_READ).await;
        let names: Vec<String> = c
            .iam
            .list_role_policies()
            .role_name(name)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| s.fail("ListRolePolicies", e))?;
        let mut out = BTreeMap::new();
        for policy in names {
            s.read(API_IAM_READ).await;
            let doc = c
                .iam
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map_err(|e| s.fail("GetRolePolicy", e))?;
            let text = policy_json(doc.policy_document())
                .map_or_else(|| doc.policy_document().to_owned(), |j| j.to_string());
            out.insert(policy, text);
        }
        Ok(out)
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
    ) -> Result<Created, ProviderError> {
        let name = p.str("name")?;
        let r = get(c, s, name).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "GetRole",
                "NoSuchEntity",
                format!("role `{name}` does not exist"),
            )
        })?;
        let policy = trust_policy(s, p)?;
        if !r
            .assume_role_policy_document()
            .is_some_and(|live| same_policy(live, &policy))
        {
            s.mutating(
                "UpdateAssumeRolePolicy",
                API_IAM,
                serde_json::json!({ "role_name": name, "policy_document": policy }),
            )
            .await?;
            c.iam
                .update_assume_role_policy()
                .role_name(name)
                .policy_document(&policy)
                .send()
                .await
                .map_err(|e| s.fail("UpdateAssumeRolePolicy", e))?;
        }
        let description = p.opt_str("description")?.unwrap_or_default();
        if r.description().unwrap_or_default() != description {
            s.mutating(
                "UpdateRole",
                API_IAM,
                serde_json::json!({ "role_name": name, "description": description }),
            )
            .await?;
            c.iam
                .update_role()
                .role_name(name)
                .description(description)
                .send()
                .await
                .map_err(|e| s.fail("UpdateRole", e))?;
        }
        let want = p.strings("managed_policy_arns")?;
        let live = attached(c, s, name).await?;
        for arn in want.iter().filter(|a| !live.contains(a)) {
            s.mutating(
                "AttachRolePolicy",
                API_IAM,
                serde_json::json!({ "role_name": name, "policy_arn": arn }),
            )
            .await?;
            c.iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| s.fail("AttachRolePolicy", e))?;
        }
        for arn in live.iter().filter(|a| !want.contains(a)) {
            detach(c, s, name, arn).await?;
        }
        let want = inline_policies(p)?;
        let live = inline(c, s, name).await?;
        for (policy, doc) in &want {
            if live.get(policy).is_some_and(|l| same_policy(l, doc)) {
                continue;
            }
            s.mutating(
                "PutRolePolicy",
                API_IAM,
                serde_json::json!({ "role_name": name, "policy_name": policy }),
            )
            .await?;
            c.iam
                .put_role_policy()
                .role_name(name)
                .policy_name(policy)
                .policy_document(doc)
                .send()
                .await
                .map_err(|e| s.fail("PutRolePolicy", e))?;
        }
        for policy in live.keys().filter(|k| !want.contains_key(*k)) {
            delete_inline(c, s, name, policy).await?;
        }
        sync_tags(c, s, name, &live_tags(r.tags()), &p.tags()?).await?;
        Ok(Created {
            cloud_id: name.to_owned(),
            outputs: outputs(&r),
            ready: false,
        })
    }

    async fn sync_tags(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
        live: &BTreeMap<String, String>,
        want: &BTreeMap<String, String>,
    ) -> Result<(), ProviderError> {
        let add: BTreeMap<String, String> = want
            .iter()
            .filter(|(k, v)| live.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !add.is_empty() {
            s.mutating(
                "TagRole",
                API_IAM,
                serde_json::json!({ "role_name": name, "keys": add.keys().collect::<Vec<_>>() }),
            )
            .await?;
            c.iam
                .tag_role()
                .role_name(name)
                .set_tags(Some(iam_tags(s, &add)?))
                .send()
                .await
                .map_err(|e| s.fail("TagRole", e))?;
        }
        let remove: Vec<String> = live
            .keys()
            .filter(|k| !want.contains_key(*k))
            .cloned()
            .collect();
        if !remove.is_empty() {
            s.mutating(
                "UntagRole",
                API_IAM,
                serde_json::json!({ "role_name": name, "keys": remove }),
            )
            .await?;
            c.iam
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| s.fail("UntagRole", e))?;
        }
        Ok(())
    }

    async fn detach(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
        arn: &str,
    ) -> Result<(), ProviderError> {
        s.mutating(
            "DetachRolePolicy",
            API_IAM,
            serde_json::json!({ "role_name": name, "policy_arn": arn }),
        )
        .await?;
        found(
            c.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| s.fail("DetachRolePolicy", e)),
        )
        .map(drop)
    }

    async fn delete_inline(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
        policy: &str,
    ) -> Result<(), ProviderError> {
        s.mutating(
            "DeleteRolePolicy",
            API_IAM,
            serde_json::json!({ "role_name": name, "policy_name": policy }),
        )
        .await?;
        found(
            c.iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map_err(|e| s.fail("DeleteRolePolicy", e)),
        )
        .map(drop)
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
        prior: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let Some(r) = get(c, s, name).await? else {
            return Ok(None);
        };
        let recorded = Props::new(&prior.resolved, s.address);
        let live_policy = r
            .assume_role_policy_document()
            .and_then(policy_json)
            .map(|j| j.to_string())
            .unwrap_or_default();
        // The recorded template and vars when they still produce the live document.
        let (policy, vars) = match trust_policy(s, recorded) {
            Ok(filled) if same_policy(&filled, &live_policy) => (
                recorded
                    .get("assume_role_policy")
                    .cloned()
                    .unwrap_or(Value::Null),
                recorded
                    .get("assume_role_policy_vars")
                    .cloned()
                    .unwrap_or(Value::Map(BTreeMap::new())),
            ),
            _ => (Value::from(live_policy), Value::Map(BTreeMap::new())),
        };
        let want_inline = inline_policies(recorded).unwrap_or_default();
        let inline = inline(c, s, name)
            .await?
            .into_iter()
            .map(|(k, doc)| {
                let v = match (want_inline.get(&k), recorded.map("inline_policies")) {
                    (Some(w), Ok(Some(m))) if same_policy(w, &doc) => {
                        m.get(&k).cloned().unwrap_or(Value::from(doc))
                    }
                    _ => Value::from(doc),
                };
                (k, v)
            })
            .collect();
        Ok(Some(LiveObject {
            cloud_id: name.to_owned(),
            properties: Properties::from([
                ("name".to_owned(), Value::from(r.role_name())),
                ("path".to_owned(), Value::from(r.path())),
                (
                    "description".to_owned(),
                    Value::from(r.description().unwrap_or_default()),
                ),
                ("assume_role_policy".to_owned(), policy),
                ("assume_role_policy_vars".to_owned(), vars),
                (
                    "managed_policy_arns".to_owned(),
                    strings_value(attached(c, s, name).await?),
                ),
                ("inline_policies".to_owned(), Value::Map(inline)),
                ("tags".to_owned(), tags_value(&live_tags(r.tags()))),
            ]),
            outputs: outputs(&r),
        }))
    }

    /// botocore's `RoleExists`.
    pub(crate) async fn wait_ready(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<Properties, ProviderError> {
        poll(
            s,
            API_IAM_READ,
            Waiter::new("RoleExists", 1, 20),
            || async {
                Ok(match get(c, s, name).await? {
                    Some(r) => Poll::Done(outputs(&r)),
                    None => Poll::Pending("not visible yet".to_owned()),
                })
            },
        )
        .await
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        name: &str,
    ) -> Result<(), ProviderError> {
        if get(c, s, name).await?.is_none() {
            return Ok(());
        }
        // IAM refuses to delete a role with attachments, inline policies or instance profiles.
        s.read(API_IAM_READ).await;
        let profiles = found(
            c.iam
                .list_instance_profiles_for_role()
                .role_name(name)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| s.fail("ListInstanceProfilesForRole", e)),
        )?
        .unwrap_or_default();
        for profile in profiles {
            let profile = profile.instance_profile_name();
            s.mutating(
                "RemoveRoleFromInstanceProfile",
                API_IAM,
                serde_json::json!({ "role_name": name, "instance_profile_name": profile }),
            )
            .await?;
            found(
                c.iam
                    .remove_role_from_instance_profile()
                    .role_name(name)
                    .instance_profile_name(profile)
                    .send()
                    .await
                    .map_err(|e| s.fail("RemoveRoleFromInstanceProfile", e)),
            )?;
        }
        for arn in attached(c, s, name).await? {
            detach(c, s, name, &arn).await?;
        }
        for policy in inline(c, s, name).await?.into_keys() {
            delete_inline(c, s, name, &policy).await?;
        }
        retry_conflicts(s, DEPENDENTS_GRACE, || async {
            s.mutating(
                "DeleteRole",
                API_IAM,
                serde_json::json!({ "role_name": name }),
            )
            .await?;
            found(
                c.iam
                    .delete_role()
                    .role_name(name)
                    .send()
                    .await
                    .map_err(|e| s.fail("DeleteRole", e)),
            )
        })
        .await
        .map(drop)
    }
}

pub(crate) mod oidc {
    //! The OIDC provider kind. Its `url` property is the cluster's issuer (`https://…`); its
    //! `url` output is the issuer without the scheme, as IRSA trust policy conditions use it.

    use slipway_provider::{Created, LiveObject, Properties, ResourceState};

    use super::*;
    use crate::provider::props::{strings_value, tags_value};
    use crate::provider::session::{Session, found};
    use crate::provider::{API_IAM_READ, Clients};

    fn host_path(url: &str) -> &str {
        url.strip_prefix("https://")
            .unwrap_or(url)
            .trim_end_matches('/')
    }

    /// What IAM says about one provider.
    struct Live {
        url: String,
        client_ids: Vec<String>,
        thumbprints: Vec<String>,
        tags: Vec<Tag>,
    }

    async fn get(c: &Clients, s: &Session<'_>, arn: &str) -> Result<Option<Live>, ProviderError> {
        s.read(API_IAM_READ).await;
        let out = found(
            c.iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .map_err(|e| s.fail("GetOpenIDConnectProvider", e)),
        )?;
        Ok(out.map(|o| Live {
            url: o.url().unwrap_or_default().to_owned(),
            client_ids: o.client_id_list().to_vec(),
            thumbprints: o.thumbprint_list().to_vec(),
            tags: o.tags().to_vec(),
        }))
    }

    fn outputs(arn: &str, url: &str) -> Properties {
        Properties::from([
            ("arn".to_owned(), Value::from(arn)),
            ("url".to_owned(), Value::from(host_path(url))),
        ])
    }

    pub(crate) async fn create(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
    ) -> Result<Created, ProviderError> {
        let url = p.str("url")?;
        s.read(API_IAM_READ).await;
        let list = c
            .iam
            .list_open_id_connect_providers()
            .send()
            .await
            .map_err(|e| s.fail("ListOpenIDConnectProviders", e))?;
        // The ARN ends with the issuer's host and path, unique per account.
        let suffix = format!("oidc-provider/{}", host_path(url));
        let existing = list
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|e| e.arn())
            .find(|arn| arn.ends_with(&suffix))
            .map(str::to_owned);
        let arn = match existing {
            Some(arn) => {
                let live = get(c, s, &arn).await?;
                if !live.is_some_and(|l| owned(s, &l.tags)) {
                    return Err(not_owned(
                        s,
                        "CreateOpenIDConnectProvider",
                        &format!("OIDC provider `{arn}`"),
                    ));
                }
                arn
            }
            None => {
                let client_ids = p.strings("client_id_list")?;
                let thumbprints = p.strings("thumbprint_list")?;
                s.mutating(
                    "CreateOpenIDConnectProvider",
                    API_IAM,
                    serde_json::json!({ "url": url, "client_id_list": client_ids }),
                )
                .await?;
                let out = c
                    .iam
                    .create_open_id_connect_provider()
                    .url(url)
                    .set_client_id_list(Some(client_ids))
                    .set_thumbprint_list((!thumbprints.is_empty()).then_some(thumbprints))
                    .set_tags(Some(iam_tags(s, &p.tags()?)?))
                    .send()
                    .await
                    .map_err(|e| s.fail("CreateOpenIDConnectProvider", e))?;
                out.open_id_connect_provider_arn()
                    .ok_or_else(|| {
                        s.missing("CreateOpenIDConnectProvider", "OpenIDConnectProviderArn")
                    })?
                    .to_owned()
            }
        };
        converge(c, s, p, &arn).await
    }

    pub(crate) async fn converge(
        c: &Clients,
        s: &Session<'_>,
        p: Props<'_>,
        arn: &str,
    ) -> Result<Created, ProviderError> {
        let live = get(c, s, arn).await?.ok_or_else(|| {
            s.error(
                ErrorClass::NotFound,
                "GetOpenIDConnectProvider",
                "NoSuchEntity",
                arn,
            )
        })?;
        let want = p.strings("client_id_list")?;
        for id in want.iter().filter(|w| !live.client_ids.contains(w)) {
            s.mutating(
                "AddClientIDToOpenIDConnectProvider",
                API_IAM,
                serde_json::json!({ "arn": arn, "client_id": id }),
            )
            .await?;
            c.iam
                .add_client_id_to_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(id)
                .send()
                .await
                .map_err(|e| s.fail("AddClientIDToOpenIDConnectProvider", e))?;
        }
        for id in live.client_ids.iter().filter(|l| !want.contains(l)) {
            s.mutating(
                "RemoveClientIDFromOpenIDConnectProvider",
                API_IAM,
                serde_json::json!({ "arn": arn, "client_id": id }),
            )
            .await?;
            c.iam
                .remove_client_id_from_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .client_id(id)
                .send()
                .await
                .map_err(|e| s.fail("RemoveClientIDFromOpenIDConnectProvider", e))?;
        }
        // No thumbprints wanted means "IAM's own choice": never overwrite those.
        let thumbprints = p.strings("thumbprint_list")?;
        if !thumbprints.is_empty() && thumbprints != live.thumbprints {
            s.mutating(
                "UpdateOpenIDConnectProviderThumbprint",
                API_IAM,
                serde_json::json!({ "arn": arn, "thumbprint_list": thumbprints }),
            )
            .await?;
            c.iam
                .update_open_id_connect_provider_thumbprint()
                .open_id_connect_provider_arn(arn)
                .set_thumbprint_list(Some(thumbprints))
                .send()
                .await
                .map_err(|e| s.fail("UpdateOpenIDConnectProviderThumbprint", e))?;
        }
        let (live_tags, want_tags) = (live_tags(&live.tags), p.tags()?);
        let add: BTreeMap<String, String> = want_tags
            .iter()
            .filter(|(k, v)| live_tags.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !add.is_empty() {
            s.mutating(
                "TagOpenIDConnectProvider",
                API_IAM,
                serde_json::json!({ "arn": arn, "keys": add.keys().collect::<Vec<_>>() }),
            )
            .await?;
            c.iam
                .tag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tags(Some(iam_tags(s, &add)?))
                .send()
                .await
                .map_err(|e| s.fail("TagOpenIDConnectProvider", e))?;
        }
        let remove: Vec<String> = live_tags
            .keys()
            .filter(|k| !want_tags.contains_key(*k))
            .cloned()
            .collect();
        if !remove.is_empty() {
            s.mutating(
                "UntagOpenIDConnectProvider",
                API_IAM,
                serde_json::json!({ "arn": arn, "keys": remove }),
            )
            .await?;
            c.iam
                .untag_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| s.fail("UntagOpenIDConnectProvider", e))?;
        }
        Ok(Created {
            cloud_id: arn.to_owned(),
            outputs: outputs(arn, p.str("url")?),
            ready: true,
        })
    }

    pub(crate) async fn read(
        c: &Clients,
        s: &Session<'_>,
        arn: &str,
        prior: &ResourceState,
    ) -> Result<Option<LiveObject>, ProviderError> {
        let Some(live) = get(c, s, arn).await? else {
            return Ok(None);
        };
        let recorded = Props::new(&prior.resolved, s.address);
        let url = match recorded.opt_str("url")? {
            Some(r) if host_path(r) == host_path(&live.url) => r.to_owned(),
            _ => format!("https://{}", host_path(&live.url)),
        };
        // IAM fills in thumbprints itself when none were sent.
        let thumbprints = if recorded.strings("thumbprint_list")?.is_empty() {
            Vec::new()
        } else {
            live.thumbprints
        };
        Ok(Some(LiveObject {
            cloud_id: arn.to_owned(),
            properties: Properties::from([
                ("url".to_owned(), Value::from(url.as_str())),
                ("client_id_list".to_owned(), strings_value(&live.client_ids)),
                ("thumbprint_list".to_owned(), strings_value(thumbprints)),
                ("tags".to_owned(), tags_value(&live_tags(&live.tags))),
            ]),
            outputs: outputs(arn, &url),
        }))
    }

    pub(crate) async fn delete(
        c: &Clients,
        s: &Session<'_>,
        arn: &str,
    ) -> Result<(), ProviderError> {
        s.mutating(
            "DeleteOpenIDConnectProvider",
            API_IAM,
            serde_json::json!({ "arn": arn }),
        )
        .await?;
        found(
            c.iam
                .delete_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .map_err(|e| s.fail("DeleteOpenIDConnectProvider", e)),
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_documents_compare_as_json_after_url_decoding() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert!(same_policy(
            encoded,
            r#"{"Statement":[],"Version":"2012-10-17"}"#
        ));
        assert!(!same_policy(
            encoded,
            r#"{"Version":"2012-10-17","Statement":[{}]}"#
        ));
        assert_eq!(url_decode("a%2Fb+c%20d"), "a/b+c d");
    }
}
