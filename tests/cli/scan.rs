//! `slipway scan`: manifests from files, directories and stdin; the report formats; exceptions;
//! exit code 5. Readiness against the emulated clouds is in `scan_cloud.rs`.

use std::path::Path;

use predicates::prelude::*;

use crate::{one_json_document, quickstart, slipway};

const INGRESS_V1BETA1: &str = "\
apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: web
  namespace: shop
spec:
  backend: { serviceName: web, servicePort: 80 }
";

const HELM_TEMPLATE: &str = "\
---
# Source: shop/templates/pdb.yaml
apiVersion: policy/v1beta1
kind: PodDisruptionBudget
metadata:
  name: shop
spec:
  minAvailable: 1
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
";

const CRONJOB_LIST_JSON: &str = r#"{
  "apiVersion": "v1",
  "kind": "List",
  "items": [
    { "apiVersion": "batch/v1", "kind": "CronJob", "metadata": { "name": "ok" } },
    { "apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": { "name": "nightly" } }
  ]
}"#;

fn manifests(dir: &Path) {
    let nested = dir.join("manifests/app/ingress");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(nested.join("web.yaml"), INGRESS_V1BETA1).unwrap();
    std::fs::write(dir.join("manifests/app/cronjobs.json"), CRONJOB_LIST_JSON).unwrap();
    std::fs::write(dir.join("manifests/README.md"), "not a manifest").unwrap();
    std::fs::create_dir_all(dir.join("manifests/.git")).unwrap();
    std::fs::write(dir.join("manifests/.git/ignored.yaml"), INGRESS_V1BETA1).unwrap();
}

fn scan(dir: &Path, fleet: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    slipway(dir)
        .args(["scan", fleet.to_str().unwrap(), "manifests", "-", "--to"])
        .args(extra)
        .args(["--no-cloud"])
        .write_stdin(HELM_TEMPLATE)
        .assert()
}

fn findings(doc: &serde_json::Value) -> Vec<(String, String, String, u64)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap().starts_with("api-"))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["subject"].as_str().unwrap().to_owned(),
                f["location"]["file"].as_str().unwrap().to_owned(),
                f["location"]["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn files_directories_and_stdin_are_scanned_with_locations_and_removed_apis_exit_5() {
    let (dir, fleet) = quickstart();
    manifests(dir.path());
    let out = scan(dir.path(), &fleet, &["1.25", "--output", "json"])
        .code(5)
        .get_output()
        .stdout
        .clone();
    let doc = one_json_document(&out);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["target"], "1.25");
    assert_eq!(doc["blocking"], true);
    assert_eq!(
        doc["sources"], 3,
        "two files and stdin; README and .git skipped"
    );
    let mut got = findings(&doc);
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "api-removed".into(),
                "batch/v1beta1/CronJob".into(),
                "manifests/app/cronjobs.json".into(),
                6
            ),
            (
                "api-removed".into(),
                "extensions/v1beta1/Ingress".into(),
                "manifests/app/ingress/web.yaml".into(),
                1
            ),
            (
                "api-removed".into(),
                "policy/v1beta1/PodDisruptionBudget".into(),
                "-".into(),
                3
            ),
        ]
    );
    let pdb = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "policy/v1beta1/PodDisruptionBudget")
        .unwrap();
    assert_eq!(pdb["api"]["deprecated_in"], "1.21");
    assert_eq!(pdb["api"]["removed_in"], "1.25");
    assert_eq!(pdb["api"]["replacement"], "policy/v1 PodDisruptionBudget");
    assert_eq!(pdb["location"]["document"], 0);
    assert!(
        pdb["api"]["via"]
            .as_str()
            .unwrap()
            .contains("shop/templates/pdb.yaml"),
        "{pdb}"
    );
}

#[test]
fn before_the_removal_the_same_manifests_are_warnings_and_exit_0() {
    let (dir, fleet) = quickstart();
    manifests(dir.path());
    let out = scan(dir.path(), &fleet, &["1.21", "--output", "json"])
        .code(0)
        .get_output()
        .stdout
        .clone();
    let doc = one_json_document(&out);
    let got = findings(&doc);
    assert!(
        got.iter().all(|(rule, ..)| rule == "api-deprecated"),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|(_, subject, ..)| subject == "policy/v1beta1/PodDisruptionBudget"),
        "PDB v1beta1 is deprecated in 1.21: {got:?}"
    );
    assert_eq!(doc["blocking"], false);
}

#[test]
fn the_table_markdown_and_sarif_formats_carry_the_same_findings() {
    let (dir, fleet) = quickstart();
    manifests(dir.path());
    scan(dir.path(), &fleet, &["1.25"])
        .code(5)
        .stdout(predicate::str::contains("SEVERITY  RULE"))
        .stdout(predicate::str::contains(
            "manifests/app/ingress/web.yaml:1:1",
        ))
        .stdout(predicate::str::contains("the upgrade is blocked"));
    scan(dir.path(), &fleet, &["1.25", "--format", "markdown"])
        .code(5)
        .stdout(predicate::str::starts_with(
            "# Upgrade readiness: fleet `quickstart` → Kubernetes 1.25",
        ))
        .stdout(predicate::str::contains(
            "| blocker | `api-removed` | manifests/app/ingress/web.yaml:1:1 |",
        ));
    let out = scan(dir.path(), &fleet, &["1.25", "--format", "sarif"])
        .code(5)
        .get_output()
        .stdout
        .clone();
    let sarif = one_json_document(&out);
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run["results"].as_array().unwrap();
    let removed: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["ruleId"] == "api-removed")
        .collect();
    assert_eq!(removed.len(), 3);
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index], r["ruleId"].as_str().unwrap());
        assert!(r["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64() >= Some(1));
    }
    assert!(removed.iter().all(|r| r["level"] == "error"));
}

#[test]
fn exceptions_suppress_with_reason_expired_ones_block_and_malformed_ones_are_refused() {
    let (dir, fleet) = quickstart();
    manifests(dir.path());
    let ignores = [
        "--ignore",
        "api-removed@extensions/v1beta1/Ingress until 2026-12-31: legacy ingress retired in PLAT-12",
        "--ignore",
        "api-removed@batch/v1beta1/CronJob until 2026-12-31: rewritten in PLAT-13",
        "--ignore",
        "node-skew@nowhere until 2026-12-31: matches nothing, so it is noted",
    ];
    let out = scan(
        dir.path(),
        &fleet,
        &[&["1.25", "--output", "json"][..], &ignores[..]].concat(),
    )
    .code(5)
    .get_output()
    .stdout
    .clone();
    let doc = one_json_document(&out);
    assert_eq!(doc["summary"]["ignored"], 2);
    assert!(
        doc["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains("node-skew@nowhere")
            && n.as_str().unwrap().contains("matched no finding")),
        "{doc}"
    );
    assert_eq!(
        doc["summary"]["blockers"], 1,
        "the PDB from stdin still blocks"
    );
    let ingress = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "extensions/v1beta1/Ingress")
        .unwrap();
    assert_eq!(
        ingress["ignored"]["reason"],
        "legacy ingress retired in PLAT-12"
    );

    let out = scan(
        dir.path(),
        &fleet,
        &[
            "1.25",
            "--output",
            "json",
            "--ignore",
            "api-removed until 2026-11-20: this expired yesterday",
        ],
    )
    .code(5)
    .get_output()
    .stdout
    .clone();
    let doc = one_json_document(&out);
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "ignore-expired"),
        "{doc}"
    );
    assert_eq!(doc["summary"]["ignored"], 0);

    scan(
        dir.path(),
        &fleet,
        &["1.25", "--ignore", "api-removed because we said so"],
    )
    .code(1)
    .stderr(predicate::str::contains(
        "is not `RULE[@SUBJECT] until YYYY-MM-DD: REASON`",
    ));
    scan(
        dir.path(),
        &fleet,
        &["1.25", "--ignore", "api-gone until 2026-12-31: typo"],
    )
    .code(1)
    .stderr(predicate::str::contains("`api-gone` is not a scan rule"));
}

#[test]
fn unreadable_input_is_named_never_skipped() {
    let (dir, fleet) = quickstart();
    std::fs::create_dir_all(dir.path().join("manifests")).unwrap();
    std::fs::write(
        dir.path().join("manifests/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: [unclosed\n---\napiVersion: extensions/v1beta1\nkind: Ingress\n",
    )
    .unwrap();
    let out = scan(dir.path(), &fleet, &["1.22", "--output", "json"])
        .code(5)
        .get_output()
        .stdout
        .clone();
    let doc = one_json_document(&out);
    let unreadable = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "manifest-unreadable")
        .expect("a finding for the broken document");
    assert_eq!(unreadable["location"]["file"], "manifests/broken.yaml");
    assert!(unreadable["location"]["line"].as_u64().unwrap() >= 3);
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["subject"] == "extensions/v1beta1/Ingress"),
        "the document after the broken one is still read: {doc}"
    );

    slipway(dir.path())
        .args([
            "scan",
            fleet.to_str().unwrap(),
            "missing.yaml",
            "--to",
            "1.33",
            "--no-cloud",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read missing.yaml"));
    slipway(dir.path())
        .args([
            "scan",
            fleet.to_str().unwrap(),
            "--to",
            "1.33.2",
            "--no-cloud",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--to `1.33.2` is not a Kubernetes minor",
        ));
    slipway(dir.path())
        .args([
            "scan",
            fleet.to_str().unwrap(),
            "--to",
            "1.36",
            "--no-cloud",
            "--cluster",
            "nope",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--cluster `nope` is not in fleet"));
}

#[test]
fn without_the_cloud_readiness_is_judged_from_the_blueprint_and_calendar() {
    let (dir, fleet) = quickstart();
    let out = slipway(dir.path())
        .args([
            "scan",
            fleet.to_str().unwrap(),
            "--to",
            "1.37",
            "--no-cloud",
            "--output",
            "json",
        ])
        .assert()
        .code(5)
        .get_output()
        .stdout
        .clone();
    let doc = one_json_document(&out);
    let clusters = doc["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 3);
    let prod = clusters.iter().find(|c| c["name"] == "prod-use1").unwrap();
    assert_eq!(prod["live"], false);
    assert_eq!(prod["path"], serde_json::json!(["1.36", "1.37"]));
    let rules_for = |cluster: &str| -> Vec<String> {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["cluster"] == cluster)
            .map(|f| {
                format!(
                    "{}@{}",
                    f["rule"].as_str().unwrap(),
                    f["subject"].as_str().unwrap()
                )
            })
            .collect()
    };
    let aws = rules_for("prod-use1");
    assert!(
        aws.contains(&"version-unsupported@1.37".to_owned()),
        "{aws:?}"
    );
    assert!(aws.contains(&"version-path@1.37".to_owned()), "{aws:?}");
    let azure = rules_for("prod-weu");
    assert!(
        !azure.contains(&"version-unsupported@1.37".to_owned()),
        "AKS 1.37 is released on 2026-10-01: {azure:?}"
    );
}

/// A minimal Kubernetes API server on loopback: discovery for Ingress, one Ingress whose
/// last-applied configuration says `extensions/v1beta1`, no Helm releases. One connection per
/// request (`Connection: close`).
fn fake_api_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut authorized = false;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                authorized |=
                    header.to_ascii_lowercase().trim() == "authorization: bearer scan-token";
            }
            let target = request_line.split_whitespace().nth(1).unwrap_or("/");
            let path = target.split('?').next().unwrap_or("/");
            let applied = serde_json::json!({
                "apiVersion": "extensions/v1beta1", "kind": "Ingress",
                "metadata": {"name": "web", "namespace": "shop"},
            });
            let (status, body) = if !authorized {
                (401, serde_json::json!({"kind": "Status", "code": 401}))
            } else {
                match path {
                    "/version" => (200, serde_json::json!({"gitVersion": "v1.21.14"})),
                    "/api" => (
                        200,
                        serde_json::json!({"kind": "APIVersions", "versions": ["v1"]}),
                    ),
                    "/api/v1" => (
                        200,
                        serde_json::json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                            {"name": "secrets", "namespaced": true, "kind": "Secret", "verbs": ["list"]},
                            {"name": "configmaps", "namespaced": true, "kind": "ConfigMap", "verbs": ["list"]},
                        ]}),
                    ),
                    "/apis" => (
                        200,
                        serde_json::json!({"kind": "APIGroupList", "groups": [{
                            "name": "networking.k8s.io",
                            "versions": [{"groupVersion": "networking.k8s.io/v1", "version": "v1"}],
                            "preferredVersion": {"groupVersion": "networking.k8s.io/v1", "version": "v1"},
                        }]}),
                    ),
                    "/apis/networking.k8s.io/v1" => (
                        200,
                        serde_json::json!({"kind": "APIResourceList", "groupVersion": "networking.k8s.io/v1", "resources": [
                            {"name": "ingresses", "namespaced": true, "kind": "Ingress", "verbs": ["list", "get"]},
                        ]}),
                    ),
                    "/apis/networking.k8s.io/v1/ingresses" => (
                        200,
                        serde_json::json!({
                            "kind": "IngressList", "apiVersion": "networking.k8s.io/v1", "metadata": {},
                            "items": [{
                                "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                "metadata": {"name": "web", "namespace": "shop", "uid": "u-1",
                                    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied.to_string()}},
                            }],
                        }),
                    ),
                    "/api/v1/secrets" | "/api/v1/configmaps" => (
                        200,
                        serde_json::json!({"kind": "List", "metadata": {}, "items": []}),
                    ),
                    _ => (404, serde_json::json!({"kind": "Status", "code": 404})),
                }
            };
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn kubeconfig(dir: &Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: dev\nclusters:\n- name: dev\n  cluster: {{ server: \"{server}\" }}\nusers:\n- name: dev\n  user: {{ token: scan-token }}\ncontexts:\n- name: dev\n  context: {{ cluster: dev, user: dev }}\n"
        ),
    )
    .unwrap();
    path
}

/// `scan --to TO` of the dev cluster alone, with live objects from `config`; checks the exit code.
fn scan_live(dir: &Path, fleet: &Path, config: &Path, to: &str, code: i32) -> serde_json::Value {
    let out = slipway(dir)
        .args(["scan", fleet.to_str().unwrap(), "--to", to, "--no-cloud"])
        .args([
            "--cluster",
            "dev-use1",
            "--kubeconfig",
            config.to_str().unwrap(),
        ])
        .args(["--output", "json"])
        .assert()
        .code(code)
        .get_output()
        .stdout
        .clone();
    one_json_document(&out)
}

#[test]
fn live_objects_are_read_through_a_kubeconfig_and_an_unreachable_cluster_is_a_note() {
    let (dir, fleet) = quickstart();
    let config = kubeconfig(dir.path(), &fake_api_server());
    let doc = scan_live(dir.path(), &fleet, &config, "1.22", 5);
    let live = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "api-removed")
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(live["cluster"], "dev-use1");
    assert_eq!(live["subject"], "extensions/v1beta1/Ingress");
    assert!(
        live["location"]["file"]
            .as_str()
            .unwrap()
            .starts_with("live:dev/shop/Ingress/web"),
        "{live}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unreachable = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let config = kubeconfig(dir.path(), &unreachable);
    let doc = scan_live(dir.path(), &fleet, &config, "1.36", 0);
    let notes = doc["notes"].to_string();
    assert!(
        notes.contains("dev-use1: live cluster objects skipped") && notes.contains(&unreachable),
        "{notes}"
    );
}
