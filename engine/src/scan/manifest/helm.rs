//! Decoding Helm 3 release records stored in the cluster (Secrets of type `helm.sh/release.v1`
//! and ConfigMaps labelled `owner: helm`) into the release's rendered manifest.
//!
//! The payload is base64 of gzip of the release JSON (Secrets add one more base64 layer, the
//! Secret's own `data` encoding). Decoding is bounded in size and must never panic: every failure
//! is a message for the caller to place in the file.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::read::GzDecoder;

/// Largest decompressed release accepted, against gzip bombs.
const MAX_RELEASE_BYTES: u64 = 64 * 1024 * 1024;

/// What the scan needs from a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Release {
    /// Release name.
    pub name: String,
    /// Revision number.
    pub version: u64,
    /// The rendered manifest (multi-document YAML with `# Source:` comments).
    pub manifest: String,
}

/// Which storage driver wrote the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Driver {
    /// `data.release` is base64 (Secret encoding) of the Helm payload.
    Secret,
    /// `data.release` is the Helm payload itself.
    ConfigMap,
}

fn base64(text: &[u8], what: &str) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(compact)
        .map_err(|e| format!("{what} is not valid base64: {e}"))
}

/// Decodes `data.release` as written by `driver`.
pub(super) fn decode(release: &str, driver: Driver) -> Result<Release, String> {
    let mut payload = release.as_bytes().to_vec();
    if driver == Driver::Secret {
        payload = base64(&payload, "the Secret's data.release")?;
    }
    let packed = base64(&payload, "the Helm release payload")?;
    let json = if packed.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(packed.as_slice())
            .take(MAX_RELEASE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| format!("the Helm release payload is not valid gzip: {e}"))?;
        if out.len() as u64 > MAX_RELEASE_BYTES {
            return Err(format!(
                "the Helm release payload expands beyond {MAX_RELEASE_BYTES} bytes"
            ));
        }
        out
    } else {
        // Helm reads an uncompressed payload as plain JSON too.
        packed
    };
    let value: serde_json::Value = serde_json::from_slice(&json)
        .map_err(|e| format!("the Helm release payload is not valid JSON: {e}"))?;
    let manifest = value
        .get("manifest")
        .and_then(serde_json::Value::as_str)
        .ok_or("the Helm release has no manifest")?;
    Ok(Release {
        name: value
            .get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
            .to_owned(),
        version: value
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        manifest: manifest.to_owned(),
    })
}

/// Encodes a release the way Helm's drivers store it (for tests and fixtures).
#[cfg(test)]
pub(super) fn encode(name: &str, version: u64, manifest: &str, driver: Driver) -> String {
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    let json = serde_json::json!({"name": name, "version": version, "manifest": manifest});
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(json.to_string().as_bytes())
        .expect("write to memory");
    let payload = STANDARD.encode(gz.finish().expect("finish in memory"));
    match driver {
        Driver::Secret => STANDARD.encode(payload),
        Driver::ConfigMap => payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_drivers() {
        for driver in [Driver::Secret, Driver::ConfigMap] {
            let data = encode("web", 3, "kind: X\n", driver);
            let release = decode(&data, driver).expect("decodes");
            assert_eq!(release.name, "web");
            assert_eq!(release.version, 3);
            assert_eq!(release.manifest, "kind: X\n");
        }
    }

    #[test]
    fn uncompressed_json_is_accepted() {
        let data = STANDARD.encode(r#"{"name":"a","version":1,"manifest":"m"}"#);
        assert_eq!(
            decode(&data, Driver::ConfigMap).expect("decodes").manifest,
            "m"
        );
    }

    #[test]
    fn each_layer_reports_its_failure() {
        let err = decode("!!!", Driver::Secret).unwrap_err();
        assert!(
            err.contains("Secret's data.release is not valid base64"),
            "{err}"
        );
        let err = decode(&STANDARD.encode("@@@"), Driver::Secret).unwrap_err();
        assert!(err.contains("payload is not valid base64"), "{err}");
        let not_gzip = STANDARD.encode([0x1f, 0x8b, 0, 1, 2]);
        let err = decode(&not_gzip, Driver::ConfigMap).unwrap_err();
        assert!(err.contains("gzip"), "{err}");
        let err = decode(&STANDARD.encode("{}"), Driver::ConfigMap).unwrap_err();
        assert!(err.contains("no manifest"), "{err}");
        let err = decode(&STANDARD.encode("nope"), Driver::ConfigMap).unwrap_err();
        assert!(err.contains("JSON"), "{err}");
    }
}
