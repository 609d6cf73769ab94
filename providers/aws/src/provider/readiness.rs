//! Readiness evidence for one EKS cluster: the control plane (status, version, endpoint, OIDC
//! issuer), every managed node group and add-on with EKS's health issues, and for each declared
//! workload identity the IAM role it resolves to and whom the role trusts (IRSA trust policy
//! federated principals and `:sub` conditions, or the Pod Identity association).
//!
//! Read-only: it must never journal an intent or call a mutating API. Objects that do not exist
//! are reported (a missing control plane, `Missing` conditions, identity problems), never
//! errors; it normalises EKS status words but leaves judging the evidence to the engine.

use std::collections::BTreeSet;

use aws_sdk_eks::types::{AddonHealth, NodegroupHealth};
use slipway_provider::{
    AddonReadiness, Condition, ControlPlaneReadiness, IdentityMechanism, IdentityReadiness,
    NodePoolReadiness, ProviderError, ReadinessEvidence,
};

use super::eks::cluster;
use super::evidence::{live_addons, live_nodegroups};
use super::iam::{policy_json, role};
use super::session::{Session, found};
use super::{API_EKS_READ, API_IAM_READ, Clients};
use crate::addons;

/// One declared workload identity and the IAM role the expansion (or state) names for it.
pub(crate) struct IdentitySubject {
    /// The blueprint's workload identity name.
    pub name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Kubernetes service account.
    pub service_account: String,
    /// The IAM role name.
    pub role_name: String,
}

/// What the blueprint and state say about the cluster whose readiness is read.
pub(crate) struct Subject {
    /// The EKS cluster name.
    pub name: String,
    /// Whether workload identities use Pod Identity associations rather than IRSA.
    pub pod_identity: bool,
    /// The declared workload identities.
    pub identities: Vec<IdentitySubject>,
}

/// The condition of an EKS cluster, node group or add-on status word; objects reporting
/// health issues are degraded even when `ACTIVE`.
pub(crate) fn condition(status: &str, has_issues: bool) -> Condition {
    match status {
        "ACTIVE" if has_issues => Condition::Degraded,
        "ACTIVE" => Condition::Ready,
        "CREATING" | "UPDATING" | "PENDING" => Condition::Pending,
        "FAILED" | "CREATE_FAILED" | "DELETE_FAILED" | "UPDATE_FAILED" | "DELETING" => {
            Condition::Failed
        }
        // `DEGRADED`, and words newer than this code: never ready without knowing why.
        _ => Condition::Degraded,
    }
}

/// The issuer URL of an IAM OIDC provider ARN
/// (`arn:aws:iam::1:oidc-provider/oidc.eks.R.amazonaws.com/id/X` →
/// `https://oidc.eks.R.amazonaws.com/id/X`); `None` when it is not one.
pub(crate) fn issuer_of_provider_arn(arn: &str) -> Option<String> {
    let (_, host_path) = arn.split_once(":oidc-provider/")?;
    (!host_path.is_empty()).then(|| format!("https://{host_path}"))
}

/// A JSON value that IAM allows as a string or a list of strings.
fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// What an IRSA trust policy allows: the federated principals (OIDC provider ARNs) of its
/// `sts:AssumeRoleWithWebIdentity` statements and the subjects their `…:sub` conditions name.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct WebIdentityTrust {
    /// OIDC provider ARNs.
    pub providers: Vec<String>,
    /// Service account subjects.
    pub subjects: Vec<String>,
}

/// Reads the web identity trust of a policy document (plain or URL-encoded JSON).
pub(crate) fn web_identity_trust(document: &str) -> Option<WebIdentityTrust> {
    let policy = policy_json(document)?;
    let statements = match policy.get("Statement") {
        Some(serde_json::Value::Array(items)) => items.clone(),
        Some(one @ serde_json::Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    };
    let mut providers = BTreeSet::new();
    let mut subjects = BTreeSet::new();
    for st in &statements {
        let allows = st.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
        let web_identity = strings(st.get("Action"))
            .iter()
            .any(|a| a == "sts:AssumeRoleWithWebIdentity");
        if !(allows && web_identity) {
            continue;
        }
        providers.extend(strings(
            st.get("Principal").and_then(|p| p.get("Federated")),
        ));
        let conditions = st.get("Condition").and_then(|c| c.as_object());
        for operator in conditions.into_iter().flat_map(|c| c.values()) {
            for (key, value) in operator.as_object().into_iter().flatten() {
                if key.ends_with(":sub") {
                    subjects.extend(strings(Some(value)));
                }
            }
        }
    }
    Some(WebIdentityTrust {
        providers: providers.into_iter().collect(),
        subjects: subjects.into_iter().collect(),
    })
}

fn issues<'i>(list: impl Iterator<Item = (Option<&'i str>, Option<&'i str>)>) -> Vec<String> {
    list.map(|(code, message)| {
        format!(
            "{}: {}",
            code.unwrap_or("Unknown"),
            message.unwrap_or_default()
        )
    })
    .collect()
}

fn nodegroup_issues(h: Option<&NodegroupHealth>) -> Vec<String> {
    issues(
        h.map(NodegroupHealth::issues)
            .unwrap_or_default()
            .iter()
            .map(|i| (i.code().map(|c| c.as_str()), i.message())),
    )
}

fn addon_issues(h: Option<&AddonHealth>) -> Vec<String> {
    issues(
        h.map(AddonHealth::issues)
            .unwrap_or_default()
            .iter()
            .map(|i| (i.code().map(|c| c.as_str()), i.message())),
    )
}

/// Gathers the evidence; a missing cluster yields `control_plane: None` and a note.
pub(crate) async fn gather(
    c: &Clients,
    s: &Session<'_>,
    subject: &Subject,
) -> Result<ReadinessEvidence, ProviderError> {
    let mut ev = ReadinessEvidence::default();
    s.read(API_EKS_READ).await;
    let live = cluster::describe(c, s, &subject.name).await?;
    match &live {
        None => ev.notes.push(format!(
            "EKS cluster `{}` does not exist in {}",
            subject.name, c.region
        )),
        Some(cl) => {
            let status = cl.status().map(|st| st.as_str()).unwrap_or_default();
            ev.control_plane = Some(ControlPlaneReadiness {
                name: cl.name().unwrap_or(&subject.name).to_owned(),
                condition: condition(status, false),
                status: status.to_owned(),
                version: cl.version().unwrap_or_default().to_owned(),
                endpoint: cl.endpoint().map(str::to_owned),
                oidc_issuer: cl
                    .identity()
                    .and_then(|i| i.oidc())
                    .and_then(|o| o.issuer())
                    .map(str::to_owned),
            });
            ev.node_pools = node_pools(c, s, &subject.name).await?;
            ev.addons = installed_addons(c, s, &subject.name).await?;
        }
    }
    for wi in &subject.identities {
        let identity = if subject.pod_identity {
            pod_identity(c, s, &subject.name, live.is_some(), wi).await?
        } else {
            irsa(c, s, wi).await?
        };
        ev.identities.push(identity);
    }
    Ok(ev)
}

async fn node_pools(
    c: &Clients,
    s: &Session<'_>,
    cluster_name: &str,
) -> Result<Vec<NodePoolReadiness>, ProviderError> {
    Ok(live_nodegroups(c, s, cluster_name)
        .await?
        .into_iter()
        .map(|ng| {
            let health_issues = nodegroup_issues(ng.health());
            let status = ng.status().map(|st| st.as_str()).unwrap_or_default();
            let types = ng.instance_types();
            NodePoolReadiness {
                name: ng.nodegroup_name().unwrap_or_default().to_owned(),
                condition: condition(status, !health_issues.is_empty()),
                status: status.to_owned(),
                version: ng.version().map(str::to_owned),
                instance_type: (!types.is_empty()).then(|| types.join(",")),
                nodes: ng
                    .scaling_config()
                    .and_then(|sc| sc.desired_size())
                    .and_then(|n| u32::try_from(n).ok()),
                health_issues,
            }
        })
        .collect())
}

async fn installed_addons(
    c: &Clients,
    s: &Session<'_>,
    cluster_name: &str,
) -> Result<Vec<AddonReadiness>, ProviderError> {
    Ok(live_addons(c, s, cluster_name)
        .await?
        .into_iter()
        .map(|a| {
            let name = a.addon_name().unwrap_or_default();
            let health_issues = addon_issues(a.health());
            let status = a.status().map(|st| st.as_str()).unwrap_or_default();
            AddonReadiness {
                name: addons::lookup(name)
                    .map_or_else(|| name.to_owned(), |spec| spec.name.to_owned()),
                condition: condition(status, !health_issues.is_empty()),
                status: status.to_owned(),
                version: a.addon_version().map(str::to_owned),
                health_issues,
            }
        })
        .collect())
}

/// IRSA: the role's ARN, and the issuers and subjects its trust policy federates; every OIDC
/// provider the policy names must exist.
async fn irsa(
    c: &Clients,
    s: &Session<'_>,
    wi: &IdentitySubject,
) -> Result<IdentityReadiness, ProviderError> {
    let mut out = IdentityReadiness {
        name: wi.name.clone(),
        mechanism: IdentityMechanism::Irsa,
        ..IdentityReadiness::default()
    };
    let Some(r) = role::get(c, s, &wi.role_name).await? else {
        out.problems
            .push(format!("IAM role `{}` does not exist", wi.role_name));
        return Ok(out);
    };
    out.principal = Some(r.arn().to_owned());
    let Some(trust) = r.assume_role_policy_document().and_then(web_identity_trust) else {
        out.problems.push(format!(
            "the trust policy of IAM role `{}` is not readable JSON",
            wi.role_name
        ));
        return Ok(out);
    };
    if trust.providers.is_empty() {
        out.problems.push(format!(
            "the trust policy of IAM role `{}` allows no web identity federation",
            wi.role_name
        ));
    }
    for arn in &trust.providers {
        match issuer_of_provider_arn(arn) {
            Some(issuer) => out.trusted_issuers.push(issuer),
            None => out.problems.push(format!(
                "the trust policy of IAM role `{}` federates `{arn}`, which is not an OIDC provider",
                wi.role_name
            )),
        }
        s.read(API_IAM_READ).await;
        let provider = found(
            c.iam
                .get_open_id_connect_provider()
                .open_id_connect_provider_arn(arn)
                .send()
                .await
                .map_err(|e| s.fail("GetOpenIDConnectProvider", e)),
        );
        match provider {
            Ok(Some(_)) => {}
            Ok(None) => out.problems.push(format!(
                "OIDC provider `{arn}` trusted by IAM role `{}` does not exist",
                wi.role_name
            )),
            // IAM refuses malformed ARNs as invalid input: the trust names nothing real.
            Err(e) if e.class == slipway_provider::ErrorClass::Fatal => {
                out.problems.push(format!(
                    "OIDC provider `{arn}` trusted by IAM role `{}` cannot be read: {}",
                    wi.role_name, e.message
                ));
            }
            Err(e) => return Err(e),
        }
    }
    out.subjects = trust.subjects;
    Ok(out)
}

/// Pod Identity: the association of the service account and its role, which must exist.
async fn pod_identity(
    c: &Clients,
    s: &Session<'_>,
    cluster_name: &str,
    cluster_exists: bool,
    wi: &IdentitySubject,
) -> Result<IdentityReadiness, ProviderError> {
    let mut out = IdentityReadiness {
        name: wi.name.clone(),
        mechanism: IdentityMechanism::PodIdentity,
        subjects: vec![format!(
            "system:serviceaccount:{}:{}",
            wi.namespace, wi.service_account
        )],
        ..IdentityReadiness::default()
    };
    if !cluster_exists {
        out.problems.push(format!(
            "EKS cluster `{cluster_name}` does not exist, so it has no Pod Identity association"
        ));
        return Ok(out);
    }
    s.read(API_EKS_READ).await;
    let ids: Vec<String> = c
        .eks
        .list_pod_identity_associations()
        .cluster_name(cluster_name)
        .namespace(&wi.namespace)
        .service_account(&wi.service_account)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| s.fail("ListPodIdentityAssociations", e))?
        .into_iter()
        .filter_map(|a| a.association_id().map(str::to_owned))
        .collect();
    let mut role_arn = None;
    for id in ids {
        s.read(API_EKS_READ).await;
        let described = found(
            c.eks
                .describe_pod_identity_association()
                .cluster_name(cluster_name)
                .association_id(&id)
                .send()
                .await
                .map_err(|e| s.fail("DescribePodIdentityAssociation", e)),
        )?;
        if let Some(arn) = described
            .as_ref()
            .and_then(|d| d.association())
            .and_then(|a| a.role_arn())
        {
            role_arn = Some(arn.to_owned());
            break;
        }
    }
    let Some(arn) = role_arn else {
        out.problems.push(format!(
            "no Pod Identity association for service account `{}/{}` in EKS cluster `{cluster_name}`",
            wi.namespace, wi.service_account
        ));
        return Ok(out);
    };
    // The role name is the last path segment of the ARN (`role/path/name`).
    let name = arn.rsplit('/').next().unwrap_or(&arn);
    if role::get(c, s, name).await?.is_none() {
        out.problems.push(format!(
            "IAM role `{arn}` of the Pod Identity association does not exist"
        ));
    }
    out.principal = Some(arn);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eks_status_words_normalise() {
        assert_eq!(condition("ACTIVE", false), Condition::Ready);
        assert_eq!(condition("ACTIVE", true), Condition::Degraded);
        assert_eq!(condition("CREATING", false), Condition::Pending);
        assert_eq!(condition("UPDATING", false), Condition::Pending);
        assert_eq!(condition("PENDING", false), Condition::Pending);
        assert_eq!(condition("DEGRADED", true), Condition::Degraded);
        assert_eq!(condition("CREATE_FAILED", true), Condition::Failed);
        assert_eq!(condition("FAILED", false), Condition::Failed);
        assert_eq!(condition("DELETING", false), Condition::Failed);
        assert_eq!(condition("SOMETHING_NEW", false), Condition::Degraded);
    }

    #[test]
    fn oidc_provider_arns_name_their_issuer() {
        assert_eq!(
            issuer_of_provider_arn(
                "arn:aws:iam::111122223333:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
            )
            .as_deref(),
            Some("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC")
        );
        assert_eq!(
            issuer_of_provider_arn("arn:aws:iam::111122223333:role/x"),
            None
        );
        assert_eq!(
            issuer_of_provider_arn("arn:aws:iam::111122223333:oidc-provider/"),
            None
        );
    }

    #[test]
    fn trust_policies_yield_federated_providers_and_subjects() {
        let doc = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"Service":"eks.amazonaws.com"},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/oidc.eks.r.amazonaws.com/id/A"},
             "Action":"sts:AssumeRoleWithWebIdentity",
             "Condition":{"StringEquals":{"oidc.eks.r.amazonaws.com/id/A:sub":"system:serviceaccount:o:api",
                                          "oidc.eks.r.amazonaws.com/id/A:aud":"sts.amazonaws.com"}}},
            {"Effect":"Allow","Principal":{"Federated":["arn:aws:iam::1:oidc-provider/oidc.eks.s.amazonaws.com/id/B"]},
             "Action":["sts:AssumeRoleWithWebIdentity"],
             "Condition":{"StringLike":{"oidc.eks.s.amazonaws.com/id/B:sub":["system:serviceaccount:o:*"]}}}
        ]}"#;
        let trust = web_identity_trust(doc).unwrap();
        assert_eq!(
            trust.providers,
            [
                "arn:aws:iam::1:oidc-provider/oidc.eks.r.amazonaws.com/id/A",
                "arn:aws:iam::1:oidc-provider/oidc.eks.s.amazonaws.com/id/B"
            ]
        );
        assert_eq!(
            trust.subjects,
            ["system:serviceaccount:o:*", "system:serviceaccount:o:api"]
        );
        // IAM answers URL-encoded.
        let encoded = "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Federated%22%3A%22arn%3Aaws%3Aiam%3A%3A1%3Aoidc-provider%2Fh%2Fid%2FC%22%7D%2C%22Action%22%3A%22sts%3AAssumeRoleWithWebIdentity%22%7D%7D";
        assert_eq!(
            web_identity_trust(encoded).unwrap().providers,
            ["arn:aws:iam::1:oidc-provider/h/id/C"]
        );
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":{"Federated":"x"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
        assert_eq!(
            web_identity_trust(deny).unwrap(),
            WebIdentityTrust::default()
        );
        assert_eq!(web_identity_trust("not json"), None);
    }
}
