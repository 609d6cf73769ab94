//! What DR drills rely on: instance and VM offerings by region, the operation log of modelled
//! durations, and injected health of node groups, add-ons and agent pools.

use std::time::Duration;

use serde_json::{Value, json};
use slipway_emulator::EmulatorConfig;

use crate::arm::{AKS, NET, code, poll, put_done, rg};
use crate::eks::active_node_groups;
use crate::{Env, Reply, network, quiet, role};

const SCALE: f64 = 6000.0;

/// A VPC with two subnets in `region`'s first two zones.
async fn network_in(env: &Env, region: &str, cidr: &str) -> (String, Vec<String>) {
    let r = env
        .query_in(region, "ec2", "CreateVpc", &[("CidrBlock", cidr)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let vpc = r.tag("vpcId").unwrap();
    let base: Vec<&str> = cidr.split('.').collect();
    let mut subnets = Vec::new();
    for (i, zone) in ["a", "b"].iter().enumerate() {
        let c = format!("{}.{}.{i}.0/24", base[0], base[1]);
        let az = format!("{region}{zone}");
        let r = env
            .query_in(
                region,
                "ec2",
                "CreateSubnet",
                &[
                    ("VpcId", &vpc),
                    ("CidrBlock", &c),
                    ("AvailabilityZone", &az),
                ],
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        subnets.push(r.tag("subnetId").unwrap());
    }
    (vpc, subnets)
}

/// Creates an EKS cluster tagged `slipway:cluster=<owner>` in `region` and waits for ACTIVE.
async fn active_cluster(env: &Env, region: &str, name: &str, owner: &str, subnets: &[String]) {
    let role_arn = role(
        env,
        &format!("{name}-{region}-cluster"),
        "eks.amazonaws.com",
        &["AmazonEKSClusterPolicy"],
    )
    .await;
    let r = env
        .eks_in(
            region,
            "POST",
            "/clusters",
            Some(json!({
                "name": name, "version": "1.34", "roleArn": role_arn,
                "resourcesVpcConfig": {"subnetIds": subnets},
                "tags": {"slipway:cluster": owner},
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for _ in 0..500 {
        let v = env
            .eks_in(region, "GET", &format!("/clusters/{name}"), None)
            .await
            .json();
        if v["cluster"]["status"] == "ACTIVE" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("cluster {name} never became ACTIVE");
}

async fn operations(env: &Env, cluster: &str) -> Vec<Value> {
    let r = env
        .admin("GET", &format!("operations?cluster={cluster}"), "")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["time_scale"], SCALE);
    v["operations"].as_array().unwrap().clone()
}

/// A record's durations agree with the model: within the jitter bounds around `median`
/// (log-normal `sigma`, Irwin–Hall z within ±2√3) and scaled by the time scale.
fn assert_modelled(op: &Value, name: &str, median: f64, sigma: f64) {
    assert_eq!(op["operation"], name, "{op}");
    let modelled = op["modelled_seconds"].as_f64().unwrap();
    let reach = (sigma * 2.0 * 3f64.sqrt()).exp();
    assert!(
        (median / reach - 1e-9..=median * reach + 1e-9).contains(&modelled),
        "{name}: {modelled} s is outside the jitter of a {median} s median"
    );
    let wall = op["wall_seconds"].as_f64().unwrap();
    assert!((wall - modelled / SCALE).abs() < 0.001, "{op}");
    let started = op["started_at"].as_str().unwrap();
    assert!(started.parse::<jiff::Timestamp>().is_ok(), "{started}");
}

fn message(r: &Reply) -> String {
    r.json()["message"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn eks_refuses_instance_types_its_region_lacks_and_logs_what_it_starts() {
    let env = Env::start(SCALE).await;
    let region = "af-south-1";
    let (_, subnets) = network_in(&env, region, "10.50.0.0/16").await;
    active_cluster(&env, region, "cpt", "primary-dr", &subnets).await;
    let node_role = role(
        &env,
        "cpt-nodes",
        "ec2.amazonaws.com",
        &[
            "AmazonEKSWorkerNodePolicy",
            "AmazonEC2ContainerRegistryReadOnly",
        ],
    )
    .await;
    let nodegroup = |types: &[&str]| {
        json!({"nodegroupName": "general", "nodeRole": node_role, "subnets": subnets,
            "instanceTypes": types, "scalingConfig": {"minSize": 1, "maxSize": 2, "desiredSize": 1}})
    };
    for types in [&["m8g.large"][..], &["m5.large", "c7g.xlarge"]] {
        let r = env
            .eks_in(
                region,
                "POST",
                "/clusters/cpt/node-groups",
                Some(nodegroup(types)),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(
            r.header("x-amzn-ErrorType"),
            Some("InvalidParameterException")
        );
        let m = message(&r);
        let unoffered = types.last().unwrap();
        assert!(m.contains(unoffered) && m.contains(region), "{m}");
        assert!(!m.contains("m5.large"), "{m}");
    }
    let r = env
        .eks_in(
            region,
            "POST",
            "/clusters/cpt/node-groups",
            Some(nodegroup(&["m5.large", "x9z.large"])),
        )
        .await;
    assert_eq!(r.status, 200, "unknown families are offered: {}", r.body);

    // One record per drawn duration; refused requests draw none.
    let ops = operations(&env, "primary-dr").await;
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_modelled(&ops[0], "ClusterCreate", 570.0, 0.15);
    assert_modelled(&ops[1], "NodegroupCreate", 150.0, 0.45);
    assert_eq!(ops[0]["target"], "cpt");
    assert_eq!(ops[1]["target"], "general");
    for op in &ops {
        assert_eq!(op["service"], "eks");
        assert_eq!(op["region"], region);
        assert_eq!(
            op["cluster"], "primary-dr",
            "inherited from the EKS cluster"
        );
    }
    assert!(operations(&env, "someone-else").await.is_empty());
    let all = env.admin("GET", "operations", "").await.json();
    assert_eq!(all["operations"].as_array().unwrap().len(), 2);
    assert_eq!(env.admin("POST", "reset", "").await.status, 200);
    assert!(operations(&env, "primary-dr").await.is_empty());
}

#[tokio::test]
async fn instance_type_offerings_filter_and_paginate_like_ec2() {
    let env = Env::start(SCALE).await;
    let offerings = |region: &'static str, params: Vec<(&'static str, String)>| {
        let env = &env;
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            env.query_in(region, "ec2", "DescribeInstanceTypeOfferings", &p)
                .await
        }
    };
    let graviton4 = || {
        vec![
            ("Filter.1.Name", "instance-type".to_owned()),
            ("Filter.1.Value.1", "m8g.*".to_owned()),
        ]
    };
    let r = offerings("us-east-1", graviton4()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let types = r.tags("instanceType");
    assert_eq!(types.len(), 7, "{types:?}");
    assert!(types.iter().all(|t| t.starts_with("m8g.")));
    assert!(r.tags("locationType").iter().all(|t| t == "region"));
    assert!(r.tags("location").iter().all(|t| t == "us-east-1"));
    assert_eq!(r.tag("nextToken"), None);

    // Pages of five, the second from the first's token.
    let mut params = graviton4();
    params.push(("MaxResults", "5".to_owned()));
    let first = offerings("us-east-1", params.clone()).await;
    assert_eq!(first.tags("instanceType").len(), 5);
    let token = first.tag("nextToken").expect("a second page");
    params.push(("NextToken", token));
    let second = offerings("us-east-1", params).await;
    let mut paged = first.tags("instanceType");
    paged.extend(second.tags("instanceType"));
    assert_eq!(paged, types);
    assert_eq!(second.tag("nextToken"), None);

    // Graviton4 is not offered in eu-west-2; m7i is; neither in af-south-1's gen-7 gap.
    assert!(
        offerings("eu-west-2", graviton4())
            .await
            .tags("instanceType")
            .is_empty()
    );
    let zonal = offerings(
        "us-east-1",
        vec![
            ("LocationType", "availability-zone".to_owned()),
            ("Filter.1.Name", "instance-type".to_owned()),
            ("Filter.1.Value.1", "m8g.large".to_owned()),
            ("Filter.2.Name", "location".to_owned()),
            ("Filter.2.Value.1", "us-east-1a".to_owned()),
            ("Filter.2.Value.2", "us-east-1b".to_owned()),
        ],
    )
    .await;
    assert_eq!(zonal.tags("location"), ["us-east-1a", "us-east-1b"]);
    assert!(
        zonal
            .tags("locationType")
            .iter()
            .all(|t| t == "availability-zone")
    );
    let af = offerings("af-south-1", vec![]).await.tags("instanceType");
    assert!(af.contains(&"m5.large".to_owned()) && af.contains(&"t3.medium".to_owned()));
    assert!(
        !af.iter()
            .any(|t| t.starts_with("m7i.") || t.starts_with("c7g."))
    );

    for (params, code) in [
        (
            vec![("LocationType", "planet".to_owned())],
            "InvalidParameterValue",
        ),
        (
            vec![("Filter.1.Name", "vcpu".to_owned())],
            "InvalidParameterValue",
        ),
        (
            vec![("MaxResults", "3".to_owned())],
            "InvalidParameterValue",
        ),
        (
            vec![("NextToken", "nope".to_owned())],
            "InvalidPaginationToken",
        ),
        (vec![("Region", "x".to_owned())], "UnknownParameter"),
    ] {
        let r = offerings("us-east-1", params).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.tag("Code").as_deref(), Some(code), "{}", r.body);
    }
}

#[tokio::test]
async fn injected_addon_and_nodegroup_health_degrade_then_restore() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        data_dir: Some(dir.path().to_owned()),
        time_scale: SCALE,
        faults: quiet(),
        seed: 8,
        ..EmulatorConfig::default()
    };
    let env = Env::with(config.clone()).await;
    let (vpc, subnets) = network(&env, "10.70.0.0/16").await;
    active_cluster(&env, "us-east-1", "h1", "h1", &subnets).await;
    active_node_groups(&env, "h1", &vpc, &subnets, &[("general", "1.34")]).await;
    let r = env
        .eks(
            "POST",
            "/clusters/h1/addons",
            Some(json!({"addonName": "coredns"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let addon = || async {
        env.eks("GET", "/clusters/h1/addons/coredns", None)
            .await
            .json()["addon"]
            .clone()
    };
    for _ in 0..500 {
        if addon().await["status"] == "ACTIVE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(addon().await["status"], "ACTIVE");

    let issue = json!({"code": "InsufficientNumberOfReplicas", "message": "2 of 2 replicas are unavailable"});
    let body = json!({"cluster": "h1", "addon": "coredns", "issues": [issue]});
    let r = env
        .admin("POST", "eks/addon-health", &body.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = addon().await;
    assert_eq!(a["status"], "DEGRADED");
    assert_eq!(
        a["health"]["issues"],
        json!([{"code": "InsufficientNumberOfReplicas", "message": "2 of 2 replicas are unavailable", "resourceIds": []}])
    );

    let nodegroup = || async {
        env.eks("GET", "/clusters/h1/node-groups/general", None)
            .await
            .json()["nodegroup"]
            .clone()
    };
    let body = json!({"cluster": "h1", "nodegroup": "general", "issues": [
        {"code": "Ec2LaunchTemplateNotFound", "message": "gone", "resourceIds": ["lt-1"]},
        {"code": "AsgInstanceLaunchFailures", "message": "capacity"}]});
    let r = env
        .admin("POST", "eks/nodegroup-health", &body.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let n = nodegroup().await;
    assert_eq!(n["status"], "DEGRADED");
    let issues = n["health"]["issues"].as_array().unwrap();
    assert_eq!(issues[0]["resourceIds"], json!(["lt-1"]));
    assert_eq!(
        issues[1]["resourceIds"],
        json!([n["resources"]["autoScalingGroups"][0]["name"]]),
        "the node group's Auto Scaling group by default"
    );

    // Unknown objects are 404, bad bodies 400.
    for (path, body, status) in [
        (
            "eks/addon-health",
            json!({"cluster": "h1", "addon": "nope", "issues": []}),
            404,
        ),
        (
            "eks/nodegroup-health",
            json!({"cluster": "nope", "nodegroup": "general", "issues": []}),
            404,
        ),
        (
            "eks/addon-health",
            json!({"cluster": "h1", "addon": "coredns", "issues": [{"code": "X"}]}),
            400,
        ),
    ] {
        let r = env.admin("POST", path, &body.to_string()).await;
        assert_eq!(r.status, status, "{}", r.body);
        assert!(r.json()["error"].is_string(), "{}", r.body);
    }

    // Injected health persists like the rest of the cloud.
    env.emulator.shutdown().await;
    let env = Env::with(config).await;
    assert_eq!(
        env.eks("GET", "/clusters/h1/addons/coredns", None)
            .await
            .json()["addon"]["status"],
        "DEGRADED"
    );
    for (path, key, name) in [
        ("eks/addon-health", "addon", "coredns"),
        ("eks/nodegroup-health", "nodegroup", "general"),
    ] {
        let body = json!({"cluster": "h1", key: name, "issues": []});
        let r = env.admin("POST", path, &body.to_string()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["status"], "ACTIVE");
    }
    let n = env
        .eks("GET", "/clusters/h1/node-groups/general", None)
        .await
        .json();
    assert_eq!(n["nodegroup"]["status"], "ACTIVE");
    assert_eq!(n["nodegroup"]["health"]["issues"], json!([]));
}

/// A resource group, identity and VNet in `location`; returns (subnet id, identity id).
async fn arm_network(env: &Env, group: &str, location: &str) -> (String, String) {
    put_done(
        env,
        &format!("{}?api-version=2024-11-01", rg(group)),
        json!({"location": location}),
    )
    .await;
    let identity = put_done(
        env,
        &format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cp?api-version=2023-01-31",
            rg(group)
        ),
        json!({"location": location}),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let vnet = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-dr",
        rg(group)
    );
    put_done(
        env,
        &format!("{vnet}?{NET}"),
        json!({"location": location, "properties": {
            "addressSpace": {"addressPrefixes": ["10.80.0.0/16"]},
            "subnets": [{"name": "nodes", "properties": {"addressPrefix": "10.80.0.0/20"}}]
        }}),
    )
    .await;
    (format!("{vnet}/subnets/nodes"), identity)
}

fn aks_body(location: &str, vm_size: &str, subnet: &str, identity: &str) -> Value {
    json!({
        "location": location,
        "tags": {"slipway:cluster": "aks-dr"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
        "properties": {
            "kubernetesVersion": "1.34",
            "dnsPrefix": "dr",
            "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 1, "vmSize": vm_size,
                "vnetSubnetID": subnet, "osType": "Linux"}],
            "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay",
                "podCidr": "10.244.0.0/14", "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"},
            "oidcIssuerProfile": {"enabled": true}
        }
    })
}

#[tokio::test]
async fn aks_refuses_vm_sizes_its_location_lacks_and_reports_injected_pool_state() {
    let env = Env::with(EmulatorConfig {
        time_scale: SCALE,
        faults: quiet(),
        seed: 12,
        today: Some("2026-08-01".parse().unwrap()),
        ..EmulatorConfig::default()
    })
    .await;
    let (subnet, identity) = arm_network(&env, "rg-dr", "westus").await;
    let cluster = format!(
        "{}/providers/Microsoft.ContainerService/managedClusters/dr1",
        rg("rg-dr")
    );
    let path = format!("{cluster}?{AKS}");
    let r = env
        .arm(
            "PUT",
            &path,
            Some(aks_body("westus", "Standard_D4s_v6", &subnet, &identity)),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(code(&r), "BadRequest");
    let m = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        m.contains("Standard_D4s_v6") && m.contains("'westus'") && m.contains("system"),
        "{m}"
    );
    put_done(
        &env,
        &path,
        aks_body("westus", "Standard_D4s_v5", &subnet, &identity),
    )
    .await;

    // A standalone pool: Dpsv5 needs a zonal location, westus has none.
    let pool = format!("{cluster}/agentPools/arm1");
    let pool_body = |size: &str| json!({"properties": {"count": 1, "vmSize": size, "mode": "User", "osType": "Linux", "vnetSubnetID": subnet}});
    let r = env
        .arm(
            "PUT",
            &format!("{pool}?{AKS}"),
            Some(pool_body("Standard_D4ps_v5")),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Standard_D4ps_v5"), "{}", r.body);
    let r = env
        .arm(
            "PUT",
            &format!("{pool}?{AKS}"),
            Some(pool_body("Standard_D4s_v5")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    poll(&env, r.header("Azure-AsyncOperation").unwrap()).await;

    // The log names the AKS operations and their cluster, the pool's through its parent.
    let ops = operations(&env, "aks-dr").await;
    let names: Vec<&str> = ops
        .iter()
        .map(|o| o["operation"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["AksCreate", "AgentPoolCreate"], "{ops:?}");
    assert_modelled(&ops[0], "AksCreate", 300.0, 0.5);
    assert_modelled(&ops[1], "AgentPoolCreate", 240.0, 0.3);
    assert_eq!(ops[1]["target"], "arm1");
    assert!(
        ops.iter()
            .all(|o| o["service"] == "arm" && o["region"] == "westus")
    );

    // Injected state shows on the pool and in the cluster's agentPoolProfiles.
    let system_id = format!("{cluster}/agentPools/system");
    let inject = |state: Value| {
        let env = &env;
        async move {
            env.admin("POST", "arm/agentpool-state", &state.to_string())
                .await
        }
    };
    let r =
        inject(json!({"id": system_id, "provisioningState": "Failed", "powerState": "Stopped"}))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = env
        .arm("GET", &format!("{system_id}?{AKS}"), None)
        .await
        .json();
    assert_eq!(p["properties"]["provisioningState"], "Failed");
    assert_eq!(p["properties"]["powerState"]["code"], "Stopped");
    assert!(
        p.get("emulatorInjectedState").is_none(),
        "never rendered: {p}"
    );
    let c = env.arm("GET", &path, None).await.json();
    let profile = c["properties"]["agentPoolProfiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "system")
        .unwrap()
        .clone();
    assert_eq!(profile["provisioningState"], "Failed");
    assert_eq!(profile["powerState"]["code"], "Stopped");
    let issuer = c["properties"]["oidcIssuerProfile"]["issuerURL"]
        .as_str()
        .unwrap();
    assert!(
        issuer.starts_with("https://westus.oic.prod-aks.azure.com/") && issuer.ends_with('/'),
        "{issuer}"
    );

    let r =
        inject(json!({"id": system_id, "provisioningState": "Succeeded", "powerState": "Running"}))
            .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = env
        .arm("GET", &format!("{system_id}?{AKS}"), None)
        .await
        .json();
    assert_eq!(p["properties"]["provisioningState"], "Succeeded");
    assert_eq!(p["properties"]["powerState"]["code"], "Running");

    for (body, status) in [
        (
            json!({"id": format!("{cluster}/agentPools/nope"), "powerState": "Stopped"}),
            404,
        ),
        (json!({"id": system_id, "powerState": "Paused"}), 400),
        (json!({"id": system_id}), 400),
    ] {
        let r = inject(body).await;
        assert_eq!(r.status, status, "{}", r.body);
    }
}

#[tokio::test]
async fn oidc_issuers_are_per_cluster_and_region() {
    let env = Env::start(SCALE).await;
    let mut issuers = Vec::new();
    for (region, cidr) in [("us-east-1", "10.91.0.0/16"), ("eu-west-1", "10.92.0.0/16")] {
        let (_, subnets) = network_in(&env, region, cidr).await;
        for name in ["o1", "o2"] {
            active_cluster(&env, region, name, name, &subnets).await;
            let c = env
                .eks_in(region, "GET", &format!("/clusters/{name}"), None)
                .await
                .json();
            let issuer = c["cluster"]["identity"]["oidc"]["issuer"]
                .as_str()
                .unwrap()
                .to_owned();
            let id = issuer
                .strip_prefix(&format!("https://oidc.eks.{region}.amazonaws.com/id/"))
                .unwrap_or_else(|| panic!("{issuer}"));
            assert!(
                id.len() == 32
                    && id
                        .chars()
                        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
                "{issuer}"
            );
            issuers.push(issuer);
        }
    }
    let mut unique = issuers.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{issuers:?}");
}
