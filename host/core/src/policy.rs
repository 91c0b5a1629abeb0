//! Alerting and forecast settings as plain data: what `config` reads from a check file and
//! the state machine and forecasts act on.

use std::time::Duration;

/// When an incident opens and closes, and when a check counts as flapping.
///
/// Flapping is Nagios' percent state change with hysteresis: over the last `flap_history`
/// transitions between results (ok ↔ failure), each change weighs from 0.8 (oldest) to
/// 1.2 (newest); the weighted sum over `flap_history` is the percentage. A check starts
/// flapping at `flap_start` percent or more and stops at `flap_stop` or less, so a check
/// that steadies stops flapping within `flap_history` runs at the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// Consecutive failures before an incident opens (the first one makes the check pending).
    pub after: u32,
    /// Consecutive successes before an open incident resolves.
    pub resolve_after: u32,
    /// Transitions looked at (so `flap_history + 1` results); 0 turns detection off.
    pub flap_history: u32,
    /// Percent state change at which a check starts flapping.
    pub flap_start: u8,
    /// Percent state change at which it stops; below `flap_start`, so it does not toggle.
    pub flap_stop: u8,
}

impl Default for AlertPolicy {
    fn default() -> AlertPolicy {
        // One bad result in a row is a blip; the seed runbooks page on the second. Ten
        // transitions: five flips in a row start flapping; a steady check stops within
        // ten runs (five minutes at a 30 s interval), not a half-hour window.
        AlertPolicy { after: 2, resolve_after: 2, flap_history: 10, flap_start: 50, flap_stop: 25 }
    }
}

impl AlertPolicy {
    /// The weighted percent state change of `history` (oldest first: whether each result
    /// failed), over the last `flap_history` transitions.
    pub fn state_change_percent(&self, history: &std::collections::VecDeque<bool>) -> f64 {
        let n = self.flap_history as usize;
        if n == 0 || history.len() < 2 {
            return 0.0;
        }
        let pairs = (history.len() - 1).min(n);
        let skip = history.len() - 1 - pairs;
        let mut sum = 0.0;
        for i in 0..pairs {
            if history[skip + i] != history[skip + i + 1] {
                // Position among the `n` possible transitions, the newest at n - 1.
                let pos = n - pairs + i;
                sum += if n == 1 { 1.0 } else { 0.8 + 0.4 * pos as f64 / (n - 1) as f64 };
            }
        }
        100.0 * sum / n as f64
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
