//! HTTP transports under azure_core's pipeline: HTTPS to Azure with rustls (ring), and the
//! loopback transport that sends the logical `https://management.azure.com/...` requests of an
//! emulator run to its plain-http address.
//!
//! The bearer-token policy refuses plain http, so requests keep the logical ARM URL through
//! every policy and only this transport, the last step, changes scheme, host and port. It must
//! never send anything to a non-loopback address in emulator mode.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use azure_core::http::headers::{HeaderName, HeaderValue};
use azure_core::http::{AsyncRawResponse, HttpClient, Request, Url};
use slipway_provider::{ErrorClass, ProviderError};

/// The logical ARM endpoint every request is built for.
pub(crate) const ARM_ENDPOINT: &str = "https://management.azure.com";

fn config_error(message: String) -> ProviderError {
    ProviderError::new(ErrorClass::Fatal, "configure", "InvalidConfig", message)
}

/// A reqwest builder with rustls on the ring provider and the platform's certificate verifier
/// (reqwest's own rustls default would pull in aws-lc, a long C build).
fn client_builder() -> Result<reqwest::ClientBuilder, ProviderError> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS setup failed: {e}")))?
        .with_platform_verifier()
        .map_err(|e| config_error(format!("TLS certificate verifier setup failed: {e}")))?
        .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}

/// The HTTPS client for Azure.
pub(crate) fn https_client() -> Result<reqwest::Client, ProviderError> {
    client_builder()?
        .build()
        .map_err(|e| config_error(format!("HTTP client setup failed: {e}")))
}

/// Whether `url` is a plain-http loopback address (`127.0.0.1`, `[::1]`, `localhost`).
pub(crate) fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    url.scheme() == "http"
        && (host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

/// Sends every request to a loopback endpoint over plain http, keeping cookies the endpoint
/// sets (Microsoft's LRO test server keeps scenario state in cookies, as a browser would).
#[derive(Debug)]
pub(crate) struct Loopback {
    target: Url,
    inner: reqwest::Client,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Loopback {
    /// A transport to `endpoint`, which must be a plain-http loopback URL.
    pub fn new(endpoint: &str) -> Result<Self, ProviderError> {
        let target = Url::parse(endpoint)
            .map_err(|e| config_error(format!("endpoint url `{endpoint}` is invalid: {e}")))?;
        if !is_loopback(&target) {
            return Err(config_error(format!(
                "endpoint url `{endpoint}` must be a plain-http loopback address \
                 (http://127.0.0.1:PORT); the Azure provider sends emulator traffic nowhere else"
            )));
        }
        let inner = client_builder()?
            .no_proxy()
            .build()
            .map_err(|e| config_error(format!("HTTP client setup failed: {e}")))?;
        Ok(Self {
            target,
            inner,
            cookies: Mutex::new(BTreeMap::new()),
        })
    }

    fn remember_cookies(&self, response: &AsyncRawResponse) {
        let Ok(mut jar) = self.cookies.lock() else {
            return;
        };
        for (name, value) in response.headers().iter() {
            if !name.as_str().eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let text = value.as_str();
            let Some((pair, attributes)) = text.split_once(';').or(Some((text, ""))) else {
                continue;
            };
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let attributes = attributes.to_ascii_lowercase();
            if v.trim().is_empty()
                || attributes.contains("max-age=0")
                || attributes.contains("expires=thu, 01 jan 1970")
            {
                jar.remove(k.trim());
            } else {
                jar.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }
}

#[async_trait]
impl HttpClient for Loopback {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let mut request = request.clone();
        {
            let url = request.url_mut();
            // Scheme and host changes between special schemes cannot fail for a parsed URL;
            // the results are checked anyway so a failure is an error, not a wrong target.
            let moved = url.set_scheme(self.target.scheme()).is_ok()
                && url.set_host(self.target.host_str()).is_ok()
                && url.set_port(self.target.port()).is_ok();
            if !moved {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Other,
                    "cannot redirect the request to the emulator",
                ));
            }
        }
        let cookie = self.cookies.lock().ok().and_then(|jar| {
            (!jar.is_empty()).then(|| {
                jar.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        });
        if let Some(cookie) = cookie {
            request.insert_header(HeaderName::from_static("cookie"), HeaderValue::from(cookie));
        }
        let response = self.inner.execute_request(&request).await?;
        self.remember_cookies(&response);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_loopback_endpoints_are_accepted() {
        assert!(Loopback::new("http://127.0.0.1:4566").is_ok());
        assert!(Loopback::new("http://localhost:1").is_ok());
        assert!(Loopback::new("http://[::1]:1").is_ok());
        assert!(Loopback::new("https://127.0.0.1:1").is_err());
        assert!(Loopback::new("http://10.0.0.1:1").is_err());
        assert!(Loopback::new("http://management.azure.com").is_err());
        assert!(Loopback::new("not a url").is_err());
    }
}
