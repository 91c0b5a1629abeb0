//! Recovery actions: when a check's incident opens, run its `recover` action, wait
//! `recheck_after`, re-run the check; again while it still fails, at most `max` times
//! within `within`; then give up loudly.
//!
//! ```toml
//! [[check]]
//! name = "mech-queue"
//! recover = { run = ["systemctl", "restart", "mech-queue"], recheck_after = "30s", max = 3, within = "1h", timeout = "60s" }
//! # or: recover = { http = "http://127.0.0.1:9000/restart", method = "POST", ... }
//! ```
//!
//! [`Budget`] is the pure bookkeeping (what to do on an event); the daemon runs one
//! attempt; the daemon's responder ties them to events, the journal and the scheduler.
//! Failures while an action runs and during `recheck_after` are recorded in history but
//! not fed to the state machine (see `Shared::absorb`), so one outage is not counted twice.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::events::{Event, EventKind};

/// What a recovery does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `run = ["systemctl", "restart", "app"]`, run in `dir` (the check file's directory).
    Run { argv: Vec<String>, dir: PathBuf },
    /// `http = "http://…"`: a request (POST unless `method` says otherwise).
    Http { url: url::Url, method: String, body: Option<String> },
}

impl Action {
    /// How it reads in the API and logs.
    pub fn describe(&self) -> String {
        match self {
            Action::Run { argv, .. } => format!("run {}", shell_words(argv)),
            Action::Http { url, method, .. } => {
                format!("{method} {}://{}{}", url.scheme(), url.host_str().unwrap_or(""), url.path())
            }
        }
    }
}

fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(
            |a| if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "\"'\\$`".contains(c)) { format!("{a:?}") } else { a.clone() },
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// A check's `recover` table.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoverSpec {
    pub action: Action,
    pub recheck_after: Duration,
    pub max: u32,
    pub within: Duration,
    pub timeout: Duration,
    /// `env = { DOCKER_HOST = "unix:///run/user/1000/docker.sock", TOKEN = { env = "T" } }`:
    /// added to the command's environment (as `X-…` headers for `http`).
    pub env: Vec<EnvVar>,
    /// `inherit_env = ["DOCKER_HOST"]`: names passed through from picket's own environment
    /// when the action runs (an unset one is left out).
    pub inherit_env: Vec<String>,
    /// `notify = "after_failure"`: hold the incident's trigger while the action and its
    /// recheck run, and page only if the recheck still fails.
    pub notify: RecoverNotify,
    /// `route = "ops"`, with `after_failure`: a low-priority route told of incidents that
    /// recovery fixed (nobody is paged for them).
    pub route: Option<String>,
}

/// When an incident with a recovery action pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoverNotify {
    /// At once, as any incident (the default).
    #[default]
    Always,
    /// Only if the action did not bring the check back.
    AfterFailure,
}

impl RecoverNotify {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoverNotify::Always => "always",
            RecoverNotify::AfterFailure => "after_failure",
        }
    }
}

/// One `recover.env` entry. `Debug` omits the value: it may be a resolved secret.
#[derive(Clone, PartialEq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    /// Came from `{ env = … }` or `{ file = … }`: scrubbed from the action's output.
    pub secret: bool,
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvVar").field("name", &self.name).field("secret", &self.secret).finish_non_exhaustive()
    }
}

/// What to do about an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Nothing,
    /// Run attempt number `attempt` (1-based, within the budget window).
    Run {
        attempt: u32,
    },
    /// The budget is spent: say so (once per incident). `attempts` were made for this
    /// incident; `why` says what they were and how the last ended, or, when none was made
    /// (spent by earlier incidents), how many ran in the window and when the next may.
    GiveUp {
        attempts: u32,
        why: String,
    },
}

/// A check's budget as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BudgetView {
    /// Attempts started inside the `within` window.
    pub used: u32,
    pub max: u32,
    /// When the window frees the next attempt, if it is spent.
    pub next_allowed: Option<DateTime<Utc>>,
    /// How the latest attempt ended (`exit 1: …`).
    pub last_outcome: Option<String>,
}

#[derive(Debug, Default, Clone)]
struct CheckBudget {
    /// Start times of attempts inside the window.
    attempts: VecDeque<DateTime<Utc>>,
    running: bool,
    /// While an attempt runs: when its timeout plus recheck are over at the latest.
    running_until: Option<DateTime<Utc>>,
    grace_until: Option<DateTime<Utc>>,
    /// The incident recovery gave up on.
    gave_up: Option<u64>,
    /// Attempts made for the current incident.
    incident: Option<(u64, u32)>,
    /// How the latest attempt ended, for "gave up" and the API.
    last_outcome: Option<String>,
    /// The `recover` these attempts were made with: a reload that changes it starts afresh.
    spec: Option<RecoverSpec>,
}

impl CheckBudget {
    /// A whole budget again; an attempt still running keeps its grace.
    fn forget_attempts(&mut self) {
        *self = CheckBudget {
            running: self.running,
            running_until: self.running_until,
            grace_until: self.grace_until,
            ..CheckBudget::default()
        };
    }
}

/// Attempts per check, across incidents (a service that dies every few minutes must not be
/// restarted forever).
#[derive(Debug, Default)]
pub struct Budget {
    checks: HashMap<String, CheckBudget>,
}

impl Budget {
    /// Seeds the window from attempts recorded before a restart.
    pub fn restore(&mut self, check: &str, started: DateTime<Utc>, incident: u64, gave_up: bool) {
        let b = self.checks.entry(check.to_string()).or_default();
        if gave_up {
            b.gave_up = Some(incident);
        } else {
            b.attempts.push_back(started);
            match &mut b.incident {
                Some((id, n)) if *id == incident => *n += 1,
                _ => b.incident = Some((incident, 1)),
            }
        }
    }

    /// Decides on one event. `paused`: a maintenance window covers the check.
    pub fn on_event(&mut self, e: &Event, spec: &RecoverSpec, paused: bool) -> Decision {
        let b = self.checks.entry(e.check.clone()).or_default();
        match &b.spec {
            Some(old) if old != spec => {
                b.forget_attempts();
                b.spec = Some(spec.clone());
            }
            Some(_) => {}
            None => b.spec = Some(spec.clone()),
        }
        let window = chrono::Duration::from_std(spec.within).unwrap_or(chrono::Duration::MAX);
        while b.attempts.front().is_some_and(|t| e.at - *t >= window) {
            b.attempts.pop_front();
        }
        let Some(incident) = e.incident else { return Decision::Nothing };
        match e.kind {
            EventKind::Resolved { .. } | EventKind::Removed => {
                b.incident = None;
                b.gave_up = None;
                b.grace_until = None;
                return Decision::Nothing;
            }
            EventKind::IncidentOpened | EventKind::StillFailing { .. } | EventKind::SeverityChanged { .. } => {}
            _ => return Decision::Nothing,
        }
        // A parent is down (restarting the child will not help), a person is at work,
        // an attempt is running or being rechecked, or we already gave up.
        if e.inhibited || paused || b.running || b.grace_until.is_some_and(|g| e.at < g) || b.gave_up == Some(incident) {
            return Decision::Nothing;
        }
        if b.attempts.len() as u32 >= spec.max {
            b.gave_up = Some(incident);
            let attempts = b.incident.filter(|(id, _)| *id == incident).map(|(_, n)| n).unwrap_or(0);
            let why = if attempts > 0 {
                let last = b.last_outcome.as_deref().map(|o| format!(" (last: {o})")).unwrap_or_default();
                format!("recovery gave up after {attempts} attempt{}{last}", if attempts == 1 { "" } else { "s" })
            } else {
                let next = b.attempts.front().map(|t| *t + window);
                format!(
                    "recovery not attempted: {} attempts in the last {}, next allowed at {}",
                    b.attempts.len(),
                    crate::units::format_duration(spec.within),
                    next.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default()
                )
            };
            return Decision::GiveUp { attempts, why };
        }
        b.running = true;
        b.running_until = Some(e.at + chrono::Duration::from_std(spec.timeout + spec.recheck_after).unwrap_or_default());
        b.attempts.push_back(e.at);
        let n = match &mut b.incident {
            Some((id, n)) if *id == incident => {
                *n += 1;
                *n
            }
            _ => {
                b.incident = Some((incident, 1));
                1
            }
        };
        Decision::Run { attempt: n }
    }

    /// An attempt finished (`outcome` as one line: `exit 1: …`): the check is re-run at
    /// `grace_until`.
    pub fn finished(&mut self, check: &str, grace_until: DateTime<Utc>, outcome: String) {
        let b = self.checks.entry(check.to_string()).or_default();
        b.running = false;
        b.running_until = None;
        b.grace_until = Some(grace_until);
        b.last_outcome = Some(outcome);
    }

    /// Forgets a check's attempts: `picket recover reset`, or a reload that changed its
    /// `recover` (a new action starts with a fresh budget). An attempt still running
    /// keeps its grace.
    pub fn reset(&mut self, check: &str) {
        if let Some(b) = self.checks.get_mut(check) {
            b.forget_attempts();
        }
    }

    /// Whether an attempt for `check` is running or waiting for its recheck at `now`.
    pub fn in_progress(&self, check: &str, now: DateTime<Utc>) -> bool {
        self.checks.get(check).is_some_and(|b| b.running || b.grace_until.is_some_and(|g| now < g))
    }

    /// The budget as of `now`, for the API (fresh if `spec` is not the one it was used with).
    pub fn view(&self, check: &str, spec: &RecoverSpec, now: DateTime<Utc>) -> BudgetView {
        let window = chrono::Duration::from_std(spec.within).unwrap_or(chrono::Duration::MAX);
        let b = self.checks.get(check).filter(|b| b.spec.as_ref().is_none_or(|s| s == spec));
        let live: Vec<DateTime<Utc>> = b.map(|b| b.attempts.iter().copied().filter(|t| now - *t < window).collect()).unwrap_or_default();
        let used = live.len() as u32;
        BudgetView {
            used,
            max: spec.max,
            next_allowed: (used >= spec.max).then(|| live.first().map(|t| *t + window)).flatten(),
            last_outcome: b.and_then(|b| b.last_outcome.clone()),
        }
    }

    /// Until when the check's failures are history rather than strikes: while an attempt
    /// runs (at most its timeout plus recheck), then until its recheck. The one answer to
    /// that question; the daemon publishes it for `absorb` and the API.
    pub fn grace_until(&self, check: &str) -> Option<DateTime<Utc>> {
        let b = self.checks.get(check)?;
        if b.running { b.running_until } else { b.grace_until }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::result::Status;

    fn spec() -> RecoverSpec {
        RecoverSpec {
            action: Action::Run { argv: vec!["true".into()], dir: ".".into() },
            recheck_after: Duration::from_secs(30),
            max: 2,
            within: Duration::from_secs(3600),
            timeout: Duration::from_secs(60),
            env: Vec::new(),
            inherit_env: Vec::new(),
            notify: RecoverNotify::Always,
            route: None,
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn ev(kind: EventKind, incident: u64, s: i64, inhibited: bool) -> Event {
        Event {
            check: "api".into(),
            at: at(s),
            kind,
            incident: Some(incident),
            severity: Status::Critical,
            summary: String::new(),
            failures: 2,
            inhibited,
        }
    }

    #[test]
    fn attempts_are_spaced_by_the_recheck_and_bounded_by_the_budget() {
        let mut b = Budget::default();
        let s = spec();
        assert_eq!(b.on_event(&ev(EventKind::IncidentOpened, 1, 0, false), &s, false), Decision::Run { attempt: 1 });
        // While it runs, and during the recheck grace, nothing more.
        assert_eq!(b.on_event(&ev(EventKind::StillFailing { failures: 3 }, 1, 5, false), &s, false), Decision::Nothing);
        assert_eq!(b.grace_until("api"), Some(at(90)), "while running: timeout plus recheck");
        b.finished("api", at(40), "exit 1: no DOCKER_HOST".into());
        assert_eq!(b.grace_until("api"), Some(at(40)), "then the recheck");
        assert_eq!(b.on_event(&ev(EventKind::StillFailing { failures: 3 }, 1, 39, false), &s, false), Decision::Nothing);
        assert_eq!(b.on_event(&ev(EventKind::StillFailing { failures: 3 }, 1, 40, false), &s, false), Decision::Run { attempt: 2 });
        b.finished("api", at(80), "exit 1: no DOCKER_HOST".into());
        assert_eq!(
            b.on_event(&ev(EventKind::StillFailing { failures: 4 }, 1, 80, false), &s, false),
            Decision::GiveUp { attempts: 2, why: "recovery gave up after 2 attempts (last: exit 1: no DOCKER_HOST)".into() }
        );
        assert_eq!(b.on_event(&ev(EventKind::StillFailing { failures: 5 }, 1, 120, false), &s, false), Decision::Nothing, "gives up once");
        // Resolved, then a new incident inside the hour: the budget is still spent.
        b.on_event(&ev(EventKind::Resolved { lasted_s: 1 }, 1, 200, false), &s, false);
        assert_eq!(b.grace_until("api"), None, "a resolved incident has no grace left");
        let view = b.view("api", &s, at(300));
        assert_eq!((view.used, view.max, view.next_allowed), (2, 2, Some(at(3600))));
        assert_eq!(
            b.on_event(&ev(EventKind::IncidentOpened, 2, 300, false), &s, false),
            Decision::GiveUp {
                attempts: 0,
                why: "recovery not attempted: 2 attempts in the last 60m, next allowed at 2026-11-23T13:00:00Z".into()
            }
        );
        // An hour after the first attempt the window has room again.
        b.on_event(&ev(EventKind::Resolved { lasted_s: 1 }, 2, 400, false), &s, false);
        assert_eq!(b.on_event(&ev(EventKind::IncidentOpened, 3, 3600, false), &s, false), Decision::Run { attempt: 1 });
    }

    #[test]
    fn inhibited_or_paused_checks_are_left_alone() {
        let mut b = Budget::default();
        let s = spec();
        assert_eq!(b.on_event(&ev(EventKind::IncidentOpened, 1, 0, true), &s, false), Decision::Nothing);
        assert_eq!(b.on_event(&ev(EventKind::StillFailing { failures: 3 }, 1, 10, false), &s, true), Decision::Nothing);
        assert_eq!(b.on_event(&ev(EventKind::StillFailing { failures: 4 }, 1, 20, false), &s, false), Decision::Run { attempt: 1 });
    }

    #[test]
    fn a_reset_budget_runs_again_at_once() {
        let mut b = Budget::default();
        let s = spec();
        b.on_event(&ev(EventKind::IncidentOpened, 1, 0, false), &s, false);
        b.finished("api", at(10), "exit 1".into());
        b.on_event(&ev(EventKind::StillFailing { failures: 3 }, 1, 10, false), &s, false);
        b.finished("api", at(20), "exit 1".into());
        assert!(matches!(b.on_event(&ev(EventKind::StillFailing { failures: 4 }, 1, 20, false), &s, false), Decision::GiveUp { .. }));
        b.reset("api");
        assert_eq!(b.view("api", &s, at(21)).used, 0);
        assert_eq!(b.on_event(&ev(EventKind::StillFailing { failures: 5 }, 1, 30, false), &s, false), Decision::Run { attempt: 1 });
    }

    #[test]
    fn a_reload_that_changes_the_action_starts_a_fresh_budget() {
        let mut b = Budget::default();
        let s = spec();
        b.on_event(&ev(EventKind::IncidentOpened, 1, 0, false), &s, false);
        b.finished("api", at(10), "exit 1".into());
        b.on_event(&ev(EventKind::StillFailing { failures: 3 }, 1, 10, false), &s, false);
        b.finished("api", at(20), "exit 1".into());
        assert!(matches!(b.on_event(&ev(EventKind::StillFailing { failures: 4 }, 1, 20, false), &s, false), Decision::GiveUp { .. }));
        let fixed = RecoverSpec { inherit_env: vec!["DOCKER_HOST".into()], ..spec() };
        assert_eq!(b.view("api", &fixed, at(21)).used, 0);
        assert_eq!(b.on_event(&ev(EventKind::StillFailing { failures: 5 }, 1, 30, false), &fixed, false), Decision::Run { attempt: 1 });
        assert!(b.in_progress("api", at(31)));
    }
}
