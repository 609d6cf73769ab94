//! Credentials for ARM: the default chain (client secret, workload identity, managed identity
//! on managed-identity hosts only, Azure CLI) and the static token of emulator runs.
//!
//! It must never probe the instance metadata address unless the environment says this is a
//! managed-identity host (`IDENTITY_ENDPOINT`/`MSI_ENDPOINT`) or the user opted in with
//! `SLIPWAY_AZURE_MANAGED_IDENTITY=1`: elsewhere that probe is a timeout and off-host traffic.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientOptions, Transport};
use azure_core::time::{Duration, OffsetDateTime};
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

/// The scope of ARM tokens.
pub(crate) const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// A fixed bearer token, for emulators (which accept any token) and tests.
#[derive(Debug)]
pub(crate) struct StaticToken(pub String);

#[async_trait]
impl TokenCredential for StaticToken {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            Secret::new(self.0.clone()),
            OffsetDateTime::now_utc() + Duration::hours(1),
        ))
    }
}

/// An environment lookup, so the chain's choices are testable without touching the process.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, with empty values treated as unset.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The default chain: each source the environment makes plausible, in order; the first that
/// yields a token is used from then on.
#[derive(Debug)]
pub(crate) struct Chain {
    sources: Vec<(&'static str, Arc<dyn TokenCredential>)>,
    /// Sources considered but not configured, for the error message.
    skipped: Vec<String>,
    chosen: AtomicUsize,
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
                "client secret (AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET)",
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
                "client secret: AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET are not all set"
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
        }
    }

    /// The names of the sources the chain will try, in order.
    #[cfg(test)]
    pub fn source_names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|(n, _)| *n).collect()
    }
}

#[async_trait]
impl TokenCredential for Chain {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let chosen = self.chosen.load(Ordering::Relaxed);
        if let Some((_, source)) = self.sources.get(chosen) {
            return source.get_token(scopes, options).await;
        }
        let mut tried = self.skipped.clone();
        for (i, (name, source)) in self.sources.iter().enumerate() {
            match source.get_token(scopes, options.clone()).await {
                Ok(token) => {
                    self.chosen.store(i, Ordering::Relaxed);
                    return Ok(token);
                }
                Err(e) => tried.push(format!("{name}: {e}")),
            }
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!(
                "no Azure credentials found; tried: {}. Sign in with `az login`, set \
                 AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, or use --emulator",
                tried.join("; ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport() -> Transport {
        Transport::new(Arc::new(
            super::super::transport::Loopback::new("http://127.0.0.1:9").unwrap(),
        ))
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

        let env = env_of(&[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1"),
            ("IDENTITY_HEADER", "h"),
        ]);
        assert!(
            Chain::from_env(&env, &transport())
                .source_names()
                .contains(&"managed identity")
        );
    }

    #[test]
    fn client_secret_and_workload_identity_come_first_when_configured() {
        let env = env_of(&[
            ("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000002"),
            ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001"),
            ("AZURE_CLIENT_SECRET", "s"),
            (
                "AZURE_FEDERATED_TOKEN_FILE",
                concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
            ),
        ]);
        let names = Chain::from_env(&env, &transport()).source_names();
        assert_eq!(
            names[0],
            "client secret (AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET)"
        );
        assert_eq!(names[1], "workload identity (AZURE_FEDERATED_TOKEN_FILE)");
    }
}
