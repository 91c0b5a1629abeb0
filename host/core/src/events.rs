//! What the state machine says happened: typed [`Event`]s. The daemon carries them on a
//! broadcast channel to the log, the store, notifications and recovery actions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::result::Status;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub check: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
    /// The incident this is about (flapping opens one if none is open).
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
    /// An ok result inside an open incident, short of `resolve_after`: the incident is not
    /// failing at this moment (no reminders, no escalation) but not resolved yet.
    Passing {
        successes: u32,
    },
    Resolved {
        lasted_s: u64,
    },
    /// `changes` ok ↔ failure changes among the last `results` results, `percent` the
    /// weighted state change that crossed `alert.flap_start`.
    FlappingStarted {
        changes: u32,
        percent: u32,
        results: u32,
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
            EventKind::Passing { .. } => "passing",
            EventKind::Resolved { .. } => "resolved",
            EventKind::FlappingStarted { .. } => "flapping-started",
            EventKind::FlappingStopped => "flapping-stopped",
            EventKind::Removed => "removed",
        }
    }
}
