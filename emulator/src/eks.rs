//! EKS (REST-JSON): clusters, managed node groups, add-ons, updates, access entries, Pod
//! Identity associations, upgrade insights and tags, with EKS's lifecycles and its rules:
//! one minor at a time, kubelet skew, one mutating update per cluster at a time, no delete
//! while node groups exist, roles that must exist, trust the service and have propagated.
//!
//! Paths and shapes follow botocore's `eks` model. It must never report a state change
//! before its modelled deadline, nor accept a version the calendar does not support.

use std::collections::BTreeMap;

use axum::http::Method;
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::admin::Tagged;
use crate::data::{self, ACCESS_POLICIES};
use crate::ec2::{self, Ec2Region, Pending};
use crate::faults::FailureTarget;
use crate::iam::{self, Iam};
use crate::lifecycle::Op;
use crate::oplog::CLUSTER_TAG;
use crate::state::{Cloud, Ctx};
use crate::util::{epoch_seconds, hash_str, uuid};
use crate::wire::{ApiError, ApiResult};

/// The EKS objects of one region.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct EksRegion {
    clusters: BTreeMap<String, Cluster>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct VpcConfig {
    subnets: Vec<String>,
    security_groups: Vec<String>,
    cluster_security_group: String,
    vpc_id: String,
    public: bool,
    private: bool,
    public_cidrs: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Cluster {
    name: String,
    arn: String,
    id: String,
    created: u64,
    version: String,
    role_arn: String,
    status: String,
    pending: Option<Pending>,
    endpoint: String,
    certificate: String,
    oidc_issuer: String,
    vpc: VpcConfig,
    service_cidr: String,
    logging: BTreeMap<String, bool>,
    authentication_mode: String,
    bootstrap_admin: bool,
    encryption: Value,
    support_type: String,
    deletion_protection: bool,
    client_token: Option<String>,
    tags: BTreeMap<String, String>,
    nodegroups: BTreeMap<String, Nodegroup>,
    addons: BTreeMap<String, Addon>,
    updates: Vec<Update>,
    access_entries: BTreeMap<String, AccessEntry>,
    associations: BTreeMap<String, Association>,
    /// Deprecated API calls seeded through the admin API: the emulator has no Kubernetes API
    /// server whose audit log EKS would read.
    #[serde(default)]
    deprecated_usage: Vec<DeprecatedUsage>,
}

/// One client's calls to a deprecated API, as EKS reads them from the audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeprecatedUsage {
    usage: String,
    replaced_with: Option<String>,
    stop_serving_version: String,
    user_agent: String,
    requests: u64,
    last_request_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Target {
    Cluster,
    Nodegroup(String),
    Addon(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Apply {
    /// The cluster's new version.
    Cluster(String),
    /// A node group's new version and release.
    Nodegroup { version: String, release: String },
    /// An add-on's new version.
    Addon(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Update {
    id: String,
    kind: String,
    params: Vec<(String, String)>,
    created: u64,
    done_at: u64,
    status: String,
    target: Target,
    apply: Option<Apply>,
    /// An injected failure: the update ends `Failed` with this error and applies nothing.
    #[serde(default)]
    failure: Option<UpdateError>,
}

/// One entry of an update's `errors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UpdateError {
    code: String,
    message: String,
    resource_ids: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Nodegroup {
    name: String,
    arn: String,
    created: u64,
    modified: u64,
    status: String,
    pending: Option<Pending>,
    version: String,
    release_version: String,
    capacity_type: String,
    min: i64,
    max: i64,
    desired: i64,
    instance_types: Vec<String>,
    subnets: Vec<String>,
    ami_type: String,
    node_role: String,
    labels: BTreeMap<String, String>,
    taints: Vec<(String, Option<String>, String)>,
    disk_size: i64,
    update_config: Value,
    tags: BTreeMap<String, String>,
    client_token: Option<String>,
    /// A failure decided at create time (IAM or injected), applied when CREATING ends.
    fail: Option<(String, String)>,
    /// Version updates failed by injection so far, for `fail=nodegroup-update:…:COUNT`.
    #[serde(default)]
    injected_update_failures: u32,
    issues: Vec<(String, String)>,
    asg: String,
    /// Health issues injected through the admin API: an `ACTIVE` node group reads `DEGRADED`.
    #[serde(default)]
    injected: Vec<HealthIssue>,
}

/// One `health.issues` entry injected through the admin API.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HealthIssue {
    code: String,
    message: String,
    resource_ids: Option<Vec<String>>,
}

impl HealthIssue {
    fn json(&self, default_ids: &[&str]) -> Value {
        json!({
            "code": self.code,
            "message": self.message,
            "resourceIds": self.resource_ids.clone().unwrap_or_else(|| default_ids.iter().map(|s| (*s).to_owned()).collect()),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Addon {
    name: String,
    arn: String,
    version: String,
    status: String,
    pending: Option<Pending>,
    created: u64,
    modified: u64,
    service_account_role: Option<String>,
    configuration: Option<String>,
    associations: Vec<String>,
    fail: bool,
    tags: BTreeMap<String, String>,
    /// Health issues injected through the admin API: an `ACTIVE` add-on reads `DEGRADED`.
    #[serde(default)]
    injected: Vec<HealthIssue>,
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessEntry {
    principal: String,
    arn: String,
    kind: String,
    username: String,
    groups: Vec<String>,
    created: u64,
    modified: u64,
    tags: BTreeMap<String, String>,
    policies: BTreeMap<String, (Value, u64, u64)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Association {
    id: String,
    arn: String,
    namespace: String,
    service_account: String,
    role_arn: String,
    owner: Option<String>,
    disable_session_tags: bool,
    target_role_arn: Option<String>,
    created: u64,
    modified: u64,
    tags: BTreeMap<String, String>,
}

/// An EKS operation matched from method and path, with its path arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// Operation name as in the botocore model.
    pub op: &'static str,
    /// Decoded path arguments in order.
    pub args: Vec<String>,
}

/// Matches a REST path to an operation.
pub(crate) fn route(method: &Method, path: &str) -> Option<Route> {
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let r = |op: &'static str, args: &[&str]| {
        Some(Route {
            op,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
        })
    };
    let m = method.as_str();
    match (m, s.as_slice()) {
        ("POST", ["clusters"]) => r("CreateCluster", &[]),
        ("GET", ["clusters"]) => r("ListClusters", &[]),
        ("GET", ["clusters", n]) => r("DescribeCluster", &[n]),
        ("DELETE", ["clusters", n]) => r("DeleteCluster", &[n]),
        ("POST", ["clusters", n, "updates"]) => r("UpdateClusterVersion", &[n]),
        ("GET", ["clusters", n, "updates"]) => r("ListUpdates", &[n]),
        ("GET", ["clusters", n, "updates", id]) => r("DescribeUpdate", &[n, id]),
        ("POST", ["clusters", n, "update-config"]) => r("UpdateClusterConfig", &[n]),
        ("POST", ["clusters", n, "node-groups"]) => r("CreateNodegroup", &[n]),
        ("GET", ["clusters", n, "node-groups"]) => r("ListNodegroups", &[n]),
        ("GET", ["clusters", n, "node-groups", g]) => r("DescribeNodegroup", &[n, g]),
        ("DELETE", ["clusters", n, "node-groups", g]) => r("DeleteNodegroup", &[n, g]),
        ("POST", ["clusters", n, "node-groups", g, "update-config"]) => {
            r("UpdateNodegroupConfig", &[n, g])
        }
        ("POST", ["clusters", n, "node-groups", g, "update-version"]) => {
            r("UpdateNodegroupVersion", &[n, g])
        }
        ("POST", ["clusters", n, "addons"]) => r("CreateAddon", &[n]),
        ("GET", ["clusters", n, "addons"]) => r("ListAddons", &[n]),
        ("GET", ["clusters", n, "addons", a]) => r("DescribeAddon", &[n, a]),
        ("DELETE", ["clusters", n, "addons", a]) => r("DeleteAddon", &[n, a]),
        ("POST", ["clusters", n, "addons", a, "update"]) => r("UpdateAddon", &[n, a]),
        ("GET", ["addons", "supported-versions"]) => r("DescribeAddonVersions", &[]),
        ("POST", ["clusters", n, "access-entries"]) => r("CreateAccessEntry", &[n]),
        ("GET", ["clusters", n, "access-entries"]) => r("ListAccessEntries", &[n]),
        ("POST", ["clusters", n, "pod-identity-associations"]) => {
            r("CreatePodIdentityAssociation", &[n])
        }
        ("GET", ["clusters", n, "pod-identity-associations"]) => {
            r("ListPodIdentityAssociations", &[n])
        }
        ("GET", ["clusters", n, "pod-identity-associations", id]) => {
            r("DescribePodIdentityAssociation", &[n, id])
        }
        ("DELETE", ["clusters", n, "pod-identity-associations", id]) => {
            r("DeletePodIdentityAssociation", &[n, id])
        }
        ("POST", ["clusters", n, "pod-identity-associations", id]) => {
            r("UpdatePodIdentityAssociation", &[n, id])
        }
        ("POST", ["clusters", n, "insights"]) => r("ListInsights", &[n]),
        ("GET", ["clusters", n, "insights", id]) => r("DescribeInsight", &[n, id]),
        (_, ["tags", rest @ ..]) if !rest.is_empty() => {
            let arn = rest.join("/");
            let op = match m {
                "POST" => "TagResource",
                "GET" => "ListTagsForResource",
                "DELETE" => "UntagResource",
                _ => return None,
            };
            Some(Route {
                op,
                args: vec![arn],
            })
        }
        (_, ["clusters", n, "access-entries", rest @ ..]) if !rest.is_empty() => {
            // A principal ARN may arrive with its slashes encoded or not.
            let split = rest.iter().position(|x| *x == "access-policies");
            let (principal, tail) = match split {
                Some(i) => (rest[..i].join("/"), &rest[i..]),
                None => (rest.join("/"), &rest[rest.len()..]),
            };
            let op = match (m, tail) {
                ("GET", []) => "DescribeAccessEntry",
                ("DELETE", []) => "DeleteAccessEntry",
                ("POST", []) => "UpdateAccessEntry",
                ("POST", ["access-policies"]) => "AssociateAccessPolicy",
                ("GET", ["access-policies"]) => "ListAssociatedAccessPolicies",
                ("DELETE", ["access-policies", policy @ ..]) if !policy.is_empty() => {
                    return Some(Route {
                        op: "DisassociateAccessPolicy",
                        args: vec![(*n).to_owned(), principal, policy.join("/")],
                    });
                }
                _ => return None,
            };
            Some(Route {
                op,
                args: vec![(*n).to_owned(), principal],
            })
        }
        _ => None,
    }
}

// ---------------------------------------------------------------- errors and fields

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad("InvalidParameterException", message)
}

fn invalid_request(message: impl Into<String>) -> ApiError {
    ApiError::bad("InvalidRequestException", message)
}

fn in_use(message: impl Into<String>) -> ApiError {
    ApiError::new(409, "ResourceInUseException", message)
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError::new(404, "ResourceNotFoundException", message)
}

fn no_cluster(name: &str) -> ApiError {
    not_found(format!("No cluster found for name: {name}."))
}

fn check_keys(obj: &Map<String, Value>, allowed: &[&str], what: &str) -> ApiResult<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!("Unrecognized field \"{k}\" in {what}"))),
        None => Ok(()),
    }
}

fn object<'v>(
    body: &'v Map<String, Value>,
    key: &str,
    allowed: &[&str],
) -> ApiResult<Option<&'v Map<String, Value>>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => {
            check_keys(o, allowed, key)?;
            Ok(Some(o))
        }
        Some(_) => Err(invalid(format!("{key} must be an object"))),
    }
}

fn string(body: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{key} must be a string"))),
    }
}

fn boolean(body: &Map<String, Value>, key: &str) -> ApiResult<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(invalid(format!("{key} must be a boolean"))),
    }
}

fn integer(body: &Map<String, Value>, key: &str) -> ApiResult<Option<i64>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be an integer"))),
    }
}

fn strings(body: &Map<String, Value>, key: &str) -> ApiResult<Option<Vec<String>>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("{key} must be a list of strings")))
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(invalid(format!("{key} must be a list"))),
    }
}

fn string_map(body: &Map<String, Value>, key: &str) -> ApiResult<BTreeMap<String, String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(o)) => o
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| invalid(format!("{key} values must be strings")))
            })
            .collect(),
        Some(_) => Err(invalid(format!("{key} must be a map"))),
    }
}

fn tags(body: &Map<String, Value>) -> ApiResult<BTreeMap<String, String>> {
    let tags = string_map(body, "tags")?;
    check_tags(&tags)?;
    Ok(tags)
}

fn check_tags(tags: &BTreeMap<String, String>) -> ApiResult<()> {
    if tags.len() > 50 {
        return Err(ApiError::bad(
            "BadRequestException",
            "The number of tags exceeds the limit of 50",
        ));
    }
    for (k, v) in tags {
        if k.is_empty()
            || k.len() > 128
            || v.len() > 256
            || k.to_ascii_lowercase().starts_with("aws:")
        {
            return Err(ApiError::bad(
                "BadRequestException",
                format!("Invalid tag: {k}"),
            ));
        }
    }
    Ok(())
}

fn query<'q>(q: &'q [(String, String)], key: &str) -> Option<&'q str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `maxResults`/`nextToken` over names; the token is the next name.
fn page(
    names: Vec<String>,
    max: Option<&str>,
    token: Option<&str>,
    limit: i64,
) -> ApiResult<(Vec<String>, Option<String>)> {
    let max = match max {
        Some(m) => m
            .parse::<i64>()
            .ok()
            .filter(|m| (1..=limit).contains(m))
            .ok_or_else(|| invalid(format!("maxResults must be between 1 and {limit}")))?,
        None => limit,
    };
    let start = match token {
        Some(t) => names
            .iter()
            .position(|n| n == t)
            .ok_or_else(|| invalid("The nextToken is invalid"))?,
        None => 0,
    };
    let max = usize::try_from(max).unwrap_or(100);
    let mut rest: Vec<String> = names.into_iter().skip(start).collect();
    let next = rest.get(max).cloned();
    rest.truncate(max);
    Ok((rest, next))
}

fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------- rendering

fn update_json(u: &Update) -> Value {
    let errors: Vec<Value> = u
        .failure
        .iter()
        .filter(|_| u.status == "Failed")
        .map(|e| json!({"errorCode": e.code, "errorMessage": e.message, "resourceIds": e.resource_ids}))
        .collect();
    json!({
        "id": u.id,
        "status": u.status,
        "type": u.kind,
        "params": u.params.iter().map(|(t, v)| json!({"type": t, "value": v})).collect::<Vec<_>>(),
        "createdAt": epoch_seconds(u.created),
        "errors": errors,
    })
}

fn cluster_json(c: &Cluster) -> Value {
    let enabled: Vec<&String> = c
        .logging
        .iter()
        .filter(|(_, e)| **e)
        .map(|(t, _)| t)
        .collect();
    let disabled: Vec<&String> = c
        .logging
        .iter()
        .filter(|(_, e)| !**e)
        .map(|(t, _)| t)
        .collect();
    let mut logging = Vec::new();
    if !enabled.is_empty() {
        logging.push(json!({"types": enabled, "enabled": true}));
    }
    if !disabled.is_empty() {
        logging.push(json!({"types": disabled, "enabled": false}));
    }
    let serving = !matches!(c.status.as_str(), "CREATING" | "FAILED");
    let mut v = json!({
        "name": c.name,
        "arn": c.arn,
        "createdAt": epoch_seconds(c.created),
        "version": c.version,
        "roleArn": c.role_arn,
        "resourcesVpcConfig": {
            "subnetIds": c.vpc.subnets,
            "securityGroupIds": c.vpc.security_groups,
            "clusterSecurityGroupId": c.vpc.cluster_security_group,
            "vpcId": c.vpc.vpc_id,
            "endpointPublicAccess": c.vpc.public,
            "endpointPrivateAccess": c.vpc.private,
            "publicAccessCidrs": c.vpc.public_cidrs,
        },
        "kubernetesNetworkConfig": {
            "serviceIpv4Cidr": c.service_cidr,
            "ipFamily": "ipv4",
            "elasticLoadBalancing": {"enabled": false},
        },
        "logging": {"clusterLogging": logging},
        "identity": {"oidc": {"issuer": c.oidc_issuer}},
        "status": c.status,
        "certificateAuthority": if serving { json!({"data": c.certificate}) } else { json!({}) },
        "platformVersion": "eks.1",
        "tags": c.tags,
        "id": c.id,
        "health": {"issues": []},
        "accessConfig": {
            "bootstrapClusterCreatorAdminPermissions": c.bootstrap_admin,
            "authenticationMode": c.authentication_mode,
        },
        "upgradePolicy": {"supportType": c.support_type},
        "deletionProtection": c.deletion_protection,
    });
    if serving {
        v["endpoint"] = json!(c.endpoint);
    }
    if let Some(t) = &c.client_token {
        v["clientRequestToken"] = json!(t);
    }
    if c.encryption.as_array().is_some_and(|a| !a.is_empty()) {
        v["encryptionConfig"] = c.encryption.clone();
    }
    v
}

fn nodegroup_json(c: &Cluster, n: &Nodegroup) -> Value {
    let status = if n.status == "ACTIVE" && !n.injected.is_empty() {
        "DEGRADED"
    } else {
        n.status.as_str()
    };
    let mut issues: Vec<Value> = n
        .issues
        .iter()
        .map(|(code, message)| json!({"code": code, "message": message, "resourceIds": [n.asg]}))
        .collect();
    issues.extend(n.injected.iter().map(|i| i.json(&[&n.asg])));
    json!({
        "nodegroupName": n.name,
        "nodegroupArn": n.arn,
        "clusterName": c.name,
        "version": n.version,
        "releaseVersion": n.release_version,
        "createdAt": epoch_seconds(n.created),
        "modifiedAt": epoch_seconds(n.modified),
        "status": status,
        "capacityType": n.capacity_type,
        "scalingConfig": {"minSize": n.min, "maxSize": n.max, "desiredSize": n.desired},
        "instanceTypes": n.instance_types,
        "subnets": n.subnets,
        "amiType": n.ami_type,
        "nodeRole": n.node_role,
        "labels": n.labels,
        "taints": n.taints.iter().map(|(k, v, e)| {
            let mut t = json!({"key": k, "effect": e});
            if let Some(v) = v { t["value"] = json!(v); }
            t
        }).collect::<Vec<_>>(),
        "resources": {"autoScalingGroups": [{"name": n.asg}]},
        "diskSize": n.disk_size,
        "health": {"issues": issues},
        "updateConfig": n.update_config,
        "tags": n.tags,
    })
}

fn has_nodes(c: &Cluster) -> bool {
    c.nodegroups
        .values()
        .any(|n| matches!(n.status.as_str(), "ACTIVE" | "UPDATING") && n.desired > 0)
}

fn addon_status(c: &Cluster, a: &Addon) -> (String, Vec<Value>) {
    let needs_nodes = data::addon(&a.name).is_some_and(|x| x.needs_nodes);
    match a.status.as_str() {
        "ACTIVE" if !a.injected.is_empty() => (
            "DEGRADED".to_owned(),
            a.injected.iter().map(|i| i.json(&[])).collect(),
        ),
        "ACTIVE" if needs_nodes && !has_nodes(c) => (
            "DEGRADED".to_owned(),
            vec![json!({
                "code": "InsufficientNumberOfReplicas",
                "message": "The add-on is unhealthy because it doesn't have the desired number of replicas.",
                "resourceIds": [],
            })],
        ),
        "CREATE_FAILED" => (
            a.status.clone(),
            vec![
                json!({"code": "ConfigurationConflict", "message": "Add-on creation failed (injected fault).", "resourceIds": []}),
            ],
        ),
        s => (s.to_owned(), Vec::new()),
    }
}

fn addon_json(c: &Cluster, a: &Addon) -> Value {
    let (status, issues) = addon_status(c, a);
    let mut v = json!({
        "addonName": a.name,
        "clusterName": c.name,
        "status": status,
        "addonVersion": a.version,
        "health": {"issues": issues},
        "addonArn": a.arn,
        "createdAt": epoch_seconds(a.created),
        "modifiedAt": epoch_seconds(a.modified),
        "tags": a.tags,
        "owner": "aws",
        "publisher": "eks",
        "podIdentityAssociations": a.associations,
    });
    if let Some(r) = &a.service_account_role {
        v["serviceAccountRoleArn"] = json!(r);
    }
    if let Some(cfg) = &a.configuration {
        v["configurationValues"] = json!(cfg);
    }
    v
}

fn access_entry_json(c: &Cluster, e: &AccessEntry) -> Value {
    json!({
        "clusterName": c.name,
        "principalArn": e.principal,
        "kubernetesGroups": e.groups,
        "accessEntryArn": e.arn,
        "createdAt": epoch_seconds(e.created),
        "modifiedAt": epoch_seconds(e.modified),
        "tags": e.tags,
        "username": e.username,
        "type": e.kind,
    })
}

fn association_json(c: &Cluster, a: &Association) -> Value {
    let mut v = json!({
        "clusterName": c.name,
        "namespace": a.namespace,
        "serviceAccount": a.service_account,
        "roleArn": a.role_arn,
        "associationArn": a.arn,
        "associationId": a.id,
        "tags": a.tags,
        "createdAt": epoch_seconds(a.created),
        "modifiedAt": epoch_seconds(a.modified),
        "disableSessionTags": a.disable_session_tags,
    });
    if let Some(o) = &a.owner {
        v["ownerArn"] = json!(o);
    }
    if let Some(t) = &a.target_role_arn {
        v["targetRoleArn"] = json!(t);
    }
    v
}

// ---------------------------------------------------------------- dispatch

/// Handles one EKS operation.
pub(crate) fn handle(
    ctx: &mut Ctx<'_>,
    route: &Route,
    body: &Map<String, Value>,
    q: &[(String, String)],
) -> ApiResult<Value> {
    let arg = |i: usize| route.args.get(i).cloned().unwrap_or_default();
    match route.op {
        "CreateCluster" => create_cluster(ctx, body),
        "ListClusters" => {
            let names: Vec<String> = region(ctx).clusters.keys().cloned().collect();
            let (page, next) = page(names, query(q, "maxResults"), query(q, "nextToken"), 100)?;
            Ok(json!({"clusters": page, "nextToken": next}))
        }
        "DescribeCluster" => {
            let c = cluster(ctx, &arg(0))?;
            Ok(json!({"cluster": cluster_json(c)}))
        }
        "DeleteCluster" => delete_cluster(ctx, &arg(0)),
        "UpdateClusterVersion" => update_cluster_version(ctx, &arg(0), body),
        "UpdateClusterConfig" => update_cluster_config(ctx, &arg(0), body),
        "DescribeUpdate" => {
            let c = cluster(ctx, &arg(0))?;
            let target = match (query(q, "nodegroupName"), query(q, "addonName")) {
                (Some(n), _) => Target::Nodegroup(n.to_owned()),
                (None, Some(a)) => Target::Addon(a.to_owned()),
                _ => Target::Cluster,
            };
            let id = arg(1);
            let u = c
                .updates
                .iter()
                .find(|u| u.id == id && u.target == target)
                .ok_or_else(|| not_found(format!("No update found for ID: {id}")))?;
            Ok(json!({"update": update_json(u)}))
        }
        "ListUpdates" => {
            let c = cluster(ctx, &arg(0))?;
            let target = match (query(q, "nodegroupName"), query(q, "addonName")) {
                (Some(n), _) => {
                    if !c.nodegroups.contains_key(n) {
                        return Err(not_found(format!("No node group found for name: {n}.")));
                    }
                    Target::Nodegroup(n.to_owned())
                }
                (None, Some(a)) => Target::Addon(a.to_owned()),
                _ => Target::Cluster,
            };
            let ids: Vec<String> = c
                .updates
                .iter()
                .filter(|u| u.target == target)
                .map(|u| u.id.clone())
                .collect();
            let (page, next) = page(ids, query(q, "maxResults"), query(q, "nextToken"), 100)?;
            Ok(json!({"updateIds": page, "nextToken": next}))
        }
        "CreateNodegroup" => create_nodegroup(ctx, &arg(0), body),
        "ListNodegroups" => {
            let c = cluster(ctx, &arg(0))?;
            let names: Vec<String> = c.nodegroups.keys().cloned().collect();
            let (page, next) = page(names, query(q, "maxResults"), query(q, "nextToken"), 100)?;
            Ok(json!({"nodegroups": page, "nextToken": next}))
        }
        "DescribeNodegroup" => {
            let c = cluster(ctx, &arg(0))?;
            let n = nodegroup(c, &arg(1))?;
            Ok(json!({"nodegroup": nodegroup_json(c, n)}))
        }
        "DeleteNodegroup" => delete_nodegroup(ctx, &arg(0), &arg(1)),
        "UpdateNodegroupConfig" => update_nodegroup_config(ctx, &arg(0), &arg(1), body),
        "UpdateNodegroupVersion" => update_nodegroup_version(ctx, &arg(0), &arg(1), body),
        "CreateAddon" => create_addon(ctx, &arg(0), body),
        "ListAddons" => {
            let c = cluster(ctx, &arg(0))?;
            let names: Vec<String> = c.addons.keys().cloned().collect();
            let (page, next) = page(names, query(q, "maxResults"), query(q, "nextToken"), 100)?;
            Ok(json!({"addons": page, "nextToken": next}))
        }
        "DescribeAddon" => {
            let c = cluster(ctx, &arg(0))?;
            let a = addon(c, &arg(1))?;
            Ok(json!({"addon": addon_json(c, a)}))
        }
        "UpdateAddon" => update_addon(ctx, &arg(0), &arg(1), body),
        "DeleteAddon" => delete_addon(ctx, &arg(0), &arg(1)),
        "DescribeAddonVersions" => describe_addon_versions(q),
        "CreateAccessEntry" => create_access_entry(ctx, &arg(0), body),
        "ListAccessEntries" => {
            let c = cluster(ctx, &arg(0))?;
            let policy = query(q, "associatedPolicyArn");
            let names: Vec<String> = c
                .access_entries
                .values()
                .filter(|e| policy.is_none_or(|p| e.policies.contains_key(p)))
                .map(|e| e.principal.clone())
                .collect();
            let (page, next) = page(names, query(q, "maxResults"), query(q, "nextToken"), 100)?;
            Ok(json!({"accessEntries": page, "nextToken": next}))
        }
        "DescribeAccessEntry" => {
            let c = cluster(ctx, &arg(0))?;
            let e = access_entry(c, &arg(1))?;
            Ok(json!({"accessEntry": access_entry_json(c, e)}))
        }
        "UpdateAccessEntry" => {
            let now = ctx.now;
            let c = cluster_mut(ctx, &arg(0))?;
            let e = c.access_entries.get_mut(&arg(1)).ok_or_else(|| {
                not_found(format!(
                    "The specified access entry resource is not found: {}",
                    arg(1)
                ))
            })?;
            if let Some(groups) = strings(body, "kubernetesGroups")? {
                e.groups = groups;
            }
            if let Some(u) = string(body, "username")? {
                e.username = u;
            }
            e.modified = now;
            let c = cluster(ctx, &arg(0))?;
            let e = access_entry(c, &arg(1))?;
            Ok(json!({"accessEntry": access_entry_json(c, e)}))
        }
        "DeleteAccessEntry" => {
            let c = cluster_mut(ctx, &arg(0))?;
            c.access_entries.remove(&arg(1)).ok_or_else(|| {
                not_found(format!(
                    "The specified access entry resource is not found: {}",
                    arg(1)
                ))
            })?;
            Ok(json!({}))
        }
        "AssociateAccessPolicy" => associate_access_policy(ctx, &arg(0), &arg(1), body),
        "DisassociateAccessPolicy" => {
            let c = cluster_mut(ctx, &arg(0))?;
            let principal = arg(1);
            let e = c.access_entries.get_mut(&principal).ok_or_else(|| {
                not_found(format!(
                    "The specified access entry resource is not found: {principal}"
                ))
            })?;
            e.policies.remove(&arg(2)).ok_or_else(|| {
                not_found(format!(
                    "The access policy {} is not associated with {principal}",
                    arg(2)
                ))
            })?;
            Ok(json!({}))
        }
        "ListAssociatedAccessPolicies" => {
            let c = cluster(ctx, &arg(0))?;
            let e = access_entry(c, &arg(1))?;
            let names: Vec<String> = e.policies.keys().cloned().collect();
            let (page, next) = page(names, query(q, "maxResults"), query(q, "nextToken"), 100)?;
            let policies: Vec<Value> = page
                .iter()
                .filter_map(|p| e.policies.get(p).map(|v| (p, v)))
                .map(|(p, (scope, at, modified))| {
                    json!({
                        "policyArn": p, "accessScope": scope,
                        "associatedAt": epoch_seconds(*at), "modifiedAt": epoch_seconds(*modified),
                    })
                })
                .collect();
            Ok(
                json!({"clusterName": c.name, "principalArn": e.principal, "nextToken": next, "associatedAccessPolicies": policies}),
            )
        }
        "CreatePodIdentityAssociation" => create_association(ctx, &arg(0), body),
        "ListPodIdentityAssociations" => {
            let c = cluster(ctx, &arg(0))?;
            let (ns, sa) = (query(q, "namespace"), query(q, "serviceAccount"));
            let ids: Vec<String> = c
                .associations
                .values()
                .filter(|a| {
                    ns.is_none_or(|n| a.namespace == n) && sa.is_none_or(|s| a.service_account == s)
                })
                .map(|a| a.id.clone())
                .collect();
            let (page, next) = page(ids, query(q, "maxResults"), query(q, "nextToken"), 100)?;
            let list: Vec<Value> = page
                .iter()
                .filter_map(|id| c.associations.get(id))
                .map(|a| {
                    let mut v = json!({
                        "clusterName": c.name, "namespace": a.namespace, "serviceAccount": a.service_account,
                        "associationArn": a.arn, "associationId": a.id,
                    });
                    if let Some(o) = &a.owner {
                        v["ownerArn"] = json!(o);
                    }
                    v
                })
                .collect();
            Ok(json!({"associations": list, "nextToken": next}))
        }
        "DescribePodIdentityAssociation" => {
            let c = cluster(ctx, &arg(0))?;
            let a = association(c, &arg(1))?;
            Ok(json!({"association": association_json(c, a)}))
        }
        "UpdatePodIdentityAssociation" => update_association(ctx, &arg(0), &arg(1), body),
        "DeletePodIdentityAssociation" => {
            let c = cluster_mut(ctx, &arg(0))?;
            let a = association(c, &arg(1))?;
            if let Some(owner) = &a.owner {
                return Err(invalid_request(format!(
                    "Pod Identity association {} is owned by {owner}; change it through the add-on",
                    a.id
                )));
            }
            let v = association_json(c, a);
            c.associations.remove(&arg(1));
            Ok(json!({"association": v}))
        }
        "ListInsights" => list_insights(ctx, &arg(0), body),
        "DescribeInsight" => {
            let c = cluster(ctx, &arg(0))?;
            let id = arg(1);
            let insight = insights(c)
                .into_iter()
                .find(|i| i["id"] == id.as_str())
                .ok_or_else(|| not_found(format!("No insight found for ID: {id}")))?;
            Ok(json!({"insight": insight}))
        }
        "TagResource" | "UntagResource" | "ListTagsForResource" => {
            tag_resource(ctx, route.op, &arg(0), body, q)
        }
        other => Err(ApiError::new(
            404,
            "UnknownOperationException",
            format!("{other} is not emulated"),
        )),
    }
}

fn region<'c>(ctx: &'c mut Ctx<'_>) -> &'c mut EksRegion {
    ctx.cloud.eks.entry(ctx.region.clone()).or_default()
}

fn cluster<'c>(ctx: &'c mut Ctx<'_>, name: &str) -> ApiResult<&'c Cluster> {
    region(ctx)
        .clusters
        .get(name)
        .ok_or_else(|| no_cluster(name))
}

/// Whose object an operation-log record is about.
enum Of<'a> {
    /// The EKS cluster itself.
    Cluster,
    /// One of its node groups.
    Nodegroup(&'a str),
    /// One of its add-ons.
    Addon(&'a str),
    /// An object not stored yet, with these tags.
    Tags(&'a BTreeMap<String, String>),
}

/// The cluster an operation-log record names: the object's `slipway:cluster` tag, else its
/// EKS cluster's, else the EKS cluster's name.
fn owner(ctx: &mut Ctx<'_>, cluster_name: &str, of: Of<'_>) -> String {
    let Ok(c) = cluster(ctx, cluster_name) else {
        return match of {
            Of::Tags(t) => t.get(CLUSTER_TAG).cloned(),
            _ => None,
        }
        .unwrap_or_else(|| cluster_name.to_owned());
    };
    let own = match of {
        Of::Cluster => None,
        Of::Nodegroup(n) => c.nodegroups.get(n).map(|n| &n.tags),
        Of::Addon(a) => c.addons.get(a).map(|a| &a.tags),
        Of::Tags(t) => Some(t),
    };
    own.and_then(|t| t.get(CLUSTER_TAG))
        .or_else(|| c.tags.get(CLUSTER_TAG))
        .cloned()
        .unwrap_or_else(|| cluster_name.to_owned())
}

fn cluster_mut<'c>(ctx: &'c mut Ctx<'_>, name: &str) -> ApiResult<&'c mut Cluster> {
    region(ctx)
        .clusters
        .get_mut(name)
        .ok_or_else(|| no_cluster(name))
}

fn nodegroup<'c>(c: &'c Cluster, name: &str) -> ApiResult<&'c Nodegroup> {
    c.nodegroups
        .get(name)
        .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))
}

fn addon<'c>(c: &'c Cluster, name: &str) -> ApiResult<&'c Addon> {
    c.addons
        .get(name)
        .ok_or_else(|| not_found(format!("No addon: {name} found in cluster: {}", c.name)))
}

fn access_entry<'c>(c: &'c Cluster, principal: &str) -> ApiResult<&'c AccessEntry> {
    c.access_entries.get(principal).ok_or_else(|| {
        not_found(format!(
            "The specified access entry resource is not found: {principal}"
        ))
    })
}

fn association<'c>(c: &'c Cluster, id: &str) -> ApiResult<&'c Association> {
    c.associations
        .get(id)
        .ok_or_else(|| not_found(format!("No Pod Identity Association found for ID: {id}")))
}

/// A role EKS will assume for `service`: it must exist, trust the service and have propagated.
fn assumable(iam: &Iam, arn: &str, service: &str, now: u64, propagation_ms: u64) -> ApiResult<()> {
    let cannot = || {
        invalid(format!(
            "Role with arn: {arn}, could not be assumed because it does not exist or the trusted entity is not correct"
        ))
    };
    let role = iam::role_by_arn(iam, arn).ok_or_else(cannot)?;
    if !role.trusts(service) || now < role.created.saturating_add(propagation_ms) {
        return Err(cannot());
    }
    Ok(())
}

fn role_exists(iam: &Iam, arn: &str, what: &str) -> ApiResult<()> {
    if iam::role_by_arn(iam, arn).is_none() {
        return Err(invalid(format!("The {what} role {arn} does not exist")));
    }
    Ok(())
}

fn new_update(
    id: String,
    kind: &str,
    params: Vec<(String, String)>,
    now: u64,
    done_at: u64,
    target: Target,
    apply: Option<Apply>,
) -> Update {
    Update {
        id,
        kind: kind.to_owned(),
        params,
        created: now,
        done_at,
        status: "InProgress".to_owned(),
        target,
        apply,
        failure: None,
    }
}

fn ensure_idle(c: &Cluster) -> ApiResult<()> {
    if c.status != "ACTIVE" {
        return Err(in_use(format!(
            "Cluster {} is in {} state; an update can only start on an ACTIVE cluster",
            c.name, c.status
        )));
    }
    if c.updates
        .iter()
        .any(|u| u.status == "InProgress" && u.target == Target::Cluster)
    {
        return Err(in_use(format!(
            "An update is already in progress for cluster {}",
            c.name
        )));
    }
    Ok(())
}

fn ensure_active(c: &Cluster) -> ApiResult<()> {
    if c.status != "ACTIVE" && c.status != "UPDATING" {
        return Err(invalid_request(format!(
            "Cluster '{}' is not in ACTIVE state",
            c.name
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------- clusters

const LOG_TYPES: &[&str] = &[
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

fn parse_logging(body: &Map<String, Value>) -> ApiResult<Option<BTreeMap<String, bool>>> {
    let Some(logging) = object(body, "logging", &["clusterLogging"])? else {
        return Ok(None);
    };
    let mut out: BTreeMap<String, bool> =
        LOG_TYPES.iter().map(|t| ((*t).to_owned(), false)).collect();
    let entries = logging
        .get("clusterLogging")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("logging.clusterLogging must be a list"))?;
    for e in entries {
        let e = e
            .as_object()
            .ok_or_else(|| invalid("clusterLogging entries must be objects"))?;
        check_keys(e, &["types", "enabled"], "clusterLogging")?;
        let enabled = boolean(e, "enabled")?.unwrap_or(false);
        for t in strings(e, "types")?.unwrap_or_default() {
            if !LOG_TYPES.contains(&t.as_str()) {
                return Err(invalid(format!(
                    "Invalid log type {t}; valid types are {}",
                    LOG_TYPES.join(", ")
                )));
            }
            out.insert(t, enabled);
        }
    }
    Ok(Some(out))
}

const AUTH_MODES: &[&str] = &["CONFIG_MAP", "API_AND_CONFIG_MAP", "API"];

/// Subnets and security groups checked against EC2: returns the VPC id.
fn check_network(
    ec2: Option<&Ec2Region>,
    region: &str,
    subnets: &[String],
    groups: &[String],
) -> ApiResult<String> {
    let empty = Ec2Region::default();
    let ec2 = ec2.unwrap_or(&empty);
    if subnets.is_empty() {
        return Err(invalid("Subnets are required"));
    }
    let mut vpc: Option<String> = None;
    let mut zones: Vec<String> = Vec::new();
    for s in subnets {
        let (v, az) = ec2::subnet_placement(ec2, s)
            .ok_or_else(|| invalid(format!("The subnet ID '{s}' does not exist")))?;
        if vpc.as_ref().is_some_and(|x| *x != v) {
            return Err(invalid("Subnets specified must be in the same VPC"));
        }
        if region == "us-east-1" && az == "us-east-1e" {
            return Err(ApiError::bad(
                "UnsupportedAvailabilityZoneException",
                "Cannot create cluster because us-east-1e, the targeted availability zone, does not currently have sufficient capacity to support the cluster. Retry and choose from these availability zones: us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f",
            ));
        }
        vpc = Some(v);
        if !zones.contains(&az) {
            zones.push(az);
        }
    }
    if zones.len() < 2 {
        return Err(invalid(
            "Subnets specified must be in at least two different AZs",
        ));
    }
    let vpc = vpc.unwrap_or_default();
    for g in groups {
        let sg = ec2
            .security_groups
            .get(g)
            .ok_or_else(|| invalid(format!("The security group '{g}' does not exist")))?;
        if sg.vpc_id != vpc {
            return Err(invalid(format!(
                "Security group {g} is not in the cluster VPC {vpc}"
            )));
        }
    }
    if groups.len() > 5 {
        return Err(invalid("At most 5 security groups may be specified"));
    }
    Ok(vpc)
}

fn create_cluster(ctx: &mut Ctx<'_>, body: &Map<String, Value>) -> ApiResult<Value> {
    let name = string(body, "name")?.unwrap_or_default();
    if !valid_name(&name, 100) {
        return Err(invalid(format!(
            "The cluster name {name} is invalid: it must start with an alphanumeric character and contain only alphanumerics, hyphens and underscores (at most 100)"
        )));
    }
    let token = string(body, "clientRequestToken")?;
    if let Some(existing) = region(ctx).clusters.get(&name) {
        if token.is_some() && existing.client_token == token {
            return Ok(json!({"cluster": cluster_json(existing)}));
        }
        return Err(in_use(format!("Cluster already exists with name: {name}")));
    }
    let day = ctx.today();
    let version = match string(body, "version")? {
        Some(v) => v,
        None => data::default_version(&day).unwrap_or("1.33").to_owned(),
    };
    if !data::supported(&version, &day) {
        return Err(invalid(format!(
            "unsupported Kubernetes version {version}; supported versions are {}",
            data::supported_versions(&day).join(", ")
        )));
    }
    let role_arn = string(body, "roleArn")?.unwrap_or_default();
    let vpc = object(
        body,
        "resourcesVpcConfig",
        &[
            "subnetIds",
            "securityGroupIds",
            "endpointPublicAccess",
            "endpointPrivateAccess",
            "publicAccessCidrs",
        ],
    )?
    .ok_or_else(|| invalid("resourcesVpcConfig is required"))?;
    let subnets = strings(vpc, "subnetIds")?.unwrap_or_default();
    let groups = strings(vpc, "securityGroupIds")?.unwrap_or_default();
    let public = boolean(vpc, "endpointPublicAccess")?.unwrap_or(true);
    let private = boolean(vpc, "endpointPrivateAccess")?.unwrap_or(false);
    if !public && !private {
        return Err(invalid(
            "Cluster endpoint must have public or private access (or both) enabled",
        ));
    }
    let public_cidrs =
        strings(vpc, "publicAccessCidrs")?.unwrap_or_else(|| vec!["0.0.0.0/0".to_owned()]);
    for c in &public_cidrs {
        if c.parse::<ipnet::Ipv4Net>().is_err() {
            return Err(invalid(format!("The public access CIDR {c} is invalid")));
        }
    }
    if public_cidrs.len() > 40 {
        return Err(invalid("At most 40 public access CIDRs are allowed"));
    }
    let logging = parse_logging(body)?
        .unwrap_or_else(|| LOG_TYPES.iter().map(|t| ((*t).to_owned(), false)).collect());
    let access = object(
        body,
        "accessConfig",
        &[
            "bootstrapClusterCreatorAdminPermissions",
            "authenticationMode",
        ],
    )?;
    let mode = match access {
        Some(a) => {
            string(a, "authenticationMode")?.unwrap_or_else(|| "API_AND_CONFIG_MAP".to_owned())
        }
        None => "API_AND_CONFIG_MAP".to_owned(),
    };
    if !AUTH_MODES.contains(&mode.as_str()) {
        return Err(invalid(format!("Invalid authenticationMode {mode}")));
    }
    let bootstrap = match access {
        Some(a) => boolean(a, "bootstrapClusterCreatorAdminPermissions")?.unwrap_or(true),
        None => true,
    };
    if mode == "CONFIG_MAP" && !bootstrap {
        return Err(invalid(
            "bootstrapClusterCreatorAdminPermissions must be true with the CONFIG_MAP authentication mode",
        ));
    }
    let encryption = match body.get("encryptionConfig") {
        None | Some(Value::Null) => json!([]),
        Some(Value::Array(list)) => {
            if list.len() > 1 {
                return Err(invalid("Only one encryptionConfig entry is allowed"));
            }
            for e in list {
                let e = e
                    .as_object()
                    .ok_or_else(|| invalid("encryptionConfig entries must be objects"))?;
                check_keys(e, &["resources", "provider"], "encryptionConfig")?;
                if strings(e, "resources")?.unwrap_or_default() != ["secrets"] {
                    return Err(invalid(
                        "Encryption is only supported for the resource 'secrets'",
                    ));
                }
                let provider = object(e, "provider", &["keyArn"])?
                    .ok_or_else(|| invalid("encryptionConfig.provider is required"))?;
                let key = string(provider, "keyArn")?.unwrap_or_default();
                if !key.starts_with("arn:aws:kms:") {
                    return Err(invalid(format!("Invalid KMS key ARN {key}")));
                }
            }
            Value::Array(list.clone())
        }
        Some(_) => return Err(invalid("encryptionConfig must be a list")),
    };
    let service_cidr = match object(
        body,
        "kubernetesNetworkConfig",
        &["serviceIpv4Cidr", "ipFamily", "elasticLoadBalancing"],
    )? {
        Some(k) => {
            if let Some(f) = string(k, "ipFamily")?
                && f != "ipv4"
            {
                return Err(invalid("Only the ipv4 IP family is emulated"));
            }
            string(k, "serviceIpv4Cidr")?
        }
        None => None,
    };
    let support_type = match object(body, "upgradePolicy", &["supportType"])? {
        Some(u) => string(u, "supportType")?.unwrap_or_else(|| "EXTENDED".to_owned()),
        None => "EXTENDED".to_owned(),
    };
    if !["STANDARD", "EXTENDED"].contains(&support_type.as_str()) {
        return Err(invalid(format!("Invalid supportType {support_type}")));
    }
    for unsupported in [
        "outpostConfig",
        "remoteNetworkConfig",
        "computeConfig",
        "storageConfig",
        "zonalShiftConfig",
        "controlPlaneScalingConfig",
        "kubeApiServerConfig",
        "kubeSchedulerConfig",
        "kubeControllerManagerConfig",
    ] {
        if body.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(invalid(format!("{unsupported} is not emulated")));
        }
    }
    let deletion_protection = boolean(body, "deletionProtection")?.unwrap_or(false);
    let tags = tags(body)?;
    // Ids first: they advance the seeded counter whatever happens next.
    let cluster_id = ctx.uuid();
    let endpoint_id = ctx.hex(32).to_uppercase();
    let oidc_id = ctx.hex(32).to_uppercase();
    let sg_id = format!("sg-{}", ctx.hex(17));
    let rules = [
        format!("sgr-{}", ctx.hex(17)),
        format!("sgr-{}", ctx.hex(17)),
    ];
    let entry_id = ctx.uuid();
    let (now, rgn, account) = (ctx.now, ctx.region.clone(), ctx.account().to_owned());
    let owner = owner(ctx, &name, Of::Tags(&tags));
    let deadline = ctx.deadline(Op::ClusterCreate, &cluster_id, "eks", &name, Some(&owner));
    let fails = ctx.faults.fails(FailureTarget::Cluster, &[&name]);
    let propagation = ctx.faults.iam_propagation_ms;
    let Cloud { iam, ec2, eks, .. } = &mut *ctx.cloud;
    assumable(iam, &role_arn, "eks.amazonaws.com", now, propagation)?;
    let vpc_id = check_network(ec2.get(&rgn), &rgn, &subnets, &groups)?;
    let ec2r = ec2.entry(rgn.clone()).or_default();
    let vpc_cidr = ec2::vpc_cidr(ec2r, &vpc_id).unwrap_or_default();
    let service_cidr = match service_cidr {
        Some(c) => {
            let net: ipnet::Ipv4Net = c
                .parse()
                .map_err(|_| invalid(format!("Invalid serviceIpv4Cidr {c}")))?;
            if !(12..=24).contains(&net.prefix_len()) || !net.network().is_private() {
                return Err(invalid(format!(
                    "serviceIpv4Cidr {c} must be a private block between /12 and /24"
                )));
            }
            if vpc_cidr
                .parse::<ipnet::Ipv4Net>()
                .is_ok_and(|v| v.contains(&net.network()) || net.contains(&v.network()))
            {
                return Err(invalid(format!(
                    "serviceIpv4Cidr {c} overlaps the VPC CIDR {vpc_cidr}"
                )));
            }
            c
        }
        None if vpc_cidr.starts_with("10.") => "172.20.0.0/16".to_owned(),
        None => "10.100.0.0/16".to_owned(),
    };
    let cluster_sg = ec2::create_cluster_security_group(ec2r, sg_id, rules, &vpc_id, &name);
    let arn = format!("arn:aws:eks:{rgn}:{account}:cluster/{name}");
    let mut access_entries = BTreeMap::new();
    if bootstrap && mode != "CONFIG_MAP" {
        let principal = iam::caller_arn(&account);
        let mut policies = BTreeMap::new();
        policies.insert(
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy".to_owned(),
            (json!({"type": "cluster", "namespaces": []}), now, now),
        );
        access_entries.insert(
            principal.clone(),
            AccessEntry {
                arn: format!("arn:aws:eks:{rgn}:{account}:access-entry/{name}/user/{account}/slipway-emulator/{entry_id}"),
                username: principal.clone(),
                principal,
                kind: "STANDARD".to_owned(),
                groups: Vec::new(),
                created: now,
                modified: now,
                tags: BTreeMap::new(),
                policies,
            },
        );
    }
    let cert = base64(
        format!("-----BEGIN CERTIFICATE-----\nEMULATED-{cluster_id}\n-----END CERTIFICATE-----\n")
            .as_bytes(),
    );
    let c = Cluster {
        name: name.clone(),
        arn,
        id: cluster_id,
        created: now,
        version,
        role_arn,
        status: "CREATING".to_owned(),
        pending: Some(Pending {
            at: deadline,
            to: if fails { "FAILED" } else { "ACTIVE" }.to_owned(),
        }),
        endpoint: format!("https://{endpoint_id}.gr7.{rgn}.eks.amazonaws.com"),
        certificate: cert,
        oidc_issuer: format!("https://oidc.eks.{rgn}.amazonaws.com/id/{oidc_id}"),
        vpc: VpcConfig {
            subnets,
            security_groups: groups,
            cluster_security_group: cluster_sg,
            vpc_id,
            public,
            private,
            public_cidrs: if public { public_cidrs } else { Vec::new() },
        },
        service_cidr,
        logging,
        authentication_mode: mode,
        bootstrap_admin: bootstrap,
        encryption,
        support_type,
        deletion_protection,
        client_token: token,
        tags,
        nodegroups: BTreeMap::new(),
        addons: BTreeMap::new(),
        updates: Vec::new(),
        access_entries,
        associations: BTreeMap::new(),
        deprecated_usage: Vec::new(),
    };
    let out = json!({"cluster": cluster_json(&c)});
    eks.entry(rgn).or_default().clusters.insert(name, c);
    Ok(out)
}

fn delete_cluster(ctx: &mut Ctx<'_>, name: &str) -> ApiResult<Value> {
    let owner = owner(ctx, name, Of::Cluster);
    let deadline = ctx.deadline(Op::ClusterDelete, name, "eks", name, Some(&owner));
    let c = cluster_mut(ctx, name)?;
    if c.deletion_protection {
        return Err(invalid_request(format!(
            "Cluster {name} has deletion protection enabled"
        )));
    }
    if !c.nodegroups.is_empty() {
        let names: Vec<&String> = c.nodegroups.keys().collect();
        return Err(in_use(format!(
            "Cluster has nodegroups attached: {}",
            names
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    match c.status.as_str() {
        "DELETING" => return Err(in_use(format!("Cluster {name} is already being deleted"))),
        "CREATING" | "UPDATING" => {
            return Err(in_use(format!(
                "Cannot delete because cluster {name} currently has an update in progress (status {})",
                c.status
            )));
        }
        _ => {}
    }
    c.status = "DELETING".to_owned();
    c.pending = Some(Pending {
        at: deadline,
        to: "gone".to_owned(),
    });
    Ok(json!({"cluster": cluster_json(c)}))
}

fn update_cluster_version(
    ctx: &mut Ctx<'_>,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let target = string(body, "version")?.unwrap_or_default();
    let day = ctx.today();
    let id = ctx.uuid();
    let owner = owner(ctx, name, Of::Cluster);
    let deadline = ctx.deadline(Op::ClusterVersionUpdate, &id, "eks", name, Some(&owner));
    let now = ctx.now;
    let c = cluster_mut(ctx, name)?;
    ensure_idle(c)?;
    let (Some(from), Some(to)) = (data::minor(&c.version), data::minor(&target)) else {
        return Err(invalid(format!("Invalid Kubernetes version {target}")));
    };
    if to != from + 1 {
        return Err(invalid(format!(
            "Unsupported Kubernetes minor version update from {} to {target}: EKS updates one minor version at a time",
            c.version
        )));
    }
    if !data::supported(&target, &day) {
        return Err(invalid(format!(
            "Kubernetes version {target} is not supported"
        )));
    }
    for n in c.nodegroups.values() {
        // A rolling node group is reported as busy, not by the version it is leaving.
        if n.status == "UPDATING" || n.status == "CREATING" {
            return Err(in_use(format!(
                "Nodegroup {} has an update in progress",
                n.name
            )));
        }
        let ng = data::minor(&n.version).unwrap_or(0);
        if to.saturating_sub(ng) > data::kubelet_skew(to) {
            return Err(invalid(format!(
                "Nodegroup {} is at version {}, more than {} minor versions behind {target}; update the nodegroup first",
                n.name,
                n.version,
                data::kubelet_skew(to)
            )));
        }
    }
    let u = new_update(
        id,
        "VersionUpdate",
        vec![
            ("Version".to_owned(), target.clone()),
            ("PlatformVersion".to_owned(), "eks.1".to_owned()),
        ],
        now,
        deadline,
        Target::Cluster,
        Some(Apply::Cluster(target)),
    );
    c.status = "UPDATING".to_owned();
    c.pending = Some(Pending {
        at: deadline,
        to: "ACTIVE".to_owned(),
    });
    let out = json!({"update": update_json(&u)});
    c.updates.push(u);
    Ok(out)
}

fn update_cluster_config(
    ctx: &mut Ctx<'_>,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let kinds: Vec<&str> = [
        "resourcesVpcConfig",
        "logging",
        "accessConfig",
        "upgradePolicy",
        "deletionProtection",
    ]
    .into_iter()
    .filter(|k| body.get(*k).is_some_and(|v| !v.is_null()))
    .collect();
    for unsupported in [
        "zonalShiftConfig",
        "computeConfig",
        "kubernetesNetworkConfig",
        "storageConfig",
        "remoteNetworkConfig",
        "controlPlaneScalingConfig",
        "kubeApiServerConfig",
        "kubeSchedulerConfig",
        "kubeControllerManagerConfig",
    ] {
        if body.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(invalid(format!("{unsupported} is not emulated")));
        }
    }
    if kinds.len() != 1 {
        return Err(invalid("Only one type of update can be allowed."));
    }
    let id = ctx.uuid();
    let rgn = ctx.region.clone();
    let owner = owner(ctx, name, Of::Cluster);
    let deadline = ctx.deadline(Op::ClusterConfigUpdate, &id, "eks", name, Some(&owner));
    let now = ctx.now;
    let Cloud { ec2, eks, .. } = &mut *ctx.cloud;
    let c = eks
        .entry(rgn.clone())
        .or_default()
        .clusters
        .get_mut(name)
        .ok_or_else(|| no_cluster(name))?;
    ensure_idle(c)?;
    let (kind, params, instant) = match kinds[0] {
        "logging" => {
            let logging = parse_logging(body)?.unwrap_or_default();
            if logging == c.logging {
                return Err(invalid("No changes needed for the logging config provided"));
            }
            let enabled: Vec<&String> = logging
                .iter()
                .filter(|(_, e)| **e)
                .map(|(t, _)| t)
                .collect();
            let params = vec![(
                "ClusterLogging".to_owned(),
                json!([{"types": enabled, "enabled": true}]).to_string(),
            )];
            c.logging = logging;
            ("LoggingUpdate", params, false)
        }
        "resourcesVpcConfig" => {
            let vpc = object(
                body,
                "resourcesVpcConfig",
                &[
                    "subnetIds",
                    "securityGroupIds",
                    "endpointPublicAccess",
                    "endpointPrivateAccess",
                    "publicAccessCidrs",
                ],
            )?
            .ok_or_else(|| invalid("resourcesVpcConfig must be an object"))?;
            let mut next = c.vpc.clone();
            let network_change =
                vpc.contains_key("subnetIds") || vpc.contains_key("securityGroupIds");
            let access_change = [
                "endpointPublicAccess",
                "endpointPrivateAccess",
                "publicAccessCidrs",
            ]
            .iter()
            .any(|k| vpc.contains_key(*k));
            if network_change && access_change {
                return Err(invalid("Only one type of update can be allowed."));
            }
            if let Some(s) = strings(vpc, "subnetIds")? {
                next.subnets = s;
            }
            if let Some(g) = strings(vpc, "securityGroupIds")? {
                next.security_groups = g;
            }
            if network_change {
                let vpc_id =
                    check_network(ec2.get(&rgn), &rgn, &next.subnets, &next.security_groups)?;
                if vpc_id != c.vpc.vpc_id {
                    return Err(invalid("Subnets specified must be in the cluster VPC"));
                }
            }
            if let Some(p) = boolean(vpc, "endpointPublicAccess")? {
                next.public = p;
            }
            if let Some(p) = boolean(vpc, "endpointPrivateAccess")? {
                next.private = p;
            }
            if let Some(cidrs) = strings(vpc, "publicAccessCidrs")? {
                next.public_cidrs = cidrs;
            }
            if !next.public && !next.private {
                return Err(invalid(
                    "Cluster endpoint must have public or private access (or both) enabled",
                ));
            }
            if next.public && next.public_cidrs.is_empty() {
                next.public_cidrs = vec!["0.0.0.0/0".to_owned()];
            }
            let unchanged = next.subnets == c.vpc.subnets
                && next.security_groups == c.vpc.security_groups
                && next.public == c.vpc.public
                && next.private == c.vpc.private
                && next.public_cidrs == c.vpc.public_cidrs;
            if unchanged {
                return Err(invalid(
                    "Cluster is already at the desired configuration with endpointPrivateAccess, endpointPublicAccess, subnets and securityGroups",
                ));
            }
            let (kind, params) = if network_change {
                (
                    "VpcConfigUpdate",
                    vec![
                        ("Subnets".to_owned(), json!(next.subnets).to_string()),
                        (
                            "SecurityGroups".to_owned(),
                            json!(next.security_groups).to_string(),
                        ),
                    ],
                )
            } else {
                (
                    "EndpointAccessUpdate",
                    vec![
                        ("EndpointPublicAccess".to_owned(), next.public.to_string()),
                        ("EndpointPrivateAccess".to_owned(), next.private.to_string()),
                        (
                            "PublicAccessCidrs".to_owned(),
                            json!(next.public_cidrs).to_string(),
                        ),
                    ],
                )
            };
            c.vpc = next;
            (kind, params, false)
        }
        "accessConfig" => {
            let a = object(body, "accessConfig", &["authenticationMode"])?
                .ok_or_else(|| invalid("accessConfig must be an object"))?;
            let mode = string(a, "authenticationMode")?
                .ok_or_else(|| invalid("accessConfig.authenticationMode is required"))?;
            let rank = |m: &str| AUTH_MODES.iter().position(|x| *x == m);
            let (Some(from), Some(to)) = (rank(&c.authentication_mode), rank(&mode)) else {
                return Err(invalid(format!("Invalid authenticationMode {mode}")));
            };
            if to == from {
                return Err(invalid(format!(
                    "Cluster is already in authentication mode {mode}"
                )));
            }
            if to < from {
                return Err(invalid(format!(
                    "Unsupported authentication mode update from {} to {mode}",
                    c.authentication_mode
                )));
            }
            c.authentication_mode = mode.clone();
            (
                "AccessConfigUpdate",
                vec![("AuthenticationMode".to_owned(), mode)],
                false,
            )
        }
        "upgradePolicy" => {
            let u = object(body, "upgradePolicy", &["supportType"])?
                .ok_or_else(|| invalid("upgradePolicy must be an object"))?;
            let s = string(u, "supportType")?.unwrap_or_default();
            if !["STANDARD", "EXTENDED"].contains(&s.as_str()) {
                return Err(invalid(format!("Invalid supportType {s}")));
            }
            c.support_type = s.clone();
            (
                "UpgradePolicyUpdate",
                vec![("UpgradePolicy".to_owned(), s)],
                true,
            )
        }
        _ => {
            let d = boolean(body, "deletionProtection")?.unwrap_or(false);
            c.deletion_protection = d;
            (
                "DeletionProtectionUpdate",
                vec![("DeletionProtection".to_owned(), d.to_string())],
                true,
            )
        }
    };
    let done = if instant { now } else { deadline };
    let mut u = new_update(id, kind, params, now, done, Target::Cluster, None);
    if instant {
        u.status = "Successful".to_owned();
    } else {
        c.status = "UPDATING".to_owned();
        c.pending = Some(Pending {
            at: deadline,
            to: "ACTIVE".to_owned(),
        });
    }
    let out = json!({"update": update_json(&u)});
    c.updates.push(u);
    Ok(out)
}

// ---------------------------------------------------------------- node groups

const AMI_TYPES: &[&str] = &[
    "AL2_x86_64",
    "AL2_x86_64_GPU",
    "AL2_ARM_64",
    "CUSTOM",
    "BOTTLEROCKET_ARM_64",
    "BOTTLEROCKET_x86_64",
    "BOTTLEROCKET_ARM_64_FIPS",
    "BOTTLEROCKET_x86_64_FIPS",
    "BOTTLEROCKET_ARM_64_NVIDIA",
    "BOTTLEROCKET_x86_64_NVIDIA",
    "WINDOWS_CORE_2019_x86_64",
    "WINDOWS_FULL_2019_x86_64",
    "WINDOWS_CORE_2022_x86_64",
    "WINDOWS_FULL_2022_x86_64",
    "AL2023_x86_64_STANDARD",
    "AL2023_ARM_64_STANDARD",
    "AL2023_x86_64_NEURON",
    "AL2023_x86_64_NVIDIA",
    "AL2023_ARM_64_NVIDIA",
];

const TAINT_EFFECTS: &[&str] = &["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"];

fn parse_taint(v: &Value) -> ApiResult<(String, Option<String>, String)> {
    let t = v
        .as_object()
        .ok_or_else(|| invalid("taints must be objects"))?;
    check_keys(t, &["key", "value", "effect"], "taint")?;
    let key = string(t, "key")?
        .filter(|k| !k.is_empty() && k.len() <= 63)
        .ok_or_else(|| invalid("taint key must be 1 to 63 characters"))?;
    let effect = string(t, "effect")?.unwrap_or_default();
    if !TAINT_EFFECTS.contains(&effect.as_str()) {
        return Err(invalid(format!(
            "Invalid taint effect {effect}; valid effects are {}",
            TAINT_EFFECTS.join(", ")
        )));
    }
    Ok((key, string(t, "value")?, effect))
}

fn parse_update_config(body: &Map<String, Value>) -> ApiResult<Option<Value>> {
    let Some(u) = object(
        body,
        "updateConfig",
        &[
            "maxUnavailable",
            "maxUnavailablePercentage",
            "updateStrategy",
        ],
    )?
    else {
        return Ok(None);
    };
    let n = integer(u, "maxUnavailable")?;
    let pct = integer(u, "maxUnavailablePercentage")?;
    match (n, pct) {
        (Some(n), None) if (1..=100).contains(&n) => Ok(Some(json!({"maxUnavailable": n}))),
        (None, Some(p)) if (1..=100).contains(&p) => {
            Ok(Some(json!({"maxUnavailablePercentage": p})))
        }
        _ => Err(invalid(
            "updateConfig needs exactly one of maxUnavailable (1-100) or maxUnavailablePercentage (1-100)",
        )),
    }
}

fn check_scaling(min: i64, max: i64, desired: i64) -> ApiResult<()> {
    if min < 0 || max < 1 || desired < 0 {
        return Err(invalid(
            "Minimum capacity must be at least 0, maximum at least 1",
        ));
    }
    if max > 450 {
        return Err(ApiError::bad(
            "ResourceLimitExceededException",
            "Maximum capacity exceeds the quota of 450 nodes per managed node group",
        ));
    }
    if min > max {
        return Err(invalid(format!(
            "Minimum capacity {min} can't be greater than maximum capacity {max}"
        )));
    }
    if desired < min {
        return Err(invalid(format!(
            "Desired capacity {desired} can't be lower than minimum capacity {min}"
        )));
    }
    if desired > max {
        return Err(invalid(format!(
            "Desired capacity {desired} can't be greater than maximum capacity {max}"
        )));
    }
    Ok(())
}

fn release_version(version: &str) -> String {
    format!("{version}.0-20260101")
}

fn check_nodegroup_version(cluster_version: &str, version: &str, ami: &str) -> ApiResult<()> {
    let (Some(c), Some(n)) = (data::minor(cluster_version), data::minor(version)) else {
        return Err(invalid(format!("Invalid Kubernetes version {version}")));
    };
    if n > c || c - n > data::kubelet_skew(c) {
        return Err(invalid(format!(
            "Requested Nodegroup Kubernetes version {version} is not supported with cluster version {cluster_version}"
        )));
    }
    if ami.starts_with("AL2_") && n >= 33 {
        return Err(invalid(format!(
            "AMI Type {ami} is only supported for kubernetes versions 1.32 or earlier"
        )));
    }
    Ok(())
}

fn create_nodegroup(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let name = string(body, "nodegroupName")?.unwrap_or_default();
    if !valid_name(&name, 63) {
        return Err(invalid(format!("The nodegroup name {name} is invalid")));
    }
    let token = string(body, "clientRequestToken")?;
    {
        let c = cluster(ctx, cluster_name)?;
        if let Some(existing) = c.nodegroups.get(&name) {
            if token.is_some() && existing.client_token == token {
                return Ok(json!({"nodegroup": nodegroup_json(c, existing)}));
            }
            return Err(in_use(format!(
                "NodeGroup already exists with name {name} and cluster name {cluster_name}"
            )));
        }
        ensure_active(c)?;
        if c.nodegroups.len() >= 30 {
            return Err(ApiError::bad(
                "ResourceLimitExceededException",
                "Managed node groups per cluster quota (30) exceeded",
            ));
        }
    }
    let scaling = object(
        body,
        "scalingConfig",
        &["minSize", "maxSize", "desiredSize"],
    )?;
    let (min, max, desired) = match scaling {
        Some(s) => (
            integer(s, "minSize")?.unwrap_or(1),
            integer(s, "maxSize")?.unwrap_or(2),
            integer(s, "desiredSize")?.unwrap_or(2),
        ),
        None => (1, 2, 2),
    };
    check_scaling(min, max, desired)?;
    let subnets = strings(body, "subnets")?.unwrap_or_default();
    let node_role = string(body, "nodeRole")?.unwrap_or_default();
    let instance_types =
        strings(body, "instanceTypes")?.unwrap_or_else(|| vec!["t3.medium".to_owned()]);
    if instance_types.is_empty() || instance_types.len() > 20 {
        return Err(invalid("instanceTypes must name 1 to 20 instance types"));
    }
    let unoffered: Vec<&str> = instance_types
        .iter()
        .map(String::as_str)
        .filter(|t| !crate::offerings::aws_offered(t, &ctx.region))
        .collect();
    if !unoffered.is_empty() {
        return Err(invalid(format!(
            "The following supplied instance types are not offered in region {}: [{}]",
            ctx.region,
            unoffered.join(", ")
        )));
    }
    let disk_size = integer(body, "diskSize")?.unwrap_or(20);
    if !(1..=16384).contains(&disk_size) {
        return Err(invalid(format!("diskSize {disk_size} is out of range")));
    }
    let capacity_type = string(body, "capacityType")?.unwrap_or_else(|| "ON_DEMAND".to_owned());
    if !["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"].contains(&capacity_type.as_str()) {
        return Err(invalid(format!("Invalid capacityType {capacity_type}")));
    }
    let labels = string_map(body, "labels")?;
    let taints = match body.get("taints") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(parse_taint).collect::<ApiResult<Vec<_>>>()?,
        Some(_) => return Err(invalid("taints must be a list")),
    };
    if taints.len() > 50 {
        return Err(invalid("At most 50 taints are allowed"));
    }
    let update_config = parse_update_config(body)?.unwrap_or_else(|| json!({"maxUnavailable": 1}));
    for unsupported in [
        "launchTemplate",
        "remoteAccess",
        "warmPoolConfig",
        "nodeRepairConfig",
    ] {
        if body.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(invalid(format!("{unsupported} is not emulated")));
        }
    }
    let tags = tags(body)?;
    let id = ctx.uuid();
    let owner = owner(ctx, cluster_name, Of::Tags(&tags));
    let deadline = ctx.deadline(Op::NodegroupCreate, &id, "eks", &name, Some(&owner));
    let fails = ctx.faults.fails(FailureTarget::Nodegroup, &[&name]);
    let entry_id = ctx.uuid();
    let (now, rgn, account, propagation) = (
        ctx.now,
        ctx.region.clone(),
        ctx.account().to_owned(),
        ctx.faults.iam_propagation_ms,
    );
    let Cloud { iam, ec2, eks, .. } = &mut *ctx.cloud;
    let c = eks
        .entry(rgn.clone())
        .or_default()
        .clusters
        .get_mut(cluster_name)
        .ok_or_else(|| no_cluster(cluster_name))?;
    let version = string(body, "version")?.unwrap_or_else(|| c.version.clone());
    let default_ami = if data::minor(&version).unwrap_or(0) >= 33 {
        "AL2023_x86_64_STANDARD"
    } else {
        "AL2_x86_64"
    };
    let ami_type = string(body, "amiType")?.unwrap_or_else(|| default_ami.to_owned());
    if !AMI_TYPES.contains(&ami_type.as_str()) {
        return Err(invalid(format!("Invalid amiType {ami_type}")));
    }
    check_nodegroup_version(&c.version, &version, &ami_type)?;
    let release = match string(body, "releaseVersion")? {
        Some(r) if !r.starts_with(&format!("{version}.")) => {
            return Err(invalid(format!(
                "Release version {r} does not match Kubernetes version {version}"
            )));
        }
        Some(r) => r,
        None => release_version(&version),
    };
    assumable(iam, &node_role, "ec2.amazonaws.com", now, propagation)?;
    if subnets.is_empty() {
        return Err(invalid("Subnets are required"));
    }
    let ec2r = ec2.entry(rgn.clone()).or_default();
    for s in &subnets {
        let (vpc, _) = ec2::subnet_placement(ec2r, s)
            .ok_or_else(|| invalid(format!("The subnet ID '{s}' does not exist")))?;
        if vpc != c.vpc.vpc_id {
            return Err(invalid(format!(
                "Subnet {s} is not in the cluster VPC {}",
                c.vpc.vpc_id
            )));
        }
    }
    let role = iam::role_by_arn(iam, &node_role);
    let missing_policy = role.is_some_and(|r| {
        !r.has_managed("AmazonEKSWorkerNodePolicy")
            || !(r.has_managed("AmazonEC2ContainerRegistryReadOnly")
                || r.has_managed("AmazonEC2ContainerRegistryPullOnly"))
    });
    let fail = if fails {
        Some((
            "NodeCreationFailure".to_owned(),
            "Instances failed to join the kubernetes cluster (injected fault)".to_owned(),
        ))
    } else if missing_policy {
        Some(("NodeCreationFailure".to_owned(), "Instances failed to join the kubernetes cluster: the node role lacks AmazonEKSWorkerNodePolicy or ECR read access".to_owned()))
    } else {
        None
    };
    // EKS creates the node role's access entry itself on API-mode clusters.
    if c.authentication_mode != "CONFIG_MAP" && !c.access_entries.contains_key(&node_role) {
        let role_name = role.map(|r| r.name().to_owned()).unwrap_or_default();
        c.access_entries.insert(
            node_role.clone(),
            AccessEntry {
                arn: format!("arn:aws:eks:{rgn}:{account}:access-entry/{cluster_name}/role/{account}/{role_name}/{entry_id}"),
                principal: node_role.clone(),
                kind: "EC2_LINUX".to_owned(),
                username: "system:node:{{EC2PrivateDNSName}}".to_owned(),
                groups: vec!["system:nodes".to_owned()],
                created: now,
                modified: now,
                tags: BTreeMap::new(),
                policies: BTreeMap::new(),
            },
        );
    }
    let n = Nodegroup {
        name: name.clone(),
        arn: format!("arn:aws:eks:{rgn}:{account}:nodegroup/{cluster_name}/{name}/{id}"),
        created: now,
        modified: now,
        status: "CREATING".to_owned(),
        pending: Some(Pending {
            at: deadline,
            to: "ACTIVE".to_owned(),
        }),
        version,
        release_version: release,
        capacity_type,
        min,
        max,
        desired,
        instance_types,
        subnets,
        ami_type,
        node_role,
        labels,
        taints,
        disk_size,
        update_config,
        tags,
        client_token: token,
        fail,
        injected_update_failures: 0,
        issues: Vec::new(),
        asg: format!("eks-{name}-{id}"),
        injected: Vec::new(),
    };
    let out = json!({"nodegroup": nodegroup_json(c, &n)});
    c.nodegroups.insert(name, n);
    Ok(out)
}

fn delete_nodegroup(ctx: &mut Ctx<'_>, cluster_name: &str, name: &str) -> ApiResult<Value> {
    let owner = owner(ctx, cluster_name, Of::Nodegroup(name));
    let deadline = ctx.deadline(
        Op::NodegroupDelete,
        &format!("{cluster_name}/{name}"),
        "eks",
        name,
        Some(&owner),
    );
    let c = cluster_mut(ctx, cluster_name)?;
    let n = c
        .nodegroups
        .get_mut(name)
        .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))?;
    if matches!(n.status.as_str(), "CREATING" | "UPDATING" | "DELETING") {
        return Err(in_use(format!(
            "Nodegroup {name} is currently {}",
            n.status
        )));
    }
    n.status = "DELETING".to_owned();
    n.pending = Some(Pending {
        at: deadline,
        to: "gone".to_owned(),
    });
    let n = nodegroup(c, name)?;
    Ok(json!({"nodegroup": nodegroup_json(c, n)}))
}

fn nodegroup_updatable<'c>(c: &'c mut Cluster, name: &str) -> ApiResult<&'c mut Nodegroup> {
    if c.status != "ACTIVE" {
        return Err(in_use(format!(
            "Cluster {} is {}; node groups can be updated only while it is ACTIVE",
            c.name, c.status
        )));
    }
    let n = c
        .nodegroups
        .get_mut(name)
        .ok_or_else(|| not_found(format!("No node group found for name: {name}.")))?;
    if !matches!(n.status.as_str(), "ACTIVE" | "DEGRADED") {
        return Err(in_use(format!(
            "Nodegroup {name} is currently {}; an update is already in progress or it is not ready",
            n.status
        )));
    }
    Ok(n)
}

fn update_nodegroup_config(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let id = ctx.uuid();
    let owner = owner(ctx, cluster_name, Of::Nodegroup(name));
    let deadline = ctx.deadline(Op::NodegroupConfigUpdate, &id, "eks", name, Some(&owner));
    let now = ctx.now;
    let c = cluster_mut(ctx, cluster_name)?;
    let n = nodegroup_updatable(c, name)?;
    let mut params: Vec<(String, String)> = Vec::new();
    let mut labels = n.labels.clone();
    if let Some(l) = object(body, "labels", &["addOrUpdateLabels", "removeLabels"])? {
        let add = string_map(l, "addOrUpdateLabels")?;
        let remove = strings(l, "removeLabels")?.unwrap_or_default();
        if add.keys().any(|k| remove.contains(k)) {
            return Err(invalid("A label cannot be both added and removed"));
        }
        if !add.is_empty() {
            params.push(("LabelsToAdd".to_owned(), json!(add).to_string()));
        }
        if !remove.is_empty() {
            params.push(("LabelsToRemove".to_owned(), json!(remove).to_string()));
        }
        labels.extend(add);
        labels.retain(|k, _| !remove.contains(k));
    }
    let mut taints = n.taints.clone();
    if let Some(t) = object(body, "taints", &["addOrUpdateTaints", "removeTaints"])? {
        let parse = |key: &str| -> ApiResult<Vec<(String, Option<String>, String)>> {
            match t.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(a)) => a.iter().map(parse_taint).collect(),
                Some(_) => Err(invalid(format!("taints.{key} must be a list"))),
            }
        };
        let add = parse("addOrUpdateTaints")?;
        let remove = parse("removeTaints")?;
        if !add.is_empty() {
            params.push(("TaintsToAdd".to_owned(), add.len().to_string()));
        }
        if !remove.is_empty() {
            params.push(("TaintsToRemove".to_owned(), remove.len().to_string()));
        }
        for r in &remove {
            taints.retain(|x| !(x.0 == r.0 && x.2 == r.2));
        }
        for a in add {
            taints.retain(|x| !(x.0 == a.0 && x.2 == a.2));
            taints.push(a);
        }
    }
    let (mut min, mut max, mut desired) = (n.min, n.max, n.desired);
    if let Some(s) = object(
        body,
        "scalingConfig",
        &["minSize", "maxSize", "desiredSize"],
    )? {
        if let Some(v) = integer(s, "minSize")? {
            min = v;
            params.push(("MinSize".to_owned(), v.to_string()));
        }
        if let Some(v) = integer(s, "maxSize")? {
            max = v;
            params.push(("MaxSize".to_owned(), v.to_string()));
        }
        if let Some(v) = integer(s, "desiredSize")? {
            desired = v;
            params.push(("DesiredSize".to_owned(), v.to_string()));
        }
        check_scaling(min, max, desired)?;
    }
    let update_config = parse_update_config(body)?;
    if let Some(u) = &update_config {
        for (k, v) in u.as_object().into_iter().flatten() {
            let mut key = k.clone();
            key[..1].make_ascii_uppercase();
            params.push((key, v.to_string()));
        }
    }
    for unsupported in ["nodeRepairConfig", "warmPoolConfig"] {
        if body.get(unsupported).is_some_and(|v| !v.is_null()) {
            return Err(invalid(format!("{unsupported} is not emulated")));
        }
    }
    if params.is_empty() {
        return Err(invalid(
            "No changes needed for the nodegroup configuration provided",
        ));
    }
    n.labels = labels;
    n.taints = taints;
    n.min = min;
    n.max = max;
    n.desired = desired;
    if let Some(u) = update_config {
        n.update_config = u;
    }
    n.status = "UPDATING".to_owned();
    n.modified = now;
    n.pending = Some(Pending {
        at: deadline,
        to: "ACTIVE".to_owned(),
    });
    let u = new_update(
        id,
        "ConfigUpdate",
        params,
        now,
        deadline,
        Target::Nodegroup(name.to_owned()),
        None,
    );
    let out = json!({"update": update_json(&u)});
    c.updates.push(u);
    Ok(out)
}

fn update_nodegroup_version(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    if body.get("launchTemplate").is_some_and(|v| !v.is_null()) {
        return Err(invalid("launchTemplate is not emulated"));
    }
    let id = ctx.uuid();
    let owner = owner(ctx, cluster_name, Of::Nodegroup(name));
    let (now, seed, scale, rgn) = (
        ctx.now,
        ctx.settings.seed,
        ctx.settings.time_scale,
        ctx.region.clone(),
    );
    let faults = ctx.faults;
    let c = cluster_mut(ctx, cluster_name)?;
    let cluster_version = c.version.clone();
    let n = nodegroup_updatable(c, name)?;
    let version = string(body, "version")?.unwrap_or_else(|| cluster_version.clone());
    check_nodegroup_version(&cluster_version, &version, &n.ami_type)?;
    if data::minor(&version) < data::minor(&n.version) {
        return Err(invalid(format!(
            "Requested version {version} is older than the nodegroup's version {}",
            n.version
        )));
    }
    // UpdateNodegroupVersion offers the latest AMI of the node group's own minor or of the
    // cluster's: a minor in between is not a target.
    if version != n.version && version != cluster_version {
        return Err(invalid(format!(
            "Requested Nodegroup Kubernetes version {version} is invalid: a node group can be updated to its current version {} or to the cluster version {cluster_version}",
            n.version
        )));
    }
    let release = match string(body, "releaseVersion")? {
        Some(r) if !r.starts_with(&format!("{version}.")) => {
            return Err(invalid(format!(
                "Release version {r} does not match Kubernetes version {version}"
            )));
        }
        Some(r) => r,
        None => release_version(&version),
    };
    if version == n.version && release == n.release_version && boolean(body, "force")? != Some(true)
    {
        return Err(invalid(format!(
            "Nodegroup {name} is already at version {version} ({release})"
        )));
    }
    let per_batch = match (
        n.update_config
            .get("maxUnavailable")
            .and_then(Value::as_i64),
        n.update_config
            .get("maxUnavailablePercentage")
            .and_then(Value::as_i64),
    ) {
        (Some(m), _) => m,
        (None, Some(p)) => (n.desired * p + 99) / 100,
        _ => 1,
    }
    .max(1);
    let batches = u32::try_from((n.desired + per_batch - 1) / per_batch).unwrap_or(1);
    // The batch count needs the node group, which holds `ctx` borrowed: draw and log here.
    let (ms, record) = crate::oplog::draw(
        Op::NodegroupRoll { batches },
        &id,
        seed,
        scale,
        now,
        crate::oplog::Subject {
            service: "eks",
            target: name,
            cluster: Some(&owner),
            region: &rgn,
        },
    );
    let deadline = now + ms;
    n.status = "UPDATING".to_owned();
    n.modified = now;
    // Whatever the outcome, the node group is ACTIVE again when the update ends; a failed
    // update leaves its version and release as they were.
    n.pending = Some(Pending {
        at: deadline,
        to: "ACTIVE".to_owned(),
    });
    let failure = faults
        .fails_after(
            FailureTarget::NodegroupUpdate,
            &[name],
            n.injected_update_failures,
        )
        .then(|| {
            n.injected_update_failures += 1;
            let h = hash_str(seed, &id);
            UpdateError {
                code: "PodEvictionFailure".to_owned(),
                message: format!(
                    "Reached max retries while trying to evict pods from nodes in node group {name}"
                ),
                resource_ids: vec![format!(
                    "ip-10-0-{}-{}.ec2.internal",
                    h % 256,
                    (h >> 8) % 254 + 1
                )],
            }
        });
    let mut u = new_update(
        id,
        "VersionUpdate",
        vec![
            ("Version".to_owned(), version.clone()),
            ("ReleaseVersion".to_owned(), release.clone()),
        ],
        now,
        deadline,
        Target::Nodegroup(name.to_owned()),
        Some(Apply::Nodegroup { version, release }),
    );
    u.failure = failure;
    let out = json!({"update": update_json(&u)});
    c.updates.push(u);
    ctx.ops.push(record);
    Ok(out)
}

// ---------------------------------------------------------------- add-ons

fn addon_associations(body: &Map<String, Value>) -> ApiResult<Option<Vec<(String, String)>>> {
    match body.get("podIdentityAssociations") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                let o = v
                    .as_object()
                    .ok_or_else(|| invalid("podIdentityAssociations entries must be objects"))?;
                check_keys(o, &["serviceAccount", "roleArn"], "podIdentityAssociations")?;
                Ok((
                    string(o, "serviceAccount")?
                        .ok_or_else(|| invalid("serviceAccount is required"))?,
                    string(o, "roleArn")?.ok_or_else(|| invalid("roleArn is required"))?,
                ))
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(invalid("podIdentityAssociations must be a list")),
    }
}

fn check_addon_common(body: &Map<String, Value>, iam: &Iam) -> ApiResult<()> {
    if let Some(r) = string(body, "resolveConflicts")?
        && !["OVERWRITE", "NONE", "PRESERVE"].contains(&r.as_str())
    {
        return Err(invalid(format!("Invalid resolveConflicts {r}")));
    }
    if let Some(cfg) = string(body, "configurationValues")?
        && serde_json::from_str::<Value>(&cfg).is_err()
    {
        return Err(invalid("configurationValues is not valid JSON"));
    }
    // An empty ARN removes the role (UpdateAddon), so only a named role must exist.
    if let Some(r) = string(body, "serviceAccountRoleArn")?.filter(|r| !r.is_empty()) {
        role_exists(iam, &r, "service account")?;
    }
    Ok(())
}

fn create_addon(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let name = string(body, "addonName")?.unwrap_or_default();
    if body.get("namespaceConfig").is_some_and(|v| !v.is_null()) {
        return Err(invalid("namespaceConfig is not emulated"));
    }
    let tags = tags(body)?;
    let associations = addon_associations(body)?.unwrap_or_default();
    let ids: Vec<String> = associations
        .iter()
        .map(|_| format!("a-{}", ctx.hex(17)))
        .collect();
    let arn_id = ctx.uuid();
    let owner = owner(ctx, cluster_name, Of::Tags(&tags));
    let deadline = ctx.deadline(Op::AddonChange, &arn_id, "eks", &name, Some(&owner));
    let fails = ctx.faults.fails(FailureTarget::Addon, &[&name]);
    let (now, rgn, account) = (ctx.now, ctx.region.clone(), ctx.account().to_owned());
    let Cloud { iam, eks, .. } = &mut *ctx.cloud;
    let c = eks
        .entry(rgn.clone())
        .or_default()
        .clusters
        .get_mut(cluster_name)
        .ok_or_else(|| no_cluster(cluster_name))?;
    if c.addons.contains_key(&name) {
        return Err(in_use(format!("Addon already exists with name: {name}")));
    }
    ensure_active(c)?;
    let catalogue = data::addon(&name).ok_or_else(|| {
        invalid(format!(
            "Addon {name} specified is not supported in {} kubernetes version",
            c.version
        ))
    })?;
    let version = match string(body, "addonVersion")? {
        Some(v) => {
            if !catalogue.compatible(&v, &c.version) {
                return Err(invalid(format!(
                    "Addon version {v} specified is not supported in {} kubernetes version",
                    c.version
                )));
            }
            v
        }
        None => catalogue
            .default_for(&c.version)
            .ok_or_else(|| {
                invalid(format!(
                    "Addon {name} specified is not supported in {} kubernetes version",
                    c.version
                ))
            })?
            .to_owned(),
    };
    check_addon_common(body, iam)?;
    let arn = format!("arn:aws:eks:{rgn}:{account}:addon/{cluster_name}/{name}/{arn_id}");
    let mut association_arns = Vec::new();
    for ((sa, role), id) in associations.into_iter().zip(ids) {
        role_exists(iam, &role, "Pod Identity")?;
        if c.associations
            .values()
            .any(|a| a.namespace == "kube-system" && a.service_account == sa)
        {
            return Err(in_use(format!(
                "Association already exists for kube-system/{sa}"
            )));
        }
        let a_arn =
            format!("arn:aws:eks:{rgn}:{account}:podidentityassociation/{cluster_name}/{id}");
        association_arns.push(a_arn.clone());
        c.associations.insert(
            id.clone(),
            Association {
                id,
                arn: a_arn,
                namespace: "kube-system".to_owned(),
                service_account: sa,
                role_arn: role,
                owner: Some(arn.clone()),
                disable_session_tags: false,
                target_role_arn: None,
                created: now,
                modified: now,
                tags: BTreeMap::new(),
            },
        );
    }
    let a = Addon {
        name: name.clone(),
        arn,
        version,
        status: "CREATING".to_owned(),
        pending: Some(Pending {
            at: deadline,
            to: if fails { "CREATE_FAILED" } else { "ACTIVE" }.to_owned(),
        }),
        created: now,
        modified: now,
        service_account_role: string(body, "serviceAccountRoleArn")?.filter(|r| !r.is_empty()),
        configuration: string(body, "configurationValues")?,
        associations: association_arns,
        fail: fails,
        tags,
        injected: Vec::new(),
    };
    let out = json!({"addon": addon_json(c, &a)});
    c.addons.insert(name, a);
    Ok(out)
}

fn update_addon(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let associations = addon_associations(body)?;
    let new_ids: Vec<String> = associations
        .iter()
        .flatten()
        .map(|_| format!("a-{}", ctx.hex(17)))
        .collect();
    let id = ctx.uuid();
    let owner = owner(ctx, cluster_name, Of::Addon(name));
    let (now, deadline, rgn, account) = (
        ctx.now,
        ctx.deadline(Op::AddonChange, &id, "eks", name, Some(&owner)),
        ctx.region.clone(),
        ctx.account().to_owned(),
    );
    let Cloud { iam, eks, .. } = &mut *ctx.cloud;
    let c = eks
        .entry(rgn.clone())
        .or_default()
        .clusters
        .get_mut(cluster_name)
        .ok_or_else(|| no_cluster(cluster_name))?;
    if c.status != "ACTIVE" {
        return Err(in_use(format!("Cluster {cluster_name} is {}", c.status)));
    }
    let a = c
        .addons
        .get(name)
        .ok_or_else(|| not_found(format!("No addon: {name} found in cluster: {cluster_name}")))?;
    if !matches!(
        a.status.as_str(),
        "ACTIVE" | "DEGRADED" | "CREATE_FAILED" | "UPDATE_FAILED"
    ) {
        return Err(in_use(format!("Addon {name} is currently {}", a.status)));
    }
    check_addon_common(body, iam)?;
    let mut params = Vec::new();
    let mut apply = None;
    if let Some(v) = string(body, "addonVersion")? {
        let catalogue =
            data::addon(name).ok_or_else(|| invalid(format!("Unknown addon {name}")))?;
        if !catalogue.compatible(&v, &c.version) {
            return Err(invalid(format!(
                "Addon version {v} specified is not supported in {} kubernetes version",
                c.version
            )));
        }
        params.push(("AddonVersion".to_owned(), v.clone()));
        apply = Some(Apply::Addon(v));
    }
    let role = string(body, "serviceAccountRoleArn")?;
    if let Some(r) = &role {
        params.push(("ServiceAccountRoleArn".to_owned(), r.clone()));
    }
    if let Some(r) = string(body, "resolveConflicts")? {
        params.push(("ResolveConflicts".to_owned(), r));
    }
    let cfg = string(body, "configurationValues")?;
    if let Some(v) = &cfg {
        params.push(("ConfigurationValues".to_owned(), v.clone()));
    }
    let addon_arn = a.arn.clone();
    let mut association_arns = a.associations.clone();
    if let Some(list) = associations {
        params.push((
            "PodIdentityAssociations".to_owned(),
            json!(
                list.iter()
                    .map(|(s, r)| json!({"serviceAccount": s, "roleArn": r}))
                    .collect::<Vec<_>>()
            )
            .to_string(),
        ));
        c.associations
            .retain(|_, x| x.owner.as_deref() != Some(addon_arn.as_str()));
        association_arns.clear();
        for ((sa, role), id) in list.into_iter().zip(new_ids) {
            role_exists(iam, &role, "Pod Identity")?;
            let a_arn =
                format!("arn:aws:eks:{rgn}:{account}:podidentityassociation/{cluster_name}/{id}");
            association_arns.push(a_arn.clone());
            c.associations.insert(
                id.clone(),
                Association {
                    id,
                    arn: a_arn,
                    namespace: "kube-system".to_owned(),
                    service_account: sa,
                    role_arn: role,
                    owner: Some(addon_arn.clone()),
                    disable_session_tags: false,
                    target_role_arn: None,
                    created: now,
                    modified: now,
                    tags: BTreeMap::new(),
                },
            );
        }
    }
    if params.is_empty() {
        return Err(invalid(
            "No changes needed for the addon configuration provided",
        ));
    }
    if let Some(a) = c.addons.get_mut(name) {
        if let Some(r) = role {
            a.service_account_role = Some(r).filter(|r| !r.is_empty());
        }
        if cfg.is_some() {
            a.configuration = cfg;
        }
        a.associations = association_arns;
        a.status = "UPDATING".to_owned();
        a.modified = now;
        a.pending = Some(Pending {
            at: deadline,
            to: "ACTIVE".to_owned(),
        });
    }
    let u = new_update(
        id,
        "AddonUpdate",
        params,
        now,
        deadline,
        Target::Addon(name.to_owned()),
        apply,
    );
    let out = json!({"update": update_json(&u)});
    c.updates.push(u);
    Ok(out)
}

fn delete_addon(ctx: &mut Ctx<'_>, cluster_name: &str, name: &str) -> ApiResult<Value> {
    let owner = owner(ctx, cluster_name, Of::Addon(name));
    let deadline = ctx.deadline(
        Op::AddonDelete,
        &format!("{cluster_name}/{name}"),
        "eks",
        name,
        Some(&owner),
    );
    let c = cluster_mut(ctx, cluster_name)?;
    let a = c
        .addons
        .get_mut(name)
        .ok_or_else(|| not_found(format!("No addon: {name} found in cluster: {cluster_name}")))?;
    if matches!(a.status.as_str(), "CREATING" | "UPDATING" | "DELETING") {
        return Err(in_use(format!("Addon {name} is currently {}", a.status)));
    }
    a.status = "DELETING".to_owned();
    a.pending = Some(Pending {
        at: deadline,
        to: "gone".to_owned(),
    });
    let a = addon(c, name)?;
    Ok(json!({"addon": addon_json(c, a)}))
}

fn describe_addon_versions(q: &[(String, String)]) -> ApiResult<Value> {
    let k8s = query(q, "kubernetesVersion");
    let name = query(q, "addonName");
    let types: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "types")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut addons: Vec<Value> = Vec::new();
    for a in data::ADDONS {
        if name.is_some_and(|n| n != a.name) || (!types.is_empty() && !types.contains(&a.kind)) {
            continue;
        }
        let versions: Vec<Value> = a
            .versions()
            .into_iter()
            .filter(|(_, compat)| k8s.is_none_or(|k| compat.iter().any(|(m, _)| *m == k)))
            .map(|(v, compat)| {
                json!({
                    "addonVersion": v,
                    "architecture": ["amd64", "arm64"],
                    "computeTypes": ["ec2"],
                    "compatibilities": compat.iter()
                        .filter(|(m, _)| k8s.is_none_or(|k| *m == k))
                        .map(|(m, d)| json!({"clusterVersion": m, "platformVersions": ["*"], "defaultVersion": d}))
                        .collect::<Vec<_>>(),
                    "requiresConfiguration": false,
                    "requiresIamPermissions": a.iam,
                })
            })
            .collect();
        if versions.is_empty() {
            continue;
        }
        addons.push(json!({
            "addonName": a.name,
            "type": a.kind,
            "addonVersions": versions,
            "publisher": "eks",
            "owner": "aws",
            "defaultNamespace": if a.name == "amazon-cloudwatch-observability" { "amazon-cloudwatch" } else { "kube-system" },
        }));
    }
    let names: Vec<String> = addons
        .iter()
        .map(|a| a["addonName"].as_str().unwrap_or("").to_owned())
        .collect();
    let (page, next) = page(names, query(q, "maxResults"), query(q, "nextToken"), 100)?;
    let addons: Vec<Value> = addons
        .into_iter()
        .filter(|a| page.iter().any(|n| a["addonName"] == n.as_str()))
        .collect();
    Ok(json!({"addons": addons, "nextToken": next}))
}

// ---------------------------------------------------------------- access entries

fn create_access_entry(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let principal = string(body, "principalArn")?.unwrap_or_default();
    let kind = string(body, "type")?.unwrap_or_else(|| "STANDARD".to_owned());
    if ![
        "STANDARD",
        "EC2_LINUX",
        "EC2_WINDOWS",
        "FARGATE_LINUX",
        "EC2",
        "HYBRID_LINUX",
        "HYPERPOD_LINUX",
    ]
    .contains(&kind.as_str())
    {
        return Err(invalid(format!("Invalid access entry type {kind}")));
    }
    let parts: Vec<&str> = principal.splitn(6, ':').collect();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && parts[4].len() == 12
        && (parts[5].starts_with("role/") || parts[5].starts_with("user/"));
    if !valid {
        return Err(invalid(format!(
            "The principalArn {principal} is not a valid IAM role or user ARN"
        )));
    }
    let groups = strings(body, "kubernetesGroups")?.unwrap_or_default();
    if kind != "STANDARD" && (!groups.is_empty() || body.contains_key("username")) {
        return Err(invalid(format!(
            "kubernetesGroups and username cannot be set for access entries of type {kind}"
        )));
    }
    if groups.iter().any(|g| g.starts_with("system:")) {
        return Err(invalid("kubernetesGroups cannot start with system:"));
    }
    let tags = tags(body)?;
    let id = ctx.uuid();
    let (now, rgn, account) = (ctx.now, ctx.region.clone(), ctx.account().to_owned());
    let c = cluster_mut(ctx, cluster_name)?;
    if c.authentication_mode == "CONFIG_MAP" {
        return Err(invalid_request(
            "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
        ));
    }
    if c.access_entries.contains_key(&principal) {
        return Err(in_use(
            "The specified access entry resource is already in use on this cluster.",
        ));
    }
    let (ptype, pname) = parts[5].split_once('/').unwrap_or(("role", ""));
    let pname = pname.rsplit('/').next().unwrap_or(pname);
    let username = match string(body, "username")? {
        Some(u) => u,
        None if kind == "STANDARD" && ptype == "role" => {
            format!(
                "arn:aws:sts::{}:assumed-role/{pname}/{{{{SessionName}}}}",
                parts[4]
            )
        }
        None if kind == "STANDARD" => principal.clone(),
        None => "system:node:{{EC2PrivateDNSName}}".to_owned(),
    };
    let e = AccessEntry {
        arn: format!(
            "arn:aws:eks:{rgn}:{account}:access-entry/{cluster_name}/{ptype}/{}/{pname}/{id}",
            parts[4]
        ),
        principal: principal.clone(),
        kind,
        username,
        groups,
        created: now,
        modified: now,
        tags,
        policies: BTreeMap::new(),
    };
    let out = json!({"accessEntry": access_entry_json(c, &e)});
    c.access_entries.insert(principal, e);
    Ok(out)
}

fn associate_access_policy(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    principal: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let policy = string(body, "policyArn")?.unwrap_or_default();
    let known = policy
        .strip_prefix("arn:aws:eks::aws:cluster-access-policy/")
        .is_some_and(|n| ACCESS_POLICIES.contains(&n));
    if !known {
        return Err(invalid(format!(
            "The policy {policy} is not a valid EKS access policy"
        )));
    }
    let scope = object(body, "accessScope", &["type", "namespaces"])?
        .ok_or_else(|| invalid("accessScope is required"))?;
    let kind = string(scope, "type")?.unwrap_or_default();
    let namespaces = strings(scope, "namespaces")?.unwrap_or_default();
    match kind.as_str() {
        "cluster" if !namespaces.is_empty() => {
            return Err(invalid(
                "namespaces cannot be specified with the cluster access scope",
            ));
        }
        "namespace" if namespaces.is_empty() => {
            return Err(invalid(
                "namespaces are required with the namespace access scope",
            ));
        }
        "cluster" | "namespace" => {}
        other => return Err(invalid(format!("Invalid access scope type {other}"))),
    }
    let now = ctx.now;
    let c = cluster_mut(ctx, cluster_name)?;
    let cname = c.name.clone();
    let e = c.access_entries.get_mut(principal).ok_or_else(|| {
        not_found(format!(
            "The specified access entry resource is not found: {principal}"
        ))
    })?;
    if e.kind != "STANDARD" {
        return Err(invalid(format!(
            "Access policies cannot be associated with access entries of type {}",
            e.kind
        )));
    }
    let scope = json!({"type": kind, "namespaces": namespaces});
    let associated = e.policies.get(&policy).map_or(now, |p| p.1);
    e.policies
        .insert(policy.clone(), (scope.clone(), associated, now));
    Ok(json!({
        "clusterName": cname,
        "principalArn": principal,
        "associatedAccessPolicy": {
            "policyArn": policy, "accessScope": scope,
            "associatedAt": epoch_seconds(associated), "modifiedAt": epoch_seconds(now),
        },
    }))
}

// ---------------------------------------------------------------- Pod Identity

fn create_association(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let namespace = string(body, "namespace")?.unwrap_or_default();
    let sa = string(body, "serviceAccount")?.unwrap_or_default();
    let role = string(body, "roleArn")?.unwrap_or_default();
    if body.get("policy").is_some_and(|v| !v.is_null()) {
        return Err(invalid("policy is not emulated"));
    }
    let target = string(body, "targetRoleArn")?;
    let tags = tags(body)?;
    let token = string(body, "clientRequestToken")?;
    let id = format!("a-{}", ctx.hex(17));
    let (now, rgn, account) = (ctx.now, ctx.region.clone(), ctx.account().to_owned());
    let Cloud { iam, eks, .. } = &mut *ctx.cloud;
    role_exists(iam, &role, "Pod Identity")?;
    if let Some(t) = &target {
        role_exists(iam, t, "target")?;
    }
    let c = eks
        .entry(rgn.clone())
        .or_default()
        .clusters
        .get_mut(cluster_name)
        .ok_or_else(|| no_cluster(cluster_name))?;
    if let Some(existing) = c
        .associations
        .values()
        .find(|a| a.namespace == namespace && a.service_account == sa)
    {
        if token.is_some() && existing.role_arn == role {
            return Ok(json!({"association": association_json(c, existing)}));
        }
        return Err(in_use(format!(
            "Association already exists: {}",
            existing.id
        )));
    }
    let a = Association {
        id: id.clone(),
        arn: format!("arn:aws:eks:{rgn}:{account}:podidentityassociation/{cluster_name}/{id}"),
        namespace,
        service_account: sa,
        role_arn: role,
        owner: None,
        disable_session_tags: boolean(body, "disableSessionTags")?.unwrap_or(false),
        target_role_arn: target,
        created: now,
        modified: now,
        tags,
    };
    let out = json!({"association": association_json(c, &a)});
    c.associations.insert(id, a);
    Ok(out)
}

fn update_association(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    id: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    if body.get("policy").is_some_and(|v| !v.is_null()) {
        return Err(invalid("policy is not emulated"));
    }
    let (now, rgn) = (ctx.now, ctx.region.clone());
    let Cloud { iam, eks, .. } = &mut *ctx.cloud;
    let c = eks
        .entry(rgn)
        .or_default()
        .clusters
        .get_mut(cluster_name)
        .ok_or_else(|| no_cluster(cluster_name))?;
    let a = c
        .associations
        .get_mut(id)
        .ok_or_else(|| not_found(format!("No Pod Identity Association found for ID: {id}")))?;
    if let Some(owner) = &a.owner {
        return Err(invalid_request(format!(
            "Pod Identity association {id} is owned by {owner}; change it through the add-on"
        )));
    }
    if let Some(r) = string(body, "roleArn")? {
        role_exists(iam, &r, "Pod Identity")?;
        a.role_arn = r;
    }
    if let Some(t) = string(body, "targetRoleArn")? {
        role_exists(iam, &t, "target")?;
        a.target_role_arn = Some(t);
    }
    if let Some(d) = boolean(body, "disableSessionTags")? {
        a.disable_session_tags = d;
    }
    a.modified = now;
    let a = association(c, id)?;
    Ok(json!({"association": association_json(c, a)}))
}

// ---------------------------------------------------------------- insights

/// What varies between the upgrade insights EKS computes for the next minor.
struct InsightSpec<'a> {
    name: String,
    description: String,
    status: &'static str,
    reason: String,
    recommendation: &'a str,
    additional_info: Value,
    /// ARNs of the objects the insight is about.
    resources: Vec<String>,
    deprecations: Vec<Value>,
    addons: Vec<Value>,
}

fn insight_json(c: &Cluster, next: &str, spec: InsightSpec<'_>) -> Value {
    let status = json!({"status": spec.status, "reason": spec.reason});
    json!({
        "id": uuid(hash_str(0, &format!("{}/{}", c.arn, spec.name))),
        "name": spec.name,
        "category": "UPGRADE_READINESS",
        "kubernetesVersion": next,
        "lastRefreshTime": epoch_seconds(c.created),
        "lastTransitionTime": epoch_seconds(c.created),
        "description": spec.description,
        "insightStatus": status,
        "recommendation": spec.recommendation,
        "additionalInfo": spec.additional_info,
        "resources": spec.resources.iter().map(|arn| json!({"insightStatus": status, "arn": arn})).collect::<Vec<_>>(),
        "categorySpecificSummary": {"deprecationDetails": spec.deprecations, "addonCompatibilityDetails": spec.addons},
    })
}

/// "Deprecated APIs removed in Kubernetes vX.Y": every API the next minor stops serving, with
/// the clients seen calling it; ERROR when any client still calls one.
fn deprecated_apis_insight(c: &Cluster, next: &str) -> Value {
    let mut apis: Vec<(String, String)> = data::API_REMOVALS
        .iter()
        .filter(|(v, ..)| *v == next)
        .map(|(_, usage, with)| ((*usage).to_owned(), (*with).to_owned()))
        .collect();
    for u in c
        .deprecated_usage
        .iter()
        .filter(|u| u.stop_serving_version == next)
    {
        if !apis.iter().any(|(usage, _)| *usage == u.usage) {
            apis.push((u.usage.clone(), u.replaced_with.clone().unwrap_or_default()));
        }
    }
    let mut called = false;
    let deprecations = apis
        .iter()
        .map(|(usage, with)| {
            let clients: Vec<Value> = c
                .deprecated_usage
                .iter()
                .filter(|u| u.usage == *usage && u.stop_serving_version == next)
                .map(|u| json!({"userAgent": u.user_agent, "numberOfRequestsLast30Days": u.requests, "lastRequestTime": epoch_seconds(u.last_request_ms)}))
                .collect();
            called |= !clients.is_empty();
            json!({"usage": usage, "replacedWith": with, "stopServingVersion": next, "startServingReplacementVersion": next, "clientStats": clients})
        })
        .collect();
    let (status, reason) = if called {
        (
            "ERROR",
            "Deprecated API usage detected within last 30 days and your cluster is on the Kubernetes version before the one that removes them.".to_owned(),
        )
    } else {
        (
            "PASSING",
            "No deprecated API usage detected within the last 30 days.".to_owned(),
        )
    };
    insight_json(
        c,
        next,
        InsightSpec {
            name: format!("Deprecated APIs removed in Kubernetes v{next}"),
            description: format!(
                "Checks for usage of deprecated APIs that are scheduled for removal in Kubernetes v{next}. Upgrading your cluster before migrating to the updated APIs could cause application impact."
            ),
            status,
            reason,
            recommendation: "Update manifests and API clients to use newer Kubernetes APIs if applicable before upgrading.",
            additional_info: json!({"Kubernetes API deprecation guide": "https://kubernetes.io/docs/reference/using-api/deprecation-guide/"}),
            resources: Vec::new(),
            deprecations,
            addons: Vec::new(),
        },
    )
}

/// "Kubelet version skew": node groups that would trail the next minor by more than the
/// kubelet skew allows (ERROR), or that trail the control plane at all (WARNING).
fn kubelet_skew_insight(c: &Cluster, current: u32, next: &str) -> Value {
    let skew = data::kubelet_skew(current + 1);
    let behind: Vec<&Nodegroup> = c
        .nodegroups
        .values()
        .filter(|n| data::minor(&n.version) != Some(current))
        .collect();
    let blocking = c
        .nodegroups
        .values()
        .any(|n| (current + 1).saturating_sub(data::minor(&n.version).unwrap_or(0)) > skew);
    let (status, reason) = if blocking {
        (
            "ERROR",
            "Node groups would fall outside the supported kubelet version skew after the upgrade.",
        )
    } else if !behind.is_empty() {
        (
            "WARNING",
            "Some node groups run an older kubelet than the control plane.",
        )
    } else {
        (
            "PASSING",
            "All node groups run the control plane's Kubernetes version.",
        )
    };
    insight_json(
        c,
        next,
        InsightSpec {
            name: "Kubelet version skew".to_owned(),
            description: "Checks for kubelet versions of worker nodes in the cluster to see if upgrade would cause kubelet to be more than the supported skew behind the control plane.".to_owned(),
            status,
            reason: reason.to_owned(),
            recommendation: "Upgrade your worker nodes to match the Kubernetes version of your cluster control plane.",
            additional_info: json!({"Kubelet version skew policy": "https://kubernetes.io/releases/version-skew-policy/#kubelet"}),
            resources: behind.iter().map(|n| n.arn.clone()).collect(),
            deprecations: Vec::new(),
            addons: Vec::new(),
        },
    )
}

/// "Amazon Linux 2 compatibility": EKS publishes no AL2 AMIs for 1.33 and later, so AL2 node
/// groups block an upgrade to those minors. Only computed for such minors.
fn al2_insight(c: &Cluster, next: &str) -> Value {
    let al2: Vec<String> = c
        .nodegroups
        .values()
        .filter(|n| n.ami_type.starts_with("AL2_"))
        .map(|n| n.arn.clone())
        .collect();
    let (status, reason) = if al2.is_empty() {
        ("PASSING", "No Amazon Linux 2 nodes detected.".to_owned())
    } else {
        (
            "ERROR",
            format!(
                "Amazon Linux 2 nodes detected; EKS-optimized Amazon Linux 2 AMIs are not published for Kubernetes v{next}."
            ),
        )
    };
    insight_json(
        c,
        next,
        InsightSpec {
            name: "Amazon Linux 2 compatibility".to_owned(),
            description: format!(
                "Checks if any nodes in the cluster are running Amazon Linux 2, which is not supported on Kubernetes v{next} and later."
            ),
            status,
            reason,
            recommendation: "Migrate your node groups to Amazon Linux 2023 or Bottlerocket before upgrading.",
            additional_info: json!({"Upgrade from AL2 to AL2023": "https://docs.aws.amazon.com/eks/latest/userguide/al2023.html"}),
            resources: al2,
            deprecations: Vec::new(),
            addons: Vec::new(),
        },
    )
}

/// "EKS add-on version compatibility": installed add-on versions the next minor does not
/// support, with the versions it does.
fn addon_insight(c: &Cluster, next: &str) -> Value {
    let mut resources = Vec::new();
    let mut details = Vec::new();
    for a in c.addons.values() {
        let Some(cat) = data::addon(&a.name) else {
            continue;
        };
        if cat.compatible(&a.version, next) {
            continue;
        }
        resources.push(a.arn.clone());
        let compatible: Vec<&str> = cat
            .versions()
            .into_iter()
            .filter(|(_, compat)| compat.iter().any(|(m, _)| *m == next))
            .map(|(v, _)| v)
            .collect();
        details.push(json!({"name": a.name, "compatibleVersions": compatible}));
    }
    let (status, reason) = if resources.is_empty() {
        (
            "PASSING",
            format!("All installed add-on versions are compatible with Kubernetes v{next}."),
        )
    } else {
        (
            "ERROR",
            format!("Installed add-on versions are not compatible with Kubernetes v{next}."),
        )
    };
    insight_json(
        c,
        next,
        InsightSpec {
            name: "EKS add-on version compatibility".to_owned(),
            description: "Checks version of installed EKS add-ons to ensure they are compatible with the next version of Kubernetes.".to_owned(),
            status,
            reason,
            recommendation: "Upgrade your EKS add-ons to a version compatible with the target Kubernetes version before upgrading.",
            additional_info: json!({"Updating an add-on": "https://docs.aws.amazon.com/eks/latest/userguide/updating-an-add-on.html"}),
            resources,
            deprecations: Vec::new(),
            addons: details,
        },
    )
}

/// The upgrade insights for the cluster's next minor, computed from the emulated cluster.
fn insights(c: &Cluster) -> Vec<Value> {
    let Some(current) = data::minor(&c.version) else {
        return Vec::new();
    };
    let next = format!("1.{}", current + 1);
    let mut out = vec![
        deprecated_apis_insight(c, &next),
        kubelet_skew_insight(c, current, &next),
        addon_insight(c, &next),
    ];
    if current + 1 >= 33 {
        out.push(al2_insight(c, &next));
    }
    out
}

/// Seeds deprecated API usage for a cluster (`POST /_emulator/eks/deprecated-api-usage`):
/// `{cluster, region?, usage, replacedWith?, stopServingVersion?, userAgent, requestCount?,
/// lastRequestTime?}`. A later seed of the same usage and user agent replaces the earlier one.
/// What an injected health issue is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HealthOf {
    /// A managed node group (`"nodegroup"` in the body).
    Nodegroup,
    /// An add-on (`"addon"` in the body).
    Addon,
}

/// Sets (or with an empty list clears) the injected health issues of a node group or add-on
/// from an admin body `{cluster, nodegroup|addon, issues: [{code, message, resourceIds?}],
/// region?}`; the error carries the HTTP status (400 or 404).
pub(crate) fn inject_health(
    cloud: &mut Cloud,
    body: &Value,
    of: HealthOf,
) -> Result<Value, (u16, String)> {
    let bad = |m: String| (400, m);
    let b = body
        .as_object()
        .ok_or_else(|| bad("the body must be a JSON object".to_owned()))?;
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    let key = match of {
        HealthOf::Nodegroup => "nodegroup",
        HealthOf::Addon => "addon",
    };
    let cluster_name = text("cluster").ok_or_else(|| bad("`cluster` is required".to_owned()))?;
    let name = text(key).ok_or_else(|| bad(format!("`{key}` is required")))?;
    let issues = b
        .get("issues")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`issues` must be a list".to_owned()))?
        .iter()
        .map(|i| {
            let field = |k: &str| i.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
            let (Some(code), Some(message)) = (field("code"), field("message")) else {
                return Err(bad(
                    "each issue needs a non-empty `code` and `message`".to_owned()
                ));
            };
            let resource_ids = match i.get("resourceIds") {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) => Some(
                    a.iter()
                        .map(|v| v.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| bad("`resourceIds` must be a list of strings".to_owned()))?,
                ),
                Some(_) => return Err(bad("`resourceIds` must be a list of strings".to_owned())),
            };
            Ok(HealthIssue {
                code: code.to_owned(),
                message: message.to_owned(),
                resource_ids,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let region = text("region");
    let mut found: Vec<&mut Cluster> = cloud
        .eks
        .iter_mut()
        .filter(|(r, _)| region.as_ref().is_none_or(|want| want == *r))
        .filter_map(|(_, eks)| eks.clusters.get_mut(&cluster_name))
        .collect();
    let c = match found.len() {
        0 => return Err((404, format!("no EKS cluster `{cluster_name}`"))),
        1 => found.remove(0),
        _ => {
            return Err(bad(format!(
                "EKS cluster `{cluster_name}` exists in several regions; give `region`"
            )));
        }
    };
    let view = match of {
        HealthOf::Nodegroup => {
            let n = c.nodegroups.get_mut(&name).ok_or_else(|| {
                (
                    404,
                    format!("no node group `{name}` in EKS cluster `{cluster_name}`"),
                )
            })?;
            n.injected = issues;
            let n = &c.nodegroups[&name];
            nodegroup_json(c, n)
        }
        HealthOf::Addon => {
            let a = c.addons.get_mut(&name).ok_or_else(|| {
                (
                    404,
                    format!("no add-on `{name}` in EKS cluster `{cluster_name}`"),
                )
            })?;
            a.injected = issues;
            let a = &c.addons[&name];
            addon_json(c, a)
        }
    };
    Ok(
        json!({ "cluster": cluster_name, key: name, "status": view["status"], "health": view["health"] }),
    )
}

pub(crate) fn seed_deprecated_usage(
    cloud: &mut Cloud,
    body: &Value,
    now: u64,
) -> Result<Value, String> {
    let b = body
        .as_object()
        .ok_or_else(|| "the body must be a JSON object".to_owned())?;
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    let cluster_name = text("cluster").ok_or("`cluster` is required")?;
    let usage = text("usage").ok_or("`usage` is required")?;
    let user_agent = text("userAgent").ok_or("`userAgent` is required")?;
    let known = data::API_REMOVALS.iter().find(|(_, u, _)| *u == usage);
    let stop_serving_version = text("stopServingVersion")
        .or_else(|| known.map(|(v, ..)| (*v).to_owned()))
        .ok_or("`stopServingVersion` is required for an API the emulator does not know")?;
    if data::minor(&stop_serving_version).is_none() {
        return Err(format!(
            "`stopServingVersion` `{stop_serving_version}` is not a minor like 1.32"
        ));
    }
    let replaced_with = text("replacedWith").or_else(|| {
        known
            .map(|(.., with)| (*with).to_owned())
            .filter(|w| !w.is_empty())
    });
    let requests = match b.get("requestCount") {
        None => 1,
        Some(v) => v
            .as_u64()
            .ok_or("`requestCount` must be a non-negative integer")?,
    };
    let last_request_ms = match b.get("lastRequestTime") {
        None => now,
        Some(Value::String(s)) => s
            .parse::<jiff::Timestamp>()
            .ok()
            .and_then(|t| u64::try_from(t.as_millisecond()).ok())
            .ok_or_else(|| format!("`lastRequestTime` `{s}` is not an RFC 3339 time"))?,
        Some(v) => v
            .as_f64()
            .filter(|s| *s >= 0.0)
            // Epoch seconds, as EKS timestamps travel; millisecond precision is plenty.
            .map(|s| (s * 1000.0).round() as u64)
            .ok_or("`lastRequestTime` must be RFC 3339 or epoch seconds")?,
    };
    let region = text("region");
    let mut found: Vec<&mut Cluster> = cloud
        .eks
        .iter_mut()
        .filter(|(r, _)| region.as_ref().is_none_or(|want| want == *r))
        .filter_map(|(_, eks)| eks.clusters.get_mut(&cluster_name))
        .collect();
    let c = match found.len() {
        0 => return Err(format!("no EKS cluster `{cluster_name}`")),
        1 => found.remove(0),
        _ => {
            return Err(format!(
                "EKS cluster `{cluster_name}` exists in several regions; give `region`"
            ));
        }
    };
    c.deprecated_usage
        .retain(|u| !(u.usage == usage && u.user_agent == user_agent));
    c.deprecated_usage.push(DeprecatedUsage {
        usage,
        replaced_with,
        stop_serving_version,
        user_agent,
        requests,
        last_request_ms,
    });
    Ok(json!({"cluster": cluster_name, "deprecatedApiUsage": c.deprecated_usage.len()}))
}

fn list_insights(
    ctx: &mut Ctx<'_>,
    cluster_name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Value> {
    let c = cluster(ctx, cluster_name)?;
    let filter = object(
        body,
        "filter",
        &["categories", "kubernetesVersions", "statuses"],
    )?;
    let (cats, versions, statuses) = match filter {
        Some(f) => (
            strings(f, "categories")?,
            strings(f, "kubernetesVersions")?,
            strings(f, "statuses")?,
        ),
        None => (None, None, None),
    };
    let all: Vec<Value> = insights(c)
        .into_iter()
        .filter(|i| {
            cats.as_ref()
                .is_none_or(|cs| cs.iter().any(|x| i["category"] == x.as_str()))
        })
        .filter(|i| {
            versions
                .as_ref()
                .is_none_or(|vs| vs.iter().any(|x| i["kubernetesVersion"] == x.as_str()))
        })
        .filter(|i| {
            statuses.as_ref().is_none_or(|ss| {
                ss.iter()
                    .any(|x| i["insightStatus"]["status"] == x.as_str())
            })
        })
        .map(|mut i| {
            if let Some(o) = i.as_object_mut() {
                for k in [
                    "recommendation",
                    "additionalInfo",
                    "resources",
                    "categorySpecificSummary",
                ] {
                    o.remove(k);
                }
            }
            i
        })
        .collect();
    let max = integer(body, "maxResults")?.map(|m| m.to_string());
    let token = string(body, "nextToken")?;
    let ids: Vec<String> = all
        .iter()
        .map(|i| i["id"].as_str().unwrap_or("").to_owned())
        .collect();
    let (page, next) = page(ids, max.as_deref(), token.as_deref(), 100)?;
    let insights: Vec<Value> = all
        .into_iter()
        .filter(|i| page.iter().any(|p| i["id"] == p.as_str()))
        .collect();
    Ok(json!({"insights": insights, "nextToken": next}))
}

// ---------------------------------------------------------------- tags

fn tag_resource(
    ctx: &mut Ctx<'_>,
    op: &str,
    arn: &str,
    body: &Map<String, Value>,
    q: &[(String, String)],
) -> ApiResult<Value> {
    let new_tags = if op == "TagResource" {
        tags(body)?
    } else {
        BTreeMap::new()
    };
    let keys: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "tagKeys")
        .map(|(_, v)| v.clone())
        .collect();
    let r = region(ctx);
    let mut found: Option<&mut BTreeMap<String, String>> = None;
    for c in r.clusters.values_mut() {
        if c.arn == arn {
            found = Some(&mut c.tags);
            break;
        }
        if let Some(n) = c.nodegroups.values_mut().find(|n| n.arn == arn) {
            found = Some(&mut n.tags);
            break;
        }
        if let Some(a) = c.addons.values_mut().find(|a| a.arn == arn) {
            found = Some(&mut a.tags);
            break;
        }
        if let Some(e) = c.access_entries.values_mut().find(|e| e.arn == arn) {
            found = Some(&mut e.tags);
            break;
        }
        if let Some(a) = c.associations.values_mut().find(|a| a.arn == arn) {
            found = Some(&mut a.tags);
            break;
        }
    }
    let tags = found.ok_or_else(|| {
        ApiError::new(
            404,
            "NotFoundException",
            format!("Resource {arn} not found"),
        )
    })?;
    match op {
        "TagResource" => {
            let mut merged = tags.clone();
            merged.extend(new_tags);
            check_tags(&merged)?;
            *tags = merged;
            Ok(json!({}))
        }
        "UntagResource" => {
            if keys.is_empty() {
                return Err(ApiError::bad("BadRequestException", "tagKeys is required"));
            }
            tags.retain(|k, _| !keys.contains(k));
            Ok(json!({}))
        }
        _ => Ok(json!({"tags": tags})),
    }
}

// ---------------------------------------------------------------- lifecycles and queries

/// Completes EKS transitions whose deadline passed; `true` when anything changed.
pub(crate) fn sweep(r: &mut EksRegion, ec2r: &mut Ec2Region, now: u64) -> bool {
    let mut changed = false;
    let mut gone_clusters = Vec::new();
    for c in r.clusters.values_mut() {
        for u in c
            .updates
            .iter_mut()
            .filter(|u| u.status == "InProgress" && u.done_at <= now)
        {
            changed = true;
            if u.failure.is_some() {
                u.status = "Failed".to_owned();
                u.apply = None;
                continue;
            }
            u.status = "Successful".to_owned();
            match u.apply.take() {
                Some(Apply::Cluster(v)) => c.version = v,
                Some(Apply::Nodegroup { version, release }) => {
                    if let Target::Nodegroup(n) = &u.target
                        && let Some(n) = c.nodegroups.get_mut(n)
                    {
                        n.version = version;
                        n.release_version = release;
                    }
                }
                Some(Apply::Addon(v)) => {
                    if let Target::Addon(a) = &u.target
                        && let Some(a) = c.addons.get_mut(a)
                    {
                        a.version = v;
                    }
                }
                None => {}
            }
        }
        let mut gone = Vec::new();
        for n in c.nodegroups.values_mut() {
            if let Some(p) = n.pending.clone()
                && p.at <= now
            {
                changed = true;
                n.pending = None;
                n.modified = p.at;
                if p.to == "gone" {
                    gone.push(n.name.clone());
                } else if n.status == "CREATING" {
                    let egress = n.subnets.iter().all(|s| ec2::subnet_has_egress(ec2r, s));
                    let failure = n.fail.take().or_else(|| {
                        (!egress).then(|| {
                            (
                                "NodeCreationFailure".to_owned(),
                                "Instances failed to join the kubernetes cluster: the subnets have no route to a NAT gateway, internet gateway or the ECR and S3 endpoints".to_owned(),
                            )
                        })
                    });
                    match failure {
                        Some(issue) => {
                            n.status = "CREATE_FAILED".to_owned();
                            n.issues = vec![issue];
                        }
                        None => n.status = p.to,
                    }
                } else {
                    n.status = p.to;
                }
            }
        }
        for g in gone {
            c.nodegroups.remove(&g);
            let target = Target::Nodegroup(g);
            c.updates.retain(|u| u.target != target);
        }
        let mut gone = Vec::new();
        for a in c.addons.values_mut() {
            if let Some(p) = a.pending.clone()
                && p.at <= now
            {
                changed = true;
                a.pending = None;
                a.modified = p.at;
                if p.to == "gone" {
                    gone.push((a.name.clone(), a.arn.clone()));
                } else {
                    a.status = if a.fail && a.status == "CREATING" {
                        "CREATE_FAILED".to_owned()
                    } else {
                        p.to
                    };
                }
            }
        }
        for (name, arn) in gone {
            c.addons.remove(&name);
            c.associations
                .retain(|_, x| x.owner.as_deref() != Some(arn.as_str()));
        }
        if let Some(p) = c.pending.clone()
            && p.at <= now
        {
            changed = true;
            c.pending = None;
            if p.to == "gone" {
                gone_clusters.push((c.name.clone(), c.vpc.cluster_security_group.clone()));
            } else {
                c.status = p.to;
            }
        }
    }
    for (name, sg) in gone_clusters {
        r.clusters.remove(&name);
        ec2r.security_groups.remove(&sg);
    }
    changed
}

/// The cluster or node group whose ENIs or instances use a subnet, if any.
pub(crate) fn subnet_user(r: &EksRegion, subnet: &str) -> Option<String> {
    r.clusters.values().find_map(|c| {
        if c.vpc.subnets.iter().any(|s| s == subnet) {
            return Some(c.arn.clone());
        }
        c.nodegroups
            .values()
            .find(|n| n.subnets.iter().any(|s| s == subnet))
            .map(|n| n.arn.clone())
    })
}

/// The cluster whose control-plane ENIs use a security group, if any.
pub(crate) fn security_group_user(r: &EksRegion, group: &str) -> Option<String> {
    r.clusters
        .values()
        .find(|c| {
            c.vpc.security_groups.iter().any(|g| g == group)
                || c.vpc.cluster_security_group == group
        })
        .map(|c| c.arn.clone())
}

/// Adds every EKS object of a region.
pub(crate) fn tagged(region: &str, r: &EksRegion, out: &mut Vec<Tagged>) {
    let mut push = |kind: &'static str, id: &str, tags: &BTreeMap<String, String>| {
        out.push(Tagged {
            service: "eks",
            kind,
            id: id.to_owned(),
            region: region.to_owned(),
            tags: tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        });
    };
    for c in r.clusters.values() {
        push("cluster", &c.arn, &c.tags);
        c.nodegroups
            .values()
            .for_each(|n| push("nodegroup", &n.arn, &n.tags));
        c.addons
            .values()
            .for_each(|a| push("addon", &a.arn, &a.tags));
        c.access_entries
            .values()
            .for_each(|e| push("access-entry", &e.arn, &e.tags));
        c.associations
            .values()
            .for_each(|a| push("pod-identity-association", &a.arn, &a.tags));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_botocore_paths() {
        let get = Method::GET;
        let post = Method::POST;
        let del = Method::DELETE;
        assert_eq!(route(&post, "/clusters").unwrap().op, "CreateCluster");
        assert_eq!(route(&get, "/clusters/c1").unwrap().args, ["c1"]);
        assert_eq!(
            route(&post, "/clusters/c1/node-groups/ng/update-version")
                .unwrap()
                .op,
            "UpdateNodegroupVersion"
        );
        assert_eq!(
            route(&get, "/addons/supported-versions").unwrap().op,
            "DescribeAddonVersions"
        );
        let r = route(&del, "/clusters/c1/access-entries/arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fadmin/access-policies/arn%3Aaws%3Aeks%3A%3Aaws%3Acluster-access-policy%2FAmazonEKSViewPolicy").unwrap();
        assert_eq!(r.op, "DisassociateAccessPolicy");
        assert_eq!(r.args[1], "arn:aws:iam::000000000000:role/admin");
        assert_eq!(
            r.args[2],
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
        );
        let raw = route(
            &get,
            "/clusters/c1/access-entries/arn:aws:iam::000000000000:role/admin",
        )
        .unwrap();
        assert_eq!(raw.op, "DescribeAccessEntry");
        assert_eq!(raw.args[1], "arn:aws:iam::000000000000:role/admin");
        let tags = route(
            &get,
            "/tags/arn%3Aaws%3Aeks%3Aus-east-1%3A000000000000%3Anodegroup%2Fc%2Fng%2Fid",
        )
        .unwrap();
        assert_eq!(
            tags.args[0],
            "arn:aws:eks:us-east-1:000000000000:nodegroup/c/ng/id"
        );
        assert!(route(&Method::PUT, "/clusters").is_none());
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
    }

    #[test]
    fn scaling_and_versions_are_checked_like_eks() {
        assert!(check_scaling(1, 3, 2).is_ok());
        assert!(check_scaling(3, 2, 2).is_err());
        assert!(check_scaling(1, 500, 2).is_err());
        assert!(check_nodegroup_version("1.33", "1.30", "AL2023_x86_64_STANDARD").is_ok());
        assert!(check_nodegroup_version("1.33", "1.29", "AL2023_x86_64_STANDARD").is_err());
        assert!(check_nodegroup_version("1.33", "1.34", "AL2023_x86_64_STANDARD").is_err());
        assert!(check_nodegroup_version("1.33", "1.33", "AL2_x86_64").is_err());
        assert!(check_nodegroup_version("1.32", "1.32", "AL2_x86_64").is_ok());
    }
}
