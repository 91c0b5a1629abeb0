//! The per-check state machine: results in, [`Event`]s out. Pure: no clock, no I/O, so
//! every transition is tested directly and the daemon only feeds it.
//!
//! ```text
//!   ok ──failure──▶ pending ──(alert.after failures)──▶ failing ──(resolve_after successes)──▶ ok
//!    ▲                 │ success                          │ warning ↔ critical: severity-changed
//!    └─────────────────┘                                  │ another failure: still-failing
//!                                                         │ a success short of resolving: passing
//! ```
//!
//! Flapping (the weighted percent of ok ↔ failure changes over the last results reaches
//! `alert.flap_start`; see [`AlertPolicy`]) is a flag on top. Entering it opens an incident
//! if none is open and says so once (`flapping-started`); while it is set the phase still
//! moves but the incident neither resolves nor reports each result. It ends at
//! `alert.flap_stop` (`flapping-stopped`): then the incident resolves if the check has
//! had `resolve_after` successes, else it goes on as an ordinary failing incident.
//! `depends_on` never changes the phase: it marks the incident inhibited.

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
    /// Whether each of the last `flap_history + 1` results failed, oldest first.
    #[serde(default)]
    pub history: VecDeque<bool>,
    /// The weighted percent state change over `history` (see [`AlertPolicy`]).
    #[serde(default)]
    pub flap_percent: f64,
    /// The status of the latest failing result: a flapping incident's severity.
    #[serde(default)]
    pub last_failure: Option<Status>,
    /// When the current run of failures began (the first of `consecutive_failures`).
    #[serde(default)]
    pub failing_since: Option<DateTime<Utc>>,
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
            history: VecDeque::new(),
            flap_percent: 0.0,
            last_failure: None,
            failing_since: None,
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

    /// Whether the incident is failing at this moment, as reminders and escalations need
    /// it: the phase is failing, the latest result failed, and neither flapping nor a
    /// parent's outage explains it.
    pub fn failing_now(&self) -> bool {
        self.phase == Phase::Failing && self.status.is_some_and(|s| s != Status::Ok) && !self.flapping && !self.inhibited
    }

    /// ok ↔ failure changes among the results in `history`.
    pub fn flap_changes(&self) -> u32 {
        self.history.iter().zip(self.history.iter().skip(1)).filter(|(a, b)| a != b).count() as u32
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

        if policy.flap_history == 0 {
            self.history.clear();
        } else {
            self.history.push_back(failed);
            while self.history.len() > policy.flap_history as usize + 1 {
                self.history.pop_front();
            }
        }
        self.flap_percent = policy.state_change_percent(&self.history);
        self.status = Some(o.status);
        self.summary = o.summary.to_string();
        self.last_run = Some(o.at);
        self.runs += 1;
        self.inhibited = o.parents_down;
        if failed {
            self.failures += 1;
            self.consecutive_failures += 1;
            self.consecutive_successes = 0;
            self.last_failure = Some(o.status);
            if self.consecutive_failures == 1 {
                self.failing_since = Some(o.at);
            }
        } else {
            self.consecutive_successes += 1;
            self.consecutive_failures = 0;
        }

        let phase_before = self.phase;
        match (self.phase, failed) {
            (Phase::Ok, true) | (Phase::Pending, true) => {
                self.phase = if self.consecutive_failures >= policy.after { Phase::Failing } else { Phase::Pending };
            }
            (Phase::Pending, false) => self.phase = Phase::Ok,
            (Phase::Failing, false) if self.consecutive_successes >= policy.resolve_after => self.phase = Phase::Ok,
            (Phase::Failing, false) if !self.flapping && self.incident.is_some() => {
                emit(self, EventKind::Passing { successes: self.consecutive_successes })
            }
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

        // Hysteresis: start at or above one mark, stop at or below a lower one.
        if !self.flapping && policy.flap_history > 0 && self.flap_percent >= f64::from(policy.flap_start) {
            self.flapping = true;
            if self.incident.is_none() {
                self.incident = Some(next_id());
                self.incident_opened = Some(o.at);
            }
            self.severity = Some(self.severity.or(self.last_failure).unwrap_or(Status::Warning));
            let (percent, results) = (self.flap_percent.round() as u32, self.history.len() as u32);
            emit(self, EventKind::FlappingStarted { changes: self.flap_changes(), percent, results });
        } else if self.flapping && self.flap_percent <= f64::from(policy.flap_stop) {
            self.flapping = false;
            emit(self, EventKind::FlappingStopped);
            // The incident goes on unless the check has been healthy long enough to resolve.
            if self.incident.is_some() {
                self.phase = if !failed && self.consecutive_successes >= policy.resolve_after { Phase::Ok } else { Phase::Failing };
                if failed {
                    self.severity = Some(o.status);
                }
            }
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
        assert_eq!(r.feed(Up), ["passing"], "one success is not enough to resolve");
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
        let mut all = Vec::new();
        for i in 0..20 {
            all.extend(r.feed(if i % 2 == 0 { Critical } else { Up }));
        }
        assert!(r.state.flapping);
        let count = |all: &[String], k: &str| all.iter().filter(|e| *e == k).count();
        assert_eq!(count(&all, "flapping-started"), 1);
        // Before flapping was detected (at 50 %, the sixth result): opened, resolved, …
        assert_eq!(count(&all, "incident-opened"), 3, "{all:?}");
        assert_eq!(count(&all, "resolved"), 2, "{all:?}");
        // Steady again: flapping stops within `flap_history` runs and the incident resolves
        // with it, because the check has had `resolve_after` successes.
        let mut tail = Vec::new();
        let mut runs = 0;
        while r.state.flapping {
            tail.extend(r.feed(Up));
            runs += 1;
        }
        assert!(runs <= r.policy.flap_history, "stopped after {runs} runs");
        assert_eq!(tail.iter().rev().take(2).collect::<Vec<_>>(), ["resolved", "flapping-stopped"], "{tail:?}");
        assert_eq!((r.state.incident, r.state.phase), (None, Phase::Ok));
        assert!(r.feed(Up).is_empty());
    }

    #[test]
    fn flapping_opens_an_incident_when_none_was_open_and_says_how_much() {
        // `after = 2` and alternating: never two failures in a row, so no ordinary incident.
        let mut r = Run::new(2, 2);
        let mut all = Vec::new();
        for i in 0..6 {
            all.extend(r.feed(if i % 2 == 0 { Critical } else { Up }));
        }
        assert_eq!(all, ["flapping-started"]);
        assert_eq!((r.state.incident, r.state.severity), (Some(1), Some(Critical)));
        let ids = &mut r.ids;
        let e = r.state.observe(
            Observation { check: "c", status: Critical, summary: "s", at: r.t, parents_down: false },
            &r.policy,
            &mut || {
                *ids += 1;
                *ids
            },
        );
        assert!(e.is_empty(), "no per-result events while flapping: {e:?}");
        let started = {
            let mut s = CheckState::default();
            let mut events = Vec::new();
            for i in 0..6 {
                events.extend(s.observe(
                    Observation { check: "c", status: if i % 2 == 0 { Critical } else { Up }, summary: "s", at: r.t, parents_down: false },
                    &r.policy,
                    &mut || 9,
                ));
            }
            events.pop().unwrap()
        };
        assert_eq!(started.kind, EventKind::FlappingStarted { changes: 5, percent: 56, results: 6 });
        assert_eq!(started.incident, Some(9));
    }

    #[test]
    fn flapping_that_stops_while_failing_goes_on_as_an_ordinary_incident() {
        let mut r = Run::new(2, 2);
        for i in 0..10 {
            r.feed(if i % 2 == 0 { Critical } else { Up });
        }
        assert!(r.state.flapping);
        let mut tail = Vec::new();
        while r.state.flapping {
            tail.extend(r.feed(Critical));
        }
        assert_eq!(tail, ["flapping-stopped"]);
        assert_eq!((r.state.phase, r.state.incident), (Phase::Failing, Some(1)));
        assert!(r.state.failing_now());
        assert_eq!(r.feed(Critical), ["still-failing"]);
        assert_eq!(r.feed(Up), ["passing"]);
        assert!(!r.state.failing_now(), "the latest result is ok");
        assert_eq!(r.feed(Up), ["resolved"]);
    }

    #[test]
    fn hysteresis_keeps_a_check_flapping_between_the_marks() {
        let mut r = Run::new(1, 1);
        for i in 0..10 {
            r.feed(if i % 2 == 0 { Critical } else { Up });
        }
        assert!(r.state.flapping);
        // Three results of each: a third of the transitions change, between
        // `flap_stop` (25) and `flap_start` (50): still flapping, never toggling.
        let mut all = Vec::new();
        for i in 0..30 {
            all.extend(r.feed(if (i / 3) % 2 == 0 { Critical } else { Up }));
        }
        assert!(r.state.flapping, "{}", r.state.flap_percent);
        assert!(!all.iter().any(|e| e.starts_with("flapping")), "{all:?}");
    }

    #[test]
    fn percent_state_change_weighs_newer_changes_more() {
        let p = AlertPolicy::default();
        let h = |bits: &str| bits.chars().map(|c| c == 'F').collect::<VecDeque<bool>>();
        assert_eq!(p.state_change_percent(&h("OFOFOFOFOFO")), 100.0);
        assert_eq!(p.state_change_percent(&h("OOOOOOOOOOO")), 0.0);
        // One change, newest (weight 1.2) vs oldest (0.8), over 10 transitions.
        assert!((p.state_change_percent(&h("OOOOOOOOOOF")) - 12.0).abs() < 1e-9);
        assert!((p.state_change_percent(&h("FOOOOOOOOOO")) - 8.0).abs() < 1e-9);
        // Only the last `flap_history` transitions count.
        assert_eq!(p.state_change_percent(&h("FOOOOOOOOOOO")), 0.0);
        assert_eq!(AlertPolicy { flap_history: 0, ..p }.state_change_percent(&h("OFOF")), 0.0);
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
