//! Microsoft.ManagedIdentity (user-assigned identities with their principal, client and
//! tenant ids, federated identity credentials) and Microsoft.Authorization (role assignments
//! at any scope, built-in role definitions).
//!
//! A new identity's principal can be made unknown to role assignments for a while
//! (`identity_propagation_ms`), as Entra ID replication makes it in the real cloud. Scopes in
//! namespaces the emulator does not serve are accepted unchecked. Nothing here may know about
//! clusters or networks.

use serde_json::{Value, json};

use super::resources::Planned;
use super::store::{Resource, State};
use super::{ArmCtx, ArmError, ArmResult, Reply, Rid, catalog, parse_id, timestamp};

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(v, |v, k| v.get(*k))
        .and_then(Value::as_str)
}

fn bad_request(message: String) -> ArmError {
    ArmError::bad("BadRequest", message)
}

/// PUT of an identity or a federated credential (synchronous, as in ARM).
pub(crate) fn put(
    ctx: &mut ArmCtx<'_>,
    rtype: &str,
    rid: &Rid,
    existing: Option<&Resource>,
    body: Value,
) -> ArmResult<Planned> {
    if rtype == catalog::IDENTITY_TYPE {
        let name = rid.name();
        let ok = (3..=128).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(bad_request(format!(
                "Resource name '{name}' is invalid: 3-128 letters, digits, '-' or '_', starting with a letter or digit."
            )));
        }
        let location = body
            .get("location")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ArmError::bad(
                    "LocationRequired",
                    "The location property is required for this definition.",
                )
            })?;
        let (principal, client) = match existing {
            Some(e) => (
                str_at(&e.body, &["properties", "principalId"])
                    .unwrap_or_default()
                    .to_owned(),
                str_at(&e.body, &["properties", "clientId"])
                    .unwrap_or_default()
                    .to_owned(),
            ),
            None => (ctx.uuid(), ctx.uuid()),
        };
        let mut stored = json!({
            "location": location,
            "properties": {
                "tenantId": ctx.tenant(),
                "principalId": principal,
                "clientId": client,
                "isolationScope": "None",
            },
        });
        if let Some(tags) = body.get("tags") {
            stored["tags"] = tags.clone();
        }
        return Ok(Planned::at_once(stored));
    }
    let issuer = str_at(&body, &["properties", "issuer"]).unwrap_or_default();
    let subject = str_at(&body, &["properties", "subject"]).unwrap_or_default();
    let audiences = body
        .pointer("/properties/audiences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !issuer.starts_with("https://") {
        return Err(bad_request(format!(
            "Issuer '{issuer}' is invalid: it must be an https URL."
        )));
    }
    if subject.is_empty() {
        return Err(bad_request(
            "The subject of a federated identity credential is required.".to_owned(),
        ));
    }
    if audiences.len() != 1
        || audiences
            .iter()
            .any(|a| a.as_str().is_none_or(str::is_empty))
    {
        return Err(bad_request(
            "A federated identity credential must have exactly one audience.".to_owned(),
        ));
    }
    let parent = rid.parent().map(|p| p.key()).unwrap_or_default();
    let duplicate = ctx.arm.children(&parent, catalog::FEDERATED_TYPE).any(|c| {
        !c.name().eq_ignore_ascii_case(rid.name())
            && str_at(&c.body, &["properties", "issuer"]) == Some(issuer)
            && str_at(&c.body, &["properties", "subject"]) == Some(subject)
    });
    if duplicate {
        return Err(ArmError::new(
            409,
            "Conflict",
            format!(
                "A federated identity credential with issuer '{issuer}' and subject '{subject}' already exists on this identity."
            ),
        ));
    }
    Ok(Planned::at_once(json!({
        "properties": { "issuer": issuer, "subject": subject, "audiences": audiences },
    })))
}

fn role_guid(definition_id: &str) -> &str {
    definition_id.rsplit('/').next().unwrap_or(definition_id)
}

fn role_id(scope: &str, guid: &str) -> String {
    // ARM shows built-in definitions under the subscription of the scope.
    let sub = scope
        .trim_start_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .chunks(2)
        .next()
        .filter(|c| c.len() == 2 && c[0].eq_ignore_ascii_case("subscriptions"))
        .map(|c| c[1].to_owned());
    match sub {
        Some(s) => {
            format!("/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
        }
        None => format!("/providers/Microsoft.Authorization/roleDefinitions/{guid}"),
    }
}

fn render_definition(scope: &str, (guid, name, description): &(&str, &str, &str)) -> Value {
    json!({
        "id": role_id(scope, guid),
        "name": guid,
        "type": catalog::ROLE_DEFINITION,
        "properties": {
            "roleName": name,
            "type": "BuiltInRole",
            "description": description,
            "assignableScopes": ["/"],
            "permissions": [],
        },
    })
}

/// GET of a role definition, or the list (optionally `$filter=roleName eq '…'`).
pub(crate) fn role_definition(
    _ctx: &mut ArmCtx<'_>,
    scope: &str,
    id: Option<&str>,
    query: &[(String, String)],
) -> ArmResult<Reply> {
    if let Some(id) = id {
        let role = catalog::ROLES
            .iter()
            .find(|(g, ..)| g.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                ArmError::new(
                    404,
                    "RoleDefinitionDoesNotExist",
                    format!("The specified role definition with ID '{id}' does not exist."),
                )
            })?;
        return Ok(Reply::json(200, render_definition(scope, role)));
    }
    let filter = query
        .iter()
        .find(|(k, _)| k == "$filter")
        .map(|(_, v)| v.as_str());
    let wanted = match filter {
        None => None,
        Some(f) => {
            let name = f
                .trim()
                .strip_prefix("roleName eq '")
                .and_then(|r| r.strip_suffix('\''))
                .ok_or_else(|| {
                    ArmError::bad(
                        "InvalidFilterInQueryString",
                        format!("Invalid filter '{f}': only roleName eq '<name>' is supported."),
                    )
                })?;
            Some(name.to_owned())
        }
    };
    let value: Vec<Value> = catalog::ROLES
        .iter()
        .filter(|(_, n, _)| wanted.as_deref().is_none_or(|w| w == *n))
        .map(|r| render_definition(scope, r))
        .collect();
    Ok(Reply::json(200, json!({ "value": value })))
}

fn render_assignment(res: &Resource) -> Value {
    json!({
        "id": res.id,
        "name": res.name(),
        "type": catalog::ROLE_ASSIGNMENT,
        "properties": res.body.get("properties").cloned().unwrap_or(Value::Null),
    })
}

/// Checks that a scope exists when it is one the emulator serves.
fn check_scope(ctx: &ArmCtx<'_>, scope: &str) -> ArmResult<()> {
    let segs: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
    if segs.len() == 4 && segs[2].eq_ignore_ascii_case("resourceGroups") {
        if ctx.arm.get(scope).is_none() {
            return Err(ArmError::new(
                404,
                "ResourceGroupNotFound",
                format!("Resource group '{}' could not be found.", segs[3]),
            ));
        }
        return Ok(());
    }
    if let Some(rid) = parse_id(scope)
        && catalog::type_spec(&rid.rtype()).is_some()
        && ctx.arm.get(scope).is_none()
    {
        return Err(super::resources::not_found(&rid));
    }
    Ok(())
}

/// PUT/GET/DELETE of a role assignment at any scope, or the list at a scope.
pub(crate) fn role_assignment(
    ctx: &mut ArmCtx<'_>,
    method: &str,
    scope: &str,
    name: Option<&str>,
    body: Option<Value>,
) -> ArmResult<Reply> {
    let scope_key = scope.to_ascii_lowercase();
    let Some(name) = name else {
        if method != "GET" {
            return Err(ArmError::new(
                405,
                "MethodNotAllowed",
                "Only GET lists role assignments.",
            ));
        }
        let value: Vec<Value> = ctx
            .arm
            .resources
            .iter()
            .filter(|(k, r)| r.rtype == catalog::ROLE_ASSIGNMENT && k.starts_with(&scope_key))
            .map(|(_, r)| render_assignment(r))
            .collect();
        return Ok(Reply::json(200, json!({ "value": value })));
    };
    let id = format!(
        "{}/providers/Microsoft.Authorization/roleAssignments/{name}",
        scope.trim_end_matches('/')
    );
    let key = id.to_ascii_lowercase();
    let not_found = || {
        ArmError::new(
            404,
            "RoleAssignmentNotFound",
            format!("The role assignment '{name}' is not found."),
        )
    };
    match method {
        "GET" => ctx
            .arm
            .resources
            .get(&key)
            .map(|r| Reply::json(200, render_assignment(r)))
            .ok_or_else(not_found),
        "DELETE" => match ctx.arm.resources.remove(&key) {
            Some(r) => Ok(Reply::json(200, render_assignment(&r))),
            None => Ok(Reply::empty(204)),
        },
        "PUT" => {
            let body = body.unwrap_or(Value::Null);
            let definition = str_at(&body, &["properties", "roleDefinitionId"]).unwrap_or_default();
            let principal = str_at(&body, &["properties", "principalId"]).unwrap_or_default();
            if definition.is_empty() || principal.is_empty() {
                return Err(ArmError::bad(
                    "InvalidRoleAssignmentRequest",
                    "The role assignment request must name properties.roleDefinitionId and properties.principalId.",
                ));
            }
            let guid = role_guid(definition).to_ascii_lowercase();
            if !catalog::ROLES.iter().any(|(g, ..)| *g == guid) {
                return Err(ArmError::bad(
                    "RoleDefinitionDoesNotExist",
                    format!("The specified role definition with ID '{guid}' does not exist."),
                ));
            }
            check_scope(ctx, scope)?;
            let identity = ctx.arm.resources.values().find(|r| {
                r.rtype == catalog::IDENTITY_TYPE
                    && str_at(&r.body, &["properties", "principalId"]) == Some(principal)
            });
            if let Some(i) = identity
                && ctx.now < i.created_ms + ctx.faults.identity_propagation_ms
            {
                return Err(ArmError::bad(
                    "PrincipalNotFound",
                    format!(
                        "Principal {} does not exist in the directory {}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
                        principal.replace('-', ""),
                        ctx.tenant()
                    ),
                ));
            }
            let principal_type = str_at(&body, &["properties", "principalType"]).unwrap_or("User");
            let same = |r: &Resource| {
                str_at(&r.body, &["properties", "principalId"]) == Some(principal)
                    && str_at(&r.body, &["properties", "roleDefinitionId"])
                        .is_some_and(|d| role_guid(d).eq_ignore_ascii_case(&guid))
                    && str_at(&r.body, &["properties", "scope"])
                        .is_some_and(|s| s.eq_ignore_ascii_case(scope))
            };
            if let Some(old) = ctx.arm.resources.get(&key) {
                if same(old) {
                    return Ok(Reply::json(201, render_assignment(old)));
                }
                return Err(ArmError::bad(
                    "RoleAssignmentUpdateNotPermitted",
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                ));
            }
            if ctx
                .arm
                .resources
                .values()
                .any(|r| r.rtype == catalog::ROLE_ASSIGNMENT && same(r))
            {
                return Err(ArmError::new(
                    409,
                    "RoleAssignmentExists",
                    "The role assignment already exists.",
                ));
            }
            let when = timestamp(ctx.now);
            let res = Resource {
                id,
                rtype: catalog::ROLE_ASSIGNMENT.to_owned(),
                body: json!({
                    "properties": {
                        "roleDefinitionId": role_id(scope, &guid),
                        "principalId": principal,
                        "principalType": principal_type,
                        "scope": scope,
                        "condition": null,
                        "conditionVersion": null,
                        "createdOn": when,
                        "updatedOn": when,
                        "createdBy": null,
                        "updatedBy": ctx.tenant(),
                        "delegatedManagedIdentityResourceId": null,
                        "description": body.pointer("/properties/description").cloned().unwrap_or(Value::Null),
                    }
                }),
                etag: ctx.uuid(),
                created_ms: ctx.now,
                state: State::Succeeded,
                op: None,
            };
            let reply = Reply::json(201, render_assignment(&res));
            ctx.arm.resources.insert(key, res);
            Ok(reply)
        }
        m => Err(ArmError::new(
            405,
            "MethodNotAllowed",
            format!("The HTTP method '{m}' is not supported for role assignments."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_definition_ids_live_under_the_scope_subscription() {
        assert_eq!(
            role_id("/subscriptions/s/resourceGroups/rg", "g"),
            "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/g"
        );
        assert_eq!(
            role_id("/", "g"),
            "/providers/Microsoft.Authorization/roleDefinitions/g"
        );
        assert_eq!(
            role_guid("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/abc"),
            "abc"
        );
    }
}
