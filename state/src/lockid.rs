//! Lock ids: unique per acquisition and hard to guess, so `force_unlock ID` and stale-lock
//! checks can never match a different acquisition. Must never need a dependency or a syscall
//! beyond the clock and the process id.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new 32-hex-digit lock id.
///
/// Time, process id and a process-wide counter make ids unique; each half is hashed with a
/// freshly keyed `RandomState` (std seeds it from the OS), which makes them unpredictable.
pub(crate) fn new_lock_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let half = |salt: u8| RandomState::new().hash_one((salt, nanos, pid, count));
    format!("{:016x}{:016x}", half(0), half(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_and_distinct() {
        let ids: std::collections::BTreeSet<String> = (0..1000).map(|_| new_lock_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
    }
}
