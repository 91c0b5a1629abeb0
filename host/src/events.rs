//! What the state machine says happened: typed [`Event`]s on a broadcast channel. The log
//! sink here prints them; notifications and recovery actions subscribe the same way.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::result::Status;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub check: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
    /// The incident this is about; `None` only for flapping events outside an incident.
    pub incident: Option<u64>,
    pub severity: Status,
    /// The result's summary that caused the event (secrets already scrubbed).
    pub summary: String,
    /// Consecutive failures at the time (0 once resolved).
    pub failures: u32,
    /// A parent in `depends_on` is down: notifiers should hold this one back.
    pub inhibited: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum EventKind {
    IncidentOpened,
    SeverityChanged {
        from: Status,
    },
    StillFailing {
        failures: u32,
    },
    Resolved {
        lasted_s: u64,
    },
    FlappingStarted {
        changes: u32,
    },
    FlappingStopped,
    /// The check left the configuration while its incident was open.
    Removed,
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::IncidentOpened => "incident-opened",
            EventKind::SeverityChanged { .. } => "severity-changed",
            EventKind::StillFailing { .. } => "still-failing",
            EventKind::Resolved { .. } => "resolved",
            EventKind::FlappingStarted { .. } => "flapping-started",
            EventKind::FlappingStopped => "flapping-stopped",
            EventKind::Removed => "removed",
        }
    }
}

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
                    EventKind::FlappingStarted { changes } => tracing::warn!(
                        check = %e.check, incident, changes, "flapping: {}", e.summary
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
