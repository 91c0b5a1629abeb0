//! What the daemon knows right now: each check's state machine and last result, the
//! runner's counters, and the config status. Results enter through [`Shared::absorb`],
//! the one place where a result becomes state, events, history and metrics.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::config::CheckSpec;
use crate::events::{Event, EventKind};
use crate::forecast::Forecasts;
use crate::result::{CheckResult, Metric, Status};
use crate::state::{CheckState, Observation, Phase};
use crate::store::Store;

/// A Prometheus-style histogram with fixed bucket bounds (seconds).
#[derive(Debug, Clone)]
pub struct Histogram {
    pub bounds: &'static [f64],
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

/// Check run times: a few ms (a TCP connect) to the 10 s default timeout.
pub const DURATION_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Scheduling lateness: the 5 ms target sits in the middle.
pub const LATENESS_BUCKETS: &[f64] = &[0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0];

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram { bounds, counts: vec![0; bounds.len()], sum: 0.0, count: 0 }
    }

    pub fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    /// The `q` quantile, interpolated within its bucket as Prometheus' histogram_quantile does.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = q * self.count as f64;
        let mut seen = 0u64;
        for (i, c) in self.counts.iter().enumerate() {
            if (seen + c) as f64 >= rank && *c > 0 {
                let lo = if i == 0 { 0.0 } else { self.bounds[i - 1] };
                let hi = self.bounds[i];
                return Some(lo + (hi - lo) * (rank - seen as f64) / *c as f64);
            }
            seen += c;
        }
        self.bounds.last().copied()
    }
}

/// One check as the API and /metrics show it.
#[derive(Debug, Clone)]
pub struct CheckLive {
    pub spec: Arc<CheckSpec>,
    pub state: CheckState,
    pub last: Option<LastResult>,
    pub durations: Histogram,
    /// Turns skipped because the previous run was still going.
    pub skipped: u64,
}

#[derive(Debug, Clone)]
pub struct LastResult {
    pub at: DateTime<Utc>,
    pub status: Status,
    pub duration: Duration,
    pub summary: String,
    pub metrics: Vec<Metric>,
    pub failure: Option<&'static str>,
}

/// Runner-wide counters.
#[derive(Debug)]
pub struct Counters {
    pub runs: AtomicU64,
    pub skipped: AtomicU64,
    pub sandbox_failures: Mutex<BTreeMap<&'static str, u64>>,
    /// Due time → dispatch by the scheduler.
    pub lateness: Mutex<Histogram>,
    /// Due time → the check starting (a run slot and a worker thread free).
    pub start_delay: Mutex<Histogram>,
    pub events: Mutex<BTreeMap<&'static str, u64>>,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            runs: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            sandbox_failures: Mutex::new(BTreeMap::new()),
            lateness: Mutex::new(Histogram::new(LATENESS_BUCKETS)),
            start_delay: Mutex::new(Histogram::new(LATENESS_BUCKETS)),
            events: Mutex::new(BTreeMap::new()),
        }
    }
}

pub use picket_api::ReloadOutcome;

/// The outcome of the last reload, for the API and /healthz.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigStatus {
    pub loaded_at: DateTime<Utc>,
    pub files: Vec<String>,
    pub checks: usize,
    pub last_reload: Option<ReloadOutcome>,
}

/// Notification and recovery counters for /metrics (the responder and delivery count,
/// the live view owns them).
#[derive(Debug, Default)]
pub struct NotifyStats {
    pub delivery: Arc<crate::notify::delivery::Stats>,
    /// Recovery attempts by (check, outcome).
    pub recoveries: Mutex<BTreeMap<(String, &'static str), u64>>,
    pub gave_up: Mutex<BTreeMap<String, u64>>,
}

/// The live view. Its fields are crate-private, so outside `picket-daemon` it is read
/// only through the API's `Handle`. Inside, each has one writer: `install` and `absorb`
/// write `checks` (states, last results) and the counters; the responder writes `grace`
/// and `budgets`; `reload` writes `config`.
pub struct Shared {
    pub(crate) checks: Mutex<BTreeMap<String, CheckLive>>,
    pub(crate) counters: Counters,
    pub(crate) events: broadcast::Sender<Event>,
    pub(crate) store: Option<Arc<Store>>,
    pub(crate) forecasts: Mutex<Forecasts>,
    pub(crate) next_incident: AtomicU64,
    pub(crate) config: Mutex<ConfigStatus>,
    pub(crate) started: DateTime<Utc>,
    /// Checks whose recovery action ran lately: failures before this time are recorded
    /// but not counted (the action and its `recheck_after` are one attempt, not many).
    pub(crate) grace: Mutex<HashMap<String, DateTime<Utc>>>,
    /// Each recovering check's budget as the responder last saw it, for the API.
    pub(crate) budgets: Mutex<HashMap<String, picket_core::recovery::BudgetView>>,
    /// Parents some inhibited child waits on; locked inside `checks`, never alone.
    awaited: Mutex<std::collections::HashSet<String>>,
    /// The outbox, silences and recovery attempts.
    pub(crate) journal: Arc<crate::store::journal::Journal>,
    pub(crate) notify_stats: Arc<NotifyStats>,
}

impl Shared {
    pub fn new(store: Option<Arc<Store>>, journal: Arc<crate::store::journal::Journal>, next_incident: u64) -> Shared {
        Shared {
            checks: Mutex::new(BTreeMap::new()),
            counters: Counters::default(),
            events: crate::events::channel(),
            store,
            forecasts: Mutex::new(Forecasts::default()),
            next_incident: AtomicU64::new(next_incident.max(1)),
            config: Mutex::new(ConfigStatus { loaded_at: Utc::now(), files: Vec::new(), checks: 0, last_reload: None }),
            started: Utc::now(),
            grace: Mutex::new(HashMap::new()),
            budgets: Mutex::new(HashMap::new()),
            awaited: Mutex::new(Default::default()),
            journal,
            notify_stats: Default::default(),
        }
    }

    fn emit(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let mut counts = self.counters.events.lock().expect("lock");
        for e in events {
            *counts.entry(e.kind.name()).or_default() += 1;
            if let Some(store) = &self.store {
                store.record_event(&e);
            }
            // No subscribers is fine (tests); the store has the incident either way.
            let _ = self.events.send(e);
        }
    }

    /// Installs a new set of checks: states are kept by name (or restored), checks that
    /// left close their open incident. Returns (added, removed).
    pub fn install(&self, specs: &[Arc<CheckSpec>], restored: &mut HashMap<String, CheckState>) -> (Vec<String>, Vec<String>) {
        let mut events = Vec::new();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        {
            let mut checks = self.checks.lock().expect("lock");
            let mut next: BTreeMap<String, CheckLive> = BTreeMap::new();
            for spec in specs {
                let live = match checks.remove(&spec.name) {
                    Some(mut old) => {
                        old.spec = spec.clone();
                        old
                    }
                    None => {
                        added.push(spec.name.clone());
                        CheckLive {
                            spec: spec.clone(),
                            state: restored.remove(&spec.name).unwrap_or_default(),
                            last: None,
                            durations: Histogram::new(DURATION_BUCKETS),
                            skipped: 0,
                        }
                    }
                };
                next.insert(spec.name.clone(), live);
            }
            for (name, old) in std::mem::take(&mut *checks) {
                if let Some(id) = old.state.incident {
                    events.push(Event {
                        check: name.clone(),
                        at: Utc::now(),
                        kind: EventKind::Removed,
                        incident: Some(id),
                        severity: old.state.severity.unwrap_or(Status::Unknown),
                        summary: "check removed from the configuration".into(),
                        failures: old.state.consecutive_failures,
                        inhibited: old.state.inhibited,
                    });
                }
                if let Some(store) = &self.store {
                    store.forget_state(&name);
                }
                removed.push(name);
            }
            *checks = next;
        }
        self.forecasts.lock().expect("lock").retain(|c| specs.iter().any(|s| s.name == c));
        self.emit(events);
        (added, removed)
    }

    /// Takes one result into the state machine, history, events and metrics. Returns the
    /// check's phase afterwards (the scheduler retries sooner while pending) and the checks
    /// to run at once for `depends_on` (see [`Absorbed`]).
    pub fn absorb(&self, spec: &CheckSpec, result: &CheckResult, at: DateTime<Utc>) -> Option<Absorbed> {
        // A failure during a recovery's grace is history, not another strike.
        let in_grace = result.status != Status::Ok && self.grace.lock().expect("lock").get(&spec.name).is_some_and(|until| at < *until);
        let (events, state, phase, run_now) = {
            let mut checks = self.checks.lock().expect("lock");
            let mut run_now = Vec::new();
            // Inhibition must not depend on which check happened to run first: a parent
            // whose last result is older than this failure is run now, and until its
            // result is in the child counts it as down (held, not paged, not restarted).
            let failed = result.status != Status::Ok;
            let failing_since =
                checks.get(&spec.name).map(|c| c.state.failing_since.filter(|_| c.state.consecutive_failures > 0).unwrap_or(at));
            let mut parents_down = false;
            let was_down = checks.get(&spec.name).is_some_and(|c| c.state.is_down());
            for p in &spec.depends_on {
                let Some(parent) = checks.get(p) else { continue };
                if parent.state.is_down() {
                    parents_down = true;
                    // A held-back child coming up says its parent may be back: check the
                    // parent now rather than at its next turn (a minute away, say).
                    if !failed && was_down {
                        run_now.push(p.clone());
                    }
                } else if failed && parent.state.last_run.is_none_or(|t| Some(t) < failing_since) {
                    parents_down = true;
                    run_now.push(p.clone());
                }
            }
            let mut awaited = self.awaited.lock().expect("lock");
            if parents_down {
                awaited.extend(spec.depends_on.iter().cloned());
            }
            // Removed or replaced by a reload while it ran: its result belongs to no one.
            let live = checks.get_mut(&spec.name).filter(|l| l.spec.fingerprint == spec.fingerprint)?;
            let obs = Observation { check: &spec.name, status: result.status, summary: &result.summary, at, parents_down };
            let events = if in_grace {
                Vec::new()
            } else {
                live.state.observe(obs, &spec.alert, &mut || self.next_incident.fetch_add(1, Ordering::Relaxed))
            };
            live.durations.observe(result.duration.as_secs_f64());
            live.last = Some(LastResult {
                at,
                status: result.status,
                duration: result.duration,
                summary: result.summary.clone(),
                metrics: result.metrics.clone(),
                failure: result.failure.as_ref().map(|f| f.kind()),
            });
            let phase = live.state.phase;
            // Up (again, or as a stale parent checked for its children): the children it
            // held back are run at once, and one still failing then pages on its own.
            // (Most results are neither: a set lookup, no scan.)
            if phase == Phase::Ok && (awaited.remove(&spec.name) || was_down) {
                run_now.extend(
                    checks.values().filter(|c| c.state.inhibited && c.spec.depends_on.contains(&spec.name)).map(|c| c.spec.name.clone()),
                );
            }
            let state = self.store.as_ref().and_then(|_| checks.get(&spec.name).map(|c| c.state.clone()));
            (events, state, phase, run_now)
        };
        self.counters.runs.fetch_add(1, Ordering::Relaxed);
        if let Some(f) = &result.failure {
            *self.counters.sandbox_failures.lock().expect("lock").entry(f.kind()).or_default() += 1;
        }
        if let (Some(store), Some(state)) = (&self.store, state) {
            store.record(result, at.timestamp_millis());
            store.save_state(&spec.name, &state);
        }
        self.emit(events);
        Some(Absorbed { phase, run_now })
    }

    pub fn skipped(&self, check: &str) {
        self.counters.skipped.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.checks.lock().expect("lock").get_mut(check) {
            c.skipped += 1;
        }
    }

    pub fn late(&self, by: Duration) {
        self.counters.lateness.lock().expect("lock").observe(by.as_secs_f64());
    }

    pub fn started_after(&self, delay: Duration) {
        self.counters.start_delay.lock().expect("lock").observe(delay.as_secs_f64());
    }
}

/// What [`Shared::absorb`] tells the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub struct Absorbed {
    pub phase: Phase,
    /// Checks to run now: parents whose state is older than a child's failure, and the
    /// inhibited children of a parent that is up.
    pub run_now: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_interpolate_within_buckets() {
        let mut h = Histogram::new(LATENESS_BUCKETS);
        for _ in 0..99 {
            h.observe(0.0003); // the (0.1 ms, 0.5 ms] bucket
        }
        h.observe(0.02);
        let p99 = h.quantile(0.99).unwrap();
        assert!(p99 > 0.0001 && p99 <= 0.0005, "{p99}");
        assert!(h.quantile(1.0).unwrap() > 0.01);
        assert_eq!(Histogram::new(LATENESS_BUCKETS).quantile(0.5), None);
    }
}
