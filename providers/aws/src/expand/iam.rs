//! IAM: the cluster and node roles, the cluster's OIDC provider, and the roles of add-on
//! controllers and workload identities (trusting the OIDC provider for IRSA, or
//! `pods.eks.amazonaws.com` for Pod Identity).
//!
//! Trust policies are JSON strings with a fixed key order. A trust policy must never embed a
//! cloud id: where IRSA needs the OIDC provider's ARN and URL, the policy holds `{{name}}`
//! placeholders and `assume_role_policy_vars` maps each name to a reference; the provider
//! substitutes the resolved values before calling IAM. (`{{…}}` cannot clash with IAM's own
//! `${aws:…}` policy variables.)

use std::collections::BTreeMap;

use slipway_provider::{Address, Value};

use super::eks::PlannedAddon;
use super::{Ctx, SINGLETON, props};
use crate::{kinds, names};

/// The audience EKS-issued service account tokens carry for AWS STS.
const STS_AUDIENCE: &str = "sts.amazonaws.com";

/// Who may assume a role.
enum Trust<'s> {
    /// An AWS service, e.g. `eks.amazonaws.com`.
    Service(&'static str),
    /// EKS Pod Identity (the agent assumes the role and tags the session).
    PodIdentity,
    /// IRSA: one Kubernetes service account, through the cluster's OIDC provider.
    Irsa {
        oidc: &'s Address,
        namespace: &'s str,
        service_account: &'s str,
    },
}

impl Trust<'_> {
    /// The trust policy document and the values of its placeholders.
    fn policy(&self) -> (String, BTreeMap<String, Value>) {
        let statement = match self {
            Trust::Service(service) => serde_json::json!({
                "Effect": "Allow",
                "Principal": { "Service": service },
                "Action": "sts:AssumeRole",
            }),
            Trust::PodIdentity => serde_json::json!({
                "Effect": "Allow",
                "Principal": { "Service": "pods.eks.amazonaws.com" },
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }),
            Trust::Irsa {
                namespace,
                service_account,
                ..
            } => serde_json::json!({
                "Effect": "Allow",
                "Principal": { "Federated": "{{oidc_provider_arn}}" },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        "{{oidc_provider_url}}:sub": format!("system:serviceaccount:{namespace}:{service_account}"),
                        "{{oidc_provider_url}}:aud": STS_AUDIENCE,
                    }
                },
            }),
        };
        let document =
            serde_json::json!({ "Version": "2012-10-17", "Statement": [statement] }).to_string();
        let vars = match self {
            Trust::Irsa { oidc, .. } => BTreeMap::from([
                (
                    "oidc_provider_arn".to_owned(),
                    Value::reference(oidc, "arn"),
                ),
                (
                    "oidc_provider_url".to_owned(),
                    Value::reference(oidc, "url"),
                ),
            ]),
            _ => BTreeMap::new(),
        };
        (document, vars)
    }
}

/// Adds a role named after `purpose` and returns its address.
fn role(
    ctx: &mut Ctx<'_>,
    purpose: &str,
    description: String,
    trust: &Trust<'_>,
    mut managed_policy_arns: Vec<String>,
) -> Address {
    let addr = ctx.addr(kinds::IAM_ROLE, purpose);
    let name = names::iam_role(&ctx.fleet.name, &ctx.cluster.name, purpose);
    let (document, vars) = trust.policy();
    // Attachments are a set; sorting keeps diffs stable whatever order the blueprint used.
    managed_policy_arns.sort();
    managed_policy_arns.dedup();
    let tags = ctx.tags(&addr, &name);
    ctx.push_tagged(
        addr.clone(),
        props([
            ("name", Value::from(name)),
            ("path", Value::from("/")),
            ("description", Value::from(description)),
            ("assume_role_policy", Value::from(document)),
            ("assume_role_policy_vars", Value::Map(vars)),
            ("managed_policy_arns", Value::from(managed_policy_arns)),
            // Slipway attaches only managed policies; listing none makes the provider remove
            // inline policies someone added by hand.
            ("inline_policies", Value::Map(BTreeMap::new())),
            ("tags", Value::Map(tags)),
        ]),
        vec![],
    );
    addr
}

/// The roles every cluster has.
pub(super) struct BaseRoles {
    /// Assumed by the EKS control plane.
    pub cluster: Address,
    /// Assumed by the managed nodes' instance profile.
    pub nodes: Address,
}

/// Adds the cluster role and the node role.
pub(super) fn base_roles(ctx: &mut Ctx<'_>) -> BaseRoles {
    let p = ctx.partition;
    let cluster_name = ctx.cluster.name.clone();
    let cluster = role(
        ctx,
        "cluster",
        format!("EKS control plane of {cluster_name}"),
        &Trust::Service("eks.amazonaws.com"),
        vec![names::managed_policy_arn(p, "AmazonEKSClusterPolicy")],
    );
    let nodes = role(
        ctx,
        "nodes",
        format!("EKS managed nodes of {cluster_name}"),
        &Trust::Service("ec2.amazonaws.com"),
        [
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
            "AmazonEKS_CNI_Policy",
            "AmazonSSMManagedInstanceCore",
        ]
        .into_iter()
        .map(|n| names::managed_policy_arn(p, n))
        .collect(),
    );
    BaseRoles { cluster, nodes }
}

/// Adds the cluster's IAM OIDC provider, which IRSA roles trust.
///
/// No thumbprint is sent: IAM no longer uses thumbprints for EKS issuers (it trusts the
/// issuer's certificate through its own CA library), and when `ThumbprintList` is omitted IAM
/// fetches the issuer's intermediate CA thumbprint itself. Pinning one here would only break
/// when AWS rotates the certificate.
pub(super) fn oidc_provider(ctx: &mut Ctx<'_>, eks: &Address) -> Address {
    let addr = ctx.addr(kinds::IAM_OIDC_PROVIDER, SINGLETON);
    ctx.push(
        addr.clone(),
        props([
            ("url", Value::reference(eks, "oidc_issuer")),
            ("client_id_list", Value::from(vec![STS_AUDIENCE])),
            ("thumbprint_list", Value::List(Vec::new())),
        ]),
        vec![],
    );
    addr
}

/// The trust for a service account in the cluster's workload identity mode.
fn service_account_trust<'s>(
    ctx: &Ctx<'_>,
    oidc: &'s Address,
    namespace: &'s str,
    service_account: &'s str,
) -> Trust<'s> {
    if ctx.pod_identity() {
        Trust::PodIdentity
    } else {
        Trust::Irsa {
            oidc,
            namespace,
            service_account,
        }
    }
}

/// Adds a role for each add-on whose controller needs AWS permissions; returns them by
/// add-on name.
pub(super) fn addon_roles(
    ctx: &mut Ctx<'_>,
    addons: &[PlannedAddon],
    oidc: &Address,
) -> BTreeMap<&'static str, Address> {
    let mut roles = BTreeMap::new();
    for addon in addons {
        let Some(identity) = addon.spec.identity else {
            continue;
        };
        let trust = service_account_trust(ctx, oidc, identity.namespace, identity.service_account);
        let policy = names::managed_policy_arn(ctx.partition, identity.managed_policy);
        let description = format!("EKS add-on {} of {}", addon.spec.eks_name, ctx.cluster.name);
        let addr = role(
            ctx,
            &format!("addon-{}", addon.spec.name),
            description,
            &trust,
            vec![policy],
        );
        roles.insert(addon.spec.name, addr);
    }
    roles
}

/// Adds the role of one workload identity.
pub(super) fn workload_identity_role(
    ctx: &mut Ctx<'_>,
    oidc: &Address,
    name: &str,
    namespace: &str,
    service_account: &str,
    policy_arns: &[String],
) -> Address {
    let trust = service_account_trust(ctx, oidc, namespace, service_account);
    let description = format!(
        "Workload identity {namespace}/{service_account} of {}",
        ctx.cluster.name
    );
    role(
        ctx,
        &format!("wi-{name}"),
        description,
        &trust,
        policy_arns.to_vec(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irsa_trust_names_the_service_account_and_the_sts_audience() {
        let oidc = Address::new("c", kinds::IAM_OIDC_PROVIDER, "main");
        let (doc, vars) = Trust::Irsa {
            oidc: &oidc,
            namespace: "orders",
            service_account: "orders-api",
        }
        .policy();
        let json: serde_json::Value = serde_json::from_str(&doc).unwrap();
        let condition = &json["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(
            condition["{{oidc_provider_url}}:sub"],
            "system:serviceaccount:orders:orders-api"
        );
        assert_eq!(condition["{{oidc_provider_url}}:aud"], "sts.amazonaws.com");
        assert_eq!(
            json["Statement"][0]["Principal"]["Federated"],
            "{{oidc_provider_arn}}"
        );
        assert_eq!(vars["oidc_provider_arn"], Value::reference(&oidc, "arn"));
        assert_eq!(vars["oidc_provider_url"], Value::reference(&oidc, "url"));
    }

    #[test]
    fn pod_identity_trust_allows_session_tags_and_needs_no_placeholders() {
        let (doc, vars) = Trust::PodIdentity.policy();
        assert_eq!(
            doc,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}"#
        );
        assert!(vars.is_empty());
    }
}
