//! Azure Resource Manager over raw HTTP: the long-running-operation shapes, validation errors,
//! preconditions, throttling and persistence.

use std::time::Duration;

use serde_json::{Value, json};
use slipway_emulator::{EmulatorConfig, FaultConfig};

use crate::{Env, Reply, quiet};

pub(crate) const SUB: &str = "/subscriptions/00000000-0000-0000-0000-0000000000b2";
pub(crate) const AKS: &str = "api-version=2026-08-01";
pub(crate) const NET: &str = "api-version=2024-05-01";

pub(crate) fn rg(name: &str) -> String {
    format!("{SUB}/resourceGroups/{name}")
}

fn vnet(group: &str) -> String {
    format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet-a",
        rg(group)
    )
}

fn cluster(group: &str, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.ContainerService/managedClusters/{name}",
        rg(group)
    )
}

async fn env() -> Env {
    Env::with(EmulatorConfig {
        time_scale: 6000.0,
        faults: quiet(),
        seed: 11,
        today: Some("2026-08-01".parse().unwrap()),
        ..EmulatorConfig::default()
    })
    .await
}

fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or(String::new(), |i| rest[i..].to_owned())
}

/// Polls an `Azure-AsyncOperation` URL until the operation is no longer `InProgress`.
pub(crate) async fn poll(env: &Env, url: &str) -> Value {
    for _ in 0..500 {
        let r = env.arm("GET", &path_of(url), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        if v["status"] != "InProgress" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("operation {url} never finished");
}

pub(crate) async fn put_done(env: &Env, path: &str, body: Value) -> Reply {
    let r = env.arm("PUT", path, Some(body)).await;
    assert!(r.status == 200 || r.status == 201, "{path}: {}", r.body);
    if let Some(op) = r.header("Azure-AsyncOperation") {
        let status = poll(env, op).await;
        assert_eq!(status["status"], "Succeeded", "{status}");
    }
    r
}

/// A resource group, a control-plane identity and a VNet with a `nodes` subnet.
async fn network(env: &Env, group: &str) -> (String, String) {
    put_done(
        env,
        &format!("{}?api-version=2024-11-01", rg(group)),
        json!({"location": "westeurope", "tags": {"slipway:fleet": "arm"}}),
    )
    .await;
    let identity = put_done(
        env,
        &format!(
            "{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cp?api-version=2023-01-31",
            rg(group)
        ),
        json!({"location": "westeurope"}),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    put_done(
        env,
        &format!("{}?{NET}", vnet(group)),
        json!({"location": "westeurope", "tags": {"slipway:fleet": "arm"}, "properties": {
            "addressSpace": {"addressPrefixes": ["10.30.0.0/16"]},
            "subnets": [{"name": "nodes", "properties": {"addressPrefix": "10.30.0.0/20"}}]
        }}),
    )
    .await;
    (format!("{}/subnets/nodes", vnet(group)), identity)
}

fn cluster_body(version: &str, subnet: &str, identity: &str) -> Value {
    json!({
        "location": "westeurope",
        "tags": {"slipway:fleet": "arm"},
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
        "sku": {"name": "Base", "tier": "Standard"},
        "properties": {
            "kubernetesVersion": version,
            "dnsPrefix": "c1",
            "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 1, "vmSize": "Standard_D4s_v5",
                "orchestratorVersion": version, "vnetSubnetID": subnet, "osType": "Linux", "tags": {"slipway:fleet": "arm"}}],
            "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay",
                "podCidr": "10.244.0.0/14", "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"},
            "oidcIssuerProfile": {"enabled": true}
        }
    })
}

pub(crate) fn code(r: &Reply) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_cluster_create_is_201_then_polled_to_succeeded() {
    let env = env().await;
    let (subnet, identity) = network(&env, "rg1").await;
    let path = format!("{}?{AKS}", cluster("rg1", "c1"));
    let r = env
        .arm("PUT", &path, Some(cluster_body("1.34", &subnet, &identity)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["properties"]["provisioningState"], "Creating");
    for h in [
        "x-ms-request-id",
        "x-ms-correlation-request-id",
        "x-ms-ratelimit-remaining-subscription-writes",
        "Retry-After",
        "ETag",
    ] {
        assert!(r.header(h).is_some(), "{h} missing: {:?}", r.headers);
    }
    let op = r.header("Azure-AsyncOperation").unwrap().to_owned();
    assert!(
        op.contains("/providers/Microsoft.ContainerService/locations/westeurope/operations/"),
        "{op}"
    );
    // A second PUT while the create runs is refused.
    let busy = env
        .arm("PUT", &path, Some(cluster_body("1.34", &subnet, &identity)))
        .await;
    assert_eq!(
        (busy.status, code(&busy)),
        (409, "OperationNotAllowed".into())
    );
    let status = poll(&env, &op).await;
    assert_eq!(status["status"], "Succeeded");
    assert!(status["startTime"].is_string() && status["endTime"].is_string());
    let got = env.arm("GET", &path, None).await.json();
    assert_eq!(got["properties"]["provisioningState"], "Succeeded");
    assert_eq!(got["properties"]["currentKubernetesVersion"], "1.34.3");
    assert_eq!(got["properties"]["agentPoolProfiles"][0]["name"], "system");
    assert!(got["properties"]["oidcIssuerProfile"]["issuerURL"].is_string());
    // An update is 200 with `Updating`.
    let r = env
        .arm(
            "PUT",
            &path,
            Some(json!({"location": "westeurope", "properties": {"kubernetesVersion": "1.35"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["properties"]["provisioningState"], "Updating");
    poll(&env, r.header("Azure-AsyncOperation").unwrap()).await;

    let listed = env
        .admin("GET", "objects?tag=slipway:fleet=arm", "")
        .await
        .json();
    let kinds: Vec<&str> = listed["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"Microsoft.ContainerService/managedClusters/agentPools"),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&"Microsoft.Resources/resourceGroups"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn a_delete_is_202_with_location_then_404() {
    let env = env().await;
    let (subnet, identity) = network(&env, "rg2").await;
    let path = format!("{}?{AKS}", cluster("rg2", "c2"));
    put_done(&env, &path, cluster_body("1.34", &subnet, &identity)).await;
    // The subnet is in use by the cluster's pool, and so is the VNet.
    let in_use = env.arm("DELETE", &format!("{subnet}?{NET}"), None).await;
    assert_eq!(
        (in_use.status, code(&in_use)),
        (400, "InUseSubnetCannotBeDeleted".into())
    );
    let in_use = env
        .arm("DELETE", &format!("{}?{NET}", vnet("rg2")), None)
        .await;
    assert_eq!(code(&in_use), "InUseSubnetCannotBeDeleted");
    // The last system pool cannot go.
    let last = env
        .arm(
            "DELETE",
            &format!("{}/agentPools/system?{AKS}", cluster("rg2", "c2")),
            None,
        )
        .await;
    assert_eq!(code(&last), "MustDefineAtLeastOneSystemPool");

    let r = env.arm("DELETE", &path, None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let location = r.header("Location").unwrap().to_owned();
    assert!(r.header("Retry-After").is_some());
    let mut done = false;
    for _ in 0..500 {
        let p = env.arm("GET", &path_of(&location), None).await;
        if p.status == 202 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        assert_eq!(p.status, 204, "{}", p.body);
        done = true;
        break;
    }
    assert!(done, "delete never finished");
    let gone = env.arm("GET", &path, None).await;
    assert_eq!((gone.status, code(&gone)), (404, "ResourceNotFound".into()));
    assert_eq!(env.arm("DELETE", &path, None).await.status, 204);
    // Now the VNet can go, and the group with everything left in it.
    let r = env
        .arm("DELETE", &format!("{}?{NET}", vnet("rg2")), None)
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let r = env
        .arm(
            "DELETE",
            &format!("{}?api-version=2024-11-01", rg("rg2")),
            None,
        )
        .await;
    assert_eq!(r.status, 202);
    let location = r.header("Location").unwrap().to_owned();
    for _ in 0..500 {
        if env.arm("GET", &path_of(&location), None).await.status != 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let g = env
        .arm(
            "GET",
            &format!("{}?api-version=2024-11-01", rg("rg2")),
            None,
        )
        .await;
    assert_eq!((g.status, code(&g)), (404, "ResourceGroupNotFound".into()));
    let id = env
        .arm("GET", &format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cp?api-version=2023-01-31", rg("rg2")), None)
        .await;
    assert_eq!(code(&id), "ResourceGroupNotFound");
}

#[tokio::test]
async fn an_injected_failure_ends_the_operation_failed() {
    let env = env().await;
    let (subnet, identity) = network(&env, "rg3").await;
    put_done(
        &env,
        &format!("{}?{AKS}", cluster("rg3", "c3")),
        cluster_body("1.34", &subnet, &identity),
    )
    .await;
    env.emulator.set_faults(FaultConfig {
        rate_limits: false,
        ..("fail=agentpool:gpu*".parse().unwrap())
    });
    let pool = format!("{}/agentPools/gpu1?{AKS}", cluster("rg3", "c3"));
    let r = env
        .arm("PUT", &pool, Some(json!({"properties": {"mode": "User", "count": 1, "vmSize": "Standard_D4s_v5", "vnetSubnetID": subnet}})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let status = poll(&env, r.header("Azure-AsyncOperation").unwrap()).await;
    assert_eq!(status["status"], "Failed");
    assert_eq!(status["error"]["code"], "VMExtensionProvisioningError");
    let got = env.arm("GET", &pool, None).await.json();
    assert_eq!(got["properties"]["provisioningState"], "Failed");
}

#[tokio::test]
async fn etags_guard_writes_with_412() {
    let env = env().await;
    network(&env, "rg4").await;
    let path = format!("{}?{NET}", vnet("rg4"));
    let etag = env
        .arm("GET", &path, None)
        .await
        .header("ETag")
        .unwrap()
        .to_owned();
    let body = json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.30.0.0/16"]},
        "subnets": [{"name": "nodes", "properties": {"addressPrefix": "10.30.0.0/20"}}]}});
    let stale = env
        .arm_with(
            "PUT",
            &path,
            Some(body.clone()),
            &[("If-Match", "W/\"stale\"".to_owned())],
        )
        .await;
    assert_eq!(
        (stale.status, code(&stale)),
        (412, "PreconditionFailed".into())
    );
    let exists = env
        .arm_with(
            "PUT",
            &path,
            Some(body.clone()),
            &[("If-None-Match", "*".to_owned())],
        )
        .await;
    assert_eq!(exists.status, 412);
    let ok = env
        .arm_with("PUT", &path, Some(body), &[("If-Match", etag)])
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn an_empty_bucket_answers_429_with_retry_after() {
    let env = Env::with(EmulatorConfig::default()).await;
    let path = format!("{}?api-version=2024-11-01", rg("busy"));
    let mut last = None;
    for _ in 0..260 {
        let r = env.arm("GET", &path, None).await;
        if r.status == 429 {
            last = Some(r);
            break;
        }
    }
    let r = last.expect("reads are throttled after 250");
    assert_eq!(code(&r), "TooManyRequests");
    assert!(
        r.header("Retry-After")
            .is_some_and(|s| s.parse::<u32>().is_ok())
    );
}

#[tokio::test]
async fn protocol_errors_follow_arm() {
    let env = env().await;
    let no_auth = env
        .raw(
            "GET",
            &format!("{}?api-version=2024-11-01", rg("x")),
            &[],
            "",
        )
        .await;
    assert_eq!(
        (no_auth.status, code(&no_auth)),
        (401, "AuthenticationFailed".into())
    );
    assert!(no_auth.header("x-ms-request-id").is_some());
    let missing = env.arm("GET", &rg("x"), None).await;
    assert_eq!(code(&missing), "MissingApiVersionParameter");
    let bad_rg = env
        .arm("GET", &format!("{}?api-version=2019-01-01", rg("x")), None)
        .await;
    assert_eq!(code(&bad_rg), "InvalidApiVersionParameter");
    let bad_rp = env
        .arm(
            "GET",
            &format!("{}?api-version=2019-01-01", cluster("x", "c")),
            None,
        )
        .await;
    assert_eq!(
        (bad_rp.status, code(&bad_rp)),
        (400, "NoRegisteredProviderFound".into())
    );
    let no_rg = env
        .arm("GET", &format!("{}?{AKS}", cluster("x", "c")), None)
        .await;
    assert_eq!(
        (no_rg.status, code(&no_rg)),
        (404, "ResourceGroupNotFound".into())
    );
}

#[tokio::test]
async fn cluster_and_network_validation_is_strict() {
    let env = env().await;
    let (subnet, identity) = network(&env, "rg5").await;
    let path = format!("{}?{AKS}", cluster("rg5", "c5"));
    let mut unknown = cluster_body("1.34", &subnet, &identity);
    unknown["properties"]["networkProfile"]["podCidrs2"] = json!(["x"]);
    let r = env.arm("PUT", &path, Some(unknown)).await;
    assert_eq!(code(&r), "InvalidRequestContent");
    assert_eq!(
        r.json()["error"]["target"],
        "properties.networkProfile.podCidrs2"
    );
    let old = env
        .arm("PUT", &path, Some(cluster_body("1.29", &subnet, &identity)))
        .await;
    assert_eq!(code(&old), "K8sVersionNotSupported");
    let mut overlap = cluster_body("1.34", &subnet, &identity);
    overlap["properties"]["networkProfile"]["serviceCidr"] = json!("10.30.0.0/16");
    overlap["properties"]["networkProfile"]["dnsServiceIP"] = json!("10.30.0.10");
    assert_eq!(
        code(&env.arm("PUT", &path, Some(overlap)).await),
        "ServiceCidrOverlapExistingSubnetsCidr"
    );
    let mut dns = cluster_body("1.34", &subnet, &identity);
    dns["properties"]["networkProfile"]["dnsServiceIP"] = json!("10.1.0.10");
    assert_eq!(
        code(&env.arm("PUT", &path, Some(dns)).await),
        "InvalidParameter"
    );
    let mut no_system = cluster_body("1.34", &subnet, &identity);
    no_system["properties"]["agentPoolProfiles"][0]["mode"] = json!("User");
    assert_eq!(
        code(&env.arm("PUT", &path, Some(no_system)).await),
        "MustDefineAtLeastOneSystemPool"
    );
    let mut bad_name = cluster_body("1.34", &subnet, &identity);
    bad_name["properties"]["agentPoolProfiles"][0]["name"] = json!("System-Pool");
    assert_eq!(
        code(&env.arm("PUT", &path, Some(bad_name)).await),
        "InvalidParameter"
    );

    // Read-only properties in a PUT are ignored.
    let mut with_ro = cluster_body("1.34", &subnet, &identity);
    with_ro["properties"]["provisioningState"] = json!("Succeeded");
    with_ro["properties"]["fqdn"] = json!("mine.example");
    put_done(&env, &path, with_ro).await;
    let got = env.arm("GET", &path, None).await.json();
    assert_ne!(got["properties"]["fqdn"], "mine.example");

    // Skipping a minor and pool skew.
    let skip = env
        .arm(
            "PUT",
            &path,
            Some(json!({"location": "westeurope", "properties": {"kubernetesVersion": "1.36"}})),
        )
        .await;
    assert_eq!(
        (skip.status, code(&skip)),
        (400, "OperationNotAllowed".into())
    );
    let newer_pool = env
        .arm("PUT", &format!("{}/agentPools/user1?{AKS}", cluster("rg5", "c5")),
            Some(json!({"properties": {"mode": "User", "count": 1, "vmSize": "Standard_D4s_v5", "orchestratorVersion": "1.35", "vnetSubnetID": subnet}})))
        .await;
    assert_eq!(code(&newer_pool), "NodePoolMcVersionIncompatible");

    // Network: bad prefix, outside the VNet, overlapping siblings.
    let sub = |name: &str| format!("{}/subnets/{name}?{NET}", vnet("rg5"));
    let r = env
        .arm(
            "PUT",
            &sub("a"),
            Some(json!({"properties": {"addressPrefix": "10.30.16.0/33"}})),
        )
        .await;
    assert_eq!(code(&r), "InvalidAddressPrefixFormat");
    let r = env
        .arm(
            "PUT",
            &sub("a"),
            Some(json!({"properties": {"addressPrefix": "10.31.0.0/24"}})),
        )
        .await;
    assert_eq!(code(&r), "NetcfgSubnetRangeOutsideVnet");
    let r = env
        .arm(
            "PUT",
            &sub("a"),
            Some(json!({"properties": {"addressPrefix": "10.30.1.0/24"}})),
        )
        .await;
    assert_eq!(code(&r), "NetcfgSubnetRangesOverlap");
    // A VNet PUT without its in-use subnet would delete it: refused.
    let r = env
        .arm("PUT", &format!("{}?{NET}", vnet("rg5")), Some(json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.30.0.0/16"]}}})))
        .await;
    assert_eq!(code(&r), "InUseSubnetCannotBeDeleted");
}

#[tokio::test]
async fn role_assignments_wait_for_propagation_and_refuse_duplicates() {
    let env = env().await;
    network(&env, "rg6").await;
    env.emulator.set_faults(FaultConfig {
        rate_limits: false,
        identity_propagation_ms: 60_000,
        ..FaultConfig::default()
    });
    let new_id = put_done(
        &env,
        &format!("{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-new?api-version=2023-01-31", rg("rg6")),
        json!({"location": "westeurope"}),
    )
    .await
    .json();
    let principal = new_id["properties"]["principalId"]
        .as_str()
        .unwrap()
        .to_owned();
    let defs = env
        .arm("GET", &format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter=roleName%20eq%20%27Network%20Contributor%27"), None)
        .await
        .json();
    let def = defs["value"][0]["id"].as_str().unwrap().to_owned();
    assert!(
        def.ends_with("4d97b98b-1d4f-4787-a291-c67834d212e7"),
        "{def}"
    );
    let ra = |name: &str| {
        format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01",
            vnet("rg6")
        )
    };
    let body = json!({"properties": {"roleDefinitionId": def, "principalId": principal, "principalType": "ServicePrincipal"}});
    let r = env
        .arm(
            "PUT",
            &ra("11111111-1111-4111-8111-111111111111"),
            Some(body.clone()),
        )
        .await;
    assert_eq!((r.status, code(&r)), (400, "PrincipalNotFound".into()));
    env.emulator.set_faults(quiet());
    let r = env
        .arm(
            "PUT",
            &ra("11111111-1111-4111-8111-111111111111"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let dup = env
        .arm(
            "PUT",
            &ra("22222222-2222-4222-8222-222222222222"),
            Some(body),
        )
        .await;
    assert_eq!(
        (dup.status, code(&dup)),
        (409, "RoleAssignmentExists".into())
    );
}

#[tokio::test]
async fn the_arm_cloud_persists_in_azure_json() {
    let dir = tempfile::tempdir().unwrap();
    let config = EmulatorConfig {
        data_dir: Some(dir.path().to_owned()),
        faults: quiet(),
        time_scale: 6000.0,
        today: Some("2026-08-01".parse().unwrap()),
        ..EmulatorConfig::default()
    };
    let first = Env::with(config.clone()).await;
    network(&first, "kept").await;
    first.emulator.shutdown().await;
    assert!(dir.path().join("azure.json").exists());
    let second = Env::with(config.clone()).await;
    let r = second
        .arm("GET", &format!("{}?{NET}", vnet("kept")), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["properties"]["subnets"][0]["name"], "nodes");
    assert_eq!(second.admin("POST", "reset", "").await.status, 200);
    second.emulator.shutdown().await;
    let third = Env::with(config).await;
    let gone = third
        .arm(
            "GET",
            &format!("{}?api-version=2024-11-01", rg("kept")),
            None,
        )
        .await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn node_os_skus_and_upgrade_profiles_follow_aks() {
    // 1.30 to 1.33 are supported on this date, so Windows Server 2019 (last on 1.32) still runs.
    let env = Env::with(EmulatorConfig {
        time_scale: 6000.0,
        faults: quiet(),
        seed: 11,
        today: Some("2025-06-15".parse().unwrap()),
        ..EmulatorConfig::default()
    })
    .await;
    let (subnet, identity) = network(&env, "rg7").await;
    let c = cluster("rg7", "c7");
    put_done(
        &env,
        &format!("{c}?{AKS}"),
        cluster_body("1.32", &subnet, &identity),
    )
    .await;
    let pool = |name: &str, sku: &str, mode: &str| {
        (
            format!("{c}/agentPools/{name}?{AKS}"),
            json!({"properties": {"mode": mode, "count": 1, "vmSize": "Standard_D4s_v5",
                "osType": "Windows", "osSKU": sku, "vnetSubnetID": subnet}}),
        )
    };
    let (path, body) = pool("win19", "Windows2019", "User");
    put_done(&env, &path, body).await;
    let got = env.arm("GET", &path, None).await.json();
    assert_eq!(got["properties"]["osSKU"], "Windows2019");
    let image = got["properties"]["nodeImageVersion"].as_str().unwrap();
    assert!(
        image.starts_with("AKSWindows-2019-containerd-17763."),
        "{image}"
    );
    let system = env
        .arm("GET", &format!("{c}/agentPools/system?{AKS}"), None)
        .await
        .json();
    assert_eq!(system["properties"]["osSKU"], "Ubuntu");
    let image = system["properties"]["nodeImageVersion"].as_str().unwrap();
    assert!(
        image.starts_with("AKSUbuntu-2204gen2containerd-"),
        "{image}"
    );

    // Windows: user pools only, names of at most 6 characters, no SKU change in place.
    let (path, body) = pool("winsys", "Windows2022", "System");
    assert_eq!(
        code(&env.arm("PUT", &path, Some(body)).await),
        "InvalidParameter"
    );
    let (path, body) = pool("windows22", "Windows2022", "User");
    assert_eq!(
        code(&env.arm("PUT", &path, Some(body)).await),
        "InvalidParameter"
    );
    let (path, body) = pool("win19", "Windows2022", "User");
    assert_eq!(
        code(&env.arm("PUT", &path, Some(body)).await),
        "PropertyChangeNotAllowed"
    );
    let mut linux =
        cluster_body("1.32", &subnet, &identity)["properties"]["agentPoolProfiles"][0].clone();
    linux["osSKU"] = json!("Windows2022");
    linux["mode"] = json!("User");
    linux.as_object_mut().unwrap().remove("name");
    let r = env
        .arm(
            "PUT",
            &format!("{c}/agentPools/mixed?{AKS}"),
            Some(json!({"properties": linux})),
        )
        .await;
    assert_eq!(code(&r), "InvalidOSSKU");

    // The upgrade profile offers the next minor only; the Windows 2019 pool has nowhere to go.
    let profile = env
        .arm("GET", &format!("{c}/upgradeProfiles/default?{AKS}"), None)
        .await
        .json();
    let offered: Vec<&str> = profile["properties"]["controlPlaneProfile"]["upgrades"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["kubernetesVersion"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ["1.33.1", "1.33.2", "1.33.3"]);
    let pools = profile["properties"]["agentPoolProfiles"]
        .as_array()
        .unwrap();
    let win = pools.iter().find(|p| p["name"] == "win19").unwrap();
    assert_eq!(win["osType"], "Windows");
    assert_eq!(win["upgrades"], json!([]));
    let versions = env
        .arm(
            "GET",
            &format!("{SUB}/providers/Microsoft.ContainerService/locations/westeurope/kubernetesVersions?{AKS}"),
            None,
        )
        .await
        .json();
    let minors: Vec<&str> = versions["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| {
            v["capabilities"]["supportPlan"]
                .as_array()
                .unwrap()
                .contains(&json!("KubernetesOfficial"))
        })
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(minors, ["1.30", "1.31", "1.32", "1.33"]);
    let from_132 = &versions["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == "1.32")
        .unwrap()["patchVersions"]["1.32.3"]["upgrades"];
    assert_eq!(from_132, &json!(["1.33.1", "1.33.2", "1.33.3"]));

    // The control plane cannot move past what the Windows 2019 pool runs, nor skip a minor.
    let up = |v: &str| json!({"location": "westeurope", "properties": {"kubernetesVersion": v}});
    let r = env
        .arm("PUT", &format!("{c}?{AKS}"), Some(up("1.33")))
        .await;
    assert_eq!((r.status, code(&r)), (400, "InvalidOSSKU".into()));
    let r = env
        .arm("PUT", &format!("{c}?{AKS}"), Some(up("1.34")))
        .await;
    assert_eq!(code(&r), "K8sVersionNotSupported");
    let r = env
        .arm("DELETE", &format!("{c}/agentPools/win19?{AKS}"), None)
        .await;
    if let Some(op) = r.header("Azure-AsyncOperation") {
        poll(&env, op).await;
    }
    put_done(&env, &format!("{c}?{AKS}"), up("1.33")).await;
    let (path, mut body) = pool("win19", "Windows2019", "User");
    body["properties"]["orchestratorVersion"] = json!("1.33");
    assert_eq!(
        code(&env.arm("PUT", &path, Some(body)).await),
        "InvalidOSSKU"
    );
    // A pool at a minor out of support is refused; one three minors behind is not.
    let mut old =
        cluster_body("1.29", &subnet, &identity)["properties"]["agentPoolProfiles"][0].clone();
    old["mode"] = json!("User");
    old.as_object_mut().unwrap().remove("name");
    let mut behind = old.clone();
    behind["orchestratorVersion"] = json!("1.30");
    put_done(
        &env,
        &format!("{c}/agentPools/behind?{AKS}"),
        json!({"properties": behind}),
    )
    .await;
    let r = env
        .arm(
            "PUT",
            &format!("{c}/agentPools/old?{AKS}"),
            Some(json!({"properties": old})),
        )
        .await;
    assert_eq!(code(&r), "AgentPoolK8sVersionNotSupported");
}

#[tokio::test]
async fn the_istio_mesh_follows_its_revisions_compatibility() {
    // 1.34 to 1.36 are supported on this date.
    let env = env().await;
    let (subnet, identity) = network(&env, "rg8").await;
    let c = cluster("rg8", "c8");
    let with_mesh = |version: &str, mesh: Value| {
        let mut body = cluster_body(version, &subnet, &identity);
        body["properties"]["serviceMeshProfile"] = mesh;
        body
    };
    let refused = |r: &Reply| (r.status, code(r), r.json()["error"]["message"].clone());

    // A revision that does not run on 1.35, one AKS does not know, three at once.
    for (revisions, message) in [
        (
            json!(["asm-1-25"]),
            "Service mesh revision asm-1-25 is not compatible with cluster version 1.35.3. To find information about mesh-cluster compatibility, use 'az aks mesh get-upgrades'",
        ),
        (
            json!(["asm-1-17"]),
            "Requested change in revisions is not allowed. Reason: Revision asm-1-17 is not supported by the service mesh add-on.",
        ),
    ] {
        let body = with_mesh(
            "1.35",
            json!({"mode": "Istio", "istio": {"revisions": revisions}}),
        );
        let r = env.arm("PUT", &format!("{c}?{AKS}"), Some(body)).await;
        assert_eq!(refused(&r), (400, "BadRequest".into(), json!(message)));
    }
    let body = with_mesh(
        "1.35",
        json!({"mode": "Istio", "istio": {"revisions": ["asm-1-27", "asm-1-28", "asm-1-29"]}}),
    );
    let r = env.arm("PUT", &format!("{c}?{AKS}"), Some(body)).await;
    assert!(r.body.contains("at most two revisions"), "{}", r.body);
    let body = with_mesh("1.35", json!({"mode": "Mesh"}));
    let r = env.arm("PUT", &format!("{c}?{AKS}"), Some(body)).await;
    assert_eq!(code(&r), "InvalidParameter");

    put_done(
        &env,
        &format!("{c}?{AKS}"),
        with_mesh(
            "1.35",
            json!({"mode": "Istio", "istio": {"revisions": ["asm-1-28"]}}),
        ),
    )
    .await;
    // An update naming no revision keeps the installed one.
    put_done(
        &env,
        &format!("{c}?{AKS}"),
        with_mesh("1.35", json!({"mode": "Istio"})),
    )
    .await;
    let got = env.arm("GET", &format!("{c}?{AKS}"), None).await.json();
    assert_eq!(
        got["properties"]["serviceMeshProfile"],
        json!({"mode": "Istio", "istio": {"revisions": ["asm-1-28"]}})
    );

    // The location's revisions and the cluster's upgrade profile, in the swagger's shapes.
    let sub = SUB;
    let loc = format!(
        "{sub}/providers/Microsoft.ContainerService/locations/westeurope/meshRevisionProfiles"
    );
    let list = env.arm("GET", &format!("{loc}?{AKS}"), None).await.json();
    let profile = env
        .arm("GET", &format!("{loc}/istio?{AKS}"), None)
        .await
        .json();
    assert_eq!(list["value"][0], profile);
    assert_eq!(
        profile["type"],
        "Microsoft.ContainerService/locations/meshRevisionProfiles"
    );
    let revisions = profile["properties"]["meshRevisions"].as_array().unwrap();
    let r28 = revisions
        .iter()
        .find(|r| r["revision"] == "asm-1-28")
        .unwrap();
    assert_eq!(
        *r28,
        json!({"revision": "asm-1-28", "upgrades": ["asm-1-29", "asm-1-30"],
            "compatibleWith": [{"name": "kubernetes", "versions": ["1.30", "1.31", "1.32", "1.33", "1.34", "1.35"]}]})
    );
    let r = env.arm("GET", &format!("{loc}/linkerd?{AKS}"), None).await;
    assert_eq!(r.status, 404);
    let upgrades = env
        .arm("GET", &format!("{c}/meshUpgradeProfiles/istio?{AKS}"), None)
        .await
        .json();
    assert_eq!(
        upgrades["type"],
        "Microsoft.ContainerService/managedClusters/meshUpgradeProfiles"
    );
    assert_eq!(upgrades["properties"]["revision"], "asm-1-28");
    assert_eq!(
        upgrades["properties"]["upgrades"],
        json!(["asm-1-29", "asm-1-30"])
    );
    let listed = env
        .arm("GET", &format!("{c}/meshUpgradeProfiles?{AKS}"), None)
        .await
        .json();
    assert_eq!(listed["value"][0], upgrades);

    // asm-1-28 stops at 1.35: the control-plane upgrade is refused until the mesh moves.
    let r = env
        .arm(
            "PUT",
            &format!("{c}?{AKS}"),
            Some(with_mesh("1.36", json!({"mode": "Istio"}))),
        )
        .await;
    assert_eq!(
        refused(&r),
        (
            400,
            "BadRequest".into(),
            json!(
                "Service mesh revision asm-1-28 is not compatible with cluster version 1.36.3. To find information about mesh-cluster compatibility, use 'az aks mesh get-upgrades'"
            )
        )
    );
    // A canary pair must be an upgrade pair; then the canary completes and 1.36 goes through.
    let canary = |revisions: Value| {
        with_mesh(
            "1.35",
            json!({"mode": "Istio", "istio": {"revisions": revisions}}),
        )
    };
    let r = env
        .arm(
            "PUT",
            &format!("{c}?{AKS}"),
            Some(canary(json!(["asm-1-25", "asm-1-28"]))),
        )
        .await;
    assert!(r.body.contains("not a canary upgrade pair"), "{}", r.body);
    put_done(
        &env,
        &format!("{c}?{AKS}"),
        canary(json!(["asm-1-28", "asm-1-29"])),
    )
    .await;
    let during = env
        .arm("GET", &format!("{c}/meshUpgradeProfiles/istio?{AKS}"), None)
        .await
        .json();
    assert_eq!(
        during["properties"]["revision"], "asm-1-28",
        "the stable one"
    );
    put_done(&env, &format!("{c}?{AKS}"), canary(json!(["asm-1-29"]))).await;
    put_done(
        &env,
        &format!("{c}?{AKS}"),
        with_mesh("1.36", json!({"mode": "Istio"})),
    )
    .await;
    let got = env.arm("GET", &format!("{c}?{AKS}"), None).await.json();
    assert_eq!(got["properties"]["currentKubernetesVersion"], "1.36.3");
    assert_eq!(
        got["properties"]["serviceMeshProfile"]["istio"]["revisions"],
        json!(["asm-1-29"])
    );

    // Disabled: no profile to upgrade.
    put_done(
        &env,
        &format!("{c}?{AKS}"),
        with_mesh("1.36", json!({"mode": "Disabled"})),
    )
    .await;
    let r = env
        .arm("GET", &format!("{c}/meshUpgradeProfiles/istio?{AKS}"), None)
        .await;
    assert_eq!(r.status, 404);
    let listed = env
        .arm("GET", &format!("{c}/meshUpgradeProfiles?{AKS}"), None)
        .await
        .json();
    assert_eq!(listed["value"], json!([]));
}
