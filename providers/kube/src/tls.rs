//! The rustls client configuration for one cluster: its certificate authority (else the
//! platform's roots), `insecure-skip-tls-verify`, `tls-server-name` and client certificates.
//!
//! rustls runs on the ring provider (reqwest's own default would pull in aws-lc, a long C
//! build). Verification may only be skipped when the kubeconfig says so explicitly.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{Identity, Pem, TlsSettings};

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate authority holds no usable certificate.
    #[error("certificate authority from {origin} is unusable: {message}")]
    Ca {
        /// Where it came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The client certificate or key cannot be used.
    #[error("client certificate from {origin} is unusable: {message}")]
    Identity {
        /// Where the certificate or key came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// `tls-server-name` is neither a DNS name nor an IP address.
    #[error("tls-server-name `{name}` is not a valid DNS name or IP address")]
    ServerName {
        /// The name.
        name: String,
    },
    /// rustls refused the configuration.
    #[error("TLS setup failed: {message}")]
    Setup {
        /// rustls' message.
        message: String,
    },
}

/// Builds the client configuration; `identity` overrides the settings' own (exec plugins may
/// return a certificate).
pub(crate) fn client_config(
    settings: &TlsSettings,
    identity: Option<&Identity>,
) -> Result<ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let setup = |e: rustls::Error| TlsError::Setup {
        message: e.to_string(),
    };
    let verifier: Arc<dyn ServerCertVerifier> = if settings.insecure {
        Arc::new(AcceptAny(provider.clone()))
    } else {
        let inner: Arc<dyn ServerCertVerifier> = match &settings.ca {
            Some(ca) => {
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots(ca)?), provider.clone())
                    .build()
                    .map_err(|e| TlsError::Ca {
                        origin: ca.origin.clone(),
                        message: e.to_string(),
                    })?
            }
            None => {
                Arc::new(rustls_platform_verifier::Verifier::new(provider.clone()).map_err(setup)?)
            }
        };
        match &settings.server_name {
            Some(name) => Arc::new(FixedName {
                name: ServerName::try_from(name.clone())
                    .map_err(|_| TlsError::ServerName { name: name.clone() })?,
                inner,
            }),
            None => inner,
        }
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(setup)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match identity.or(settings.identity.as_ref()) {
        None => Ok(builder.with_no_client_auth()),
        Some(id) => {
            let bad = |pem: &Pem, message: String| TlsError::Identity {
                origin: pem.origin.clone(),
                message,
            };
            let certs = CertificateDer::pem_slice_iter(&id.cert.bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(&id.cert, e.to_string()))?;
            if certs.is_empty() {
                return Err(bad(&id.cert, "no PEM certificate found".into()));
            }
            let key = PrivateKeyDer::from_pem_slice(&id.key.bytes)
                .map_err(|e| bad(&id.key, format!("no usable PEM private key: {e}")))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| bad(&id.cert, e.to_string()))
        }
    }
}

fn roots(ca: &Pem) -> Result<RootCertStore, TlsError> {
    let bad = |message: String| TlsError::Ca {
        origin: ca.origin.clone(),
        message,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&ca.bytes) {
        let cert = cert.map_err(|e| bad(e.to_string()))?;
        roots.add(cert).map_err(|e| bad(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(bad("no PEM certificate found".into()));
    }
    Ok(roots)
}

/// `insecure-skip-tls-verify`: any certificate is accepted, but handshake signatures are still
/// checked so the session is at least bound to the presented key.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `tls-server-name`: verify the certificate for a fixed name instead of the URL's host
/// (clusters reached through an IP or tunnel whose certificate names `kubernetes.default`).
#[derive(Debug)]
struct FixedName {
    name: ServerName<'static>,
    inner: Arc<dyn ServerCertVerifier>,
}

impl ServerCertVerifier for FixedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Throwaway self-signed P-256 test certificates (openssl req -x509), never used elsewhere.
    const CA: &[u8] = include_bytes!("../testdata/ca.pem");
    const CLIENT_CERT: &[u8] = include_bytes!("../testdata/client.pem");
    const CLIENT_KEY: &[u8] = include_bytes!("../testdata/client.key");

    fn pem(origin: &str, bytes: &[u8]) -> Pem {
        Pem {
            origin: origin.into(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn ca_data_builds() {
        let settings = TlsSettings {
            ca: Some(pem("certificate-authority-data of cluster `c`", CA)),
            ..TlsSettings::default()
        };
        client_config(&settings, None).unwrap();
    }

    #[test]
    fn garbage_ca_is_named() {
        let settings = TlsSettings {
            ca: Some(pem("/etc/ca.crt", b"not a certificate")),
            ..TlsSettings::default()
        };
        let msg = client_config(&settings, None).unwrap_err().to_string();
        assert_eq!(
            msg,
            "certificate authority from /etc/ca.crt is unusable: no PEM certificate found"
        );
    }

    #[test]
    fn insecure_and_server_name_build() {
        let insecure = TlsSettings {
            insecure: true,
            ..TlsSettings::default()
        };
        client_config(&insecure, None).unwrap();
        let named = TlsSettings {
            ca: Some(pem("ca", CA)),
            server_name: Some("kubernetes.default".into()),
            ..TlsSettings::default()
        };
        client_config(&named, None).unwrap();
        let bad_name = TlsSettings {
            server_name: Some("not a name!".into()),
            ..named
        };
        assert!(matches!(
            client_config(&bad_name, None),
            Err(TlsError::ServerName { .. })
        ));
    }

    #[test]
    fn client_identity() {
        let settings = TlsSettings {
            insecure: true,
            identity: Some(Identity {
                cert: pem("client-certificate-data of user `u`", CLIENT_CERT),
                key: pem("client-key-data of user `u`", CLIENT_KEY),
            }),
            ..TlsSettings::default()
        };
        client_config(&settings, None).unwrap();

        let swapped = Identity {
            cert: pem("client-certificate-data of user `u`", CLIENT_CERT),
            key: pem("client-key-data of user `u`", b"garbage"),
        };
        let msg = client_config(&settings, Some(&swapped))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("client certificate from client-key-data of user `u` is unusable"),
            "{msg}"
        );

        let mismatched = Identity {
            cert: pem("client-certificate-data of user `u`", CA),
            key: pem("client-key-data of user `u`", CLIENT_KEY),
        };
        assert!(client_config(&settings, Some(&mismatched)).is_err());
    }
}
