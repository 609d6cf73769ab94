//! Upgrade rings end to end on the emulator: a dual-cloud fleet of 8 clusters in 4 rings moved
//! a minor by `advance` called as a scheduler would, a two-minor upgrade, `advance` killed at
//! random points, and a node group failure that halts its ring until `retry` or `skip`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use slipway_emulator::FaultConfig;

use crate::cloud::{Cloud, run};
use crate::{TODAY, one_json_document, slipway};

fn aws(name: &str, ring: &str, cidr: &str) -> String {
    format!(
        "  - name: {name}\n    provider: aws\n    region: us-east-1\n    network: {{ cidr: {cidr} }}\n    nodePools: [{{ name: ng-{ring}, role: system, instanceType: t3.large, min: 1, max: 2 }}]\n    ring: {ring}\n"
    )
}

fn azure(name: &str, ring: &str, cidr: &str) -> String {
    format!(
        "  - name: {name}\n    provider: azure\n    region: westeurope\n    azure: {{ subscriptionId: 44444444-4444-4444-4444-444444444444, resourceGroup: rg-{name} }}\n    network: {{ cidr: {cidr} }}\n    nodePools: [{{ name: system, role: system, instanceType: Standard_D4s_v5, min: 1, max: 2 }}]\n    ring: {ring}\n"
    )
}

/// The fleet's metadata and defaults, up to `clusters:`.
fn header(version: &str) -> String {
    format!(
        "apiVersion: slipway.dev/v1\nkind: Fleet\nmetadata: {{ name: rings, owner: platform-runtime }}\ndefaults:\n  tier: dev\n  kubernetes: {{ version: \"{version}\" }}\n  endpoint: public\n  zones: 2\nclusters:\n"
    )
}

/// Eight clusters, two per ring (one per cloud), in four rings with soak, gates and an approval.
fn fleet(version: &str, prod_threshold: u32) -> String {
    let mut text = header(version);
    let mut n = 0;
    for ring in ["dev", "staging", "canary", "prod"] {
        n += 1;
        text.push_str(&aws(
            &format!("{ring}-aws"),
            ring,
            &format!("10.{n}.0.0/16"),
        ));
        n += 1;
        text.push_str(&azure(
            &format!("{ring}-az"),
            ring,
            &format!("10.{n}.0.0/16"),
        ));
    }
    text.push_str(&format!(
        "rings:\n  - {{ name: dev, soak: 1s, maxParallel: 2 }}\n  - {{ name: staging, soak: 1s, gates: [health], failureThreshold: 0 }}\n  - {{ name: canary, approval: required, gates: [deprecations, health] }}\n  - {{ name: prod, maxParallel: 2, failureThreshold: {prod_threshold} }}\n"
    ));
    text
}

/// An emulated cloud with the fleet `text` applied to it.
fn built(text: &str) -> (Cloud, tempfile::TempDir, std::path::PathBuf) {
    built_on(Cloud::start(FaultConfig::default()), text)
}

/// [`built`] on a cloud `time_scale` times faster than real ones.
fn built_scaled(text: &str, time_scale: f64) -> (Cloud, tempfile::TempDir, std::path::PathBuf) {
    built_on(
        Cloud::start_scaled(FaultConfig::default(), time_scale),
        text,
    )
}

fn built_on(cloud: Cloud, text: &str) -> (Cloud, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.yaml");
    std::fs::write(&path, text).unwrap();
    run(
        dir.path(),
        &cloud,
        &["apply", path.to_str().unwrap(), "--auto-approve"],
    )
    .code(0);
    (cloud, dir, path)
}

fn upgrade(
    dir: &Path,
    cloud: &Cloud,
    sub: &str,
    fleet: &Path,
    to: &str,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let out = run(
        dir,
        cloud,
        &[
            &[
                "upgrade",
                sub,
                fleet.to_str().unwrap(),
                "--to",
                to,
                "--output",
                "json",
            ][..],
            extra,
        ]
        .concat(),
    )
    .get_output()
    .clone();
    let code = out.status.code().unwrap_or(-1);
    let doc = if out.stdout.is_empty() {
        serde_json::Value::Null
    } else {
        one_json_document(&out.stdout)
    };
    (code, doc)
}

fn status(dir: &Path, cloud: &Cloud, fleet: &Path, to: &str) -> serde_json::Value {
    let (code, doc) = upgrade(dir, cloud, "status", fleet, to, &[]);
    assert_eq!(code, 0, "{doc}");
    doc
}

/// Calls `advance` like a scheduler until the rollout finishes, approving `approve` when asked
/// and sleeping through soaks. Returns the exit codes seen.
fn schedule(dir: &Path, cloud: &Cloud, fleet: &Path, to: &str, approve: &[&str]) -> Vec<i32> {
    let mut codes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        assert!(
            Instant::now() < deadline,
            "rollout did not finish: {codes:?}"
        );
        let (code, doc) = upgrade(dir, cloud, "advance", fleet, to, &[]);
        codes.push(code);
        match (code, doc["stop"].as_str()) {
            (0, Some("finished")) => return codes,
            (0, _) => {}
            (6, Some("awaiting-approval")) => {
                let ring = status(dir, cloud, fleet, to)["rings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|r| r["started_at"].is_null())
                    .unwrap()["name"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert!(
                    approve.contains(&ring.as_str()),
                    "unexpected approval for {ring}"
                );
                let (code, doc) = upgrade(dir, cloud, "approve", fleet, to, &["--ring", &ring]);
                assert_eq!(code, 0, "{doc}");
            }
            (6, Some("soaking")) => std::thread::sleep(Duration::from_millis(300)),
            _ => panic!("advance exited {code}: {doc}"),
        }
    }
}

const EKS_AUTH: &str = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20261121/us-east-1/eks/aws4_request, SignedHeaders=host, Signature=0\r\n";

/// A GET against the emulated cloud, backing off while its rate limits say so.
fn get(cloud: &Cloud, path: &str, auth: &str) -> serde_json::Value {
    for attempt in 0..50 {
        let (status, body) = crate::cloud::http("GET", &cloud.url, path, auth, "");
        if status == 429 && attempt < 49 {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        assert_eq!(status, 200, "GET {path}: {body}");
        return serde_json::from_str(&body).unwrap();
    }
    unreachable!("the last attempt returns or panics")
}

/// `cluster -> (control plane version, [node pool versions], [(add-on, version)])`, read from
/// the emulated clouds' own APIs (EKS REST, ARM GETs).
#[allow(clippy::type_complexity)]
fn versions(cloud: &Cloud) -> BTreeMap<String, (String, Vec<String>, Vec<(String, String)>)> {
    let mut out: BTreeMap<String, (String, Vec<String>, Vec<(String, String)>)> = BTreeMap::new();
    for o in cloud.objects("slipway:fleet=rings") {
        let cluster = o["tags"]["slipway:cluster"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let id = o["id"].as_str().unwrap_or_default();
        // EKS ARNs: …:cluster/NAME, …:nodegroup/CLUSTER/NAME/UUID, …:addon/CLUSTER/NAME/UUID.
        let parts: Vec<&str> = id
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .split('/')
            .collect();
        let entry = out.entry(cluster).or_default();
        match o["kind"].as_str().unwrap_or_default() {
            "cluster" => {
                entry.0 =
                    get(cloud, &format!("/clusters/{}", parts[1]), EKS_AUTH)["cluster"]["version"]
                        .as_str()
                        .unwrap()
                        .to_owned();
            }
            "nodegroup" => entry.1.push(
                get(
                    cloud,
                    &format!("/clusters/{}/node-groups/{}", parts[1], parts[2]),
                    EKS_AUTH,
                )["nodegroup"]["version"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            "addon" => entry.2.push((
                parts[2].to_owned(),
                get(
                    cloud,
                    &format!("/clusters/{}/addons/{}", parts[1], parts[2]),
                    EKS_AUTH,
                )["addon"]["addonVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )),
            "Microsoft.ContainerService/managedClusters" => {
                let body = get(
                    cloud,
                    &format!("{id}?api-version=2026-08-01"),
                    "Authorization: Bearer test\r\n",
                );
                entry.0 = body["properties"]["currentKubernetesVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
            "Microsoft.ContainerService/managedClusters/agentPools" => {
                let body = get(
                    cloud,
                    &format!("{id}?api-version=2026-08-01"),
                    "Authorization: Bearer test\r\n",
                );
                entry.1.push(
                    body["properties"]["currentOrchestratorVersion"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            _ => {}
        }
    }
    out
}

/// The EKS default version of an add-on for a minor, from DescribeAddonVersions.
fn eks_default(cloud: &Cloud, addon: &str, minor: &str) -> String {
    let doc = get(
        cloud,
        &format!("/addons/supported-versions?addonName={addon}&kubernetesVersion={minor}"),
        EKS_AUTH,
    );
    doc["addons"][0]["addonVersions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| {
            v["compatibilities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["clusterVersion"] == minor && c["defaultVersion"] == true)
        })
        .unwrap_or_else(|| panic!("no default {addon} for {minor}: {doc}"))["addonVersion"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn minor(v: &str) -> String {
    v.split('.').take(2).collect::<Vec<_>>().join(".")
}

fn assert_all_at(cloud: &Cloud, to: &str) {
    let all = versions(cloud);
    assert_eq!(all.len(), 8, "{all:?}");
    for (cluster, (cp, pools, addons)) in &all {
        assert_eq!(minor(cp), to, "{cluster} control plane: {all:?}");
        assert!(!pools.is_empty(), "{cluster} has node pools");
        for p in pools {
            assert_eq!(minor(p), to, "{cluster} node pool: {all:?}");
        }
        for (addon, version) in addons {
            assert_eq!(
                version,
                &eks_default(cloud, addon, to),
                "{cluster} add-on {addon}"
            );
        }
        if cluster.ends_with("-aws") {
            assert_eq!(
                addons.len(),
                3,
                "{cluster}: coredns, kube-proxy, vpc-cni: {addons:?}"
            );
        }
    }
}

/// Every rollout step event of the journal: `(cluster, hop, phase, started|ok|failed)`.
fn step_events(
    dir: &Path,
    cloud: &Cloud,
    fleet: &Path,
    to: &str,
) -> Vec<(String, String, String, String)> {
    let (code, doc) = upgrade(dir, cloud, "status", fleet, to, &["--events"]);
    assert_eq!(code, 0, "{doc}");
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            let d = &e["event"];
            let kind = match d["event"].as_str()? {
                "step-started" => "started".to_owned(),
                "step-finished" if d["ok"] == true => "ok".to_owned(),
                "step-finished" => "failed".to_owned(),
                _ => return None,
            };
            Some((
                d["cluster"].as_str()?.to_owned(),
                d["hop"].as_str()?.to_owned(),
                d["phase"].as_str()?.to_owned(),
                kind,
            ))
        })
        .collect()
}

#[test]
fn eight_clusters_in_four_rings_reach_the_next_minor_through_scheduled_advances() {
    let (cloud, dir, fleet) = built(&fleet("1.35", 0));

    let (code, plan) = upgrade(dir.path(), &cloud, "plan", &fleet, "1.36", &[]);
    assert_eq!(code, 0, "{plan}");
    let rings: Vec<&str> = plan["rings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(rings, ["dev", "staging", "canary", "prod"]);

    let codes = schedule(dir.path(), &cloud, &fleet, "1.36", &["canary"]);
    assert!(
        codes.contains(&6),
        "soak and approval made the scheduler wait: {codes:?}"
    );
    assert_all_at(&cloud, "1.36");

    let st = status(dir.path(), &cloud, &fleet, "1.36");
    assert_eq!(st["next_kind"], "finished");
    let canary = st["rings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "canary")
        .unwrap();
    assert!(canary["approved_by"].is_string(), "{canary}");
    // Rings ran in order: each started after the previous one finished (and soaked).
    let rings = st["rings"].as_array().unwrap();
    for pair in rings.windows(2) {
        let finished: jiff::Timestamp = pair[0]["finished_at"].as_str().unwrap().parse().unwrap();
        let started: jiff::Timestamp = pair[1]["started_at"].as_str().unwrap().parse().unwrap();
        assert!(
            started >= finished,
            "{} started before {} finished",
            pair[1]["name"],
            pair[0]["name"]
        );
    }
    // A plan of the upgraded fleet (blueprint still at 1.35) proposes no downgrade.
    run(dir.path(), &cloud, &["plan", fleet.to_str().unwrap()]).code(0);
    // Nothing left to do: advance says so without touching anything.
    let (code, doc) = upgrade(dir.path(), &cloud, "advance", &fleet, "1.36", &[]);
    assert_eq!((code, doc["stop"].as_str()), (0, Some("finished")));
}

#[test]
fn a_two_minor_upgrade_goes_through_both_hops_in_order() {
    let text = fleet("1.34", 0).replace("approval: required, ", "");
    let (cloud, dir, fleet) = built(&text);
    schedule(dir.path(), &cloud, &fleet, "1.36", &[]);
    assert_all_at(&cloud, "1.36");
    let events = step_events(dir.path(), &cloud, &fleet, "1.36");
    for cluster in ["dev-aws", "prod-az"] {
        let ok: Vec<(String, String)> = events
            .iter()
            .filter(|(c, _, _, k)| c == cluster && k == "ok")
            .map(|(_, h, p, _)| (h.clone(), p.clone()))
            .collect();
        let phases = [
            "preflight",
            "control-plane",
            "add-ons",
            "node-pools",
            "post-check",
        ];
        let expected: Vec<(String, String)> = ["1.35", "1.36"]
            .iter()
            .flat_map(|h| phases.iter().map(move |p| (h.to_string(), p.to_string())))
            .collect();
        assert_eq!(ok, expected, "{cluster}");
    }
}

#[test]
fn advance_killed_at_random_points_never_repeats_or_loses_a_step_and_converges() {
    let text = fleet("1.35", 0)
        .replace("approval: required, ", "")
        .replace("soak: 1s", "soak: 0s");
    let (cloud, dir, fleet) = built_scaled(&text, 300.0);
    let mut kills = 0;
    let mut seed: u64 = 0x5eed;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(
            Instant::now() < deadline,
            "did not converge after {kills} kills"
        );
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("slipway"))
            .current_dir(dir.path())
            .env("SLIPWAY_TODAY", TODAY)
            .env("NO_COLOR", "1")
            .env_remove("SLIPWAY_STATE")
            .args([
                "--emulator-url",
                &cloud.url,
                "-q",
                "upgrade",
                "advance",
                fleet.to_str().unwrap(),
                "--to",
                "1.36",
                "--output",
                "json",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let after = Duration::from_millis(200 + (seed >> 33) % 1500);
        let started = Instant::now();
        let finished = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() >= after {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match finished {
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
            }
            Some(status) => {
                let mut stdout = String::new();
                use std::io::Read;
                child
                    .stdout
                    .take()
                    .unwrap()
                    .read_to_string(&mut stdout)
                    .unwrap();
                let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
                match status.code() {
                    Some(0) if doc["stop"] == "finished" => break,
                    Some(0) | Some(6) => {}
                    // A killed run leaves the local lock behind (SQLite locks are released by
                    // force, ADR 0003): the refusal names it, and the scheduler forces it.
                    Some(4) => {
                        let id = doc["lock"]["id"].as_str().unwrap().to_owned();
                        slipway(dir.path())
                            .args(["state", "unlock", fleet.to_str().unwrap(), "--force", &id])
                            .assert()
                            .code(0);
                    }
                    other => panic!("advance exited {other:?}: {stdout}"),
                }
            }
        }
    }
    assert!(
        kills >= 2,
        "the test must actually kill advance ({kills} kills)"
    );
    assert_all_at(&cloud, "1.36");
    let events = step_events(dir.path(), &cloud, &fleet, "1.36");
    let mut finished = BTreeSet::new();
    for (cluster, hop, phase, kind) in &events {
        let step = (cluster.clone(), hop.clone(), phase.clone());
        match kind.as_str() {
            "started" => assert!(
                !finished.contains(&step),
                "finished step started again: {step:?}"
            ),
            "ok" => assert!(
                finished.insert(step.clone()),
                "step finished twice: {step:?}"
            ),
            _ => {}
        }
    }
    assert_eq!(
        finished.len(),
        8 * 5,
        "every step of every cluster finished exactly once"
    );
}

fn rings_status(doc: &serde_json::Value) -> BTreeMap<String, (bool, bool, usize)> {
    doc["rings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                (
                    !r["started_at"].is_null(),
                    !r["finished_at"].is_null(),
                    r["failed"].as_u64().unwrap() as usize,
                ),
            )
        })
        .collect()
}

fn cluster_status(doc: &serde_json::Value, name: &str) -> serde_json::Value {
    doc["rings"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["clusters"].as_array().unwrap().iter())
        .find(|c| c["name"] == name)
        .unwrap()
        .clone()
}

/// Calls `advance` until it stops for something other than a soak.
fn advance_until_stopped(dir: &Path, cloud: &Cloud, fleet: &Path) -> (i32, serde_json::Value) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "advance never stopped");
        let (code, doc) = upgrade(dir, cloud, "advance", fleet, "1.36", &[]);
        match (code, doc["stop"].as_str()) {
            (6, Some("soaking")) => std::thread::sleep(Duration::from_millis(300)),
            (0, Some(stop)) if stop != "finished" && stop != "halted" => {}
            _ => return (code, doc),
        }
    }
}

#[test]
fn a_node_pool_failure_in_ring_two_halts_it_leaves_ring_three_untouched_and_retry_continues() {
    let (cloud, dir, fleet) = built(&fleet("1.35", 0));
    cloud.set_faults("fail=nodegroup-update:ng-staging".parse().unwrap());

    let (code, doc) = advance_until_stopped(dir.path(), &cloud, &fleet);
    assert_eq!((code, doc["stop"].as_str()), (1, Some("halted")), "{doc}");
    let st = status(dir.path(), &cloud, &fleet, "1.36");
    assert_eq!(st["next_kind"], "halted");
    let rings = rings_status(&st);
    assert_eq!(rings["dev"], (true, true, 0));
    assert_eq!(rings["staging"], (true, false, 1));
    assert_eq!(rings["canary"], (false, false, 0), "ring 3 never starts");
    let failed = cluster_status(&st, "staging-aws");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["phase"], "node-pools");
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("PodEvictionFailure"),
        "{failed}"
    );
    // Ring 3 and 4 are untouched in the cloud too.
    let all = versions(&cloud);
    for cluster in ["canary-aws", "canary-az", "prod-aws", "prod-az"] {
        assert_eq!(minor(&all[cluster].0), "1.35", "{cluster}: {all:?}");
    }
    // The halted ring stays halted without a human.
    let (code, _) = upgrade(dir.path(), &cloud, "advance", &fleet, "1.36", &[]);
    assert_eq!(code, 1);

    // A retry while the cause persists fails again; once fixed, the retry continues from the
    // failed step and the rollout completes.
    let (code, doc) = upgrade(
        dir.path(),
        &cloud,
        "retry",
        &fleet,
        "1.36",
        &["--cluster", "staging-aws"],
    );
    assert_eq!(code, 0, "{doc}");
    let (code, doc) = advance_until_stopped(dir.path(), &cloud, &fleet);
    assert_eq!((code, doc["stop"].as_str()), (1, Some("halted")), "{doc}");
    let retried: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phase"].as_str().unwrap())
        .collect();
    assert_eq!(retried, ["node-pools"], "only the failed step runs again");
    cloud.set_faults(FaultConfig::default());
    upgrade(
        dir.path(),
        &cloud,
        "retry",
        &fleet,
        "1.36",
        &["--cluster", "staging-aws"],
    );
    schedule(dir.path(), &cloud, &fleet, "1.36", &["canary"]);
    assert_all_at(&cloud, "1.36");
    let (code, _) = upgrade(
        dir.path(),
        &cloud,
        "retry",
        &fleet,
        "1.36",
        &["--cluster", "staging-aws"],
    );
    assert_eq!(code, 1, "nothing to retry once done");
}

#[test]
fn skip_leaves_a_failed_cluster_out_with_its_reason_and_the_rollout_goes_on() {
    let text = fleet("1.35", 0).replace("approval: required, ", "");
    let (cloud, dir, fleet) = built(&text);
    cloud.set_faults("fail=nodegroup-update:ng-dev".parse().unwrap());
    let (code, doc) = advance_until_stopped(dir.path(), &cloud, &fleet);
    assert_eq!((code, doc["stop"].as_str()), (1, Some("halted")), "{doc}");
    let (code, doc) = upgrade(dir.path(), &cloud, "advance", &fleet, "1.37", &[]);
    assert_eq!(code, 1);
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("the rollout to 1.36 is not finished"),
        "one rollout at a time: {doc}"
    );
    run(
        dir.path(),
        &cloud,
        &[
            "upgrade",
            "skip",
            fleet.to_str().unwrap(),
            "--to",
            "1.36",
            "--cluster",
            "dev-aws",
        ],
    )
    .code(2);
    let (code, doc) = upgrade(
        dir.path(),
        &cloud,
        "skip",
        &fleet,
        "1.36",
        &[
            "--cluster",
            "dev-aws",
            "--reason",
            "node group replaced in PLAT-9",
        ],
    );
    assert_eq!(code, 0, "{doc}");
    schedule(dir.path(), &cloud, &fleet, "1.36", &[]);
    let st = status(dir.path(), &cloud, &fleet, "1.36");
    let skipped = cluster_status(&st, "dev-aws");
    assert_eq!(skipped["status"], "skipped");
    assert_eq!(skipped["skipped_because"], "node group replaced in PLAT-9");
    let all = versions(&cloud);
    assert_eq!(
        minor(&all["dev-aws"].1[0]),
        "1.35",
        "the skipped cluster's pool is left alone"
    );
    assert_eq!(minor(&all["prod-aws"].1[0]), "1.36");
}

#[test]
fn run_drives_through_soaks_stops_at_approvals_and_status_says_what_comes_next() {
    let text = format!(
        "{}{}{}{}rings:\n  - {{ name: dev, soak: 2s }}\n  - {{ name: staging, soak: 0s }}\n  - {{ name: prod, approval: required, gates: [{{ command: \"test $SLIPWAY_HOP = 1.36\" }}] }}\n",
        header("1.35"),
        aws("dev-aws", "dev", "10.1.0.0/16"),
        azure("staging-az", "staging", "10.2.0.0/16"),
        aws("prod-aws", "prod", "10.3.0.0/16"),
    );
    let (cloud, dir, fleet) = built(&text);

    let (code, doc) = upgrade(dir.path(), &cloud, "status", &fleet, "1.36", &[]);
    assert_eq!((code, doc["started"].as_bool()), (0, Some(false)));

    // `run` sleeps through dev's soak by itself and stops where a human is needed.
    let started = Instant::now();
    let (code, doc) = upgrade(dir.path(), &cloud, "run", &fleet, "1.36", &[]);
    assert_eq!(
        (code, doc["stop"].as_str()),
        (6, Some("awaiting-approval")),
        "{doc}"
    );
    assert!(started.elapsed() >= Duration::from_secs(2), "dev soaked");
    let st = status(dir.path(), &cloud, &fleet, "1.36");
    assert_eq!(st["next_kind"], "awaiting-approval");
    assert_eq!(
        cluster_status(&st, "prod-aws")["next"],
        "after the ring is approved"
    );
    assert_eq!(cluster_status(&st, "staging-az")["status"], "done");
    let table = run(
        dir.path(),
        &cloud,
        &["upgrade", "status", fleet.to_str().unwrap(), "--to", "1.36"],
    )
    .code(0)
    .get_output()
    .stdout
    .clone();
    let table = String::from_utf8(table).unwrap();
    assert!(table.contains("RING"), "{table}");
    assert!(
        table.contains("Next: ring `prod` waits for approval"),
        "{table}"
    );

    let (code, _) = upgrade(
        dir.path(),
        &cloud,
        "approve",
        &fleet,
        "1.36",
        &["--ring", "nope"],
    );
    assert_eq!(code, 1, "unknown rings are refused");
    let (code, _) = upgrade(
        dir.path(),
        &cloud,
        "approve",
        &fleet,
        "1.36",
        &["--ring", "prod"],
    );
    assert_eq!(code, 0);
    let (code, doc) = upgrade(dir.path(), &cloud, "run", &fleet, "1.36", &[]);
    assert_eq!((code, doc["stop"].as_str()), (0, Some("finished")), "{doc}");
    let events = step_events(dir.path(), &cloud, &fleet, "1.36");
    assert!(events.contains(&(
        "prod-aws".into(),
        "1.36".into(),
        "preflight".into(),
        "ok".into()
    )));
    let (_, st) = upgrade(dir.path(), &cloud, "status", &fleet, "1.36", &["--events"]);
    let preflight = st["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["event"]["cluster"] == "prod-aws"
                && e["event"]["phase"] == "preflight"
                && e["event"]["ok"] == true
        })
        .unwrap();
    assert!(
        preflight["event"]["detail"]
            .as_str()
            .unwrap()
            .contains("command `test $SLIPWAY_HOP = 1.36`"),
        "the gate's result is evidence: {preflight}"
    );
}
