//! A fake API server: `/version`, discovery, paginated lists with last-applied annotations,
//! Helm release Secrets, a forbidden resource, a failing aggregated API and bearer tokens.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The only token the fake server accepts.
pub const TOKEN: &str = "good-token";
/// The continue token of the second Ingress page; its `/`, space and `=` must be encoded.
pub const CONTINUE: &str = "tok/1 =";

/// A running fake server.
pub struct Fake {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every request's path and query, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

/// Starts the server on a free port.
pub async fn start() -> Fake {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().fallback(handle).with_state(requests.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { url, requests }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn status(code: StatusCode, message: &str) -> Response {
    reply(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "message": message, "code": code.as_u16()}),
    )
}

fn object(name: &str, namespace: Option<&str>, uid: &str, applied: Option<Value>) -> Value {
    let mut meta = json!({"name": name, "uid": uid});
    if let Some(ns) = namespace {
        meta["namespace"] = json!(ns);
    }
    if let Some(applied) = applied {
        meta["annotations"] = json!({
            "kubectl.kubernetes.io/last-applied-configuration": applied.to_string()
        });
    }
    json!({"metadata": meta, "spec": {}})
}

fn list(items: Vec<Value>, next: Option<&str>) -> Response {
    let mut meta = json!({"resourceVersion": "100"});
    if let Some(next) = next {
        meta["continue"] = json!(next);
    }
    reply(
        StatusCode::OK,
        json!({"kind": "List", "metadata": meta, "items": items}),
    )
}

fn ingresses() -> [Value; 3] {
    [
        object(
            "ing-a",
            Some("web"),
            "uid-a",
            Some(
                json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress",
                        "metadata": {"name": "ing-a", "namespace": "web"}}),
            ),
        ),
        object(
            "ing-b",
            Some("web"),
            "uid-b",
            Some(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "metadata": {"name": "ing-b", "namespace": "web"}}),
            ),
        ),
        object("ing-c", Some("web"), "uid-c", None),
    ]
}

fn resources(group_version: &str, resources: &[(&str, &str)]) -> Response {
    let resources: Vec<Value> = resources
        .iter()
        .flat_map(|(name, kind)| {
            [
                json!({"name": name, "kind": kind, "namespaced": true,
                       "verbs": ["get", "list", "watch"]}),
                json!({"name": format!("{name}/status"), "kind": kind, "verbs": ["get"]}),
            ]
        })
        .collect();
    reply(
        StatusCode::OK,
        json!({"kind": "APIResourceList", "groupVersion": group_version, "resources": resources}),
    )
}

fn group(name: &str, version: &str) -> Value {
    let gv = format!("{name}/{version}");
    json!({"name": name, "versions": [{"groupVersion": gv, "version": version}],
           "preferredVersion": {"groupVersion": gv, "version": version}})
}

fn helm_record(version: u32, status: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {
            "name": format!("sh.helm.release.v1.web.v{version}"), "namespace": "web",
            "uid": format!("helm-{version}"),
            "labels": {"owner": "helm", "name": "web", "status": status,
                       "version": version.to_string()}
        },
        "data": {"release": "SDRzSQ=="}
    })
}

async fn handle(
    State(requests): State<Arc<Mutex<Vec<String>>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let path = uri.path();
    let query: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    requests
        .lock()
        .unwrap()
        .push(uri.path_and_query().map_or(path, |p| p.as_str()).to_owned());

    let expected = format!("Bearer {TOKEN}");
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    match path {
        "/version" => reply(
            StatusCode::OK,
            json!({"major": "1", "minor": "29", "gitVersion": "v1.29.3-eks-adc7111"}),
        ),
        "/api" => reply(
            StatusCode::OK,
            json!({"kind": "APIVersions", "versions": ["v1"]}),
        ),
        "/apis" => reply(
            StatusCode::OK,
            json!({"kind": "APIGroupList", "groups": [
                group("extensions", "v1beta1"),
                group("networking.k8s.io", "v1"),
                group("batch", "v1"),
                group("policy", "v1"),
                group("flowcontrol.apiserver.k8s.io", "v1"),
                group("metrics.k8s.io", "v1beta1"),
            ]}),
        ),
        "/api/v1" => resources("v1", &[("pods", "Pod"), ("secrets", "Secret")]),
        "/apis/extensions/v1beta1" => resources("extensions/v1beta1", &[("ingresses", "Ingress")]),
        "/apis/networking.k8s.io/v1" => resources(
            "networking.k8s.io/v1",
            &[("ingresses", "Ingress"), ("ingressclasses", "IngressClass")],
        ),
        "/apis/batch/v1" => resources("batch/v1", &[("cronjobs", "CronJob"), ("jobs", "Job")]),
        "/apis/policy/v1" => resources(
            "policy/v1",
            &[("poddisruptionbudgets", "PodDisruptionBudget")],
        ),
        "/apis/flowcontrol.apiserver.k8s.io/v1" => resources(
            "flowcontrol.apiserver.k8s.io/v1",
            &[("flowschemas", "FlowSchema")],
        ),
        "/apis/metrics.k8s.io/v1beta1" => status(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is currently unable to handle the request",
        ),
        "/apis/extensions/v1beta1/ingresses" => list(ingresses().to_vec(), None),
        "/apis/networking.k8s.io/v1/ingresses" => {
            if param("limit") != Some("500") {
                return status(StatusCode::BAD_REQUEST, "limit missing");
            }
            let [a, b, c] = ingresses();
            match param("continue") {
                None => list(vec![a, b], Some(CONTINUE)),
                Some(CONTINUE) => list(vec![c], None),
                Some(_) => status(StatusCode::GONE, "continue token expired"),
            }
        }
        "/apis/batch/v1/cronjobs" => list(
            vec![object(
                "nightly",
                Some("batch"),
                "uid-cron",
                Some(json!({"apiVersion": "batch/v1beta1", "kind": "CronJob",
                            "metadata": {"name": "nightly", "namespace": "batch"}})),
            )],
            None,
        ),
        "/apis/policy/v1/poddisruptionbudgets" => status(
            StatusCode::FORBIDDEN,
            "poddisruptionbudgets.policy is forbidden: User \"scanner\" cannot list resource",
        ),
        "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas" => list(
            vec![object(
                "probes",
                None,
                "uid-fs",
                Some(json!({"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta2",
                            "kind": "FlowSchema", "metadata": {"name": "probes"}})),
            )],
            None,
        ),
        "/api/v1/secrets" if param("labelSelector") == Some("owner=helm") => list(
            vec![helm_record(1, "superseded"), helm_record(2, "deployed")],
            None,
        ),
        "/api/v1/configmaps" if param("labelSelector") == Some("owner=helm") => list(vec![], None),
        _ => status(
            StatusCode::NOT_FOUND,
            "the server could not find the requested resource",
        ),
    }
}
