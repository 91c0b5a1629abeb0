//! The `log` and `clock` capabilities. Logging is always granted but capped per run, so a
//! plugin cannot flood the host's log.

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::bindings::picket::plugin::{clock, log};
use super::state::HostState;

/// Lines a single run may log; the rest are counted and reported once.
pub const MAX_LOG_LINES: u32 = 200;
/// Longer lines are cut.
pub const MAX_LOG_LINE: usize = 2048;

impl log::Host for HostState {
    async fn log(&mut self, level: log::Level, message: String) {
        if self.log_lines >= MAX_LOG_LINES {
            self.log_dropped += 1;
            return;
        }
        self.log_lines += 1;
        let msg = picket_core::text::truncate(&message, MAX_LOG_LINE);
        let (check, plugin) = (&*self.run.check, &*self.run.plugin);
        match level {
            log::Level::Trace => tracing::trace!(check, plugin, "{msg}"),
            log::Level::Debug => tracing::debug!(check, plugin, "{msg}"),
            log::Level::Info => tracing::info!(check, plugin, "{msg}"),
            log::Level::Warn => tracing::warn!(check, plugin, "{msg}"),
            log::Level::Error => tracing::error!(check, plugin, "{msg}"),
        }
    }
}

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

impl clock::Host for HostState {
    async fn monotonic_ns(&mut self) -> u64 {
        base().elapsed().as_nanos() as u64
    }
    async fn wall_ms(&mut self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }
}
