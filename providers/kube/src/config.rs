//! Kubeconfig loading: one file, one context (the named one, else `current-context`), resolved
//! into the server URL, TLS settings and the user's authentication method.
//!
//! Relative file references (`certificate-authority`, `client-certificate`, `client-key`,
//! `tokenFile`, an exec `command` containing a path separator) are resolved against the
//! kubeconfig's directory, as kubectl does. It reads files but must never write any, and never
//! runs exec plugins itself (see `exec`).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

/// What is wrong with a kubeconfig or a file it references.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The kubeconfig or a file it references could not be read.
    #[error("cannot read {what} `{path}`: {source}")]
    Read {
        /// What the file is (kubeconfig, certificate-authority, tokenFile…).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// The kubeconfig is not valid YAML.
    #[error("kubeconfig `{path}` is not valid YAML: {message}")]
    Yaml {
        /// The kubeconfig.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The kubeconfig is YAML but not a kubeconfig, or a field is invalid.
    #[error("kubeconfig `{path}`: {message}")]
    Invalid {
        /// The kubeconfig.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// No context was asked for and the kubeconfig has no `current-context`.
    #[error("kubeconfig `{path}` has no current-context; name a context (available: {available})")]
    NoCurrentContext {
        /// The kubeconfig.
        path: PathBuf,
        /// The contexts it defines, comma-separated.
        available: String,
    },
    /// The context (asked for, or current) is not defined.
    #[error("kubeconfig `{path}` has no context `{context}` (available: {available})")]
    ContextNotFound {
        /// The kubeconfig.
        path: PathBuf,
        /// The missing context.
        context: String,
        /// The contexts it defines, comma-separated.
        available: String,
    },
    /// The context refers to a cluster or user that is not defined.
    #[error(
        "kubeconfig `{path}`: context `{context}` refers to {what} `{name}`, which is not defined"
    )]
    Dangling {
        /// The kubeconfig.
        path: PathBuf,
        /// The context.
        context: String,
        /// `cluster` or `user`.
        what: &'static str,
        /// The undefined name.
        name: String,
    },
}

/// A PEM document and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pem {
    /// `certificate-authority-data of cluster X` or the file path.
    pub origin: String,
    /// The PEM bytes.
    pub bytes: Vec<u8>,
}

/// A client certificate with its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The certificate chain.
    pub cert: Pem,
    /// The private key.
    pub key: Pem,
}

/// How to verify the server and whom to present to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    /// The only roots to trust; `None` trusts the platform's roots.
    pub ca: Option<Pem>,
    /// `insecure-skip-tls-verify`: accept any server certificate.
    pub insecure: bool,
    /// `tls-server-name`: verify the certificate for this name instead of the URL's host.
    pub server_name: Option<String>,
    /// Client certificate authentication.
    pub identity: Option<Identity>,
}

/// When an exec plugin may interact with the user; Slipway never can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interactive {
    /// `Never` or `IfAvailable`: runs without a terminal.
    No,
    /// `Always`: cannot run here.
    Always,
}

/// An exec credential plugin (`users[].user.exec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecConfig {
    /// `client.authentication.k8s.io/v1` or `/v1beta1`.
    pub api_version: String,
    /// The program, resolved against the kubeconfig directory when it is a relative path.
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables, on top of Slipway's own.
    pub env: Vec<(String, String)>,
    /// `interactiveMode`.
    pub interactive: Interactive,
    /// `provideClusterInfo`: pass the cluster in `KUBERNETES_EXEC_INFO`.
    pub provide_cluster_info: bool,
    /// `installHint`, shown when the command cannot be started.
    pub install_hint: Option<String>,
}

/// How requests authenticate, in kubectl's precedence (exec, then tokenFile, then token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Anonymous, or client certificate only.
    None,
    /// A bearer token.
    Bearer(String),
    /// HTTP basic authentication.
    Basic {
        /// `username`.
        username: String,
        /// `password`.
        password: String,
    },
    /// A token (or certificate) from an exec plugin.
    Exec(ExecConfig),
}

/// One context of a kubeconfig, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The context name.
    pub context: String,
    /// The API server URL without a trailing `/`.
    pub server: String,
    /// Raw `certificate-authority-data` for exec plugins that want cluster info.
    pub ca_data: Option<String>,
    /// `proxy-url`: send every request through this proxy (else the environment's).
    pub proxy_url: Option<String>,
    /// TLS settings.
    pub tls: TlsSettings,
    /// Authentication.
    pub auth: Auth,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    clusters: Option<Vec<RawNamedCluster>>,
    #[serde(default)]
    contexts: Option<Vec<RawNamedContext>>,
    #[serde(default)]
    users: Option<Vec<RawNamedUser>>,
    #[serde(default, rename = "current-context")]
    current_context: Option<String>,
}

#[derive(Deserialize)]
struct RawNamedCluster {
    name: String,
    cluster: RawCluster,
}

#[derive(Deserialize)]
struct RawCluster {
    server: Option<String>,
    #[serde(rename = "certificate-authority")]
    ca_file: Option<String>,
    #[serde(rename = "certificate-authority-data")]
    ca_data: Option<String>,
    #[serde(default, rename = "insecure-skip-tls-verify")]
    insecure: Option<bool>,
    #[serde(rename = "tls-server-name")]
    server_name: Option<String>,
    #[serde(rename = "proxy-url")]
    proxy_url: Option<String>,
}

#[derive(Deserialize)]
struct RawNamedContext {
    name: String,
    context: RawContext,
}

#[derive(Deserialize)]
struct RawContext {
    cluster: String,
    user: Option<String>,
}

#[derive(Deserialize)]
struct RawNamedUser {
    name: String,
    #[serde(default)]
    user: Option<RawUser>,
}

#[derive(Deserialize, Default)]
struct RawUser {
    token: Option<String>,
    #[serde(rename = "tokenFile")]
    token_file: Option<String>,
    username: Option<String>,
    password: Option<String>,
    #[serde(rename = "client-certificate")]
    cert_file: Option<String>,
    #[serde(rename = "client-certificate-data")]
    cert_data: Option<String>,
    #[serde(rename = "client-key")]
    key_file: Option<String>,
    #[serde(rename = "client-key-data")]
    key_data: Option<String>,
    exec: Option<RawExec>,
    #[serde(rename = "auth-provider")]
    auth_provider: Option<Value>,
}

#[derive(Deserialize)]
struct RawExec {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Option<Vec<RawEnv>>,
    #[serde(rename = "interactiveMode")]
    interactive_mode: Option<String>,
    #[serde(default, rename = "provideClusterInfo")]
    provide_cluster_info: Option<bool>,
    #[serde(rename = "installHint")]
    install_hint: Option<String>,
}

#[derive(Deserialize)]
struct RawEnv {
    name: String,
    value: String,
}

/// The exec credential API versions Slipway speaks (v1alpha1 was removed in Kubernetes 1.24).
pub(crate) const EXEC_API_VERSIONS: [&str; 2] = [
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// Loads `path` and resolves `context` (else the current context).
pub(crate) fn load(path: &Path, context: Option<&str>) -> Result<Resolved, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        what: "kubeconfig",
        path: path.to_owned(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    resolve(path, dir, &text, context)
}

/// Resolves kubeconfig `text` read from `path`; relative files are taken from `dir`.
fn resolve(
    path: &Path,
    dir: &Path,
    text: &str,
    context: Option<&str>,
) -> Result<Resolved, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_owned(),
        message,
    };
    let value = yaml_to_json(path, text)?;
    if !value.is_object() {
        return Err(invalid(
            "expected a mapping with clusters, contexts and users".into(),
        ));
    }
    let raw: RawConfig =
        serde_json::from_value(value).map_err(|e| invalid(format!("invalid structure: {e}")))?;
    let contexts = raw.contexts.unwrap_or_default();
    let available = || {
        let names: Vec<&str> = contexts.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    let name = match context {
        Some(name) => name.to_owned(),
        None => match raw.current_context.filter(|c| !c.is_empty()) {
            Some(name) => name,
            None => {
                return Err(ConfigError::NoCurrentContext {
                    path: path.to_owned(),
                    available: available(),
                });
            }
        },
    };
    let Some(ctx) = contexts.iter().find(|c| c.name == name) else {
        return Err(ConfigError::ContextNotFound {
            path: path.to_owned(),
            context: name,
            available: available(),
        });
    };
    let dangling = |what, missing: &str| ConfigError::Dangling {
        path: path.to_owned(),
        context: name.clone(),
        what,
        name: missing.to_owned(),
    };
    let clusters = raw.clusters.unwrap_or_default();
    let cluster = clusters
        .iter()
        .find(|c| c.name == ctx.context.cluster)
        .ok_or_else(|| dangling("cluster", &ctx.context.cluster))?;
    let user = match ctx.context.user.as_deref().filter(|u| !u.is_empty()) {
        None => RawUser::default(),
        Some(user_name) => raw
            .users
            .unwrap_or_default()
            .into_iter()
            .find(|u| u.name == user_name)
            .ok_or_else(|| dangling("user", user_name))?
            .user
            .unwrap_or_default(),
    };

    let c = &cluster.cluster;
    let server = c
        .server
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("cluster `{}` has no server", cluster.name)))?;
    let parsed = reqwest::Url::parse(server).map_err(|e| {
        invalid(format!(
            "cluster `{}` server `{server}` is not a URL: {e}",
            cluster.name
        ))
    })?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(invalid(format!(
            "cluster `{}` server `{server}` must be an http or https URL with a host",
            cluster.name
        )));
    }
    let insecure = c.insecure.unwrap_or(false);
    let ca = match (&c.ca_data, &c.ca_file) {
        (Some(data), _) if !data.is_empty() => Some(Pem {
            origin: format!("certificate-authority-data of cluster `{}`", cluster.name),
            bytes: decode_data(data).map_err(|e| {
                invalid(format!(
                    "certificate-authority-data of cluster `{}` is not base64: {e}",
                    cluster.name
                ))
            })?,
        }),
        (_, Some(file)) if !file.is_empty() => Some(read_pem(dir, file, "certificate-authority")?),
        _ => None,
    };
    if insecure && ca.is_some() {
        return Err(invalid(format!(
            "cluster `{}` sets both a certificate authority and insecure-skip-tls-verify; \
             kubectl refuses this too",
            cluster.name
        )));
    }

    let identity = identity(dir, &ctx.context.user, &user, &invalid)?;
    let auth = auth(
        dir,
        &user,
        ctx.context.user.as_deref().unwrap_or(""),
        &invalid,
    )?;
    Ok(Resolved {
        context: name.clone(),
        server: server.trim_end_matches('/').to_owned(),
        ca_data: c.ca_data.clone().filter(|d| !d.is_empty()),
        proxy_url: c.proxy_url.clone().filter(|p| !p.is_empty()),
        tls: TlsSettings {
            ca,
            insecure,
            server_name: c.server_name.clone().filter(|n| !n.is_empty()),
            identity,
        },
        auth,
    })
}

fn identity(
    dir: &Path,
    user_name: &Option<String>,
    user: &RawUser,
    invalid: &dyn Fn(String) -> ConfigError,
) -> Result<Option<Identity>, ConfigError> {
    let user_name = user_name.as_deref().unwrap_or("");
    let pem = |data: &Option<String>,
               file: &Option<String>,
               field: &'static str|
     -> Result<Option<Pem>, ConfigError> {
        match (data, file) {
            (Some(data), _) if !data.is_empty() => Ok(Some(Pem {
                origin: format!("{field}-data of user `{user_name}`"),
                bytes: decode_data(data).map_err(|e| {
                    invalid(format!(
                        "{field}-data of user `{user_name}` is not base64: {e}"
                    ))
                })?,
            })),
            (_, Some(file)) if !file.is_empty() => read_pem(dir, file, field).map(Some),
            _ => Ok(None),
        }
    };
    let cert = pem(&user.cert_data, &user.cert_file, "client-certificate")?;
    let key = pem(&user.key_data, &user.key_file, "client-key")?;
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(Identity { cert, key })),
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid(format!(
            "user `{user_name}` has a client certificate but no client key"
        ))),
        (None, Some(_)) => Err(invalid(format!(
            "user `{user_name}` has a client key but no client certificate"
        ))),
    }
}

fn auth(
    dir: &Path,
    user: &RawUser,
    user_name: &str,
    invalid: &dyn Fn(String) -> ConfigError,
) -> Result<Auth, ConfigError> {
    if let Some(provider) = &user.auth_provider {
        let name = provider.get("name").and_then(Value::as_str).unwrap_or("?");
        return Err(invalid(format!(
            "user `{user_name}` uses auth-provider `{name}`, which kubectl removed; \
             use an exec plugin (e.g. kubelogin) instead"
        )));
    }
    if let Some(exec) = &user.exec {
        return exec_config(dir, exec, user_name, invalid).map(Auth::Exec);
    }
    if let Some(file) = user.token_file.as_deref().filter(|f| !f.is_empty()) {
        let path = dir.join(file);
        let token = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            what: "tokenFile",
            path: path.clone(),
            source,
        })?;
        let token = token.trim();
        if token.is_empty() {
            return Err(invalid(format!(
                "tokenFile `{}` of user `{user_name}` is empty",
                path.display()
            )));
        }
        return Ok(Auth::Bearer(token.to_owned()));
    }
    if let Some(token) = user.token.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Auth::Bearer(token.to_owned()));
    }
    if let Some(username) = user.username.as_deref().filter(|u| !u.is_empty()) {
        return Ok(Auth::Basic {
            username: username.to_owned(),
            password: user.password.clone().unwrap_or_default(),
        });
    }
    Ok(Auth::None)
}

fn exec_config(
    dir: &Path,
    exec: &RawExec,
    user_name: &str,
    invalid: &dyn Fn(String) -> ConfigError,
) -> Result<ExecConfig, ConfigError> {
    let api_version = exec.api_version.clone().unwrap_or_default();
    if !EXEC_API_VERSIONS.contains(&api_version.as_str()) {
        return Err(invalid(format!(
            "exec plugin of user `{user_name}` has apiVersion `{api_version}`; \
             expected one of {}",
            EXEC_API_VERSIONS.join(", ")
        )));
    }
    let command = exec
        .command
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid(format!("exec plugin of user `{user_name}` has no command")))?;
    let command = PathBuf::from(command);
    // kubectl resolves `./bin/plugin` against the kubeconfig but looks `aws` up on PATH.
    let command = if command.is_relative() && command.components().count() > 1 {
        dir.join(command)
    } else {
        command
    };
    let interactive = match exec.interactive_mode.as_deref() {
        None | Some("Never" | "IfAvailable") => Interactive::No,
        Some("Always") => Interactive::Always,
        Some(other) => {
            return Err(invalid(format!(
                "exec plugin of user `{user_name}` has interactiveMode `{other}`; \
                 expected Never, IfAvailable or Always"
            )));
        }
    };
    Ok(ExecConfig {
        api_version,
        command,
        args: exec.args.clone().unwrap_or_default(),
        env: exec
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone()))
            .collect(),
        interactive,
        provide_cluster_info: exec.provide_cluster_info.unwrap_or(false),
        install_hint: exec.install_hint.clone().filter(|h| !h.is_empty()),
    })
}

fn read_pem(dir: &Path, file: &str, what: &'static str) -> Result<Pem, ConfigError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|source| ConfigError::Read {
        what,
        path: path.clone(),
        source,
    })?;
    Ok(Pem {
        origin: path.display().to_string(),
        bytes,
    })
}

/// Kubeconfig `*-data` fields are standard base64; tolerate line breaks from hand edits.
fn decode_data(data: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(compact)
}

/// Parses a single-document YAML file into JSON values (kubeconfigs are plain data: strings,
/// booleans, lists and mappings).
fn yaml_to_json(path: &Path, text: &str) -> Result<Value, ConfigError> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| ConfigError::Yaml {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    match docs.into_iter().next() {
        Some(doc) => Ok(convert(doc)),
        None => Err(ConfigError::Invalid {
            path: path.to_owned(),
            message: "the file is empty".into(),
        }),
    }
}

fn convert(yaml: yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match yaml {
        Yaml::String(s) => Value::String(s),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::String(r), Value::Number),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(items) => Value::Array(items.into_iter().map(convert).collect()),
        Yaml::Hash(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (key_string(k), convert(v)))
                .collect(),
        ),
        Yaml::Null | Yaml::Alias(_) | Yaml::BadValue => Value::Null,
    }
}

fn key_string(key: yaml_rust2::Yaml) -> String {
    match convert(key) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: LS0tLS1CRUdJTg==
- name: dev-cluster
  cluster:
    server: https://dev.example.com
    insecure-skip-tls-verify: true
    tls-server-name: kubernetes.default
    proxy-url: socks5://localhost:1080
contexts:
- name: prod
  context: {cluster: prod-cluster, user: prod-user, namespace: apps}
- name: dev
  context: {cluster: dev-cluster, user: dev-user}
- name: eks
  context: {cluster: prod-cluster, user: eks-user}
- name: anon
  context: {cluster: dev-cluster}
users:
- name: prod-user
  user:
    token: abc123
- name: dev-user
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
    tokenFile: token.txt
- name: eks-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, prod]
      env:
      - {name: AWS_PROFILE, value: ops}
      interactiveMode: IfAvailable
      provideClusterInfo: true
"#;

    fn resolve_in(dir: &Path, text: &str, context: Option<&str>) -> Result<Resolved, ConfigError> {
        resolve(&dir.join("config"), dir, text, context)
    }

    #[test]
    fn current_context_with_token_and_ca_data() {
        let r = resolve_in(Path::new("/nowhere"), BASE, None).unwrap();
        assert_eq!(r.context, "prod");
        assert_eq!(r.server, "https://10.0.0.1:6443");
        assert_eq!(r.auth, Auth::Bearer("abc123".into()));
        let ca = r.tls.ca.unwrap();
        assert_eq!(ca.bytes, b"-----BEGIN");
        assert_eq!(
            ca.origin,
            "certificate-authority-data of cluster `prod-cluster`"
        );
        assert!(!r.tls.insecure);
        assert_eq!(r.ca_data.as_deref(), Some("LS0tLS1CRUdJTg=="));
    }

    #[test]
    fn insecure_client_cert_and_relative_token_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token.txt"), "from-file\n").unwrap();
        let r = resolve_in(dir.path(), BASE, Some("dev")).unwrap();
        assert!(r.tls.insecure);
        assert!(r.tls.ca.is_none());
        assert_eq!(r.tls.server_name.as_deref(), Some("kubernetes.default"));
        assert_eq!(r.proxy_url.as_deref(), Some("socks5://localhost:1080"));
        let id = r.tls.identity.unwrap();
        assert_eq!(
            (id.cert.bytes.as_slice(), id.key.bytes.as_slice()),
            (&b"cert"[..], &b"key"[..])
        );
        assert_eq!(r.auth, Auth::Bearer("from-file".into()));
    }

    #[test]
    fn missing_token_file_names_the_file() {
        let err = resolve_in(Path::new("/nowhere"), BASE, Some("dev")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("cannot read tokenFile `/nowhere/token.txt`"),
            "{msg}"
        );
    }

    #[test]
    fn exec_plugin() {
        let r = resolve_in(Path::new("/k"), BASE, Some("eks")).unwrap();
        let Auth::Exec(exec) = r.auth else {
            panic!("not exec: {:?}", r.auth)
        };
        assert_eq!(exec.command, PathBuf::from("aws"));
        assert_eq!(exec.args, ["eks", "get-token", "--cluster-name", "prod"]);
        assert_eq!(exec.env, [("AWS_PROFILE".to_owned(), "ops".to_owned())]);
        assert_eq!(exec.interactive, Interactive::No);
        assert!(exec.provide_cluster_info);
    }

    #[test]
    fn exec_relative_command_resolves_against_the_kubeconfig() {
        let text = BASE.replace("command: aws", "command: ./bin/get-token");
        let r = resolve_in(Path::new("/k"), &text, Some("eks")).unwrap();
        let Auth::Exec(exec) = r.auth else {
            panic!("not exec")
        };
        assert_eq!(exec.command, PathBuf::from("/k/./bin/get-token"));
    }

    #[test]
    fn exec_old_api_version_is_rejected() {
        let text = BASE.replace("k8s.io/v1beta1", "k8s.io/v1alpha1");
        let msg = resolve_in(Path::new("/k"), &text, Some("eks"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("apiVersion `client.authentication.k8s.io/v1alpha1`"),
            "{msg}"
        );
    }

    #[test]
    fn context_without_user_is_anonymous() {
        let r = resolve_in(Path::new("/k"), BASE, Some("anon")).unwrap();
        assert_eq!(r.auth, Auth::None);
        assert!(r.tls.identity.is_none());
    }

    #[test]
    fn missing_context_lists_the_available_ones() {
        let msg = resolve_in(Path::new("/k"), BASE, Some("staging"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "kubeconfig `/k/config` has no context `staging` (available: prod, dev, eks, anon)"
        );
    }

    #[test]
    fn no_current_context() {
        let text = BASE.replace("current-context: prod", "");
        let err = resolve_in(Path::new("/k"), &text, None).unwrap_err();
        assert!(matches!(err, ConfigError::NoCurrentContext { .. }), "{err}");
    }

    #[test]
    fn ca_and_insecure_together_are_refused() {
        let text = BASE.replace(
            "certificate-authority-data: LS0tLS1CRUdJTg==",
            "certificate-authority-data: LS0tLS1CRUdJTg==\n    insecure-skip-tls-verify: true",
        );
        let msg = resolve_in(Path::new("/k"), &text, None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("both a certificate authority and insecure-skip-tls-verify"),
            "{msg}"
        );
    }

    #[test]
    fn ca_file_is_read_relative_to_the_kubeconfig() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.crt"), "PEM").unwrap();
        let text = BASE.replace(
            "certificate-authority-data: LS0tLS1CRUdJTg==",
            "certificate-authority: ca.crt",
        );
        let r = resolve_in(dir.path(), &text, None).unwrap();
        assert_eq!(r.tls.ca.unwrap().bytes, b"PEM");
    }

    #[test]
    fn bad_base64_and_yaml_and_shape_name_the_problem() {
        let text = BASE.replace("LS0tLS1CRUdJTg==", "not base64!");
        let msg = resolve_in(Path::new("/k"), &text, None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("certificate-authority-data of cluster `prod-cluster` is not base64"));

        let msg = resolve_in(Path::new("/k"), "clusters: [", None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("kubeconfig `/k/config` is not valid YAML"),
            "{msg}"
        );

        let msg = resolve_in(Path::new("/k"), "- a\n- b\n", None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("expected a mapping"), "{msg}");

        let msg = resolve_in(Path::new("/k"), "", None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("the file is empty"), "{msg}");

        let msg = resolve_in(Path::new("/k"), "contexts: 3\n", None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("invalid structure"), "{msg}");
    }

    #[test]
    fn dangling_user_and_auth_provider() {
        let text = BASE.replace("user: prod-user,", "user: ghost,");
        let msg = resolve_in(Path::new("/k"), &text, None)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("refers to user `ghost`, which is not defined"),
            "{msg}"
        );

        let text = BASE.replace("token: abc123", "auth-provider: {name: gcp}");
        let msg = resolve_in(Path::new("/k"), &text, None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("auth-provider `gcp`"), "{msg}");
    }

    #[test]
    fn server_must_be_a_url() {
        let text = BASE.replace("https://10.0.0.1:6443/", "10.0.0.1:6443");
        let msg = resolve_in(Path::new("/k"), &text, None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("server `10.0.0.1:6443`"), "{msg}");
    }
}
