//! Identities: the control plane's user-assigned identity with its network role, and per
//! workload identity a user-assigned identity, a federated credential trusting the cluster's
//! OIDC issuer for one service account, and its role assignments.
//!
//! Role definitions named by display name are left for the provider to resolve (a lookup needs
//! ARM); this module never guesses a role definition GUID from a name.

use slipway_provider::{Address, Value};

use crate::aks::AksOut;
use crate::expand::{ArmResource, Ctx, ExpandError, check_name, obj, strings};
use crate::ids::{is_guid, name_guid, role_assignment, short_hash};
use crate::kinds::{
    API_AUTHORIZATION, API_MANAGED_IDENTITY, FEDERATED_IDENTITY_CREDENTIAL, ROLE_ASSIGNMENT,
    USER_ASSIGNED_IDENTITY,
};
use crate::network::NetworkOut;

/// The built-in "Network Contributor" role: lets AKS join nodes and load balancers to the VNet.
const NETWORK_CONTRIBUTOR: &str = "4d97b98b-1d4f-4787-a291-c67834d212e7";
/// The audience Entra ID expects in Kubernetes service account tokens it exchanges.
const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The control plane's identity.
pub(crate) struct ControlPlaneOut {
    /// The identity resource.
    pub identity: Address,
    /// Its ARM id (the key of the cluster's `userAssignedIdentities`).
    pub identity_id: String,
    /// Its Network Contributor assignment on the VNet, which must exist before the cluster.
    pub network_role: Address,
}

fn check_identity_name(name: &str) -> Result<(), ExpandError> {
    check_name(
        "user-assigned identity name",
        name,
        128,
        "3-128 letters, digits, `-` or `_`, starting with a letter or digit",
        |i, _, c| c.is_ascii_alphanumeric() || (i != 0 && (c == '-' || c == '_')),
    )?;
    if name.len() < 3 {
        return Err(ExpandError::InvalidName {
            what: "user-assigned identity name",
            name: name.to_owned(),
            rule: "at least 3 characters",
        });
    }
    Ok(())
}

fn push_identity(
    ctx: &mut Ctx<'_>,
    address: Address,
    name: &str,
    resource_group: &Address,
) -> Result<String, ExpandError> {
    check_identity_name(name)?;
    let id = ctx.arm.user_assigned_identity(name);
    ctx.push(ArmResource {
        id: id.clone(),
        api_version: API_MANAGED_IDENTITY,
        body: obj([("location", ctx.location()), ("tags", ctx.tags(&address))]),
        extra: Vec::new(),
        depends_on: vec![resource_group.clone()],
        address,
    });
    Ok(id)
}

/// Adds the control-plane identity and its Network Contributor assignment on the VNet.
pub(crate) fn expand_control_plane_identity(
    ctx: &mut Ctx<'_>,
    net: &NetworkOut,
) -> Result<ControlPlaneOut, ExpandError> {
    let identity = ctx.address(USER_ASSIGNED_IDENTITY, "control-plane");
    let name = format!("id-{}-control-plane", ctx.cluster.name);
    let identity_id = push_identity(ctx, identity.clone(), &name, &net.resource_group)?;
    let network_role = ctx.address(ROLE_ASSIGNMENT, "control-plane-network-contributor");
    let definition = ctx.arm.role_definition(NETWORK_CONTRIBUTOR);
    push_role_assignment(
        ctx,
        RoleAssignmentSpec {
            address: network_role.clone(),
            role: "Network Contributor",
            definition: Some(definition),
            scope: &net.vnet_id,
            principal: &identity,
            depends_on: vec![net.vnet.clone()],
        },
    );
    Ok(ControlPlaneOut {
        identity,
        identity_id,
        network_role,
    })
}

struct RoleAssignmentSpec<'s> {
    address: Address,
    role: &'s str,
    definition: Option<String>,
    scope: &'s str,
    principal: &'s Address,
    depends_on: Vec<Address>,
}

fn push_role_assignment(ctx: &mut Ctx<'_>, spec: RoleAssignmentSpec<'_>) {
    // Seeded by fleet and subscription too: two fleets (or copies of one fleet in two
    // subscriptions) granting on a shared scope must not collide on one assignment name.
    let guid = name_guid(&format!(
        "slipway/{}/{}/{}",
        ctx.fleet.name, ctx.arm.subscription, spec.address
    ));
    let mut properties = vec![
        (
            "principalId",
            Value::reference(spec.principal, "principalId"),
        ),
        // Declared so ARM skips the directory lookup that fails for a just-created identity.
        ("principalType", Value::from("ServicePrincipal")),
    ];
    if let Some(definition) = spec.definition {
        properties.push(("roleDefinitionId", Value::from(definition)));
    }
    ctx.push(ArmResource {
        id: role_assignment(spec.scope, &guid),
        api_version: API_AUTHORIZATION,
        body: obj([(
            "properties",
            Value::Map(
                properties
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            ),
        )]),
        extra: vec![
            ("role", Value::from(spec.role)),
            ("scope", Value::from(spec.scope)),
        ],
        depends_on: spec.depends_on,
        address: spec.address,
    });
}

/// The subscription a scope lives in, when it names one.
fn scope_subscription(scope: &str) -> Option<&str> {
    let rest = scope.strip_prefix("/subscriptions/")?;
    let sub = rest.split('/').next()?;
    is_guid(sub).then_some(sub)
}

fn check_scope(identity: &str, scope: &str) -> Result<(), ExpandError> {
    let well_formed = (scope.starts_with("/subscriptions/") || scope.starts_with("/providers/"))
        && scope[1..]
            .split('/')
            .all(|s| !s.is_empty() && !s.chars().any(char::is_whitespace));
    let sub_ok = !scope.starts_with("/subscriptions/") || scope_subscription(scope).is_some();
    if well_formed && sub_ok {
        Ok(())
    } else {
        Err(ExpandError::InvalidScope {
            identity: identity.to_owned(),
            scope: scope.to_owned(),
        })
    }
}

/// The role definition id when the blueprint gives one (a full id or a GUID); `None` for a
/// display name, which the provider resolves at create time.
fn role_definition(ctx: &Ctx<'_>, role: &str, scope: &str) -> Option<String> {
    if role.starts_with('/') && role.contains("/providers/Microsoft.Authorization/roleDefinitions/")
    {
        return Some(role.to_owned());
    }
    if !is_guid(role) {
        return None;
    }
    let guid = role.to_ascii_lowercase();
    Some(match scope_subscription(scope) {
        Some(sub) => {
            format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}")
        }
        None => ctx.arm.role_definition(&guid),
    })
}

/// `Storage Blob Data Reader` → `storage-blob-data-reader`, for readable addresses.
fn slug(role: &str) -> String {
    let mut out = String::new();
    for c in role.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 40 {
            break;
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "role".to_owned()
    } else {
        out.to_owned()
    }
}

/// Adds, per workload identity, its identity, federated credential and role assignments.
pub(crate) fn expand_workload_identities(
    ctx: &mut Ctx<'_>,
    aks: &AksOut,
) -> Result<(), ExpandError> {
    let cluster = ctx.cluster;
    for wi in &cluster.workload_identities {
        let identity = ctx.address(USER_ASSIGNED_IDENTITY, &format!("wi-{}", wi.name));
        let name = format!("id-{}-wi-{}", cluster.name, wi.name);
        push_identity(ctx, identity.clone(), &name, &aks.resource_group)?;

        let credential = ctx.address(FEDERATED_IDENTITY_CREDENTIAL, &format!("wi-{}", wi.name));
        let credential_name = format!("aks-{}", cluster.name);
        ctx.push(ArmResource {
            id: ctx
                .arm
                .federated_identity_credential(&name, &credential_name),
            api_version: API_MANAGED_IDENTITY,
            body: obj([(
                "properties",
                obj([
                    ("audiences", strings(&[TOKEN_EXCHANGE_AUDIENCE])),
                    ("issuer", Value::reference(&aks.cluster, "oidcIssuerUrl")),
                    (
                        "subject",
                        Value::from(format!(
                            "system:serviceaccount:{}:{}",
                            wi.namespace, wi.service_account
                        )),
                    ),
                ]),
            )]),
            extra: Vec::new(),
            depends_on: vec![identity.clone()],
            address: credential,
        });

        for ra in &wi.azure_role_assignments {
            check_scope(&wi.name, &ra.scope)?;
            let address = ctx.address(
                ROLE_ASSIGNMENT,
                &format!(
                    "wi-{}-{}-{}",
                    wi.name,
                    slug(&ra.role),
                    short_hash(&format!("{}\n{}", ra.role, ra.scope))
                ),
            );
            let definition = role_definition(ctx, &ra.role, &ra.scope);
            push_role_assignment(
                ctx,
                RoleAssignmentSpec {
                    address,
                    role: &ra.role,
                    definition,
                    scope: &ra.scope,
                    principal: &identity,
                    depends_on: Vec::new(),
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_dashed_and_bounded() {
        assert_eq!(slug("Storage Blob Data Reader"), "storage-blob-data-reader");
        assert_eq!(slug("  AcrPull "), "acrpull");
        assert_eq!(slug("…"), "role");
        assert!(slug(&"a b ".repeat(40)).len() <= 40);
    }

    #[test]
    fn scopes_must_be_arm_ids() {
        let sub = "/subscriptions/00000000-0000-0000-0000-000000000002";
        assert!(check_scope("w", sub).is_ok());
        assert!(check_scope("w", &format!("{sub}/resourceGroups/rg")).is_ok());
        assert!(check_scope("w", "/providers/Microsoft.Management/managementGroups/mg").is_ok());
        assert!(check_scope("w", "/subscriptions/…").is_err());
        assert!(check_scope("w", &format!("{sub}/")).is_err());
        assert!(check_scope("w", "subscriptions/x").is_err());
        assert_eq!(
            scope_subscription(&format!("{sub}/resourceGroups/rg")),
            Some(&sub[15..])
        );
    }

    #[test]
    fn identity_names_follow_the_managed_identity_rules() {
        assert!(check_identity_name("id-a").is_ok());
        assert!(check_identity_name("ab").is_err());
        assert!(check_identity_name("-abc").is_err());
        assert!(check_identity_name(&"a".repeat(129)).is_err());
    }
}
