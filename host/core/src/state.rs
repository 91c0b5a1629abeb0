//! The per-check state machine: results in, [`Event`]s out. Pure: no clock, no I/O, so
//! every transition is tested directly and the daemon only feeds it.
//!
//! ```text
//!   ok ──failure──▶ pending ──(alert.after failures)──▶ failing ──(resolve_after successes)──▶ ok
//!    ▲                 │ success                          │ warning ↔ critical: severity-changed
//!    └─────────────────┘                                  │ another failure: still-failing
//! ```
//!
//! Flapping (at least `alert.flap_changes` ok↔failure flips within `alert.flap_window`) is a
//! flag on top: while it is set the phase still moves, but incidents neither open nor
//! resolve; when it clears (flips down to half the limit) the open incident is reconciled
//! with the phase. `depends_on` never changes the phase: it marks the incident inhibited.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::events::{Event, EventKind};
use crate::policy::AlertPolicy;
use crate::result::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Ok,
    Pending,
    Failing,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ok => "ok",
            Phase::Pending => "pending",
            Phase::Failing => "failing",
        }
    }
}

/// One check's state; persisted after every result so a restart resumes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckState {
    pub phase: Phase,
    pub flapping: bool,
    /// The last result's status; `None` before the first run.
    pub status: Option<Status>,
    /// The open incident and its severity (the worst status seen lately: warning,
    /// critical or unknown).
    pub incident: Option<u64>,
    pub incident_opened: Option<DateTime<Utc>>,
    pub severity: Option<Status>,
    /// Whether a parent in `depends_on` was pending or failing at the last result.
    pub inhibited: bool,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    /// When the phase last changed.
    pub since: Option<DateTime<Utc>>,
    pub last_run: Option<DateTime<Utc>>,
    pub summary: String,
    pub runs: u64,
    pub failures: u64,
    /// Times of ok↔failure flips inside the flap window.
    pub flips: VecDeque<DateTime<Utc>>,
}

impl Default for CheckState {
    fn default() -> CheckState {
        CheckState {
            phase: Phase::Ok,
            flapping: false,
            status: None,
            incident: None,
            incident_opened: None,
            severity: None,
            inhibited: false,
            consecutive_failures: 0,
            consecutive_successes: 0,
            since: None,
            last_run: None,
            summary: String::new(),
            runs: 0,
            failures: 0,
            flips: VecDeque::new(),
        }
    }
}

/// One result, as the state machine sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub check: &'a str,
    pub status: Status,
    pub summary: &'a str,
    pub at: DateTime<Utc>,
    /// A parent in `depends_on` is pending or failing.
    pub parents_down: bool,
}

impl CheckState {
    /// Whether this check inhibits its dependents.
    pub fn is_down(&self) -> bool {
        self.phase != Phase::Ok
    }

    /// Feeds one result; returns the events it causes. `next_id` numbers new incidents.
    pub fn observe(&mut self, o: Observation<'_>, policy: &AlertPolicy, next_id: &mut dyn FnMut() -> u64) -> Vec<Event> {
        let failed = o.status != Status::Ok;
        let mut events = Vec::new();
        let mut emit = |state: &CheckState, kind: EventKind| {
            events.push(Event {
                check: o.check.to_string(),
                at: o.at,
                kind,
                incident: state.incident,
                severity: state.severity.unwrap_or(o.status),
                summary: o.summary.to_string(),
                failures: state.consecutive_failures,
                inhibited: state.inhibited,
            })
        };

        if self.status.is_some_and(|s| (s != Status::Ok) != failed) {
            self.flips.push_back(o.at);
        }
        let window = chrono::Duration::from_std(policy.flap_window).unwrap_or(chrono::Duration::MAX);
        while self.flips.front().is_some_and(|t| o.at - *t > window) {
            self.flips.pop_front();
        }
        self.status = Some(o.status);
        self.summary = o.summary.to_string();
        self.last_run = Some(o.at);
        self.runs += 1;
        self.inhibited = o.parents_down;
        if failed {
            self.failures += 1;
            self.consecutive_failures += 1;
            self.consecutive_successes = 0;
        } else {
            self.consecutive_successes += 1;
            self.consecutive_failures = 0;
        }

        let flips = self.flips.len() as u32;
        if self.flapping && flips <= policy.flap_changes / 2 {
            self.flapping = false;
            emit(self, EventKind::FlappingStopped);
        } else if !self.flapping && flips >= policy.flap_changes {
            self.flapping = true;
            emit(self, EventKind::FlappingStarted { changes: flips });
        }

        let phase_before = self.phase;
        match (self.phase, failed) {
            (Phase::Ok, true) | (Phase::Pending, true) => {
                self.phase = if self.consecutive_failures >= policy.after { Phase::Failing } else { Phase::Pending };
            }
            (Phase::Pending, false) => self.phase = Phase::Ok,
            (Phase::Failing, false) if self.consecutive_successes >= policy.resolve_after => self.phase = Phase::Ok,
            (Phase::Failing, true) if !self.flapping => match self.severity {
                Some(from) if from != o.status && self.incident.is_some() => {
                    self.severity = Some(o.status);
                    emit(self, EventKind::SeverityChanged { from });
                }
                _ if self.incident.is_some() => emit(self, EventKind::StillFailing { failures: self.consecutive_failures }),
                _ => {}
            },
            _ => {}
        }
        if self.phase != phase_before {
            self.since = Some(o.at);
        }

        // Incidents follow the phase unless flapping holds them where they are.
        if !self.flapping {
            if self.phase == Phase::Failing && self.incident.is_none() {
                self.incident = Some(next_id());
                self.incident_opened = Some(o.at);
                self.severity = Some(if failed { o.status } else { Status::Critical });
                emit(self, EventKind::IncidentOpened);
            } else if self.phase != Phase::Failing && self.incident.is_some() {
                let lasted = self.incident_opened.map(|t| (o.at - t).num_seconds().max(0) as u64).unwrap_or(0);
                emit(self, EventKind::Resolved { lasted_s: lasted });
                self.incident = None;
                self.incident_opened = None;
                self.severity = None;
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    struct Run {
        state: CheckState,
        policy: AlertPolicy,
        t: DateTime<Utc>,
        ids: u64,
        parents_down: bool,
    }

    impl Run {
        fn new(after: u32, resolve_after: u32) -> Run {
            Run {
                state: CheckState::default(),
                policy: AlertPolicy { after, resolve_after, ..AlertPolicy::default() },
                t: Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap(),
                ids: 0,
                parents_down: false,
            }
        }

        /// Feeds one status 30 s after the previous; returns the event kinds as text.
        fn feed(&mut self, status: Status) -> Vec<String> {
            self.t += chrono::Duration::seconds(30);
            let obs = Observation { check: "c", status, summary: "s", at: self.t, parents_down: self.parents_down };
            let ids = &mut self.ids;
            let events = self.state.observe(obs, &self.policy, &mut || {
                *ids += 1;
                *ids
            });
            events.iter().map(|e| e.kind.name().to_string()).collect()
        }
    }

    use Status::{Critical, Ok as Up, Warning};

    #[test]
    fn pending_then_failing_then_resolved() {
        let mut r = Run::new(2, 2);
        assert!(r.feed(Up).is_empty());
        assert!(r.feed(Critical).is_empty());
        assert_eq!(r.state.phase, Phase::Pending);
        assert_eq!(r.feed(Critical), ["incident-opened"]);
        assert_eq!((r.state.phase, r.state.incident, r.state.severity), (Phase::Failing, Some(1), Some(Critical)));
        assert_eq!(r.feed(Critical), ["still-failing"]);
        assert!(r.feed(Up).is_empty(), "one success is not enough to resolve");
        assert_eq!(r.state.phase, Phase::Failing);
        assert_eq!(r.feed(Up), ["resolved"]);
        assert_eq!((r.state.phase, r.state.incident), (Phase::Ok, None));
        // The next incident gets a new id.
        r.feed(Critical);
        assert_eq!(r.feed(Critical), ["incident-opened"]);
        assert_eq!(r.state.incident, Some(2));
    }

    #[test]
    fn a_blip_never_opens_an_incident() {
        let mut r = Run::new(3, 1);
        r.feed(Critical);
        r.feed(Critical);
        assert_eq!(r.state.phase, Phase::Pending);
        assert!(r.feed(Up).is_empty());
        assert_eq!(r.state.phase, Phase::Ok);
        assert_eq!(r.state.consecutive_failures, 0);
        assert_eq!(r.ids, 0);
    }

    #[test]
    fn after_one_opens_at_once_and_severity_changes_are_events() {
        let mut r = Run::new(1, 1);
        assert_eq!(r.feed(Warning), ["incident-opened"]);
        assert_eq!(r.state.severity, Some(Warning));
        assert_eq!(r.feed(Critical), ["severity-changed"]);
        assert_eq!(r.feed(Critical), ["still-failing"]);
        assert_eq!(r.feed(Warning), ["severity-changed"]);
        assert_eq!(r.state.severity, Some(Warning));
        assert_eq!(r.feed(Up), ["resolved"]);
    }

    #[test]
    fn inhibition_marks_the_incident_but_keeps_the_phase() {
        let mut r = Run::new(1, 1);
        r.parents_down = true;
        r.feed(Critical);
        assert!(r.state.inhibited);
        assert_eq!(r.state.phase, Phase::Failing);
        r.parents_down = false;
        r.feed(Critical);
        assert!(!r.state.inhibited, "once the parent is back, the incident is this check's own");
    }

    #[test]
    fn flapping_is_one_event_not_a_stream_of_incidents() {
        let mut r = Run::new(1, 1);
        r.policy.flap_changes = 4;
        let mut all = Vec::new();
        for i in 0..20 {
            all.extend(r.feed(if i % 2 == 0 { Critical } else { Up }));
        }
        assert!(r.state.flapping);
        let count = |k: &str| all.iter().filter(|e| *e == k).count();
        assert_eq!(count("flapping-started"), 1);
        // Before flapping was detected: opened at flip 0, resolved at 1, opened at 2.
        assert!(count("incident-opened") <= 2, "{all:?}");
        // Steady again: flips age out of the window, flapping stops, the incident resolves.
        let mut tail = Vec::new();
        for _ in 0..80 {
            tail.extend(r.feed(Up));
        }
        assert!(!r.state.flapping);
        assert!(tail.contains(&"flapping-stopped".to_string()), "{tail:?}");
        assert_eq!(r.state.incident, None);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut r = Run::new(2, 2);
        r.feed(Critical);
        r.feed(Critical);
        let json = serde_json::to_string(&r.state).unwrap();
        let back: CheckState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r.state);
    }
}
