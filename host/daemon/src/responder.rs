//! The responder: the one task that turns state-machine events into notifications and
//! recovery attempts. One task, so a check's recovery count, its routing timers and its
//! notifications are always updated in the order the events happened.
//!
//! ```text
//! Shared::events ─▶ responder ─┬─ recovery::Budget ─▶ action (spawned) ─▶ Msg::RecoveryDone ─┐
//!                      ▲       └─ Router ─▶ journal.enqueue ─▶ wake delivery                  │
//!                      └──────────────────────────────────────────────────────────────────────┘
//! ```

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, broadcast, mpsc, watch};

use crate::config::CheckSpec;
use crate::events::Event;
use crate::live::{NotifyStats as Stats, Shared};
use crate::notify::Value;
use crate::notify::router::{CheckInfo, CheckNow, Input, NotifyPlan, Outgoing, Router, World};
use crate::recovery::{Budget, Decision, RecoverNotify, action};
use crate::scheduler::Control;
use crate::store::journal::{Journal, NewNotification, RecoveryOutcome, RecoveryRow, Silence};
use crate::store::now_ms;

/// Messages to the responder from outside the event stream.
#[derive(Debug)]
pub enum Msg {
    /// A silence was added or ended through the API.
    SilencesChanged,
    /// `picket recover reset`: forget the check's attempts; `done` when it is.
    ResetRecovery {
        check: String,
        done: tokio::sync::oneshot::Sender<()>,
    },
    RecoveryDone {
        check: String,
        incident: u64,
        attempt: u32,
        outcome: action::Outcome,
        ended: DateTime<Utc>,
    },
}

/// What the daemon and the API hold.
#[derive(Clone)]
pub struct Notifier {
    pub journal: Arc<Journal>,
    pub plan: Arc<watch::Sender<Arc<NotifyPlan>>>,
    pub msgs: mpsc::UnboundedSender<Msg>,
    pub stats: Arc<Stats>,
}

/// The key the router's memory is saved under in the journal.
const ROUTER_KEY: &str = "router";
/// Reminders and escalations are due to the second at most.
const TICK: Duration = Duration::from_secs(1);
/// Events handled per outbox transaction at most.
const EVENT_BATCH: usize = 1024;

pub struct Responder {
    pub shared: Arc<Shared>,
    pub journal: Arc<Journal>,
    pub plan: watch::Receiver<Arc<NotifyPlan>>,
    pub events: broadcast::Receiver<Event>,
    pub msgs: mpsc::UnboundedReceiver<Msg>,
    pub msgs_tx: mpsc::UnboundedSender<Msg>,
    pub ctl: mpsc::UnboundedSender<Control>,
    pub wake: Arc<Notify>,
    pub stats: Arc<Stats>,
    pub http: reqwest::Client,
    /// Wall time from tokio's clock, so paused-time tests drive reminders and escalation.
    pub clock: crate::schedule::Clock,
}

struct Memory {
    router: Router,
    /// The router's memory as last written to the journal, and whether it may have
    /// changed since (written with the next outbox rows, or by the next tick).
    saved: String,
    dirty: bool,
    budget: Budget,
    silences: Vec<Silence>,
}

impl Responder {
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let j = self.journal.clone();
        // Whatever cannot be read starts empty, loudly: timers are rebuilt by reconcile,
        // budgets and silences are re-read on their next change.
        let (saved, recoveries, silences) = tokio::task::spawn_blocking(move || {
            let saved = j.get_meta(ROUTER_KEY).unwrap_or_else(|e| {
                tracing::error!("cannot read the router's saved timers: {e}");
                None
            });
            let recoveries = j.recoveries(None, 1000).unwrap_or_else(|e| {
                tracing::error!("cannot read past recovery attempts, the budgets start empty: {e}");
                Vec::new()
            });
            let silences = j.silences(now_ms()).unwrap_or_else(|e| {
                tracing::error!("cannot read silences, none are in force until the next change: {e}");
                Vec::new()
            });
            (saved, recoveries, silences)
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!("the responder's start-up read panicked: {e}");
            Default::default()
        });
        let source = crate::notify::source();
        let router = match saved.as_deref().map(|s| Router::restore(s, source.clone())) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                tracing::warn!("cannot read the router's saved timers, starting afresh: {e}");
                Router::new(source)
            }
            None => Router::new(source),
        };
        let mut budget = Budget::default();
        for r in recoveries.iter().rev() {
            if let Some(t) = DateTime::from_timestamp_millis(r.started_ms) {
                budget.restore(&r.check, t, r.incident, r.outcome == RecoveryOutcome::GaveUp);
            }
        }
        let mut mem = Memory { saved: router.to_json(), router, budget, silences, dirty: false };
        // Incidents that opened or closed while no one was listening (a crash between the
        // state being stored and the event being handled) get their notifications now.
        let out = self.reconcile(&mut mem).await;
        self.send(&mut mem, out).await;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh_silences = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                e = self.events.recv() => {
                    let mut lagged = false;
                    let mut batch = Vec::new();
                    match e {
                        Ok(e) => batch.push(e),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!(missed = n, "the responder fell behind the events; reconciling with the checks' states");
                            lagged = true;
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                    // Whatever else is waiting goes into the same outbox transaction: an
                    // outage that opens a thousand incidents costs a few fsyncs, not a thousand.
                    while batch.len() < EVENT_BATCH {
                        match self.events.try_recv() {
                            Ok(e) => batch.push(e),
                            Err(broadcast::error::TryRecvError::Lagged(n)) => {
                                tracing::warn!(missed = n, "the responder fell behind the events; reconciling with the checks' states");
                                lagged = true;
                            }
                            Err(_) => break,
                        }
                    }
                    let mut out = Vec::new();
                    for e in batch {
                        out.extend(self.on_event(&mut mem, e).await);
                    }
                    if lagged {
                        out.extend(self.reconcile(&mut mem).await);
                    }
                    self.send(&mut mem, out).await;
                }
                Some(m) = self.msgs.recv() => self.on_msg(&mut mem, m).await,
                _ = tick.tick() => {
                    let plan = self.plan.borrow().clone();
                    let w = World { now: self.now(), plan: &plan, silences: &mem.silences };
                    let shared = self.shared.clone();
                    let now = move |check: &str| {
                        let checks = shared.checks.lock().expect("lock");
                        let live = checks.get(check);
                        CheckNow { route: live.and_then(|c| c.spec.route.clone()), failing: live.is_some_and(|c| c.state.failing_now()) }
                    };
                    let out = mem.router.tick(&w, &now);
                    mem.dirty = true;
                    self.send(&mut mem, out).await;
                    self.save(&mut mem).await;
                }
                _ = refresh_silences.tick() => self.reload_silences(&mut mem).await,
                _ = stop.changed() => break,
            }
        }
    }

    async fn reload_silences(&self, mem: &mut Memory) {
        let j = self.journal.clone();
        match tokio::task::spawn_blocking(move || j.silences(now_ms())).await {
            Ok(Ok(s)) => mem.silences = s,
            Ok(Err(e)) => tracing::error!("cannot re-read silences, the previous ones stay in force: {e}"),
            Err(e) => tracing::error!("re-reading silences panicked: {e}"),
        }
    }

    async fn on_msg(&mut self, mem: &mut Memory, m: Msg) {
        match m {
            Msg::SilencesChanged => self.reload_silences(mem).await,
            Msg::ResetRecovery { check, done } => {
                mem.budget.reset(&check);
                self.publish_grace(&check, &mem.budget);
                let _ = done.send(());
            }
            Msg::RecoveryDone { check, incident, attempt, outcome, ended } => {
                let recheck =
                    self.spec(&check).and_then(|s| s.recover.as_ref().map(|r| r.recheck_after)).unwrap_or(Duration::from_secs(30));
                let grace_until = ended + chrono::Duration::from_std(recheck).unwrap_or_default();
                let secrets = self.spec(&check).map(|s| s.secrets.clone()).unwrap_or_default();
                let described = secrets.scrub(&outcome.describe());
                mem.budget.finished(&check, grace_until, described.clone());
                self.publish_grace(&check, &mem.budget);
                // A little past the grace, so the recheck's result is counted.
                let at = tokio::time::Instant::now() + recheck + Duration::from_millis(100);
                let _ = self.ctl.send(Control::RunAt { check: check.clone(), at });
                let duration_ms = outcome.duration.as_millis() as u64;
                if outcome.outcome == "ok" {
                    tracing::info!(check = %check, incident, attempt, outcome = outcome.outcome, exit_code = ?outcome.exit_code,
                        duration_ms, recheck_in_s = recheck.as_secs(), "recovery attempt finished");
                } else {
                    // One line that says why: the exit code or signal and stderr's last lines.
                    tracing::warn!(check = %check, incident, attempt, outcome = outcome.outcome, exit_code = ?outcome.exit_code,
                        signal = ?outcome.signal, duration_ms, recheck_in_s = recheck.as_secs(), "recovery attempt failed: {described}");
                }
                *self.stats.recoveries.lock().expect("lock").entry((check.clone(), outcome.outcome)).or_default() += 1;
                let plan = self.plan.borrow().clone();
                let w = World { now: self.now(), plan: &plan, silences: &mem.silences };
                let out = mem.router.handle(Input::Recovered { check, incident, attempts: attempt }, &w);
                mem.dirty = true;
                self.send(mem, out).await;
            }
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.wall(tokio::time::Instant::now().into_std())
    }

    fn spec(&self, check: &str) -> Option<Arc<CheckSpec>> {
        self.shared.checks.lock().expect("lock").get(check).map(|c| c.spec.clone())
    }

    /// The router's view of a check: its spec's notification keys and its last values.
    fn info(&self, check: &str) -> (Option<Arc<CheckSpec>>, CheckInfo) {
        let checks = self.shared.checks.lock().expect("lock");
        let Some(live) = checks.get(check) else { return (None, CheckInfo::default()) };
        let spec = &live.spec;
        let mut values: Vec<Value> = Vec::new();
        if let Some(last) = &live.last {
            for m in &last.metrics {
                let th = spec.thresholds.iter().find(|t| t.metric == m.name);
                values.push(Value {
                    metric: m.name.clone(),
                    value: m.value,
                    unit: m.unit.clone(),
                    warn: th.and_then(|t| t.warn.as_ref().map(|w| w.1.clone())),
                    crit: th.and_then(|t| t.crit.as_ref().map(|c| c.1.clone())),
                });
            }
            // The metrics with thresholds are the ones a person compares; others only if none.
            if values.iter().any(|v| v.warn.is_some() || v.crit.is_some()) {
                values.retain(|v| v.warn.is_some() || v.crit.is_some());
            }
            values.truncate(8);
        }
        let info = CheckInfo {
            plugin: spec.plugin_name.clone(),
            target: spec.secrets.scrub(&spec.target),
            description: spec.description.clone(),
            runbook: spec.runbook.clone(),
            route: spec.route.clone(),
            values,
            parents: spec.depends_on.clone(),
            recovering: false,
            recover_route: spec.recover.as_ref().and_then(|r| r.route.clone()),
        };
        (Some(spec.clone()), info)
    }

    async fn on_event(&mut self, mem: &mut Memory, e: Event) -> Vec<Outgoing> {
        let (spec, info) = self.info(&e.check);
        let plan = self.plan.borrow().clone();
        let now = self.now();
        let mut info = info;
        let mut gave_up = None;
        let mut started = None;
        if let Some(recover) = spec.as_ref().and_then(|s| s.recover.clone()) {
            let paused = plan.maintenance.iter().any(|m| m.covers(&e.check) && m.active(now));
            // Asked before deciding: the event that ends the first attempt's recheck must
            // release the held trigger even if it starts a second attempt.
            let in_progress = mem.budget.in_progress(&e.check, e.at);
            let decision = mem.budget.on_event(&e, &recover, paused);
            info.recovering =
                recover.notify == RecoverNotify::AfterFailure && (matches!(decision, Decision::Run { attempt: 1 }) || in_progress);
            match decision {
                Decision::Nothing => {}
                Decision::Run { attempt } => {
                    started = Some(attempt);
                    self.start_recovery(&e, attempt, recover, spec.as_deref())
                }
                Decision::GiveUp { attempts, why } => gave_up = Some((attempts, why)),
            }
        }
        self.publish_grace(&e.check, &mem.budget);
        let w = World { now, plan: &plan, silences: &mem.silences };
        let (check, incident) = (e.check.clone(), e.incident.unwrap_or(0));
        let mut out = mem.router.handle(Input::Event(e, info), &w);
        // Counted when it starts, not when it reports back: a recheck that passes may
        // resolve the incident before the done message is handled, and "resolved" must
        // say what was tried.
        if let Some(attempts) = started {
            out.extend(mem.router.handle(Input::Recovered { check: check.clone(), incident, attempts }, &w));
        }
        if let Some((attempts, why)) = gave_up {
            tracing::error!(check = %check, incident, attempts, "{why}; the check still fails");
            *self.stats.gave_up.lock().expect("lock").entry(check.clone()).or_default() += 1;
            let row = RecoveryRow {
                check: check.clone(),
                incident,
                attempt: attempts,
                started_ms: now_ms(),
                duration_ms: 0,
                action: spec.as_ref().and_then(|s| s.recover.as_ref()).map(|r| r.action.describe()).unwrap_or_default(),
                outcome: RecoveryOutcome::GaveUp,
                exit_code: None,
                output: why.clone(),
            };
            let j = self.journal.clone();
            match tokio::task::spawn_blocking(move || j.record_recovery(&row)).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(check = %check, incident, "cannot record that recovery gave up: {e}"),
                Err(e) => tracing::error!(check = %check, incident, "recording that recovery gave up panicked: {e}"),
            }
            out.extend(mem.router.handle(Input::GaveUp { check, incident, attempts, at: now, why }, &w));
        }
        mem.dirty = true;
        out
    }

    /// Feeds the router what it missed: incidents open in the checks' states that it does
    /// not track (opened), and ones it tracks that are no longer open (resolved).
    async fn reconcile(&mut self, mem: &mut Memory) -> Vec<Outgoing> {
        let now = self.now();
        let mut missed = Vec::new();
        {
            let checks = self.shared.checks.lock().expect("lock");
            for (name, live) in checks.iter() {
                let s = &live.state;
                if let (Some(id), Some(opened)) = (s.incident, s.incident_opened)
                    && mem.router.tracked(name) != Some(id)
                {
                    let kind = if s.flapping {
                        let (percent, results) = (s.flap_percent.round() as u32, s.history.len() as u32);
                        crate::events::EventKind::FlappingStarted { changes: s.flap_changes(), percent, results }
                    } else {
                        crate::events::EventKind::IncidentOpened
                    };
                    missed.push(Event {
                        check: name.clone(),
                        at: opened,
                        kind,
                        incident: Some(id),
                        severity: s.severity.unwrap_or(crate::result::Status::Critical),
                        summary: s.summary.clone(),
                        failures: s.consecutive_failures,
                        inhibited: s.inhibited,
                    });
                }
            }
            for (name, id) in mem.router.all_tracked() {
                let open = checks.get(&name).and_then(|c| c.state.incident);
                if open != Some(id) {
                    let summary = match checks.get(&name) {
                        Some(c) => c.state.summary.clone(),
                        None => "check removed from the configuration".into(),
                    };
                    missed.insert(
                        0,
                        Event {
                            check: name,
                            at: now,
                            kind: crate::events::EventKind::Resolved { lasted_s: 0 },
                            incident: Some(id),
                            severity: crate::result::Status::Critical,
                            summary,
                            failures: 0,
                            inhibited: false,
                        },
                    );
                }
            }
        }
        if !missed.is_empty() {
            tracing::info!(events = missed.len(), "notifying incidents the router had not seen");
        }
        let mut out = Vec::new();
        for e in missed {
            out.extend(self.on_event(mem, e).await);
        }
        out
    }

    /// The budget decides grace; `Shared` carries a copy for `absorb` and the API, with
    /// the budget's view, written only here.
    fn publish_grace(&self, check: &str, budget: &crate::recovery::Budget) {
        {
            let mut grace = self.shared.grace.lock().expect("lock");
            match budget.grace_until(check) {
                Some(until) => grace.insert(check.to_string(), until),
                None => grace.remove(check),
            };
        }
        let view = self.spec(check).and_then(|s| s.recover.as_ref().map(|r| budget.view(check, r, self.now())));
        let mut budgets = self.shared.budgets.lock().expect("lock");
        match view {
            Some(v) => budgets.insert(check.to_string(), v),
            None => budgets.remove(check),
        };
    }

    fn start_recovery(&self, e: &Event, attempt: u32, recover: crate::recovery::RecoverSpec, spec: Option<&CheckSpec>) {
        let (check, incident) = (e.check.clone(), e.incident.unwrap_or(0));
        tracing::warn!(check = %check, incident, attempt, action = %recover.action.describe(), "running recovery action");
        let (journal, msgs, http, clock) = (self.journal.clone(), self.msgs_tx.clone(), self.http.clone(), self.clock);
        let secrets = spec.map(|s| s.secrets.clone()).unwrap_or_default();
        tokio::spawn(async move {
            let started = now_ms();
            let mut env: Vec<(&str, String)> =
                vec![("PICKET_CHECK", check.clone()), ("PICKET_INCIDENT", incident.to_string()), ("PICKET_ATTEMPT", attempt.to_string())];
            // Inherited first, so `recover.env` wins where both name a variable.
            for name in &recover.inherit_env {
                if let Ok(v) = std::env::var(name) {
                    env.push((name.as_str(), v));
                }
            }
            env.extend(recover.env.iter().map(|v| (v.name.as_str(), v.value.clone())));
            let mut outcome = action::run(&recover.action, recover.timeout, &env, &http).await;
            outcome.output = secrets.scrub(&outcome.output);
            outcome.tail = secrets.scrub(&outcome.tail);
            let row = RecoveryRow {
                check: check.clone(),
                incident,
                attempt,
                started_ms: started,
                duration_ms: outcome.duration.as_millis() as i64,
                action: recover.action.describe(),
                // The action names one of ok, failed, timeout and error.
                outcome: outcome.outcome.parse().unwrap_or(RecoveryOutcome::Error),
                exit_code: outcome.exit_code,
                output: outcome.output.clone(),
            };
            match tokio::task::spawn_blocking(move || journal.record_recovery(&row)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(check = %check, "cannot record the recovery attempt: {e}"),
                Err(e) => tracing::error!(check = %check, "cannot record the recovery attempt: {e}"),
            }
            let _ = msgs.send(Msg::RecoveryDone {
                check,
                incident,
                attempt,
                outcome,
                ended: clock.wall(tokio::time::Instant::now().into_std()),
            });
        });
    }

    /// Writes the router's memory to the journal if it changed (each tick at most).
    async fn save(&self, mem: &mut Memory) {
        if !mem.dirty {
            return;
        }
        mem.dirty = false;
        let json = mem.router.to_json();
        if json == mem.saved {
            return;
        }
        mem.saved = json.clone();
        let j = self.journal.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || j.set_meta(ROUTER_KEY, &json)).await {
            tracing::error!("cannot save the router's timers: {e}");
        }
    }

    /// Writes the router's output to the outbox (committed before delivery may see it),
    /// with the router's memory in the same transaction, and wakes delivery.
    async fn send(&self, mem: &mut Memory, out: Vec<Outgoing>) {
        if out.is_empty() {
            return;
        }
        mem.dirty = false;
        let json = mem.router.to_json();
        let save = (json != mem.saved).then(|| json.clone());
        mem.saved = json;
        let rows: Vec<NewNotification> = out
            .into_iter()
            .map(|o| {
                if let Some(why) = &o.suppressed {
                    tracing::info!(channel = %o.channel, check = %o.note.check, incident = o.note.incident, kind = o.note.kind.as_str(), "notification held: {why}");
                }
                NewNotification {
                    provider: o.channel,
                    route: o.note.route.clone(),
                    check: o.note.check.clone(),
                    incident: o.note.incident,
                    kind: o.note.kind.as_str().to_string(),
                    dedup_key: o.note.dedup_key.clone(),
                    body: serde_json::to_string(&o.note).expect("notification serializes"),
                    suppressed: o.suppressed,
                }
            })
            .collect();
        let j = self.journal.clone();
        let res = tokio::task::spawn_blocking(move || j.enqueue(&rows, now_ms(), save.as_deref().map(|s| (ROUTER_KEY, s)))).await;
        match res {
            Ok(Ok(pending)) if pending > 0 => self.wake.notify_one(),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("cannot write notifications to the outbox: {e}"),
            Err(e) => tracing::error!("cannot write notifications to the outbox: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;
    use crate::notify::router::Route;
    use crate::notify::{Fields, NoteKind};
    use crate::result::Status;
    use crate::schedule::Schedule;
    use crate::state::{CheckState, Phase};

    fn plan() -> NotifyPlan {
        let ch = crate::notify::build("console", "log", Fields::new(BTreeMap::new())).unwrap();
        let route = Route {
            name: "critical".into(),
            notify: vec!["console".into()],
            cooldown: Duration::ZERO,
            remind: None,
            escalate: None,
            resolved: true,
        };
        NotifyPlan { channels: [("console".into(), ch)].into(), routes: [("critical".into(), route)].into(), maintenance: Vec::new() }
    }

    /// A responder on its own channels (the plan's sender and the scheduler's receiver are
    /// dropped: nothing reloads, rechecks go nowhere).
    fn responder(shared: &Arc<Shared>, journal: Arc<Journal>, plan: NotifyPlan, clock: crate::schedule::Clock) -> Responder {
        let (msgs_tx, msgs) = mpsc::unbounded_channel();
        Responder {
            shared: shared.clone(),
            journal,
            plan: watch::channel(Arc::new(plan)).1,
            events: shared.events.subscribe(),
            msgs,
            msgs_tx,
            ctl: mpsc::unbounded_channel().0,
            wake: Arc::new(Notify::new()),
            stats: Default::default(),
            http: reqwest::Client::new(),
            clock,
        }
    }

    /// A crash between a state being stored and its event being handled: on start (or
    /// after falling behind) the responder notifies from the states themselves.
    #[tokio::test]
    async fn reconcile_notifies_incidents_the_router_missed() {
        let journal = Arc::new(Journal::memory());
        let shared = Arc::new(Shared::new(None, journal.clone(), 8));
        let spec = Arc::new(CheckSpec::synthetic("api", Schedule::Every(Duration::from_secs(1))));
        let open = CheckState {
            phase: Phase::Failing,
            incident: Some(7),
            incident_opened: Some(Utc::now()),
            severity: Some(Status::Critical),
            summary: "HTTP 503".into(),
            ..CheckState::default()
        };
        shared.install(&[spec], &mut HashMap::from([("api".to_string(), open)]));
        let mut r = responder(&shared, journal, plan(), crate::schedule::clock_now());
        let router = Router::new("picket@test".into());
        let mut mem = Memory { saved: router.to_json(), router, budget: Budget::default(), silences: Vec::new(), dirty: false };
        let out = r.reconcile(&mut mem).await;
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].note.kind, out[0].note.incident, out[0].note.summary.as_str()), (NoteKind::Trigger, 7, "HTTP 503"));
        assert!(r.reconcile(&mut mem).await.is_empty(), "once");
        // The incident closed unseen: "resolved" to whoever was told.
        shared.checks.lock().unwrap().get_mut("api").unwrap().state = CheckState::default();
        let out = r.reconcile(&mut mem).await;
        assert_eq!((out.len(), out[0].note.kind, out[0].channel.as_str()), (1, NoteKind::Resolved, "console"));
    }

    /// The running responder on paused time: a critical incident pages, is reminded after
    /// 10 min and escalated after 15, all through the outbox.
    #[tokio::test(start_paused = true)]
    async fn the_running_responder_reminds_and_escalates_on_tokio_time() {
        let journal = Arc::new(Journal::memory());
        let shared = Arc::new(Shared::new(None, journal.clone(), 1));
        // Failing at this moment: reminders and escalation are for such incidents only.
        let failing = CheckState { phase: Phase::Failing, status: Some(Status::Critical), incident: Some(1), ..CheckState::default() };
        shared.install(
            &[Arc::new(CheckSpec::synthetic("api", Schedule::Every(Duration::from_secs(60))))],
            &mut HashMap::from([("api".to_string(), failing)]),
        );
        let mut p = plan();
        let managers = Route { name: "managers".into(), ..p.routes["critical"].clone() };
        let critical = p.routes.get_mut("critical").unwrap();
        critical.remind =
            Some(crate::notify::router::Remind { every: Duration::from_secs(600), backoff: 1.0, max: Duration::from_secs(600) });
        critical.escalate = Some(crate::notify::router::Escalate { after: Duration::from_secs(900), to: "managers".into() });
        p.routes.insert("managers".into(), managers);
        let clock = crate::schedule::clock_now();
        let r = responder(&shared, journal.clone(), p, clock);
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(r.run(stop));
        let kinds = |j: &Journal| -> Vec<String> {
            let mut k: Vec<String> = j.notifications(None, 100).unwrap().into_iter().map(|n| format!("{}:{}", n.route, n.kind)).collect();
            k.reverse();
            k
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let at = clock.wall(tokio::time::Instant::now().into_std());
        let _ = shared.events.send(Event {
            check: "api".into(),
            at,
            kind: crate::events::EventKind::IncidentOpened,
            incident: Some(1),
            severity: Status::Critical,
            summary: "HTTP 503".into(),
            failures: 2,
            inhibited: false,
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(kinds(&journal), ["critical:trigger"]);
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(kinds(&journal), ["critical:trigger", "critical:reminder"]);
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert_eq!(kinds(&journal), ["critical:trigger", "critical:reminder", "managers:escalation"]);
        stop_tx.send(true).unwrap();
        task.await.unwrap();
    }
}
