//! Small deterministic helpers: the seeded mixer behind ids, jitter and fault draws, glob
//! matching for EC2 filters and fault patterns, and time formatting.
//!
//! Nothing here may read a random source or depend on anything but its inputs (and, for
//! `now_ms`, the wall clock), so a seeded emulator replays exactly.

use std::time::{SystemTime, UNIX_EPOCH};

/// SplitMix64: a fast, well-mixed 64-bit hash of `x`.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hashes a string with a seed (FNV-1a folded through [`mix`]).
pub(crate) fn hash_str(seed: u64, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ mix(seed);
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// A uniform draw in `[0, 1)` from a 64-bit hash.
pub(crate) fn unit(x: u64) -> f64 {
    // 53 significant bits, exactly representable.
    #[allow(clippy::cast_precision_loss)]
    let v = (x >> 11) as f64;
    v / (1u64 << 53) as f64
}

/// `n` lowercase hex digits drawn from `state` (advanced as it is consumed).
pub(crate) fn hex_digits(state: u64, n: usize) -> String {
    let mut out = String::with_capacity(n);
    let mut x = state;
    while out.len() < n {
        x = mix(x);
        out.push_str(&format!("{x:016x}"));
    }
    out.truncate(n);
    out
}

/// A UUID-shaped string drawn from `state`.
pub(crate) fn uuid(state: u64) -> String {
    let h = hex_digits(state, 32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Matches `text` against a glob where `*` is any run and `?` any one character.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Milliseconds since the Unix epoch, from the wall clock (persisted timestamps must survive
/// restarts, so a monotonic clock will not do).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// ISO 8601 UTC with milliseconds, as EC2 and IAM print timestamps.
pub(crate) fn iso8601(ms: u64) -> String {
    let ts = i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    ts.strftime("%Y-%m-%dT%H:%M:%S.%3fZ").to_string()
}

/// Seconds since the epoch as a JSON number, as REST-JSON services print timestamps.
pub(crate) fn epoch_seconds(ms: u64) -> serde_json::Value {
    #[allow(clippy::cast_precision_loss)]
    let secs = ms as f64 / 1000.0;
    serde_json::json!(secs)
}

/// Today's date (UTC) as `YYYY-MM-DD`, for the version calendar.
pub(crate) fn today(ms: u64) -> String {
    iso8601(ms)[..10].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_and_question_marks() {
        assert!(glob("gpu-*", "gpu-a"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(glob("*-prod-*", "x-prod-y"));
        assert!(!glob("gpu-*", "cpu-a"));
        assert!(!glob("a?c", "ac"));
    }

    #[test]
    fn ids_are_deterministic_and_shaped() {
        assert_eq!(hex_digits(7, 17), hex_digits(7, 17));
        assert_ne!(hex_digits(7, 17), hex_digits(8, 17));
        assert_eq!(hex_digits(1, 17).len(), 17);
        let u = uuid(3);
        assert_eq!(u.len(), 36);
        assert_eq!(u.split('-').count(), 5);
        assert!((0.0..1.0).contains(&unit(mix(5))));
    }

    #[test]
    fn timestamps_print_in_aws_formats() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(today(86_400_000), "1970-01-02");
    }
}
