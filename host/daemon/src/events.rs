//! The daemon's event channel and its log sink; the [`Event`] types are the core's.

use tokio::sync::broadcast;

pub use picket_core::events::*;

/// The channel's capacity: a subscriber that falls this far behind is told how many it
/// missed (broadcast semantics) rather than slowing the checks down.
pub const CAPACITY: usize = 16 * 1024;

pub fn channel() -> broadcast::Sender<Event> {
    broadcast::channel(CAPACITY).0
}

/// Prints every event to the log until the channel closes. "Still failing" is at debug
/// level: it arrives on every failing run.
pub async fn log_sink(mut rx: broadcast::Receiver<Event>) {
    loop {
        match rx.recv().await {
            Ok(e) => {
                let incident = e.incident.unwrap_or(0);
                match &e.kind {
                    EventKind::StillFailing { failures } => tracing::debug!(
                        check = %e.check, incident, severity = %e.severity, failures, inhibited = e.inhibited, "still failing: {}", e.summary
                    ),
                    EventKind::Resolved { lasted_s } => tracing::info!(
                        check = %e.check, incident, lasted_s, "resolved: {}", e.summary
                    ),
                    EventKind::FlappingStarted { changes, percent, results } => tracing::warn!(
                        check = %e.check, incident, changes, percent, results, "flapping: {}", e.summary
                    ),
                    EventKind::Passing { successes } => tracing::debug!(
                        check = %e.check, incident, successes, "passing, not resolved yet: {}", e.summary
                    ),
                    kind => tracing::warn!(
                        check = %e.check, incident, severity = %e.severity, inhibited = e.inhibited, event = kind.name(), "{}", e.summary
                    ),
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(missed = n, "event log fell behind"),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
