//! The responder: the one task that turns state-machine events into notifications and
//! recovery attempts. One task, so a check's recovery count, its routing timers and its
//! notifications are always updated in the order the events happened.
//!
//! ```text
//! Shared::events ─▶ responder ─┬─ recovery::Budget ─▶ action (spawned) ─▶ Msg::RecoveryDone ─┐
//!                      ▲       └─ Router ─▶ journal.enqueue ─▶ wake delivery                  │
//!                      └──────────────────────────────────────────────────────────────────────┘
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, broadcast, mpsc, watch};

use super::Value;
use super::router::{CheckInfo, Input, NotifyPlan, Outgoing, Router, World};
use crate::config::CheckSpec;
use crate::daemon::live::Shared;
use crate::daemon::scheduler::Control;
use crate::events::Event;
use crate::recovery::{Budget, Decision, action};
use crate::store::journal::{Journal, NewNotification, RecoveryRow, Silence};
use crate::store::now_ms;

/// Notification and recovery counters for /metrics.
#[derive(Debug, Default)]
pub struct Stats {
    pub delivery: super::delivery::Stats,
    /// Recovery attempts by (check, outcome).
    pub recoveries: Mutex<BTreeMap<(String, &'static str), u64>>,
    pub gave_up: Mutex<BTreeMap<String, u64>>,
}

/// Messages to the responder from outside the event stream.
#[derive(Debug)]
pub enum Msg {
    /// A silence was added or ended through the API.
    SilencesChanged,
    RecoveryDone { check: String, incident: u64, attempt: u32, outcome: action::Outcome, ended: DateTime<Utc> },
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
}

struct Memory {
    router: Router,
    saved: String,
    budget: Budget,
    silences: Vec<Silence>,
}

impl Responder {
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let j = self.journal.clone();
        let (saved, recoveries, silences) = tokio::task::spawn_blocking(move || {
            (j.get_meta(ROUTER_KEY).ok().flatten(), j.recoveries(None, 1000).unwrap_or_default(), j.silences(now_ms()).unwrap_or_default())
        })
        .await
        .unwrap_or_default();
        let source = super::source();
        let router = saved.as_deref().map(|s| Router::restore(s, source.clone())).unwrap_or_else(|| Router::new(source));
        let mut budget = Budget::default();
        for r in recoveries.iter().rev() {
            if let Ok(t) = DateTime::parse_from_rfc3339(&r.started) {
                budget.restore(&r.check, t.with_timezone(&Utc), r.incident, r.outcome == "gave-up");
            }
        }
        let mut mem = Memory { saved: router.to_json(), router, budget, silences };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh_silences = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                e = self.events.recv() => match e {
                    Ok(e) => self.on_event(&mut mem, e).await,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::error!(missed = n, "the responder fell behind the events; some notifications were not made");
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                Some(m) = self.msgs.recv() => self.on_msg(&mut mem, m).await,
                _ = tick.tick() => {
                    let plan = self.plan.borrow().clone();
                    let w = World { now: Utc::now(), plan: &plan, silences: &mem.silences };
                    let shared = self.shared.clone();
                    let own = move |check: &str| shared.checks.lock().expect("lock").get(check).and_then(|c| c.spec.route.clone());
                    let out = mem.router.tick(&w, &own);
                    self.send(&mut mem, out).await;
                }
                _ = refresh_silences.tick() => self.reload_silences(&mut mem).await,
                _ = stop.changed() => break,
            }
        }
    }

    async fn reload_silences(&self, mem: &mut Memory) {
        let j = self.journal.clone();
        if let Ok(Ok(s)) = tokio::task::spawn_blocking(move || j.silences(now_ms())).await {
            mem.silences = s;
        }
    }

    async fn on_msg(&mut self, mem: &mut Memory, m: Msg) {
        match m {
            Msg::SilencesChanged => self.reload_silences(mem).await,
            Msg::RecoveryDone { check, incident, attempt, outcome, ended } => {
                let recheck = self.spec(&check).and_then(|s| s.recover.as_ref().map(|r| r.recheck_after)).unwrap_or(Duration::from_secs(30));
                let grace_until = ended + chrono::Duration::from_std(recheck).unwrap_or_default();
                mem.budget.finished(&check, grace_until);
                self.shared.grace.lock().expect("lock").insert(check.clone(), grace_until);
                // A little past the grace, so the recheck's result is counted.
                let at = tokio::time::Instant::now() + recheck + Duration::from_millis(100);
                let _ = self.ctl.send(Control::RunAt { check: check.clone(), at });
                tracing::info!(check = %check, incident, attempt, outcome = outcome.outcome, exit_code = ?outcome.exit_code,
                    duration_ms = outcome.duration.as_millis() as u64, recheck_in_s = recheck.as_secs(), "recovery attempt finished");
                *self.stats.recoveries.lock().expect("lock").entry((check.clone(), outcome.outcome)).or_default() += 1;
                let plan = self.plan.borrow().clone();
                let w = World { now: Utc::now(), plan: &plan, silences: &mem.silences };
                let out = mem.router.handle(Input::Recovered { check, incident, attempts: attempt }, &w);
                self.send(mem, out).await;
            }
        }
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
        };
        (Some(spec.clone()), info)
    }

    async fn on_event(&mut self, mem: &mut Memory, e: Event) {
        let (spec, info) = self.info(&e.check);
        let plan = self.plan.borrow().clone();
        let now = Utc::now();
        let mut gave_up = None;
        if let Some(recover) = spec.as_ref().and_then(|s| s.recover.clone()) {
            let paused = plan.maintenance.iter().any(|m| m.covers(&e.check) && m.active(now));
            match mem.budget.on_event(&e, &recover, paused) {
                Decision::Nothing => {}
                Decision::Run { attempt } => self.start_recovery(&e, attempt, recover),
                Decision::GiveUp { attempts } => gave_up = Some(attempts),
            }
        }
        if matches!(e.kind, crate::events::EventKind::Resolved { .. } | crate::events::EventKind::Removed) {
            self.shared.grace.lock().expect("lock").remove(&e.check);
        }
        let w = World { now, plan: &plan, silences: &mem.silences };
        let (check, incident) = (e.check.clone(), e.incident.unwrap_or(0));
        let mut out = mem.router.handle(Input::Event(e, info), &w);
        if let Some(attempts) = gave_up {
            tracing::error!(check = %check, incident, attempts, "recovery gave up: the budget is spent and the check still fails");
            *self.stats.gave_up.lock().expect("lock").entry(check.clone()).or_default() += 1;
            let row = RecoveryRow {
                check: check.clone(),
                incident,
                attempt: attempts,
                started: String::new(),
                duration_ms: 0,
                action: spec.as_ref().and_then(|s| s.recover.as_ref()).map(|r| r.action.describe()).unwrap_or_default(),
                outcome: "gave-up".into(),
                exit_code: None,
                output: format!("{attempts} attempts for this incident; budget spent"),
            };
            let j = self.journal.clone();
            let _ = tokio::task::spawn_blocking(move || j.record_recovery(&row, now_ms())).await;
            out.extend(mem.router.handle(Input::GaveUp { check, incident, attempts, at: now }, &w));
        }
        self.send(mem, out).await;
    }

    fn start_recovery(&self, e: &Event, attempt: u32, recover: crate::recovery::RecoverSpec) {
        let (check, incident) = (e.check.clone(), e.incident.unwrap_or(0));
        // Failures while it runs are not counted; the recheck after it is.
        let until = Utc::now() + chrono::Duration::from_std(recover.timeout + recover.recheck_after).unwrap_or_default();
        self.shared.grace.lock().expect("lock").insert(check.clone(), until);
        tracing::warn!(check = %check, incident, attempt, action = %recover.action.describe(), "running recovery action");
        let (journal, msgs, http) = (self.journal.clone(), self.msgs_tx.clone(), self.http.clone());
        tokio::spawn(async move {
            let started = now_ms();
            let env = [("PICKET_CHECK", check.clone()), ("PICKET_INCIDENT", incident.to_string()), ("PICKET_ATTEMPT", attempt.to_string())];
            let outcome = action::run(&recover.action, recover.timeout, &env, &http).await;
            let row = RecoveryRow {
                check: check.clone(),
                incident,
                attempt,
                started: String::new(),
                duration_ms: outcome.duration.as_millis() as i64,
                action: recover.action.describe(),
                outcome: outcome.outcome.to_string(),
                exit_code: outcome.exit_code,
                output: outcome.output.clone(),
            };
            match tokio::task::spawn_blocking(move || journal.record_recovery(&row, started)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(check = %check, "cannot record the recovery attempt: {e}"),
                Err(e) => tracing::error!(check = %check, "cannot record the recovery attempt: {e}"),
            }
            let _ = msgs.send(Msg::RecoveryDone { check, incident, attempt, outcome, ended: Utc::now() });
        });
    }

    /// Writes the router's output to the outbox (committed before delivery may see it),
    /// saves the router's memory if it changed, and wakes delivery.
    async fn send(&self, mem: &mut Memory, out: Vec<Outgoing>) {
        let json = mem.router.to_json();
        let save = (json != mem.saved).then(|| json.clone());
        mem.saved = json;
        if out.is_empty() && save.is_none() {
            return;
        }
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
        let res = tokio::task::spawn_blocking(move || -> rusqlite::Result<usize> {
            let pending = if rows.is_empty() { 0 } else { j.enqueue(&rows, now_ms())? };
            if let Some(s) = save {
                j.set_meta(ROUTER_KEY, &s)?;
            }
            Ok(pending)
        })
        .await;
        match res {
            Ok(Ok(pending)) if pending > 0 => self.wake.notify_one(),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!("cannot write notifications to the outbox: {e}"),
            Err(e) => tracing::error!("cannot write notifications to the outbox: {e}"),
        }
    }
}
