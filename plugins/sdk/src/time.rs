//! Measuring elapsed time with the host's monotonic clock.

use crate::cap::clock;

/// A started timer.
#[derive(Clone, Copy)]
pub struct Stopwatch {
    start_ns: u64,
}

impl Stopwatch {
    pub fn start() -> Self {
        Stopwatch { start_ns: clock::monotonic_ns() }
    }
    pub fn elapsed_secs(&self) -> f64 {
        clock::monotonic_ns().saturating_sub(self.start_ns) as f64 / 1e9
    }
    pub fn elapsed_ms(&self) -> u64 {
        clock::monotonic_ns().saturating_sub(self.start_ns) / 1_000_000
    }
}

/// Formats seconds for summaries: "180µs", "850ms", "1.42s".
pub fn human_secs(secs: f64) -> String {
    if secs < 0.001 {
        format!("{:.0}µs", secs * 1e6)
    } else if secs < 1.0 {
        format!("{:.0}ms", secs * 1000.0)
    } else {
        format!("{secs:.2}s")
    }
}
