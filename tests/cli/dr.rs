//! DR standbys end to end on the emulator: the quickstart's AWS and Azure primaries drilled with
//! their phase timings checked against the emulator's latency model, identity and network
//! isolation of the derived standby, a built standby kept by `apply`, and a drill that fails a
//! readiness check, tears down and leaves nothing behind.

use std::path::Path;

use slipway_emulator::FaultConfig;

use crate::cloud::{Cloud, http, recorded_addresses, run};
use crate::{one_json_document, quickstart};

/// Slow enough that the latency model dominates polling, pacing and request overheads (an EKS
/// create of ~9.5 min takes ~3 s), fast enough for CI.
const SCALE: f64 = 200.0;
const SCALE_ARG: &str = "200";

fn json(dir: &Path, cloud: &Cloud, args: &[&str]) -> (i32, serde_json::Value) {
    let args = [&["--time-scale", SCALE_ARG, "--output", "json"][..], args].concat();
    let out = run(dir, cloud, &args).get_output().clone();
    let doc = if out.stdout.is_empty() {
        serde_json::Value::Null
    } else {
        one_json_document(&out.stdout)
    };
    (
        out.status.code().unwrap_or(-1),
        if doc.is_null() {
            serde_json::json!({ "stderr": String::from_utf8_lossy(&out.stderr) })
        } else {
            doc
        },
    )
}

/// `dr drill --teardown` of `cluster`'s standby: the exit code and the JSON document.
fn drill(dir: &Path, cloud: &Cloud, fleet: &str, cluster: &str) -> (i32, serde_json::Value) {
    json(
        dir,
        cloud,
        &[
            "dr",
            "drill",
            fleet,
            "--cluster",
            cluster,
            "--teardown",
            "--auto-approve",
        ],
    )
}

/// The emulator's own record of the durations it drew for `cluster`'s operations.
fn modelled(cloud: &Cloud, cluster: &str, operation: &str, target: &str) -> Vec<f64> {
    let (status, body) = http(
        "GET",
        &cloud.url,
        &format!("/_emulator/operations?cluster={cluster}"),
        "",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    doc["operations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["operation"] == operation && o["target"] == target)
        .map(|o| o["modelled_seconds"].as_f64().unwrap())
        .collect()
}

/// Cloud seconds from the start to the end of `address`'s create in the drill's timeline.
fn create_seconds(report: &serde_json::Value, address: &str) -> f64 {
    let at = |event: &str| {
        report["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["address"] == address && e["action"] == "create" && e["event"] == event)
            .unwrap_or_else(|| panic!("no `{event}` of {address} in the timeline"))["at_seconds"]
            .as_f64()
            .unwrap()
    };
    (at("finished") - at("started")) * SCALE
}

/// An operation lasts at least what the emulator's latency model drew for it (the cloud is
/// never early) and not much longer (waiter polls, client pacing and requests, in cloud time).
fn assert_matches_model(report: &serde_json::Value, address: &str, modelled: f64) {
    let measured = create_seconds(report, address);
    assert!(
        measured >= modelled * 0.98 && measured <= modelled * 1.25 + 90.0,
        "{address} took {measured:.0}s of cloud time; the model drew {modelled:.0}s"
    );
}

/// The one duration the emulator drew for `operation` on `target` of `cluster`.
fn drawn(cloud: &Cloud, cluster: &str, operation: &str, target: &str) -> f64 {
    let all = modelled(cloud, cluster, operation, target);
    assert_eq!(all.len(), 1, "{operation} {target}: {all:?}");
    all[0]
}

fn phase<'r>(report: &'r serde_json::Value, name: &str) -> &'r serde_json::Value {
    report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == name)
        .unwrap_or_else(|| panic!("no phase `{name}` in {:#}", report["phases"]))
}

fn passed_checks(report: &serde_json::Value) -> Vec<(String, bool)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["passed"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn failed_checks(report: &serde_json::Value) -> Vec<String> {
    passed_checks(report)
        .into_iter()
        .filter(|(_, passed)| !passed)
        .map(|(name, _)| name)
        .collect()
}

fn all_pass() -> Vec<(String, bool)> {
    [
        "control-plane-active",
        "node-pools-ready",
        "add-ons-active",
        "identities-resolvable",
    ]
    .map(|c| (c.to_owned(), true))
    .to_vec()
}

#[test]
fn drills_of_an_aws_and_an_azure_primary_match_the_latency_model_and_leave_evidence() {
    let cloud = Cloud::start_scaled(FaultConfig::default(), SCALE);
    let (dir, fleet) = quickstart();
    let fleet = fleet.to_str().unwrap();
    let (code, doc) = json(dir.path(), &cloud, &["apply", fleet, "--auto-approve"]);
    assert_eq!(code, 0, "{doc:#}");

    // AWS: a warm standby in us-west-2, built from scratch and torn down.
    let (code, doc) = drill(dir.path(), &cloud, fleet, "prod-use1");
    assert_eq!(code, 0, "{doc:#}");
    let aws = &doc["report"];
    assert_eq!(aws["kind"], "build");
    assert_eq!(aws["passed"], true, "{aws:#}");
    assert_eq!(passed_checks(aws), all_pass());
    assert_eq!(aws["standby"]["name"], "prod-use1-dr");
    assert_eq!(aws["standby"]["region"], "us-west-2");
    assert!(
        aws["verdict"]
            .as_str()
            .unwrap()
            .starts_with("PASS: ready after")
    );
    assert_eq!(aws["recovery"]["rto_seconds"], 7200);
    assert_eq!(aws["recovery"]["within_rto"], true);
    assert_eq!(aws["time_scale"], SCALE);
    assert_matches_model(
        aws,
        "prod-use1-dr/aws.eks_cluster/main",
        drawn(&cloud, "prod-use1-dr", "ClusterCreate", "prod-use1-dr"),
    );
    for pool in ["system", "general"] {
        assert_matches_model(
            aws,
            &format!("prod-use1-dr/aws.eks_nodegroup/{pool}"),
            drawn(&cloud, "prod-use1-dr", "NodegroupCreate", pool),
        );
    }
    // The control-plane phase is the cluster's create; every build phase is timed.
    assert_eq!(
        phase(aws, "control-plane")["cloud_seconds"]
            .as_f64()
            .unwrap()
            .round(),
        create_seconds(aws, "prod-use1-dr/aws.eks_cluster/main").round()
    );
    for name in [
        "plan",
        "network",
        "identity",
        "control-plane",
        "node-pools",
        "add-ons",
        "endpoints",
        "readiness",
        "teardown",
    ] {
        assert!(phase(aws, name)["cloud_seconds"].as_f64().unwrap() >= 0.0);
    }
    // The standby's own issuer, never the primary's.
    let (own, primary) = (
        aws["standby"]["oidc_issuer"].as_str().unwrap(),
        aws["primary"]["oidc_issuer"].as_str().unwrap(),
    );
    assert!(own.contains("oidc.eks.us-west-2.amazonaws.com"), "{own}");
    assert_ne!(own, primary);
    assert_eq!(aws["teardown"]["succeeded"], true, "{:#}", aws["teardown"]);
    assert!(cloud.objects("slipway:cluster=prod-use1-dr").is_empty());

    // Azure: a pilot-light standby in northeurope.
    let (code, doc) = drill(dir.path(), &cloud, fleet, "prod-weu");
    assert_eq!(code, 0, "{doc:#}");
    let azure = &doc["report"];
    assert_eq!(azure["passed"], true, "{azure:#}");
    assert_eq!(passed_checks(azure), all_pass());
    assert_eq!(azure["standby"]["region"], "northeurope");
    assert_eq!(azure["recovery"]["rto_seconds"], 5400);
    assert_matches_model(
        azure,
        "prod-weu-dr/azure.managed_cluster/main",
        drawn(&cloud, "prod-weu-dr", "AksCreate", "prod-weu-dr"),
    );
    let own = azure["standby"]["oidc_issuer"].as_str().unwrap();
    assert!(
        own.starts_with("https://northeurope.oic.prod-aks.azure.com/"),
        "{own}"
    );
    assert_ne!(Some(own), azure["primary"]["oidc_issuer"].as_str());
    assert!(cloud.objects("slipway:cluster=prod-weu-dr").is_empty());

    // Evidence: JSON and Markdown per drill, their digests in the journal, checked on listing.
    let (code, listed) = json(dir.path(), &cloud, &["dr", "report", fleet]);
    assert_eq!(code, 0, "{listed:#}");
    let drills = listed["drills"].as_array().unwrap();
    assert_eq!(drills.len(), 2, "{listed:#}");
    for d in drills {
        assert_eq!(d["drill"]["passed"], true);
        let evidence = d["evidence"].as_array().unwrap();
        assert_eq!(evidence.len(), 2);
        assert!(evidence.iter().all(|e| e["status"] == "verified"), "{d:#}");
    }
    let markdown = drills[0]["evidence"][1]["path"].as_str().unwrap();
    let text = std::fs::read_to_string(markdown).unwrap();
    assert!(text.contains("## Readiness checks"), "{text}");
    assert!(text.contains("| control-plane |"), "{text}");
    std::fs::write(markdown, text.replace("PASS", "pass")).unwrap();
    let (code, listed) = json(dir.path(), &cloud, &["dr", "report", fleet]);
    assert_eq!(code, 1, "an altered report must be reported: {listed:#}");
    assert_eq!(listed["drills"][0]["evidence"][1]["status"], "MODIFIED");
}

fn small_fleet(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("fleet.yaml");
    std::fs::write(
        &path,
        "apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata: { name: drills, owner: platform-runtime }\nclusters:\n  - name: shop\n    provider: aws\n    region: us-east-1\n    kubernetes: { version: \"1.34\" }\n    endpoint: public\n    zones: 2\n    network: { cidr: 10.60.0.0/16 }\n    nodePools:\n      - { name: system, role: system, instanceType: m8g.large, min: 2, max: 6 }\n      - { name: workers, role: user, instanceType: m6i.xlarge, min: 4, max: 12 }\n    addons: [coredns, kube-proxy, vpc-cni]\n    workloadIdentities:\n      - { name: orders, namespace: shop, serviceAccount: orders, aws: { policyArns: [\"arn:aws:iam::aws:policy/AmazonSQSFullAccess\"] } }\n    dr: { rto: 1h, standby: { region: af-south-1, cidr: 10.61.0.0/16, mode: warm } }\n",
    )
    .unwrap();
    path
}

#[test]
fn the_derived_standby_shares_no_network_region_or_identity_trust_with_its_primary() {
    let cloud = Cloud::start_scaled(FaultConfig::default(), SCALE);
    let dir = tempfile::tempdir().unwrap();
    let fleet = small_fleet(dir.path());
    let fleet = fleet.to_str().unwrap();
    let (code, doc) = json(
        dir.path(),
        &cloud,
        &["dr", "plan", fleet, "--cluster", "shop"],
    );
    assert_eq!(code, 2, "{doc:#}");
    let standby = &doc["standby"]["cluster"];
    assert_eq!(standby["name"], "shop-dr");
    assert_eq!(standby["region"], "af-south-1");
    assert_eq!(standby["network"]["cidr"], "10.61.0.0/16");
    // m8g is not offered in af-south-1: the same size of the newest arm64 family that is.
    let pools = standby["node_pools"].as_array().unwrap();
    assert_eq!(pools[0]["instance_type"], "m6g.large", "{pools:#?}");
    // Warm: a quarter of the capacity, room to scale to all of it.
    assert_eq!(pools[1]["desired"], 1);
    assert_eq!(pools[1]["max"], 12);
    let actions = doc["plan"]["plan"]["actions"].as_array().unwrap();
    let text = serde_json::to_string(actions).unwrap();
    assert!(
        !text.contains("\"shop/"),
        "the standby's plan refers to the primary: {text}"
    );
    assert!(
        !text.contains("us-east-1"),
        "the standby's plan names the primary's region"
    );
    assert!(
        !text.contains("10.60."),
        "the standby's plan uses the primary's network"
    );
    // IRSA trust names the standby's own OIDC provider.
    let role = actions
        .iter()
        .find(|a| {
            a["address"]
                .as_str()
                .unwrap()
                .starts_with("shop-dr/aws.iam_role/")
                && serde_json::to_string(a)
                    .unwrap()
                    .contains("AssumeRoleWithWebIdentity")
        })
        .unwrap_or_else(|| panic!("no IRSA role in {text}"));
    let role_text = serde_json::to_string(role).unwrap();
    assert!(
        role_text.contains("shop-dr/aws.iam_oidc_provider/"),
        "{role_text}"
    );

    // Built, the primary and standby clouds keep them apart too.
    let (code, doc) = json(dir.path(), &cloud, &["apply", fleet, "--auto-approve"]);
    assert_eq!(code, 0, "{doc:#}");
    let (code, doc) = json(
        dir.path(),
        &cloud,
        &["dr", "build", fleet, "--cluster", "shop", "--auto-approve"],
    );
    assert_eq!(code, 0, "{doc:#}");
    let primary = cloud.objects("slipway:cluster=shop");
    let standby = cloud.objects("slipway:cluster=shop-dr");
    assert!(!standby.is_empty());
    let ids = |objects: &[serde_json::Value]| -> Vec<String> {
        objects
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let shared: Vec<String> = ids(&primary)
        .into_iter()
        .filter(|id| ids(&standby).contains(id))
        .collect();
    assert!(shared.is_empty(), "objects shared: {shared:?}");

    // Once built, `apply` keeps the standby: nothing to change, nothing deleted.
    let (code, doc) = json(dir.path(), &cloud, &["plan", fleet]);
    assert_eq!(
        code, 0,
        "the built standby must be part of the plan: {doc:#}"
    );
    let recorded = recorded_addresses(dir.path(), &cloud, fleet);
    assert!(recorded.iter().any(|a| a.starts_with("shop-dr/")));
    // ...and converges it with its primary: a bigger primary pool is a bigger standby maximum.
    crate::cloud::edit(Path::new(fleet), "min: 4, max: 12", "min: 4, max: 16");
    let (code, doc) = json(dir.path(), &cloud, &["plan", fleet]);
    assert_eq!(code, 2, "{doc:#}");
    let mut changed: Vec<&str> = doc["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"]["type"] != "no-op")
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    changed.sort_unstable();
    assert_eq!(
        changed,
        vec![
            "shop-dr/aws.eks_nodegroup/workers",
            "shop/aws.eks_nodegroup/workers"
        ],
        "{doc:#}"
    );
    let (code, doc) = json(dir.path(), &cloud, &["apply", fleet, "--auto-approve"]);
    assert_eq!(code, 0, "{doc:#}");
    let (code, _) = json(dir.path(), &cloud, &["destroy", fleet, "--auto-approve"]);
    assert_eq!(code, 0);
    assert!(cloud.objects("slipway:fleet=drills").is_empty());
}

#[test]
fn a_drill_that_fails_a_readiness_check_says_which_and_still_tears_down() {
    let cloud = Cloud::start_scaled(FaultConfig::default(), SCALE);
    let dir = tempfile::tempdir().unwrap();
    let fleet = small_fleet(dir.path());
    let fleet = fleet.to_str().unwrap();
    let (code, doc) = json(
        dir.path(),
        &cloud,
        &["dr", "build", fleet, "--cluster", "shop", "--auto-approve"],
    );
    assert_eq!(code, 0, "{doc:#}");
    // CoreDNS on the standby loses its replicas.
    let (status, body) = http(
        "POST",
        &cloud.url,
        "/_emulator/eks/addon-health",
        "Content-Type: application/json\r\n",
        r#"{"cluster":"shop-dr","addon":"coredns","issues":[{"code":"InsufficientNumberOfReplicas","message":"0 of 2 replicas ready"}]}"#,
    );
    assert_eq!(status, 200, "{body}");

    let (code, doc) = drill(dir.path(), &cloud, fleet, "shop");
    assert_eq!(code, 7, "{doc:#}");
    let report = &doc["report"];
    assert_eq!(report["kind"], "verify");
    assert_eq!(report["passed"], false);
    let failed = failed_checks(report);
    assert_eq!(failed, vec!["add-ons-active"]);
    let detail = report["checks"][2]["details"][0].as_str().unwrap();
    assert!(
        detail.contains("coredns") && detail.contains("InsufficientNumberOfReplicas"),
        "{detail}"
    );
    assert_eq!(
        report["verdict"],
        "FAIL: readiness checks failed: add-ons-active (an existing standby was verified; no build was timed)"
    );
    assert_eq!(
        report["teardown"]["succeeded"], true,
        "{:#}",
        report["teardown"]
    );
    assert!(cloud.objects("slipway:cluster=shop-dr").is_empty());
    assert!(
        !recorded_addresses(dir.path(), &cloud, fleet)
            .iter()
            .any(|a| a.starts_with("shop-dr/"))
    );
    let (code, listed) = json(
        dir.path(),
        &cloud,
        &["dr", "report", fleet, "--cluster", "shop"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        listed["drills"][0]["drill"]["failed_checks"],
        serde_json::json!(["add-ons-active"])
    );
}

#[test]
fn a_drill_whose_build_fails_reports_it_and_tears_down_the_partial_standby() {
    // The standby region has no capacity for the workers' instances.
    let cloud = Cloud::start_scaled("fail=nodegroup:workers".parse().unwrap(), SCALE);
    let dir = tempfile::tempdir().unwrap();
    let fleet = small_fleet(dir.path());
    let fleet = fleet.to_str().unwrap();
    let (code, doc) = drill(dir.path(), &cloud, fleet, "shop");
    assert_eq!(code, 7, "{doc:#}");
    let report = &doc["report"];
    assert_eq!(report["kind"], "build");
    let verdict = report["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("FAIL: the standby could not be built: ")
            && verdict.contains("workers"),
        "{verdict}"
    );
    let pools = &report["checks"][1];
    assert_eq!(pools["name"], "node-pools-ready");
    assert_eq!(pools["passed"], false);
    assert!(
        pools["details"][0].as_str().unwrap().contains("`workers`"),
        "{pools:#}"
    );
    assert_eq!(
        report["checks"][0]["passed"], true,
        "the control plane was built"
    );
    // The failed node group, and everything that was built, is gone.
    assert_eq!(
        report["teardown"]["succeeded"], true,
        "{:#}",
        report["teardown"]
    );
    assert!(cloud.objects("slipway:cluster=shop-dr").is_empty());
    assert!(
        !recorded_addresses(dir.path(), &cloud, fleet)
            .iter()
            .any(|a| a.starts_with("shop-dr/"))
    );
}

#[test]
fn an_azure_standby_with_a_stopped_pool_fails_node_pools_ready_and_is_torn_down() {
    let cloud = Cloud::start_scaled(FaultConfig::default(), SCALE);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.yaml");
    std::fs::write(
        &path,
        "apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata: { name: drills-az, owner: platform-runtime }\nclusters:\n  - name: ledger\n    provider: azure\n    region: westeurope\n    azure: { subscriptionId: 44444444-4444-4444-4444-444444444444, resourceGroup: rg-ledger }\n    kubernetes: { version: \"1.34\" }\n    endpoint: public\n    zones: 3\n    network: { cidr: 10.70.0.0/16 }\n    nodePools:\n      - { name: system, role: system, instanceType: Standard_D4s_v6, min: 3, max: 6 }\n    workloadIdentities:\n      - { name: ledger-api, namespace: ledger, serviceAccount: api, azure: { roleAssignments: [{ role: Storage Blob Data Reader, scope: /subscriptions/44444444-4444-4444-4444-444444444444 }] } }\n    dr: { rto: 1h, standby: { region: polandcentral, cidr: 10.71.0.0/16, mode: hot } }\n",
    )
    .unwrap();
    let fleet = path.to_str().unwrap();
    let (code, doc) = json(
        dir.path(),
        &cloud,
        &[
            "dr",
            "build",
            fleet,
            "--cluster",
            "ledger",
            "--auto-approve",
        ],
    );
    assert_eq!(code, 0, "{doc:#}");
    let (code, pool) = json(
        dir.path(),
        &cloud,
        &["state", "show", fleet, "ledger-dr/azure.agent_pool/system"],
    );
    assert_eq!(code, 0, "{pool:#}");
    let id = pool["resource"]["cloud_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no cloud id in {pool:#}"));
    // polandcentral offers no v6 sizes: the hot standby runs the v5 of the same size.
    assert!(
        serde_json::to_string(&pool)
            .unwrap()
            .contains("Standard_D4s_v5"),
        "{pool:#}"
    );
    let (status, body) = http(
        "POST",
        &cloud.url,
        "/_emulator/arm/agentpool-state",
        "Content-Type: application/json\r\n",
        &format!(r#"{{"id":"{id}","powerState":"Stopped"}}"#),
    );
    assert_eq!(status, 200, "{body}");

    let (code, doc) = drill(dir.path(), &cloud, fleet, "ledger");
    assert_eq!(code, 7, "{doc:#}");
    let report = &doc["report"];
    assert_eq!(report["kind"], "verify");
    let failed = failed_checks(report);
    assert_eq!(failed, vec!["node-pools-ready"], "{report:#}");
    let detail = report["checks"][1]["details"][0].as_str().unwrap();
    assert!(
        detail.contains("`system`") && detail.contains("Stopped"),
        "{detail}"
    );
    assert_eq!(
        report["teardown"]["succeeded"], true,
        "{:#}",
        report["teardown"]
    );
    assert!(cloud.objects("slipway:cluster=ledger-dr").is_empty());
}
