//! Classification of AWS SDK errors into [`ProviderError`]s: the AWS operation, the AWS error
//! code, the message verbatim, and how the engine should treat it.
//!
//! It must never retry or sleep: it only names and classifies. Which codes are retryable is
//! decided here and nowhere else, so the engine and the waits agree.

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use slipway_provider::{ErrorClass, ProviderError};

/// Codes AWS services use when a caller exceeds a request rate.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "EC2ThrottledException",
    "PriorRequestNotComplete",
    "SlowDown",
];

/// Codes of server-side failures worth retrying.
const TRANSIENT: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServerException",
    "ServiceFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "ConcurrentModification",
    "ConcurrentModificationException",
    "IncorrectState",
];

/// Codes of objects that do not exist.
const NOT_FOUND: &[&str] = &[
    "NoSuchEntity",
    "NotFoundException",
    "ResourceNotFoundException",
    "NatGatewayNotFound",
];

/// Codes of objects that exist or are in use in a way that blocks the call.
const CONFLICT: &[&str] = &[
    "DependencyViolation",
    "ResourceInUseException",
    "DeleteConflict",
    "EntityAlreadyExists",
    "ResourceAlreadyExists",
    "ResourceExistsException",
    "InvalidGroup.Duplicate",
    "InvalidPermission.Duplicate",
    "RouteAlreadyExists",
    "Resource.AlreadyAssociated",
    "InvalidVpcEndpoint.Duplicate",
];

/// Codes of missing, invalid or expired credentials.
const CREDENTIALS: &[&str] = &[
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
    "IncompleteSignature",
];

/// Messages of IAM eventual consistency: a role or OIDC provider created seconds ago that
/// EKS or IAM cannot see yet. Retrying succeeds once IAM has propagated it.
const PROPAGATING: &[&str] = &[
    "could not be assumed",
    "cannot be assumed",
    "Invalid principal in policy",
    "role does not exist",
];

/// The class of an AWS error code, with its HTTP status and message for the cases the code
/// alone does not decide.
pub(crate) fn classify(code: &str, status: Option<u16>, message: &str) -> ErrorClass {
    if THROTTLING.contains(&code) {
        ErrorClass::Throttled
    } else if PROPAGATING.iter().any(|m| message.contains(m)) {
        ErrorClass::Transient
    } else if NOT_FOUND.contains(&code) || code.ends_with(".NotFound") {
        ErrorClass::NotFound
    } else if CONFLICT.contains(&code) {
        ErrorClass::Conflict
    } else if CREDENTIALS.contains(&code) {
        ErrorClass::Credentials
    } else if TRANSIENT.contains(&code) || status.is_some_and(|s| s >= 500) {
        ErrorClass::Transient
    } else if status == Some(429) {
        ErrorClass::Throttled
    } else {
        ErrorClass::Fatal
    }
}

/// Converts an SDK error of `operation` into a [`ProviderError`] (without an address).
pub(crate) fn sdk<E>(operation: &str, err: SdkError<E, HttpResponse>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match &err {
        SdkError::ServiceError(_) => {
            let code = err.code().unwrap_or("Unknown").to_owned();
            let message = err
                .message()
                .map_or_else(|| DisplayErrorContext(&err).to_string(), str::to_owned);
            let class = classify(&code, status, &message);
            ProviderError::new(class, operation, code, message)
        }
        SdkError::TimeoutError(_) => ProviderError::new(
            ErrorClass::Transient,
            operation,
            "Timeout",
            DisplayErrorContext(&err).to_string(),
        ),
        SdkError::DispatchFailure(d) => {
            let message = DisplayErrorContext(&err).to_string();
            // Credential resolution failures surface as dispatch failures of the identity
            // resolver; everything else here is the network.
            if message.contains("credentials") && !d.is_io() && !d.is_timeout() {
                ProviderError::new(ErrorClass::Credentials, operation, "NoCredentials", message)
            } else {
                ProviderError::new(ErrorClass::Transient, operation, "Dispatch", message)
            }
        }
        SdkError::ResponseError(_) => ProviderError::new(
            if status.is_some_and(|s| s >= 500) {
                ErrorClass::Transient
            } else {
                ErrorClass::Fatal
            },
            operation,
            format!("HTTP{}", status.unwrap_or(0)),
            DisplayErrorContext(&err).to_string(),
        ),
        _ => ProviderError::new(
            ErrorClass::Fatal,
            operation,
            "Request",
            DisplayErrorContext(&err).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_classes_the_engine_retries_or_reports() {
        assert_eq!(
            classify("RequestLimitExceeded", Some(503), ""),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify("ThrottlingException", Some(400), ""),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify("InternalError", Some(500), ""),
            ErrorClass::Transient
        );
        assert_eq!(classify("Whatever", Some(502), ""), ErrorClass::Transient);
        assert_eq!(
            classify("InvalidVpcID.NotFound", Some(400), ""),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify("NoSuchEntity", Some(404), ""),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify("DependencyViolation", Some(400), ""),
            ErrorClass::Conflict
        );
        assert_eq!(
            classify("DeleteConflict", Some(409), ""),
            ErrorClass::Conflict
        );
        assert_eq!(
            classify("AuthFailure", Some(401), ""),
            ErrorClass::Credentials
        );
        assert_eq!(
            classify("InvalidParameterValue", Some(400), ""),
            ErrorClass::Fatal
        );
    }

    #[test]
    fn iam_propagation_delays_are_transient() {
        let message = "Role with arn: arn:aws:iam::1:role/x, could not be assumed because it \
                       does not exist or the trusted entity is not correct";
        assert_eq!(
            classify("InvalidParameterException", Some(400), message),
            ErrorClass::Transient
        );
        assert_eq!(
            classify(
                "MalformedPolicyDocument",
                Some(400),
                "Invalid principal in policy: x"
            ),
            ErrorClass::Transient
        );
    }
}
