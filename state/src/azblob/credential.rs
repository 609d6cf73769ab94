//! Credentials and transport for the Azure Blob backend: a SAS token from the environment, or
//! an Entra ID token from the default chain (client secret, workload identity, managed identity
//! on managed-identity hosts only, Azure CLI), sent over reqwest with rustls on ring.
//!
//! It must never probe the instance metadata address unless the environment says this is a
//! managed-identity host (`IDENTITY_ENDPOINT`/`MSI_ENDPOINT`) or the user opted in with
//! `SLIPWAY_AZURE_MANAGED_IDENTITY=1` (the same rule as the Azure provider), and must never put
//! a token or SAS signature in a message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use crate::StateError;

/// Environment variables holding a SAS token, in order of preference.
pub(crate) const SAS_ENV: [&str; 2] = ["SLIPWAY_AZBLOB_SAS", "AZURE_STORAGE_SAS_TOKEN"];

/// An environment lookup, so the choices are testable without touching the process.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, with empty values treated as unset.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// How requests are authorised.
pub(crate) enum Auth {
    /// A SAS token (without the leading `?`) appended to every URL.
    Sas(String),
    /// Entra ID bearer tokens.
    Token(Arc<dyn TokenCredential>),
}

impl Auth {
    /// The SAS token from the environment, else the default credential chain.
    pub fn from_env(env: Env<'_>, transport: &Transport) -> Self {
        match SAS_ENV.iter().find_map(|name| env(name)) {
            Some(sas) => Self::Sas(sas.trim_start_matches('?').to_owned()),
            None => Self::Token(Arc::new(Chain::from_env(env, transport))),
        }
    }
}

/// A reqwest client with rustls on the ring provider and the platform's certificate verifier
/// (reqwest's own rustls default would pull in aws-lc, a long C build). Decompression stays
/// off: the blob client's ranged downloads need the bytes as stored.
pub(crate) fn http_client() -> Result<reqwest::Client, StateError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        StateError::Backend(format!("Azure Blob {what} setup failed: {e}"))
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail("TLS", &e))?
        .with_platform_verifier()
        .map_err(|e| fail("TLS certificate verifier", &e))?
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .build()
        .map_err(|e| fail("HTTP client", &e))
}

/// The default chain: each source the environment makes plausible, in order; the first that
/// yields a token is used from then on, and its token is cached until shortly before expiry
/// (every blob client has its own bearer policy, so without the cache each would ask anew).
#[derive(Debug)]
pub(crate) struct Chain {
    sources: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    /// Sources considered but not configured, for the error message.
    skipped: Vec<String>,
    chosen: AtomicUsize,
    cached: Mutex<Option<AccessToken>>,
}

impl Chain {
    /// Builds the chain from the environment; `transport` carries every token request.
    pub fn from_env(env: Env<'_>, transport: &Transport) -> Self {
        let client_options = || ClientOptions {
            transport: Some(transport.clone()),
            ..ClientOptions::default()
        };
        type Made = azure_core::Result<Arc<dyn TokenCredential>>;
        let mut found: Vec<(&'static str, Made)> = Vec::new();
        let mut skipped = Vec::new();

        match (
            env("AZURE_TENANT_ID"),
            env("AZURE_CLIENT_ID"),
            env("AZURE_CLIENT_SECRET"),
        ) {
            (Some(tenant), Some(client), Some(secret)) => found.push((
                "client credential (AZURE_TENANT_ID/AZURE_CLIENT_ID)",
                ClientSecretCredential::new(
                    &tenant,
                    client,
                    Secret::new(secret),
                    Some(ClientSecretCredentialOptions {
                        client_options: client_options(),
                    }),
                )
                .map(|c| c as Arc<dyn TokenCredential>),
            )),
            _ => skipped.push(
                "client credential: AZURE_TENANT_ID, AZURE_CLIENT_ID and its key are not all set"
                    .to_owned(),
            ),
        }

        match env("AZURE_FEDERATED_TOKEN_FILE") {
            Some(file) => found.push((
                "workload identity (AZURE_FEDERATED_TOKEN_FILE)",
                WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions {
                        client_options: client_options(),
                    },
                    client_id: env("AZURE_CLIENT_ID"),
                    tenant_id: env("AZURE_TENANT_ID"),
                    token_file_path: Some(file.into()),
                }))
                .map(|c| c as Arc<dyn TokenCredential>),
            )),
            None => skipped.push("workload identity: AZURE_FEDERATED_TOKEN_FILE is not set".into()),
        }

        let host_endpoint = env("IDENTITY_ENDPOINT").or_else(|| env("MSI_ENDPOINT"));
        let opted_in = env("SLIPWAY_AZURE_MANAGED_IDENTITY").as_deref() == Some("1");
        match (host_endpoint, opted_in, env("AZURE_CLIENT_ID")) {
            (Some(_), _, client) | (None, true, client @ Some(_)) => found.push((
                "managed identity",
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: client.map(UserAssignedId::ClientId),
                    client_options: client_options(),
                }))
                .map(|c| c as Arc<dyn TokenCredential>),
            )),
            _ => skipped.push(
                "managed identity: not a managed-identity host (IDENTITY_ENDPOINT/MSI_ENDPOINT \
                 unset; set AZURE_CLIENT_ID and SLIPWAY_AZURE_MANAGED_IDENTITY=1 to use the \
                 instance metadata service)"
                    .into(),
            ),
        }

        found.push((
            "Azure CLI (az login)",
            AzureCliCredential::new(None).map(|c| c as Arc<dyn TokenCredential>),
        ));
        let mut sources = Vec::new();
        for (name, made) in found {
            match made {
                Ok(c) => sources.push((name, c)),
                Err(e) => skipped.push(format!("{name}: {e}")),
            }
        }
        Self {
            sources,
            skipped,
            chosen: AtomicUsize::new(usize::MAX),
            cached: Mutex::new(None),
        }
    }

    /// The names of the sources the chain will try, in order.
    #[cfg(test)]
    pub fn source_names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|(n, _)| *n).collect()
    }

    fn remember(&self, token: &AccessToken) {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(token.clone());
        }
    }
}

#[async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        // Only the storage scope is ever asked for, so one cached token serves every client.
        let fresh = self.cached.lock().ok().and_then(|cached| {
            cached
                .as_ref()
                .filter(|t| t.expires_on > OffsetDateTime::now_utc() + Duration::minutes(5))
                .cloned()
        });
        if let Some(token) = fresh {
            return Ok(token);
        }
        let chosen = self.chosen.load(Ordering::Relaxed);
        if let Some((_, source)) = self.sources.get(chosen) {
            let token = source.get_token(scopes, options).await?;
            self.remember(&token);
            return Ok(token);
        }
        let mut tried = self.skipped.clone();
        for (i, (name, source)) in self.sources.iter().enumerate() {
            match source.get_token(scopes, options.clone()).await {
                Ok(token) => {
                    self.chosen.store(i, Ordering::Relaxed);
                    self.remember(&token);
                    return Ok(token);
                }
                Err(e) => tried.push(format!("{name}: {e}")),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!(
                "no Azure credentials for the state container; tried: {}. Set SLIPWAY_AZBLOB_SAS \
                 to a SAS token, sign in with `az login`, or configure a service principal",
                tried.join("; ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport() -> Transport {
        Transport::new(Arc::new(http_client().unwrap()))
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn a_sas_token_from_the_environment_wins() {
        let env = env_of(&[
            ("AZURE_STORAGE_SAS_TOKEN", "?sv=2&sig=b"),
            ("AZURE_CLIENT_ID", "x"),
        ]);
        assert!(matches!(Auth::from_env(&env, &transport()), Auth::Sas(s) if s == "sv=2&sig=b"));
        let env = env_of(&[
            ("SLIPWAY_AZBLOB_SAS", "sv=1&sig=a"),
            ("AZURE_STORAGE_SAS_TOKEN", "sv=2&sig=b"),
        ]);
        assert!(matches!(Auth::from_env(&env, &transport()), Auth::Sas(s) if s == "sv=1&sig=a"));
        assert!(matches!(
            Auth::from_env(&env_of(&[]), &transport()),
            Auth::Token(_)
        ));
    }

    #[test]
    fn managed_identity_is_only_tried_where_the_environment_says_so() {
        let names = Chain::from_env(&env_of(&[]), &transport()).source_names();
        assert_eq!(names, ["Azure CLI (az login)"]);

        let names =
            Chain::from_env(&env_of(&[("AZURE_CLIENT_ID", "x")]), &transport()).source_names();
        assert!(!names.contains(&"managed identity"), "{names:?}");

        let env = env_of(&[
            ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001"),
            ("SLIPWAY_AZURE_MANAGED_IDENTITY", "1"),
        ]);
        assert!(
            Chain::from_env(&env, &transport())
                .source_names()
                .contains(&"managed identity")
        );
        let env = env_of(&[("MSI_ENDPOINT", "http://127.0.0.1:1")]);
        assert!(
            Chain::from_env(&env, &transport())
                .source_names()
                .contains(&"managed identity")
        );
    }
}
