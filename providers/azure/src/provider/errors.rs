//! Classification of ARM errors into [`ProviderError`]s: the operation (`PUT managedClusters`),
//! ARM's error code, its message verbatim, and how the engine should treat it.
//!
//! It must never retry or sleep: it only names and classifies. Which codes are retryable is
//! decided here and nowhere else, so the engine, the poller and the bounded retries agree.

use serde::Deserialize;
use slipway_provider::{ErrorClass, ProviderError};

/// ARM's error body: `{"error": {"code", "message"}}`, or the bare inner object some resource
/// providers send.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ArmErrorBody {
    /// The wrapped form.
    #[serde(default)]
    pub error: Option<ArmErrorDetail>,
    /// The bare form's code.
    #[serde(default)]
    pub code: Option<String>,
    /// The bare form's message.
    #[serde(default)]
    pub message: Option<String>,
}

/// One ARM error.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ArmErrorDetail {
    /// The error code, e.g. `AnotherOperationInProgress` (some services send a number).
    #[serde(default, deserialize_with = "code_text")]
    pub code: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: Option<String>,
}

/// A code as text, whether ARM sent a string or a number.
fn code_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    })
}

impl ArmErrorBody {
    /// The code and message, from whichever form the body has.
    pub fn code_and_message(self) -> (Option<String>, Option<String>) {
        match self.error {
            Some(e) => (e.code, e.message),
            None => (self.code, self.message),
        }
    }
}

/// Codes of a caller over ARM's request rate.
const THROTTLING: &[&str] = &[
    "TooManyRequests",
    "Throttled",
    "SubscriptionRequestsThrottled",
];

/// Codes of server-side failures and eventual consistency worth retrying. `PrincipalNotFound`
/// is a just-created identity that Entra ID has not replicated yet.
const TRANSIENT: &[&str] = &[
    "InternalServerError",
    "ServiceUnavailable",
    "GatewayTimeout",
    "RetryableError",
    "PrincipalNotFound",
    "PrincipalNotFoundInDirectory",
];

/// Codes of missing objects.
const NOT_FOUND: &[&str] = &[
    "NotFound",
    "ResourceNotFound",
    "ResourceGroupNotFound",
    "ParentResourceNotFound",
    "SubscriptionNotFound",
];

/// Codes of objects busy or in use in a way that blocks the call.
const CONFLICT: &[&str] = &[
    "Conflict",
    "OperationNotAllowed",
    "AnotherOperationInProgress",
    "OperationPreempted",
    "RetryableErrorDueToAnotherOperation",
    "ResourceGroupBeingDeleted",
    "CannotDeleteResource",
];

/// Codes of missing, invalid or expired credentials.
const CREDENTIALS: &[&str] = &[
    "AuthenticationFailed",
    "InvalidAuthenticationToken",
    "InvalidAuthenticationTokenTenant",
    "ExpiredAuthenticationToken",
];

/// The class of an ARM error code with its HTTP status (absent for async-operation failures).
pub(crate) fn classify(code: &str, status: Option<u16>) -> ErrorClass {
    if THROTTLING.contains(&code) || status == Some(429) {
        ErrorClass::Throttled
    } else if TRANSIENT.contains(&code) {
        ErrorClass::Transient
    } else if CREDENTIALS.contains(&code) || status == Some(401) {
        ErrorClass::Credentials
    } else if NOT_FOUND.contains(&code) || status == Some(404) {
        ErrorClass::NotFound
    } else if CONFLICT.contains(&code) || code.starts_with("InUse") || status == Some(409) {
        ErrorClass::Conflict
    } else if status.is_some_and(|s| s >= 500) {
        ErrorClass::Transient
    } else {
        ErrorClass::Fatal
    }
}

/// The error of an ARM response with status `status` and body `body`.
pub(crate) fn from_response(operation: &str, status: u16, body: &[u8]) -> ProviderError {
    let parsed: ArmErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let (code, message) = parsed.code_and_message();
    let code = code.unwrap_or_else(|| format!("HTTP{status}"));
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        if text.trim().is_empty() {
            format!("HTTP status {status}")
        } else {
            text.chars().take(500).collect()
        }
    });
    ProviderError::new(classify(&code, Some(status)), operation, code, message)
}

/// The error of a failed or canceled long-running operation.
pub(crate) fn operation_failed(
    operation: &str,
    status: &str,
    error: Option<ArmErrorDetail>,
) -> ProviderError {
    let error = error.unwrap_or_default();
    let code = error.code.unwrap_or_else(|| status.to_owned());
    let message = error
        .message
        .unwrap_or_else(|| format!("the operation ended `{status}`"));
    let class = match classify(&code, None) {
        // A failed operation is not a missing object; retrying the whole call may succeed.
        ErrorClass::NotFound => ErrorClass::Fatal,
        other => other,
    };
    ProviderError::new(class, operation, code, message)
}

/// The error of an HTTP call that got no response.
pub(crate) fn transport(operation: &str, err: &azure_core::Error) -> ProviderError {
    use azure_core::error::ErrorKind;
    let (class, code) = match err.kind() {
        ErrorKind::Credential => (ErrorClass::Credentials, "NoCredentials"),
        ErrorKind::Io => (ErrorClass::Transient, "Dispatch"),
        ErrorKind::HttpResponse { status, .. } if u16::from(*status) >= 500 => {
            (ErrorClass::Transient, "Dispatch")
        }
        _ => (ErrorClass::Fatal, "Request"),
    };
    ProviderError::new(class, operation, code, format!("{err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_map_to_the_classes_the_engine_retries_or_reports() {
        assert_eq!(classify("Whatever", Some(429)), ErrorClass::Throttled);
        assert_eq!(
            classify("InternalServerError", Some(500)),
            ErrorClass::Transient
        );
        assert_eq!(classify("Whatever", Some(503)), ErrorClass::Transient);
        assert_eq!(
            classify("ResourceNotFound", Some(404)),
            ErrorClass::NotFound
        );
        assert_eq!(classify("Whatever", Some(404)), ErrorClass::NotFound);
        assert_eq!(
            classify("AnotherOperationInProgress", Some(409)),
            ErrorClass::Conflict
        );
        assert_eq!(
            classify("OperationNotAllowed", Some(400)),
            ErrorClass::Conflict
        );
        assert_eq!(
            classify("InUseSubnetCannotBeDeleted", Some(400)),
            ErrorClass::Conflict
        );
        assert_eq!(
            classify("PrincipalNotFound", Some(400)),
            ErrorClass::Transient
        );
        assert_eq!(
            classify("InvalidAuthenticationToken", Some(401)),
            ErrorClass::Credentials
        );
        assert_eq!(classify("InvalidParameter", Some(400)), ErrorClass::Fatal);
    }

    #[test]
    fn error_bodies_in_both_forms_give_code_and_message() {
        let e = from_response(
            "PUT managedClusters",
            409,
            br#"{"error":{"code":"AnotherOperationInProgress","message":"busy"}}"#,
        );
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("AnotherOperationInProgress", "busy")
        );
        assert_eq!(e.class, ErrorClass::Conflict);
        let e = from_response("GET x", 400, br#"{"code":"InvalidX","message":"bad"}"#);
        assert_eq!((e.code.as_str(), e.class), ("InvalidX", ErrorClass::Fatal));
        let e = from_response("GET x", 502, b"");
        assert_eq!(
            (e.code.as_str(), e.class),
            ("HTTP502", ErrorClass::Transient)
        );
    }
}
