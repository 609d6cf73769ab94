//! Reads the live evidence from one cluster: `/version`, API discovery, the objects of the kinds
//! of interest (their last-applied configuration) and Helm release records, the way
//! kube-no-trouble and pluto do.
//!
//! Failures that make the whole collection meaningless (unreachable server, rejected
//! credentials, broken kubeconfig) are errors; a single resource that cannot be discovered or
//! listed becomes a note. It sends GET requests only and must never write to the cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use serde_json::Value;

use crate::config::{self, Auth, ConfigError, Identity};
use crate::exec::{self, Credential, ExecError};
use crate::tls::{self, TlsError};

/// Connecting longer than this means the endpoint is not reachable from here (private EKS
/// endpoints, stopped clusters); scans should not hang on it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request limit, generous because one page of Helm Secrets can be megabytes.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Page size for object lists.
const PAGE: u32 = 500;
/// Page size for Helm release records, which are large.
const HELM_PAGE: u32 = 50;
/// The annotation `kubectl apply` leaves behind.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Which cluster to read: a kubeconfig file (the caller decides whether it came from
/// `$KUBECONFIG`) and a context (`None`: its current context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeTarget {
    /// The kubeconfig file.
    pub kubeconfig: PathBuf,
    /// The context to use; `None` uses `current-context`.
    pub context: Option<String>,
}

/// One document to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSource {
    /// `live:CONTEXT/NAMESPACE/Kind/NAME#last-applied` (no `NAMESPACE/` for cluster-scoped
    /// objects) or `live:CONTEXT/NAMESPACE/Secret/NAME#helm-release`.
    pub name: String,
    /// The JSON document: a last-applied configuration, or a whole Helm release Secret or
    /// ConfigMap (its `data.release` still encoded).
    pub text: String,
}

/// What was read from the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveObjects {
    /// The context used.
    pub context: String,
    /// The API server URL.
    pub server: String,
    /// `gitVersion` from `/version`, e.g. `v1.29.3-eks-adc7111`.
    pub server_version: Option<String>,
    /// The documents to scan.
    pub sources: Vec<LiveSource>,
    /// What could not be read or proves nothing (forbidden lists, objects without
    /// last-applied configuration, kinds the server does not serve).
    pub notes: Vec<String>,
}

/// Why no live evidence could be collected; the caller reports it as a skipped step.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig is missing, unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The exec credential plugin gave no credential.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The HTTP client could not be built.
    #[error("HTTP client setup failed: {message}")]
    Client {
        /// reqwest's message.
        message: String,
    },
    /// The server could not be reached (connection refused, timeout, DNS, TLS handshake).
    #[error("cannot reach cluster api {server}: {message}")]
    Unreachable {
        /// The API server URL.
        server: String,
        /// The transport failure, with its causes.
        message: String,
    },
    /// The server rejected the credentials, or refused even version and discovery.
    #[error("cluster api {server} refused the credentials (HTTP {status}): {message}")]
    Auth {
        /// The API server URL.
        server: String,
        /// 401 or 403.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// Version or discovery failed with another status.
    #[error("cluster api request {url} failed (HTTP {status}): {message}")]
    Http {
        /// The request URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// A successful response was not the JSON expected.
    #[error("cluster api response from {url} is invalid: {message}")]
    InvalidResponse {
        /// The request URL.
        url: String,
        /// What is wrong.
        message: String,
    },
}

/// Reads the live evidence for `kinds` (e.g. `Ingress`, `CronJob`, `FlowSchema`) from the
/// cluster of `target`.
pub async fn collect(
    target: &KubeTarget,
    kinds: &BTreeSet<String>,
) -> Result<LiveObjects, KubeError> {
    let cluster = config::load(&target.kubeconfig, target.context.as_deref())?;
    let (authorization, identity) = match &cluster.auth {
        Auth::None => (None, None),
        Auth::Bearer(token) => (Some(bearer(token)?), None),
        Auth::Basic { username, password } => {
            let pair =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            (
                Some(header(&format!("Basic {pair}"), "basic credentials")?),
                None,
            )
        }
        Auth::Exec(plugin) => match exec::run(plugin, &cluster).await? {
            Credential::Token(token) => (Some(bearer(&token)?), None),
            Credential::Certificate { cert, key } => (None, Some(Identity { cert, key })),
        },
    };
    let tls = tls::client_config(&cluster.tls, identity.as_ref())?;
    let mut builder = reqwest::Client::builder();
    if let Some(proxy) = &cluster.proxy_url {
        let proxy = reqwest::Proxy::all(proxy).map_err(|e| KubeError::Client {
            message: format!("proxy-url `{proxy}` is unusable: {}", chain(&e)),
        })?;
        builder = builder.proxy(proxy);
    }
    let client = builder
        .tls_backend_preconfigured(tls)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("slipway/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| KubeError::Client { message: chain(&e) })?;
    let api = Api {
        client,
        server: cluster.server.clone(),
        authorization,
    };
    let mut out = LiveObjects {
        context: cluster.context.clone(),
        server: cluster.server.clone(),
        ..LiveObjects::default()
    };

    let version = api.required("/version").await?;
    out.server_version = version
        .get("gitVersion")
        .and_then(Value::as_str)
        .map(str::to_owned);

    let served = discover(&api, kinds, &mut out.notes).await?;
    let mut seen_uids = BTreeSet::new();
    for resource in &served {
        let listed = api.list(&resource.path(), PAGE).await?;
        if let Some(problem) = &listed.problem {
            out.notes.push(format!(
                "listing {} ({}) {problem}",
                resource.name, resource.group_version
            ));
        }
        let mut without = 0usize;
        let mut total = 0usize;
        for item in &listed.items {
            let meta = item.get("metadata");
            let text = |field: &str| {
                meta.and_then(|m| m.get(field))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            };
            // The same object is listed once per group serving its kind (Ingress in
            // extensions and networking.k8s.io on old servers).
            if !text("uid").is_empty() && !seen_uids.insert(text("uid").to_owned()) {
                continue;
            }
            total += 1;
            let applied = meta
                .and_then(|m| m.get("annotations"))
                .and_then(|a| a.get(LAST_APPLIED))
                .and_then(Value::as_str)
                .filter(|s| !s.trim().is_empty());
            let Some(applied) = applied else {
                without += 1;
                continue;
            };
            out.sources.push(LiveSource {
                name: source_name(
                    &cluster.context,
                    text("namespace"),
                    &resource.kind,
                    text("name"),
                    "last-applied",
                ),
                text: applied.to_owned(),
            });
        }
        if without > 0 {
            out.notes.push(format!(
                "{without} of {total} {} objects have no last-applied-configuration \
                 (not created with kubectl apply); the apiVersion they were applied with is unknown",
                resource.kind
            ));
        }
    }

    for (kind, plural) in [("Secret", "secrets"), ("ConfigMap", "configmaps")] {
        let listed = api
            .list(
                &format!("/api/v1/{plural}?labelSelector=owner%3Dhelm"),
                HELM_PAGE,
            )
            .await?;
        if let Some(problem) = &listed.problem {
            out.notes.push(format!(
                "listing Helm release {plural} {problem}; Helm releases stored there were not checked"
            ));
        }
        for item in latest_releases(listed.items) {
            let meta = item.get("metadata");
            let text = |field: &str| {
                meta.and_then(|m| m.get(field))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            };
            out.sources.push(LiveSource {
                name: source_name(
                    &cluster.context,
                    text("namespace"),
                    kind,
                    text("name"),
                    "helm-release",
                ),
                text: item.to_string(),
            });
        }
    }
    Ok(out)
}

fn source_name(context: &str, namespace: &str, kind: &str, name: &str, what: &str) -> String {
    if namespace.is_empty() {
        format!("live:{context}/{kind}/{name}#{what}")
    } else {
        format!("live:{context}/{namespace}/{kind}/{name}#{what}")
    }
}

fn bearer(token: &str) -> Result<HeaderValue, KubeError> {
    header(&format!("Bearer {}", token.trim()), "bearer token")
}

fn header(value: &str, what: &str) -> Result<HeaderValue, KubeError> {
    let mut value = HeaderValue::from_str(value).map_err(|_| KubeError::Client {
        message: format!("the {what} contains characters not allowed in an HTTP header"),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// Keeps one record per Helm release: the deployed revision, else the newest (a failed upgrade
/// leaves a newer record than what runs).
fn latest_releases(items: Vec<Value>) -> Vec<Value> {
    let mut best: BTreeMap<(String, String), ((bool, u64), Value)> = BTreeMap::new();
    for item in items {
        let label = |name: &str| {
            item.pointer(&format!("/metadata/labels/{name}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let namespace = item
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let rank = (
            label("status") == "deployed",
            label("version").parse::<u64>().unwrap_or(0),
        );
        let key = (namespace, label("name"));
        if best.get(&key).is_none_or(|(r, _)| rank > *r) {
            best.insert(key, (rank, item));
        }
    }
    best.into_values().map(|(_, item)| item).collect()
}

/// A listable resource whose kind is of interest.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Served {
    /// `v1` or `GROUP/VERSION`.
    group_version: String,
    /// The plural resource name, e.g. `ingresses`.
    name: String,
    /// The kind, e.g. `Ingress`.
    kind: String,
}

impl Served {
    fn path(&self) -> String {
        format!("{}/{}", gv_path(&self.group_version), self.name)
    }
}

/// `/api/v1` for the core group, `/apis/GROUP/VERSION` otherwise.
fn gv_path(group_version: &str) -> String {
    if group_version.contains('/') {
        format!("/apis/{group_version}")
    } else {
        format!("/api/{group_version}")
    }
}

/// The preferred version of every group, from `/api` and `/apis`.
fn preferred_versions(core: &Value, groups: &Value) -> Vec<String> {
    let mut out: Vec<String> = core
        .get("versions")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
        .and_then(Value::as_str)
        .map(str::to_owned)
        .into_iter()
        .collect();
    for group in groups
        .get("groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let preferred = group
            .pointer("/preferredVersion/groupVersion")
            .or_else(|| group.pointer("/versions/0/groupVersion"))
            .and_then(Value::as_str);
        if let Some(gv) = preferred {
            out.push(gv.to_owned());
        }
    }
    out
}

/// The listable top-level resources of one group version whose kind is in `kinds`.
fn resources_of(group_version: &str, list: &Value, kinds: &BTreeSet<String>) -> Vec<Served> {
    list.get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let name = r.get("name")?.as_str()?;
            let kind = r.get("kind")?.as_str()?;
            let listable = r
                .get("verbs")
                .and_then(Value::as_array)
                .is_some_and(|v| v.iter().any(|verb| verb == "list"));
            (!name.contains('/') && listable && kinds.contains(kind)).then(|| Served {
                group_version: group_version.to_owned(),
                name: name.to_owned(),
                kind: kind.to_owned(),
            })
        })
        .collect()
}

/// Maps the kinds of interest to resources at each group's preferred version. A group whose
/// discovery fails (often an aggregated API such as metrics.k8s.io being down) is a note.
async fn discover(
    api: &Api,
    kinds: &BTreeSet<String>,
    notes: &mut Vec<String>,
) -> Result<Vec<Served>, KubeError> {
    let core = api.required("/api").await?;
    let groups = api.required("/apis").await?;
    let versions = preferred_versions(&core, &groups);
    let replies = futures::future::join_all(versions.iter().map(|gv| api.get(gv_path(gv)))).await;
    let mut served = Vec::new();
    for (gv, reply) in versions.iter().zip(replies) {
        match reply? {
            Reply::Json(list) => served.extend(resources_of(gv, &list, kinds)),
            Reply::Refused { status, message } => notes.push(format!(
                "discovery of {gv} failed (HTTP {status}: {message}); kinds it serves were not listed"
            )),
        }
    }
    let found: BTreeSet<&str> = served.iter().map(|s| s.kind.as_str()).collect();
    let missing: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .filter(|k| !found.contains(k))
        .collect();
    if !missing.is_empty() {
        notes.push(format!(
            "kinds not served by this cluster: {}",
            missing.join(", ")
        ));
    }
    Ok(served)
}

/// A JSON answer, or the status and message of a refusal other than 401.
enum Reply {
    Json(Value),
    Refused { status: u16, message: String },
}

/// Items of a paginated list, and why it stopped early if it did.
struct Listed {
    items: Vec<Value>,
    problem: Option<String>,
}

/// GET-only access to one API server.
struct Api {
    client: reqwest::Client,
    server: String,
    authorization: Option<HeaderValue>,
}

impl Api {
    async fn get(&self, path: String) -> Result<Reply, KubeError> {
        let url = format!("{}{path}", self.server);
        let mut request = self
            .client
            .get(&url)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let unreachable = |e: reqwest::Error| KubeError::Unreachable {
            server: self.server.clone(),
            message: chain(&e),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(unreachable)?;
        if status == 401 {
            return Err(KubeError::Auth {
                server: self.server.clone(),
                status,
                message: status_message(&body),
            });
        }
        if !(200..300).contains(&status) {
            return Ok(Reply::Refused {
                status,
                message: status_message(&body),
            });
        }
        serde_json::from_slice(&body)
            .map(Reply::Json)
            .map_err(|e| KubeError::InvalidResponse {
                url,
                message: format!("not JSON: {e}"),
            })
    }

    /// A request that must succeed for the collection to mean anything.
    async fn required(&self, path: &str) -> Result<Value, KubeError> {
        match self.get(path.to_owned()).await? {
            Reply::Json(value) => Ok(value),
            Reply::Refused {
                status: 403,
                message,
            } => Err(KubeError::Auth {
                server: self.server.clone(),
                status: 403,
                message,
            }),
            Reply::Refused { status, message } => Err(KubeError::Http {
                url: format!("{}{path}", self.server),
                status,
                message,
            }),
        }
    }

    /// Every item at `path` (which may already carry a query), following `continue` tokens.
    async fn list(&self, path: &str, limit: u32) -> Result<Listed, KubeError> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = format!("{path}{separator}limit={limit}");
            if let Some(token) = &token {
                url.push_str("&continue=");
                url.extend(form_urlencoded::byte_serialize(token.as_bytes()));
            }
            let mut page = match self.get(url).await? {
                Reply::Json(page) => page,
                Reply::Refused { status, message } => {
                    let problem = if status == 410 {
                        format!(
                            "stopped after {} items: the list changed too much while paging (HTTP 410: {message})",
                            items.len()
                        )
                    } else {
                        format!("was refused (HTTP {status}: {message})")
                    };
                    return Ok(Listed {
                        items,
                        problem: Some(problem),
                    });
                }
            };
            if let Some(Value::Array(page_items)) = page.get_mut("items").map(Value::take) {
                items.extend(page_items);
            }
            let next = page
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            match next {
                None => {
                    return Ok(Listed {
                        items,
                        problem: None,
                    });
                }
                // A server that hands back the same token would loop forever.
                Some(next) if token.as_ref() == Some(&next) => {
                    return Ok(Listed {
                        items,
                        problem: Some("stopped: the server repeated its continue token".into()),
                    });
                }
                Some(next) => token = Some(next),
            }
        }
    }
}

/// The message of a Kubernetes `Status` body, else the start of the body.
fn status_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<Value>(body)
        && let Some(message) = value.get("message").and_then(Value::as_str)
    {
        return message.to_owned();
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "no message".into()
    } else {
        text.chars().take(200).collect()
    }
}

/// An error with its causes: reqwest's top-level message alone ("error sending request")
/// hides whether the connection was refused, timed out or failed TLS verification.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn preferred_versions_core_first() {
        let core = json!({"versions": ["v1"]});
        let groups = json!({"groups": [
            {"name": "apps", "versions": [{"groupVersion": "apps/v1"}],
             "preferredVersion": {"groupVersion": "apps/v1"}},
            {"name": "old", "versions": [{"groupVersion": "old/v2"}, {"groupVersion": "old/v1"}]},
        ]});
        assert_eq!(
            preferred_versions(&core, &groups),
            ["v1", "apps/v1", "old/v2"]
        );
    }

    #[test]
    fn resources_skip_subresources_and_unlistable() {
        let list = json!({"resources": [
            {"name": "cronjobs", "kind": "CronJob", "verbs": ["get", "list"]},
            {"name": "cronjobs/status", "kind": "CronJob", "verbs": ["get", "list"]},
            {"name": "jobs", "kind": "Job", "verbs": ["list"]},
            {"name": "tokenreviews", "kind": "CronJob", "verbs": ["create"]},
        ]});
        let kinds = BTreeSet::from(["CronJob".to_owned()]);
        let found = resources_of("batch/v1", &list, &kinds);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path(), "/apis/batch/v1/cronjobs");
        assert_eq!(
            Served {
                group_version: "v1".into(),
                name: "pods".into(),
                kind: "Pod".into()
            }
            .path(),
            "/api/v1/pods"
        );
    }

    #[test]
    fn latest_release_prefers_deployed_then_newest() {
        let record = |ns: &str, name: &str, version: u32, status: &str| {
            json!({"metadata": {"namespace": ns, "name": format!("sh.helm.release.v1.{name}.v{version}"),
                "labels": {"owner": "helm", "name": name, "version": version.to_string(), "status": status}}})
        };
        let kept = latest_releases(vec![
            record("a", "web", 1, "superseded"),
            record("a", "web", 2, "deployed"),
            record("a", "web", 3, "failed"),
            record("b", "web", 1, "failed"),
            record("b", "web", 2, "pending-upgrade"),
        ]);
        let names: Vec<&str> = kept
            .iter()
            .map(|r| r["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["sh.helm.release.v1.web.v2", "sh.helm.release.v1.web.v2"]
        );
        assert_eq!(kept[1]["metadata"]["namespace"], "b");
    }

    #[test]
    fn status_messages() {
        assert_eq!(
            status_message(br#"{"kind":"Status","message":"forbidden: no"}"#),
            "forbidden: no"
        );
        assert_eq!(status_message(b"  "), "no message");
        assert_eq!(status_message(b"gateway down"), "gateway down");
    }

    #[test]
    fn source_names() {
        assert_eq!(
            source_name("prod", "web", "Ingress", "api", "last-applied"),
            "live:prod/web/Ingress/api#last-applied"
        );
        assert_eq!(
            source_name("prod", "", "FlowSchema", "fs", "last-applied"),
            "live:prod/FlowSchema/fs#last-applied"
        );
    }
}
