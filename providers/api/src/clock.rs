//! Cloud time versus wall time: providers wait in cloud time, and an emulator may run the cloud
//! `clock_scale` times faster than real time. Pure arithmetic; no clock is read here.

use std::time::Duration;

/// The shortest sleep between two polls, whatever the clock scale: a faster emulator is still
/// polled over HTTP, and a busy loop would only slow it down.
pub const MIN_SLEEP: Duration = Duration::from_millis(20);

/// The shortest a wait is bounded to, whatever the clock scale: requests and scheduling take
/// wall time, so on a very fast emulator a bound of a fraction of a second would give up on
/// operations that are merely queued behind others.
pub const MIN_BOUND: Duration = Duration::from_secs(60);

/// Whether `clock_scale` is usable; anything else counts as real time.
fn valid(clock_scale: f64) -> bool {
    clock_scale.is_finite() && clock_scale > 0.0
}

/// The wall time a cloud duration takes when the cloud runs `clock_scale` times faster than
/// real time.
pub fn wall_time(cloud: Duration, clock_scale: f64) -> Duration {
    if valid(clock_scale) {
        cloud.div_f64(clock_scale)
    } else {
        cloud
    }
}

/// The wall time a wait may last for a cloud bound: [`wall_time`], but never under
/// [`MIN_BOUND`] (nor over the cloud bound itself).
pub fn wall_bound(cloud: Duration, clock_scale: f64) -> Duration {
    wall_time(cloud, clock_scale).max(MIN_BOUND.min(cloud))
}

/// The wall time to sleep for a cloud interval: [`wall_time`], at least [`MIN_SLEEP`].
pub fn wall_sleep(cloud: Duration, clock_scale: f64) -> Duration {
    wall_time(cloud, clock_scale).max(MIN_SLEEP)
}

/// The cloud time a wall duration stands for, for progress reports.
pub fn cloud_time(wall: Duration, clock_scale: f64) -> Duration {
    if valid(clock_scale) {
        wall.mul_f64(clock_scale)
    } else {
        wall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_scale_shortens_sleeps_and_bounds_down_to_a_floor() {
        let thirty = Duration::from_secs(30);
        assert_eq!(wall_sleep(thirty, 1.0), thirty);
        assert_eq!(wall_sleep(thirty, 100.0), Duration::from_millis(300));
        assert_eq!(wall_sleep(Duration::from_secs(1), 6000.0), MIN_SLEEP);
        // Bounds shrink with the scale but never below a minute of wall time.
        assert_eq!(wall_bound(Duration::from_secs(1200), 6000.0), MIN_BOUND);
        assert_eq!(
            wall_bound(Duration::from_secs(24_000), 100.0),
            Duration::from_secs(240)
        );
        assert_eq!(wall_bound(thirty, 1.0), thirty);
        assert_eq!(
            wall_time(Duration::from_secs(1200), 6000.0),
            Duration::from_millis(200)
        );
        assert_eq!(wall_time(thirty, 0.0), thirty, "a bad scale is real time");
        assert_eq!(wall_time(thirty, f64::NAN), thirty);
        assert_eq!(
            cloud_time(Duration::from_millis(200), 6000.0),
            Duration::from_secs(1200)
        );
    }
}
