//! Exec credential plugins (`client.authentication.k8s.io/v1` and `v1beta1`), the way
//! `aws eks get-token`, `kubelogin` and `gke-gcloud-auth-plugin` hand kubectl a token.
//!
//! The plugin runs without a terminal (stdin closed, stderr captured for error messages) and
//! is killed if it outlives the timeout. It must never be run interactively: a plugin that
//! insists (`interactiveMode: Always`) is refused.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::{ExecConfig, Interactive, Pem, Resolved};

/// How long a plugin may take (cloud CLIs refresh SSO tokens, which can be slow).
const EXEC_TIMEOUT: Duration = Duration::from_secs(60);

/// Why an exec plugin gave no credential.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The plugin wants to talk to the user.
    #[error("exec plugin `{command}` requires interactive mode, which a scan cannot provide")]
    Interactive {
        /// The command.
        command: String,
    },
    /// The command could not be started (usually not installed or not executable).
    #[error("cannot run exec plugin `{command}`: {source}{hint}")]
    Spawn {
        /// The command.
        command: String,
        /// The OS error.
        source: std::io::Error,
        /// `installHint` from the kubeconfig, prefixed with a separator, or empty.
        hint: String,
    },
    /// The command ran longer than allowed.
    #[error("exec plugin `{command}` did not finish within {seconds}s")]
    Timeout {
        /// The command.
        command: String,
        /// The limit.
        seconds: u64,
    },
    /// The command exited unsuccessfully.
    #[error("exec plugin `{command}` failed ({status}): {stderr}")]
    Failed {
        /// The command.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// The command's output is not a usable ExecCredential.
    #[error("exec plugin `{command}` printed no usable ExecCredential: {message}")]
    Output {
        /// The command.
        command: String,
        /// What is wrong.
        message: String,
    },
}

/// What an exec plugin returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// `status.token`.
    Token(String),
    /// `status.clientCertificateData` and `status.clientKeyData`.
    Certificate {
        /// PEM certificate chain.
        cert: Pem,
        /// PEM private key.
        key: Pem,
    },
}

/// Runs the plugin of `cluster` and returns its credential.
pub(crate) async fn run(exec: &ExecConfig, cluster: &Resolved) -> Result<Credential, ExecError> {
    let command = exec.command.display().to_string();
    if exec.interactive == Interactive::Always {
        return Err(ExecError::Interactive { command });
    }
    let mut spec = json!({ "interactive": false });
    if exec.provide_cluster_info {
        let mut info = json!({
            "server": cluster.server,
            "insecure-skip-tls-verify": cluster.tls.insecure,
        });
        if let Some(ca) = &cluster.ca_data {
            info["certificate-authority-data"] = json!(ca);
        }
        if let Some(name) = &cluster.tls.server_name {
            info["tls-server-name"] = json!(name);
        }
        if let Some(proxy) = &cluster.proxy_url {
            info["proxy-url"] = json!(proxy);
        }
        spec["cluster"] = info;
    }
    let info = json!({
        "apiVersion": exec.api_version,
        "kind": "ExecCredential",
        "spec": spec,
    });
    let child = tokio::process::Command::new(&exec.command)
        .args(&exec.args)
        .envs(exec.env.iter().map(|(k, v)| (k, v)))
        .env("KUBERNETES_EXEC_INFO", info.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| ExecError::Spawn {
            command: command.clone(),
            source,
            hint: exec
                .install_hint
                .as_ref()
                .map(|h| format!("; {}", h.trim()))
                .unwrap_or_default(),
        })?;
    let output = tokio::time::timeout(EXEC_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| ExecError::Timeout {
            command: command.clone(),
            seconds: EXEC_TIMEOUT.as_secs(),
        })?
        .map_err(|e| ExecError::Failed {
            command: command.clone(),
            status: "no exit status".into(),
            stderr: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(ExecError::Failed {
            command,
            status: output.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&output.stderr)),
        });
    }
    parse(&exec.api_version, &output.stdout)
        .map_err(|message| ExecError::Output { command, message })
}

/// Reads an ExecCredential printed for `api_version`.
fn parse(api_version: &str, stdout: &[u8]) -> Result<Credential, String> {
    let value: Value =
        serde_json::from_slice(stdout).map_err(|e| format!("stdout is not JSON: {e}"))?;
    let field = |name: &str| value.get(name).and_then(Value::as_str).unwrap_or("");
    if field("kind") != "ExecCredential" {
        return Err(format!(
            "kind is `{}`, expected ExecCredential",
            field("kind")
        ));
    }
    if field("apiVersion") != api_version {
        return Err(format!(
            "apiVersion is `{}`, expected `{api_version}` as configured",
            field("apiVersion")
        ));
    }
    let status = value.get("status").ok_or("it has no status")?;
    let text = |name: &str| {
        status
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if let Some(token) = text("token") {
        return Ok(Credential::Token(token.to_owned()));
    }
    match (text("clientCertificateData"), text("clientKeyData")) {
        (Some(cert), Some(key)) => Ok(Credential::Certificate {
            cert: Pem {
                origin: "exec plugin clientCertificateData".into(),
                bytes: cert.as_bytes().to_vec(),
            },
            key: Pem {
                origin: "exec plugin clientKeyData".into(),
                bytes: key.as_bytes().to_vec(),
            },
        }),
        _ => Err("status has neither token nor clientCertificateData and clientKeyData".into()),
    }
}

/// The last few hundred characters of a plugin's stderr: enough to see why, never a flood.
fn tail(stderr: &str) -> String {
    const MAX: usize = 400;
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        return "no output on stderr".into();
    }
    match trimmed.char_indices().rev().nth(MAX) {
        Some((i, _)) => format!("…{}", &trimmed[i + 1..]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "client.authentication.k8s.io/v1";

    #[test]
    fn token() {
        let out = br#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",
            "spec":{},"status":{"expirationTimestamp":"2030-01-01T00:00:00Z","token":"k8s-aws-v1.abc"}}"#;
        assert_eq!(
            parse(V1, out),
            Ok(Credential::Token("k8s-aws-v1.abc".into()))
        );
    }

    #[test]
    fn certificate() {
        let out = br#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1",
            "status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}}"#;
        let Ok(Credential::Certificate { cert, key }) = parse(V1, out) else {
            panic!("not a certificate")
        };
        assert_eq!((cert.bytes, key.bytes), (b"CERT".to_vec(), b"KEY".to_vec()));
    }

    #[test]
    fn mismatches_are_explained() {
        let wrong_version =
            br#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","status":{"token":"t"}}"#;
        assert!(
            parse(V1, wrong_version)
                .unwrap_err()
                .contains("expected `client.authentication.k8s.io/v1`")
        );
        assert!(
            parse(V1, b"token")
                .unwrap_err()
                .starts_with("stdout is not JSON")
        );
        let empty = br#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","status":{}}"#;
        assert!(parse(V1, empty).unwrap_err().contains("neither token"));
    }

    #[test]
    fn stderr_tail_is_bounded() {
        assert_eq!(tail("  \n"), "no output on stderr");
        assert_eq!(tail("boom\n"), "boom");
        let long = "x".repeat(1000);
        assert_eq!(tail(&long).chars().count(), 401);
    }
}
