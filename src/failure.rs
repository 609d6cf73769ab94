//! Why a command failed, and the exit code each failure maps to (see `docs/cli.md`).

use slipway_blueprints::Diagnostic;
use slipway_state::LockInfo;

/// Success; for `plan`, also "no changes".
pub const EXIT_OK: u8 = 0;
/// Any error not covered below.
pub const EXIT_ERROR: u8 = 1;
/// `plan` found changes.
pub const EXIT_CHANGES: u8 = 2;
/// The blueprint failed validation or an invariant.
pub const EXIT_INVALID: u8 = 3;
/// Another run holds the state lock.
pub const EXIT_LOCKED: u8 = 4;
/// `scan` found removed APIs or other blocking findings.
pub const EXIT_BLOCKED: u8 = 5;
/// `upgrade` has nothing to do but wait (soak, approval, pause): not a failure.
pub const EXIT_WAITING: u8 = 6;
/// `dr drill` ran but the drill failed (not built, a readiness check failed, or over the RTO).
pub const EXIT_DRILL_FAILED: u8 = 7;

/// A command failure, rendered by [`crate::render::Out::failure`].
#[derive(Debug)]
pub enum Failure {
    /// The blueprint has errors; every diagnostic is reported.
    Invalid(Vec<Diagnostic>),
    /// The state lock is held by another run.
    Locked(LockInfo),
    /// Anything else, with its cause chain.
    Error(miette::Report),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) => EXIT_INVALID,
            Failure::Locked(_) => EXIT_LOCKED,
            Failure::Error(_) => EXIT_ERROR,
        }
    }
}

impl<E> From<E> for Failure
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(e: E) -> Self {
        Failure::Error(miette::Report::new_boxed(Box::new(PlainError(Box::new(e)))))
    }
}

/// Wraps a library error so miette renders its `source()` chain.
#[derive(Debug)]
struct PlainError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for PlainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for PlainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl miette::Diagnostic for PlainError {}

/// Builds a plain error failure from a message.
pub fn error(message: impl std::fmt::Display) -> Failure {
    Failure::Error(miette::miette!("{message}"))
}
