//! The core's schedules on tokio's clock: the daemon's [`Clock`] is taken from
//! `tokio::time::Instant`, so paused-time tests drive cron too.

pub use picket_core::schedule::*;

/// A clock mapping tokio's current `Instant` (paused in tests) to the wall time now.
pub fn clock_now() -> Clock {
    Clock::new(tokio::time::Instant::now().into_std(), chrono::Utc::now())
}
