//! Alerting and forecast settings as plain data: what `config` reads from a check file and
//! the state machine and forecasts act on.

use std::time::Duration;

/// When an incident opens and closes, and when a check counts as flapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// Consecutive failures before an incident opens (the first one makes the check pending).
    pub after: u32,
    /// Consecutive successes before an open incident resolves.
    pub resolve_after: u32,
    /// This many ok↔failing flips within `flap_window` make a check flapping.
    pub flap_changes: u32,
    pub flap_window: Duration,
}

impl Default for AlertPolicy {
    fn default() -> AlertPolicy {
        // One bad result in a row is a blip; the seed runbooks page on the second.
        AlertPolicy { after: 2, resolve_after: 2, flap_changes: 6, flap_window: Duration::from_secs(30 * 60) }
    }
}

/// A derived metric: when `metric`'s least-squares trend over `window` reaches `reaches`.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastSpec {
    /// The derived metric's name, e.g. `days_until_full`; its unit is days.
    pub name: String,
    pub metric: String,
    /// The limit, in the metric's own unit.
    pub reaches: f64,
    pub reaches_text: String,
    pub window: Duration,
}
