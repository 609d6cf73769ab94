//! `collect` end to end: authentication methods, discovery, pagination, notes and errors.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use slipway_kube::{ConfigError, ExecError, KubeError, KubeTarget, collect};

use crate::server::{self, CONTINUE, TOKEN};

fn kinds() -> BTreeSet<String> {
    [
        "Ingress",
        "CronJob",
        "PodDisruptionBudget",
        "FlowSchema",
        "PodSecurityPolicy",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// Writes a kubeconfig with context `fake` for `server` and the given `user:` body.
fn kubeconfig(dir: &Path, server: &str, user: &str) -> PathBuf {
    let path = dir.join("config");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\n\
         clusters:\n- name: c\n  cluster:\n    server: {server}\n\
         contexts:\n- name: fake\n  context:\n    cluster: c\n    user: u\n\
         users:\n- name: u\n  user:\n{user}"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn target(kubeconfig: PathBuf) -> KubeTarget {
    KubeTarget {
        kubeconfig,
        context: None,
    }
}

/// An exec plugin run through `/bin/sh` (no executable bit, so no ETXTBSY races) that checks
/// it was called non-interactively and prints its token from the configured environment.
fn exec_user(dir: &Path, api_version: &str, body: &str) -> String {
    let script = dir.join("get-token.sh");
    std::fs::write(&script, body).unwrap();
    format!(
        "    exec:\n      apiVersion: {api_version}\n      command: /bin/sh\n\
         \x20     args: [\"{}\"]\n      env:\n      - name: FAKE_TOKEN\n        value: {TOKEN}\n\
         \x20     interactiveMode: Never\n",
        script.display()
    )
}

#[tokio::test]
async fn token_auth_collects_last_applied_and_helm_releases() {
    let fake = server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &fake.url, &format!("    token: {TOKEN}\n"));

    let live = collect(&target(config), &kinds()).await.unwrap();

    assert_eq!(live.context, "fake");
    assert_eq!(live.server, fake.url);
    assert_eq!(live.server_version.as_deref(), Some("v1.29.3-eks-adc7111"));
    let names: Vec<&str> = live.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "live:fake/web/Ingress/ing-a#last-applied",
            "live:fake/web/Ingress/ing-b#last-applied",
            "live:fake/batch/CronJob/nightly#last-applied",
            "live:fake/FlowSchema/probes#last-applied",
            "live:fake/web/Secret/sh.helm.release.v1.web.v2#helm-release",
        ]
    );
    let doc = |i: usize| serde_json::from_str::<serde_json::Value>(&live.sources[i].text).unwrap();
    assert_eq!(doc(0)["apiVersion"], "extensions/v1beta1");
    assert_eq!(doc(2)["apiVersion"], "batch/v1beta1");
    assert_eq!(doc(4)["metadata"]["labels"]["status"], "deployed");
    assert_eq!(doc(4)["data"]["release"], "SDRzSQ==");
    assert_eq!(
        live.notes,
        [
            "discovery of metrics.k8s.io/v1beta1 failed (HTTP 503: the server is currently \
             unable to handle the request); kinds it serves were not listed",
            "kinds not served by this cluster: PodSecurityPolicy",
            "1 of 3 Ingress objects have no last-applied-configuration (not created with \
             kubectl apply); the apiVersion they were applied with is unknown",
            "listing poddisruptionbudgets (policy/v1) was refused (HTTP 403: \
             poddisruptionbudgets.policy is forbidden: User \"scanner\" cannot list resource)",
        ]
    );
}

#[tokio::test]
async fn lists_are_paginated_with_encoded_continue_tokens() {
    let fake = server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &fake.url, &format!("    token: {TOKEN}\n"));

    collect(&target(config), &kinds()).await.unwrap();

    let requests = fake.requests.lock().unwrap().clone();
    let pages: Vec<&str> = requests
        .iter()
        .map(String::as_str)
        .filter(|r| r.starts_with("/apis/networking.k8s.io/v1/ingresses"))
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(CONTINUE.as_bytes()).collect();
    assert_eq!(
        pages,
        [
            "/apis/networking.k8s.io/v1/ingresses?limit=500".to_owned(),
            format!("/apis/networking.k8s.io/v1/ingresses?limit=500&continue={encoded}"),
        ]
    );
    assert!(requests.contains(&"/api/v1/secrets?labelSelector=owner%3Dhelm&limit=50".to_owned()));
    // A group whose discovery failed is not listed.
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("/apis/metrics.k8s.io/v1beta1/"))
    );
}

#[tokio::test]
async fn token_file_is_read_relative_to_the_kubeconfig() {
    let fake = server::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let config = kubeconfig(dir.path(), &fake.url, "    tokenFile: token\n");
    let live = collect(&target(config), &kinds()).await.unwrap();
    assert_eq!(live.sources.len(), 5);
}

#[tokio::test]
async fn proxy_url_carries_the_requests() {
    let fake = server::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The fake server answers absolute-form requests as a proxy would forward them.
    let server = format!("http://cluster.invalid:6443\n    proxy-url: {}", fake.url);
    let config = kubeconfig(dir.path(), &server, &format!("    token: {TOKEN}\n"));
    let live = collect(&target(config), &kinds()).await.unwrap();
    assert_eq!(live.server, "http://cluster.invalid:6443");
    assert_eq!(live.sources.len(), 5);
}

#[tokio::test]
async fn exec_plugin_token() {
    let fake = server::start().await;
    let dir = tempfile::tempdir().unwrap();
    for api_version in [
        "client.authentication.k8s.io/v1",
        "client.authentication.k8s.io/v1beta1",
    ] {
        let script = format!(
            "case \"$KUBERNETES_EXEC_INFO\" in\n\
             *'\"interactive\":false'*) ;;\n\
             *) echo \"unexpected exec info: $KUBERNETES_EXEC_INFO\" >&2; exit 3 ;;\n\
             esac\n\
             printf '{{\"apiVersion\":\"{api_version}\",\"kind\":\"ExecCredential\",\
             \"status\":{{\"token\":\"%s\"}}}}' \"$FAKE_TOKEN\"\n"
        );
        let user = exec_user(dir.path(), api_version, &script);
        let config = kubeconfig(dir.path(), &fake.url, &user);
        let live = collect(&target(config), &kinds()).await.unwrap();
        assert_eq!(live.sources.len(), 5, "{api_version}");
    }
}

#[tokio::test]
async fn failing_exec_plugin_reports_its_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let user = exec_user(
        dir.path(),
        "client.authentication.k8s.io/v1",
        "echo 'error: SSO session expired' >&2\nexit 2\n",
    );
    let config = kubeconfig(dir.path(), "http://127.0.0.1:9", &user);
    let err = collect(&target(config), &kinds()).await.unwrap_err();
    assert!(
        matches!(err, KubeError::Exec(ExecError::Failed { .. })),
        "{err:?}"
    );
    assert!(
        err.to_string().ends_with(": error: SSO session expired"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_token_is_an_auth_error() {
    let fake = server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &fake.url, "    token: stale\n");
    let err = collect(&target(config), &kinds()).await.unwrap_err();
    assert!(
        matches!(err, KubeError::Auth { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "cluster api {} refused the credentials (HTTP 401): Unauthorized",
            fake.url
        )
    );
}

#[tokio::test]
async fn unreachable_server() {
    // A port that was free a moment ago: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let server = format!("http://127.0.0.1:{port}");
    let config = kubeconfig(dir.path(), &server, &format!("    token: {TOKEN}\n"));
    let err = collect(&target(config), &kinds()).await.unwrap_err();
    assert!(matches!(err, KubeError::Unreachable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot reach cluster api {server}: ")),
        "{err}"
    );
}

#[tokio::test]
async fn missing_context_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), "http://127.0.0.1:9", "    token: t\n");
    let err = collect(
        &KubeTarget {
            kubeconfig: config.clone(),
            context: Some("prod".into()),
        },
        &kinds(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, KubeError::Config(ConfigError::ContextNotFound { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "kubeconfig `{}` has no context `prod` (available: fake)",
            config.display()
        )
    );
}

#[tokio::test]
async fn missing_kubeconfig_names_the_file() {
    let err = collect(&target(PathBuf::from("/nonexistent/kubeconfig")), &kinds())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read kubeconfig `/nonexistent/kubeconfig`"),
        "{err}"
    );
}
