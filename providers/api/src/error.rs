//! Errors a provider reports, with the resource, operation, cloud error code and message.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Address;

/// How the engine should treat a provider error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// Throttled by the cloud; retried after backoff, never surfaced while retries remain.
    Throttled,
    /// A transient failure (5xx, timeout, eventual consistency); retried.
    Transient,
    /// The object does not exist.
    NotFound,
    /// The object exists or is in use in a way that blocks the call.
    Conflict,
    /// No usable credentials.
    Credentials,
    /// The request is wrong or the cloud refused it for good.
    Fatal,
}

impl ErrorClass {
    /// Whether retrying the same call can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Throttled | ErrorClass::Transient)
    }
}

/// An error from a provider call, naming what failed and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub struct ProviderError {
    /// The resource the call was for, when there is one (boxed to keep `Result`s small).
    pub address: Option<Box<Address>>,
    /// The cloud operation, e.g. `CreateNodegroup` or `PUT managedClusters`.
    pub operation: String,
    /// The cloud's error code, e.g. `ResourceInUseException`.
    pub code: String,
    /// The cloud's message, verbatim.
    pub message: String,
    /// How to treat it.
    pub class: ErrorClass,
}

impl ProviderError {
    /// Builds an error without an address; see [`ProviderError::at`].
    pub fn new(
        class: ErrorClass,
        operation: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            address: None,
            operation: operation.into(),
            code: code.into(),
            message: message.into(),
            class,
        }
    }

    /// Attaches the resource address.
    pub fn at(mut self, address: &Address) -> Self {
        self.address = Some(Box::new(address.clone()));
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(a) = &self.address {
            write!(f, "{a}: ")?;
        }
        write!(
            f,
            "{} failed: {}: {}",
            self.operation, self.code, self.message
        )
    }
}
