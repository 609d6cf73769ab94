//! The JSON Schema (draft 2020-12) of the blueprint file format, for editors and `slipway schema`.
//!
//! Hand-built so that it describes the file as users write it (per-cloud choices, shorthands,
//! string versions) rather than the validated model. It checks shapes and enumerations only;
//! catalogue and cross-field rules stay in the loader. It must never be used to validate
//! blueprints inside Slipway: the loader's diagnostics are the authority.

use serde_json::{Value, json};

use crate::catalog;
use crate::model::Cloud;

/// An ARM resource id: `/subscriptions/{guid}/resourceGroups/{rg}/providers/{ns}/{type}/{name}…`.
const ARM_ID: &str = "^/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/[^/]+/[^/]+/[^/]+(/[^/]+/[^/]+)*$";

fn string(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn enumeration(values: &[&str], description: &str) -> Value {
    json!({ "type": "string", "enum": values, "description": description })
}

fn object(description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn string_map(description: &str) -> Value {
    json!({ "type": "object", "description": description, "additionalProperties": { "type": ["string", "number", "boolean"] } })
}

/// `value` or `{aws: value, azure: value}`.
fn per_cloud(value: Value, description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [
            value,
            { "type": "object", "properties": { "aws": value, "azure": value }, "additionalProperties": false, "minProperties": 1 }
        ]
    })
}

fn duration(description: &str) -> Value {
    json!({ "type": "string", "pattern": "^([0-9]+[smhdw])+$", "description": description })
}

fn cidr(description: &str) -> Value {
    json!({ "type": "string", "pattern": "^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$", "description": description })
}

fn cluster_properties() -> Value {
    let addon_names: Vec<&str> = catalog::addons().iter().map(|a| a.name).collect();
    let endpoint_names: Vec<&str> = [Cloud::Aws, Cloud::Azure]
        .into_iter()
        .flat_map(|c| catalog::private_endpoint_services(c).iter().map(|s| s.name))
        .collect();
    let os_names: Vec<&str> = [Cloud::Aws, Cloud::Azure]
        .into_iter()
        .flat_map(|c| catalog::node_os(c).iter().map(|w| w.os.as_str()))
        .collect();
    let addon = json!({
        "anyOf": [
            { "type": "string", "enum": addon_names },
            object("an add-on pinned to a version", json!({
                "name": { "type": "string", "enum": addon_names },
                "version": string("add-on version, e.g. `v1.11.4-eksbuild.33`; default: the provider's default for the Kubernetes minor"),
            }), &["name"]),
        ]
    });
    let pool = object(
        "a node pool (EKS managed node group, AKS agent pool)",
        json!({
            "name": string("unique in the cluster; DNS label; on Azure 1-12 lowercase letters and digits"),
            "role": enumeration(&["system", "user"], "default `user`; every cluster needs a `system` pool"),
            "instanceType": per_cloud(json!({ "type": "string" }), "instance type / VM size, or one per cloud"),
            "min": { "type": "integer", "minimum": 0 },
            "max": { "type": "integer", "minimum": 1, "description": "at most 450 on EKS, 1000 on AKS" },
            "desired": { "type": "integer", "minimum": 0, "description": "default: `min`" },
            "diskSizeGb": { "type": "integer", "minimum": 1, "description": "default 100 (EKS) / 128 (AKS)" },
            "labels": string_map("Kubernetes node labels"),
            "taints": { "type": "array", "items": { "type": "string", "pattern": "^[^:=]+(=[^:]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$" } },
            "upgrade": object("rolling upgrade settings", json!({
                "maxSurge": { "type": ["string", "integer"], "description": "node count or percentage; default `33%` for prod, `1` otherwise" },
                "maxUnavailable": { "type": "integer", "minimum": 0, "description": "default 1" },
            }), &[]),
            "os": per_cloud(
                enumeration(&os_names, "node OS image family"),
                "node OS, or one per cloud; default `al2023` (EKS) / `ubuntu` (AKS); EKS: al2023, al2, bottlerocket; AKS: ubuntu, azure-linux, windows-2019, windows-2022 (Windows only with `role: user` and names of at most 6 characters)",
            ),
        }),
        &["name", "instanceType", "min", "max"],
    );
    let identity = object(
        "a Kubernetes service account granted cloud permissions without static credentials",
        json!({
            "name": string("unique in the cluster; DNS label"),
            "namespace": string("Kubernetes namespace"),
            "serviceAccount": string("Kubernetes service account"),
            "aws": object("AWS permissions", json!({
                "policyArns": { "type": "array", "items": { "type": "string", "pattern": "^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/.+$" } },
            }), &[]),
            "azure": object("Azure permissions", json!({
                "roleAssignments": { "type": "array", "items": object("a role assignment", json!({
                    "role": string("role name or definition id"),
                    "scope": { "type": "string", "pattern": "^/subscriptions/" },
                }), &["role", "scope"]) },
            }), &[]),
        }),
        &["name", "namespace", "serviceAccount"],
    );
    json!({
        "provider": enumeration(&["aws", "azure"], "the cloud"),
        "region": string("cloud region, e.g. `us-east-1`, `westeurope`"),
        "tier": enumeration(&["dev", "test", "staging", "prod", "dr"], "default `dev`"),
        "kubernetes": object("Kubernetes settings", json!({
            "version": { "type": "string", "pattern": "^[0-9]+\\.[0-9]+$", "description": "major.minor, quoted: \"1.34\"" },
        }), &["version"]),
        "endpoint": enumeration(&["public", "private", "public-and-private"], "API endpoint access; default `private` for prod, `public` otherwise"),
        "zones": {
            "description": "number of availability zones, or their names; default 3 for prod, 2 otherwise",
            "anyOf": [ { "type": "integer", "minimum": 1 }, { "type": "array", "items": { "type": ["string", "integer"] }, "minItems": 1 } ]
        },
        "network": object("cluster network", json!({ "cidr": cidr("VPC / VNet address space, e.g. `10.10.0.0/16`") }), &["cidr"]),
        "nodePools": { "type": "array", "items": pool, "minItems": 1 },
        "addons": per_cloud(json!({ "type": "array", "items": addon }), "add-ons from the catalogue; default on AWS: coredns, kube-proxy, vpc-cni"),
        "workloadIdentities": { "type": "array", "items": identity },
        "privateEndpoints": per_cloud(json!({ "type": "array", "items": { "anyOf": [
            { "type": "string", "enum": endpoint_names },
            object("a private endpoint with its target (required on Azure)", json!({
                "name": { "type": "string", "enum": endpoint_names },
                "resourceId": { "type": "string", "pattern": ARM_ID, "description": "ARM id of the resource the endpoint connects to" },
            }), &["name"]),
        ] } }), "private endpoint services; each cluster keeps those of its cloud"),
        "ring": string("the upgrade ring this cluster belongs to"),
        "labels": string_map("free-form labels for selection"),
        "tags": string_map("cloud tags; keys starting with `slipway:` are reserved"),
        "dr": object("disaster recovery", json!({
            "rto": duration("recovery time objective, e.g. `2h`"),
            "standby": object("the standby", json!({
                "region": string("standby region; not the primary's"),
                "cidr": cidr("standby network; disjoint from every other network of the fleet"),
                "mode": enumeration(&["pilot-light", "warm", "hot"], "default `pilot-light`"),
                "name": string("the standby cluster's name, a DNS label; default `<primary>-dr`"),
                "resourceGroup": string("Azure only: the standby's resource group; default `<primary resourceGroup>-dr`"),
                "secretsKmsKeyArn": string("AWS only: KMS key ARN in the standby region for secrets; default the primary's multi-region key in the standby region"),
            }), &["region", "cidr"]),
        }), &["rto", "standby"]),
        "aws": object("AWS settings", json!({
            "workloadIdentity": enumeration(&["irsa", "pod-identity"], "default `irsa`"),
            "secretsKmsKeyArn": string("KMS key for envelope encryption of Kubernetes secrets"),
            "accessEntries": { "type": "array", "items": object("an EKS access entry", json!({
                "principalArn": string("IAM role or user ARN"),
                "policies": { "type": "array", "items": { "type": "string" } },
                "namespaces": { "type": "array", "items": { "type": "string" } },
            }), &["principalArn"]) },
        }), &[]),
        "azure": object("Azure settings (required for Azure clusters)", json!({
            "subscriptionId": { "type": "string", "pattern": "^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$" },
            "resourceGroup": { "type": "string", "minLength": 1, "maxLength": 90 },
            "logAnalyticsWorkspaceId": { "type": "string", "pattern": ARM_ID, "description": "Log Analytics workspace of the `monitoring` add-on (required with it)" },
        }), &["subscriptionId", "resourceGroup"]),
    })
}

/// The JSON Schema of the blueprint file format.
pub fn schema() -> Value {
    let template = cluster_properties();
    let mut cluster = template.clone();
    if let Some(map) = cluster.as_object_mut() {
        map.insert("name".into(), string("unique in the fleet; DNS label"));
        map.insert("profile".into(), string("the profile it is built from"));
    }
    let rule_ids: Vec<&str> = crate::RULES.iter().map(|r| r.id).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://slipway.dev/schemas/blueprint-v1.json",
        "title": "Slipway blueprint v1",
        "description": "A fleet of EKS and AKS clusters. See docs/blueprint.md.",
        "type": "object",
        "required": ["apiVersion", "kind"],
        "additionalProperties": false,
        "$defs": {
            "template": { "type": "object", "properties": template, "additionalProperties": false },
            "cluster": { "type": "object", "properties": cluster, "required": ["name", "provider", "region"], "additionalProperties": false },
        },
        "properties": {
            "apiVersion": { "const": "slipway.dev/v1" },
            "kind": { "const": "Fleet" },
            "metadata": object("the fleet", json!({
                "name": string("fleet name; DNS label; part of every ownership tag"),
                "owner": string("owning team (rule `owner-required`)"),
                "description": string("free text"),
            }), &["name"]),
            "defaults": { "$ref": "#/$defs/template", "description": "merged into every cluster; cluster and profile fields win" },
            "profiles": { "type": "object", "additionalProperties": { "$ref": "#/$defs/template" }, "description": "reusable cluster classes by name" },
            "clusters": { "type": "array", "items": { "$ref": "#/$defs/cluster" } },
            "rings": { "type": "array", "items": object("an upgrade ring", json!({
                "name": string("unique ring name"),
                "soak": duration("wait after the ring before the next starts; default 0"),
                "gates": { "type": "array", "items": { "anyOf": [
                    { "type": "string", "enum": ["deprecations", "health"] },
                    object("a custom gate", json!({ "command": string("exits 0 to pass") }), &["command"]),
                ] } },
                "approval": { "anyOf": [ { "type": "boolean" }, { "type": "string", "enum": ["required", "none"] } ], "description": "default `none`" },
                "maxParallel": { "type": "integer", "minimum": 1, "description": "default 1" },
                "failureThreshold": { "type": "integer", "minimum": 0, "description": "default 0" },
            }), &["name"]) },
            "policies": object("invariant policy", json!({
                "exceptions": { "type": "array", "items": object("suppresses one rule for one cluster until a date", json!({
                    "rule": { "type": "string", "enum": rule_ids },
                    "cluster": string("cluster name; omit for the whole fleet"),
                    "reason": string("why the rule does not apply"),
                    "expires": { "type": "string", "format": "date", "description": "YYYY-MM-DD; an expired exception is an error" },
                }), &["rule", "reason", "expires"]) },
            }), &[]),
        },
    })
}
