//! Who hears about what, and when: events and recovery outcomes in, [`Outgoing`]
//! notifications out. Pure — the clock, silences and plan are passed in — so cooldown,
//! reminders, escalation, inhibition and silences are tested by moving time by hand.
//!
//! Per open incident the router remembers which channels were told (so "resolved" goes to
//! exactly those, once each), why it is held back if it is (inhibited, silenced,
//! maintenance, cooldown), and when the next reminder and the escalation are due.
//! Reminders and escalations go out only while the incident is failing at that moment
//! ([`CheckNow::failing`]): not while its latest result is ok, nor while it flaps, is
//! inhibited or is quiet. Held notifications are still written to the outbox, as
//! `suppressed` with the reason: held back, not lost. When the reason goes away while the
//! incident is still open (the parent recovers, the silence ends), what was held (the
//! trigger, a "recovery gave up") is sent then.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::quiet::Silence;
use super::quiet::{self, Maintenance};
use super::{Channel, NoteKind, Notification, Value};
use crate::events::{Event, EventKind};
use crate::result::Status;

/// The default warning cooldown: the seed runbooks' "warnings to Slack at most once per
/// 6 hours per check".
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(6 * 3600);

/// `[route.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub name: String,
    /// Channel names (`[notify.NAME]`), all existing.
    pub notify: Vec<String>,
    /// After a warning is sent for a check, its next warnings within this time are held.
    pub cooldown: Duration,
    pub remind: Option<Remind>,
    pub escalate: Option<Escalate>,
    /// Send "resolved" to the channels that were told (default true).
    pub resolved: bool,
}

/// Reminders while still failing: after `every`, then each gap `backoff` times the last,
/// up to `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Remind {
    pub every: Duration,
    pub backoff: f64,
    pub max: Duration,
}

/// Not resolved `after` the first notification: tell route `to` as well.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalate {
    pub after: Duration,
    pub to: String,
}

/// The notification half of a configuration plan: `[notify.*]`, `[route.*]`,
/// `[[maintenance]]`.
#[derive(Debug, Clone, Default)]
pub struct NotifyPlan {
    pub channels: BTreeMap<String, Channel>,
    pub routes: BTreeMap<String, Route>,
    pub maintenance: Vec<Maintenance>,
}

impl NotifyPlan {
    /// The route for a check at a severity: its own (`alert.route`), else the one named
    /// after the severity; unknown falls back to critical.
    pub fn route_for(&self, own: Option<&str>, severity: Status) -> Option<&Route> {
        if let Some(r) = own {
            return self.routes.get(r);
        }
        match severity {
            Status::Unknown => self.routes.get("unknown").or_else(|| self.routes.get("critical")),
            s => self.routes.get(s.as_str()),
        }
    }
}

/// What the router needs to know about a check besides the event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckInfo {
    pub plugin: String,
    pub target: String,
    pub description: Option<String>,
    pub runbook: Option<String>,
    /// `alert.route`.
    pub route: Option<String>,
    /// The last result's metrics against their thresholds.
    pub values: Vec<Value>,
    pub parents: Vec<String>,
    /// `recover.notify = "after_failure"` and the first recovery attempt for this incident
    /// is running or waiting for its recheck: the trigger waits for the verdict.
    #[serde(default)]
    pub recovering: bool,
    /// `recover.route`: told when recovery fixed an incident nobody was paged for.
    #[serde(default)]
    pub recover_route: Option<String>,
}

// Built and consumed one at a time, never stored: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Input {
    Event(Event, CheckInfo),
    /// A recovery attempt ran for the incident (the count goes into later notifications).
    Recovered {
        check: String,
        incident: u64,
        attempts: u32,
    },
    /// The recovery budget is spent: raise it on the critical route.
    GaveUp {
        check: String,
        incident: u64,
        attempts: u32,
        at: DateTime<Utc>,
        /// What was tried and how it ended, or why nothing was (the budget was already
        /// spent): the notification's first words.
        why: String,
    },
}

/// What the router asks about a check when its timers are due.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckNow {
    /// `alert.route`.
    pub route: Option<String>,
    /// The incident is failing at this moment (`CheckState::failing_now`).
    pub failing: bool,
}

/// One notification for one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub channel: String,
    pub note: Notification,
    /// Held back (and why): written to the outbox as suppressed, never sent.
    pub suppressed: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Hold {
    Inhibited,
    Recovering,
    Quiet,
    Cooldown,
    NoRoute,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tracked {
    /// The latest facts (summary, values, severity), used for reminders and "resolved".
    note: Notification,
    inhibited: bool,
    #[serde(default)]
    recovering: bool,
    hold: Option<Hold>,
    /// Channels told of the incident, which will hear it resolved.
    told: BTreeSet<String>,
    /// Channels told that recovery gave up.
    told_gave_up: BTreeSet<String>,
    next_reminder: Option<DateTime<Utc>>,
    reminder_gap_s: f64,
    escalate_at: Option<DateTime<Utc>>,
    escalated: bool,
    /// Channels that forget alerts (Alertmanager): when each was last sent this incident.
    #[serde(default)]
    refreshed: BTreeMap<String, DateTime<Utc>>,
    /// The check is flapping: its trigger reads "flapping", and no reminders go out.
    #[serde(default)]
    flapping: bool,
    /// A "recovery gave up" held by a silence or maintenance, sent when it ends.
    #[serde(default)]
    gave_up_held: Option<Notification>,
}

impl Tracked {
    /// A newly opened incident, not told to anyone yet.
    fn new(note: Notification, inhibited: bool, recovering: bool, flapping: bool) -> Tracked {
        Tracked {
            note,
            inhibited,
            recovering,
            hold: None,
            told: BTreeSet::new(),
            told_gave_up: BTreeSet::new(),
            next_reminder: None,
            reminder_gap_s: 0.0,
            escalate_at: None,
            escalated: false,
            refreshed: BTreeMap::new(),
            flapping,
            gave_up_held: None,
        }
    }
}

/// The router's memory, persisted in the journal after every change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Router {
    incidents: BTreeMap<String, Tracked>,
    /// When a warning was last sent per check (the cooldown clock).
    last_warning: BTreeMap<String, DateTime<Utc>>,
    #[serde(skip)]
    source: String,
}

pub fn dedup_key(check: &str, incident: u64) -> String {
    format!("picket/{check}/{incident}")
}

fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(3650))
}

/// Everything the router reads besides its own memory.
pub struct World<'a> {
    pub now: DateTime<Utc>,
    pub plan: &'a NotifyPlan,
    pub silences: &'a [Silence],
}

impl World<'_> {
    fn quiet(&self, check: &str) -> Option<String> {
        quiet::reason(check, self.now, self.silences, &self.plan.maintenance)
    }

    /// Outgoing copies of `note` for every channel of `route` that wants its kind.
    fn fan_out(&self, route: &Route, note: &Notification, suppressed: Option<&str>, out: &mut Vec<Outgoing>) -> BTreeSet<String> {
        let mut told = BTreeSet::new();
        for name in &route.notify {
            let Some(ch) = self.plan.channels.get(name) else { continue };
            if !ch.wants(note.kind) {
                continue;
            }
            let mut note = note.clone();
            note.route = route.name.clone();
            out.push(Outgoing { channel: name.clone(), note, suppressed: suppressed.map(str::to_string) });
            told.insert(name.clone());
        }
        told
    }
}

impl Router {
    pub fn new(source: String) -> Router {
        Router { source, ..Router::default() }
    }

    /// A router restored from the journal; an unreadable one is the caller's to report.
    pub fn restore(json: &str, source: String) -> Result<Router, serde_json::Error> {
        let mut r = serde_json::from_str::<Router>(json)?;
        r.source = source;
        Ok(r)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("router serializes")
    }

    /// The incident tracked for `check`, if any.
    pub fn tracked(&self, check: &str) -> Option<u64> {
        self.incidents.get(check).map(|t| t.note.incident)
    }

    pub fn all_tracked(&self) -> Vec<(String, u64)> {
        self.incidents.iter().map(|(c, t)| (c.clone(), t.note.incident)).collect()
    }

    fn note(&self, kind: NoteKind, e: &Event, info: &CheckInfo, since: DateTime<Utc>) -> Notification {
        make_note(&self.source, kind, e, info, since)
    }

    /// Why this incident should be held right now, in order of precedence.
    fn hold_reason(&self, t: &Tracked, own_route: Option<&str>, w: &World<'_>) -> Option<(Hold, String)> {
        if t.inhibited {
            return Some((Hold::Inhibited, "inhibited: a check it depends on is down".into()));
        }
        if t.recovering {
            return Some((
                Hold::Recovering,
                "recovery running: paged only if it does not help (recover.notify = \"after_failure\")".into(),
            ));
        }
        if let Some(q) = w.quiet(&t.note.check) {
            return Some((Hold::Quiet, q));
        }
        let route = w.plan.route_for(own_route, t.note.severity)?;
        if t.note.severity == Status::Warning
            && let Some(last) = self.last_warning.get(&t.note.check)
            && w.now < after(*last, route.cooldown)
        {
            return Some((Hold::Cooldown, format!("cooldown: a warning for this check was sent at {}", last.to_rfc3339())));
        }
        None
    }

    /// Sends the trigger for `t` (or records it held); returns the outgoing rows.
    fn trigger(&mut self, check: &str, own_route: Option<&str>, w: &World<'_>, out: &mut Vec<Outgoing>) {
        let Some(mut t) = self.incidents.remove(check) else { return };
        let Some(route) = w.plan.route_for(own_route, t.note.severity).cloned() else {
            t.hold = Some(Hold::NoRoute);
            self.incidents.insert(check.to_string(), t);
            return;
        };
        let mut note = t.note.clone();
        note.kind = if t.flapping { NoteKind::Flapping } else { NoteKind::Trigger };
        match self.hold_reason(&t, own_route, w) {
            Some((hold, why)) => {
                // Recorded once per hold, not on every still-failing result.
                if t.hold != Some(hold) {
                    w.fan_out(&route, &note, Some(&why), out);
                }
                t.hold = Some(hold);
            }
            None => {
                let told = w.fan_out(&route, &note, None, out);
                t.refreshed.extend(told.iter().map(|c| (c.clone(), w.now)));
                t.told.extend(told);
                t.hold = None;
                if t.note.severity == Status::Warning {
                    self.last_warning.insert(check.to_string(), w.now);
                }
                if let Some(r) = route.remind {
                    t.next_reminder = Some(after(w.now, r.every));
                    t.reminder_gap_s = r.every.as_secs_f64();
                }
                t.escalate_at = route.escalate.as_ref().map(|e| after(w.now, e.after));
            }
        }
        self.incidents.insert(check.to_string(), t);
    }

    pub fn handle(&mut self, input: Input, w: &World<'_>) -> Vec<Outgoing> {
        let mut out = Vec::new();
        match input {
            Input::Event(e, info) => self.event(e, &info, w, &mut out),
            Input::Recovered { check, incident, attempts } => {
                if let Some(t) = self.incidents.get_mut(&check).filter(|t| t.note.incident == incident) {
                    t.note.recovery_attempts = attempts;
                }
            }
            Input::GaveUp { check, incident, attempts, at, why } => {
                let Some(t) = self.incidents.get_mut(&check).filter(|t| t.note.incident == incident) else { return out };
                t.note.recovery_attempts = t.note.recovery_attempts.max(attempts);
                let mut note = t.note.clone();
                note.kind = NoteKind::RecoveryGaveUp;
                note.severity = Status::Critical;
                note.at = at;
                note.summary = format!("{why}; still failing: {}", t.note.summary);
                match w.quiet(&check) {
                    Some(quiet) => {
                        if let Some(route) = gave_up_route(w.plan, t.note.severity) {
                            w.fan_out(route, &note, Some(&quiet), &mut out);
                        }
                        t.gave_up_held = Some(note);
                    }
                    None => send_gave_up(t, note, w, &mut out),
                }
            }
        }
        out
    }

    fn event(&mut self, e: Event, info: &CheckInfo, w: &World<'_>, out: &mut Vec<Outgoing>) {
        let Some(incident) = e.incident else { return };
        let own = info.route.as_deref();
        match &e.kind {
            EventKind::IncidentOpened => {
                let t = Tracked::new(self.note(NoteKind::Trigger, &e, info, e.at), e.inhibited, info.recovering, false);
                self.incidents.insert(e.check.clone(), t);
                self.trigger(&e.check, own, w, out);
            }
            EventKind::FlappingStarted { changes, percent, results } => {
                let summary =
                    format!("flapping: {changes} ok/failure changes in the last {results} results ({percent}%); latest: {}", e.summary);
                let e = Event { summary, ..e.clone() };
                let opened = !self.incidents.contains_key(&e.check);
                if opened {
                    let t = Tracked::new(self.note(NoteKind::Flapping, &e, info, e.at), e.inhibited, false, true);
                    self.incidents.insert(e.check.clone(), t);
                    self.trigger(&e.check, own, w, out);
                    return;
                }
                let Some(t) = self.incidents.get_mut(&e.check).filter(|t| t.note.incident == incident) else { return };
                t.flapping = true;
                t.note.summary = e.summary.clone();
                t.note.at = e.at;
                // Told already: say it flaps (to the route, as a trigger would be); held: the
                // release will read "flapping".
                if t.hold.is_none()
                    && !t.told.is_empty()
                    && let Some(route) = w.plan.route_for(own, t.note.severity).cloned()
                {
                    let mut note = t.note.clone();
                    note.kind = NoteKind::Flapping;
                    let quiet = w.quiet(&e.check);
                    let got = w.fan_out(&route, &note, quiet.as_deref(), out);
                    if quiet.is_none() {
                        t.told.extend(got);
                    }
                }
            }
            EventKind::FlappingStopped => {
                let Some(t) = self.incidents.get_mut(&e.check).filter(|t| t.note.incident == incident) else { return };
                t.flapping = false;
                if t.hold.is_some() {
                    return;
                }
                let mut note = t.note.clone();
                note.kind = NoteKind::FlappingStopped;
                note.at = e.at;
                note.summary = format!("flapping stopped; latest: {}", e.summary);
                let quiet = w.quiet(&e.check);
                for ch in &t.told {
                    if w.plan.channels.get(ch).is_some_and(|c| c.wants(NoteKind::FlappingStopped)) {
                        out.push(Outgoing { channel: ch.clone(), note: note.clone(), suppressed: quiet.clone() });
                    }
                }
            }
            EventKind::SeverityChanged { .. } | EventKind::StillFailing { .. } if self.incidents.contains_key(&e.check) => {
                let changed_from = match &e.kind {
                    EventKind::SeverityChanged { from } => Some(*from),
                    _ => None,
                };
                let source = self.source.clone();
                let Some(t) = self.incidents.get_mut(&e.check) else { return };
                if t.note.incident != incident {
                    return;
                }
                let since = t.note.since;
                let attempts = t.note.recovery_attempts;
                let dedup_key = t.note.dedup_key.clone();
                t.note = Notification { recovery_attempts: attempts, dedup_key, ..make_note(&source, NoteKind::Trigger, &e, info, since) };
                t.inhibited = e.inhibited;
                t.recovering = info.recovering;
                let held = t.hold;
                let told = !t.told.is_empty();
                match (held, changed_from) {
                    // Told already: tell the (new) route about the change.
                    (None, Some(prev)) if told => {
                        let mut note = t.note.clone();
                        note.kind = NoteKind::SeverityChanged;
                        note.previous_severity = Some(prev);
                        if let Some(route) = w.plan.route_for(own, note.severity).cloned() {
                            let quiet = w.quiet(&e.check);
                            let got = w.fan_out(&route, &note, quiet.as_deref(), out);
                            if quiet.is_none() {
                                t.told.extend(got);
                            }
                        }
                        if e.severity == Status::Warning {
                            self.last_warning.insert(e.check.clone(), w.now);
                        }
                    }
                    // Held: the reason may have gone (parent back, now critical past a cooldown).
                    (Some(_), _) => self.trigger(&e.check, own, w, out),
                    _ => {}
                }
            }
            EventKind::Resolved { .. } | EventKind::Removed => {
                let Some(t) = self.incidents.remove(&e.check) else { return };
                if t.note.incident != incident {
                    return;
                }
                let mut note = t.note.clone();
                note.kind = NoteKind::Resolved;
                note.at = e.at;
                note.summary = e.summary.clone();
                note.failures = 0;
                note.values = info.values.clone();
                note.lasted_s = Some((e.at - t.note.since).num_seconds().max(0) as u64);
                // Recovery fixed it before anyone was paged (`after_failure`): the
                // low-priority route, if the check names one, hears it was fixed.
                if t.told.is_empty()
                    && t.told_gave_up.is_empty()
                    && t.note.recovery_attempts > 0
                    && let Some(quiet_route) = info.recover_route.as_ref().and_then(|r| w.plan.routes.get(r))
                {
                    let attempts = t.note.recovery_attempts;
                    note.summary = format!(
                        "fixed by recovery ({attempts} attempt{}), nobody paged; it was failing: {}",
                        if attempts == 1 { "" } else { "s" },
                        t.note.summary
                    );
                    w.fan_out(quiet_route, &note, None, out);
                    return;
                }
                let route = w.plan.route_for(own, t.note.severity);
                if route.is_some_and(|r| !r.resolved) {
                    return;
                }
                let route_name = route.map(|r| r.name.clone()).unwrap_or_default();
                note.recovery_gave_up = !t.told_gave_up.is_empty();
                // One "resolved" per channel: with the incident's key where it was told of
                // the incident (a "gave up" there updated that alert), else with the key
                // of the "gave up" alert it heard.
                for ch in t.told.union(&t.told_gave_up) {
                    if w.plan.channels.get(ch).is_some_and(|c| c.wants(NoteKind::Resolved)) {
                        let dedup_key = if t.told.contains(ch) { note.dedup_key.clone() } else { gave_up_key(&note.dedup_key) };
                        let note = Notification { dedup_key, route: route_name.clone(), ..note.clone() };
                        out.push(Outgoing { channel: ch.clone(), note, suppressed: None });
                    }
                }
            }
            _ => {}
        }
    }

    /// Reminders, escalations, and held incidents whose silence or window ended. `now`
    /// says how each check is at this moment.
    pub fn tick(&mut self, w: &World<'_>, now: &dyn Fn(&str) -> CheckNow) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let checks: Vec<String> = self.incidents.keys().cloned().collect();
        for check in checks {
            let facts = now(&check);
            let own = facts.route.as_deref();
            let quiet = w.quiet(&check);
            let hold = self.incidents[&check].hold;
            if matches!(hold, Some(Hold::Quiet)) && quiet.is_none() {
                self.trigger(&check, own, w, &mut out);
            }
            let Some(t) = self.incidents.get_mut(&check) else { continue };
            if quiet.is_none()
                && let Some(note) = t.gave_up_held.take()
            {
                send_gave_up(t, note, w, &mut out);
            }
            if t.hold.is_some() || t.told.is_empty() {
                continue;
            }
            // Receivers that forget (Alertmanager) hear it again, silenced or not: the
            // alert is still firing, and a silence holds back news, not facts.
            for (ch, last) in t.refreshed.iter_mut() {
                let every = w.plan.channels.get(ch).and_then(|c| c.refresh_every);
                if every.is_some_and(|e| after(*last, e) <= w.now) {
                    let mut note = t.note.clone();
                    note.kind = NoteKind::Reminder;
                    note.at = w.now;
                    out.push(Outgoing { channel: ch.clone(), note, suppressed: None });
                    *last = w.now;
                }
            }
            let Some(route) = w.plan.route_for(own, t.note.severity).cloned() else { continue };
            // News of an incident that is not failing right now would wake someone for
            // nothing: reminders and escalation wait (a due one goes out if it fails again).
            if !facts.failing || t.flapping {
                continue;
            }
            if t.next_reminder.is_some_and(|d| d <= w.now) {
                if quiet.is_none() {
                    let mut note = t.note.clone();
                    note.kind = NoteKind::Reminder;
                    note.at = w.now;
                    for ch in w.fan_out(&route, &note, None, &mut out) {
                        if let Some(last) = t.refreshed.get_mut(&ch) {
                            *last = w.now;
                        }
                    }
                }
                let r = route.remind.unwrap_or(Remind { every: Duration::from_secs(3600), backoff: 1.0, max: Duration::from_secs(3600) });
                t.reminder_gap_s = (t.reminder_gap_s * r.backoff).min(r.max.as_secs_f64()).max(1.0);
                t.next_reminder = Some(after(w.now, Duration::from_secs_f64(t.reminder_gap_s)));
            }
            // A silence is an acknowledgement: nobody escalates past it.
            if let (Some(due), false, None) = (t.escalate_at, t.escalated, &quiet)
                && due <= w.now
                && let Some(esc) = &route.escalate
                && let Some(to) = w.plan.routes.get(&esc.to)
            {
                let mut note = t.note.clone();
                note.kind = NoteKind::Escalation;
                note.at = w.now;
                let told = w.fan_out(to, &note, None, &mut out);
                t.refreshed.extend(told.iter().map(|c| (c.clone(), w.now)));
                t.told.extend(told);
                t.escalated = true;
            }
        }
        out
    }
}

fn gave_up_key(incident_key: &str) -> String {
    format!("{incident_key}/recovery-gave-up")
}

/// "Recovery gave up" goes to the critical route (whoever is paged for a dead service).
fn gave_up_route(plan: &NotifyPlan, severity: Status) -> Option<&Route> {
    plan.routes.get("critical").or_else(|| plan.route_for(None, severity))
}

/// Sends a "recovery gave up": an update of the incident's alert for channels told of it,
/// an alert of its own for the others.
fn send_gave_up(t: &mut Tracked, note: Notification, w: &World<'_>, out: &mut Vec<Outgoing>) {
    let Some(route) = gave_up_route(w.plan, t.note.severity) else { return };
    let first = out.len();
    let told = w.fan_out(route, &note, None, out);
    for o in &mut out[first..] {
        if !t.told.contains(&o.channel) {
            o.note.dedup_key = gave_up_key(&o.note.dedup_key);
        }
    }
    t.told_gave_up.extend(told);
}

fn make_note(source: &str, kind: NoteKind, e: &Event, info: &CheckInfo, since: DateTime<Utc>) -> Notification {
    Notification {
        kind,
        check: e.check.clone(),
        incident: e.incident.unwrap_or(0),
        dedup_key: dedup_key(&e.check, e.incident.unwrap_or(0)),
        severity: e.severity,
        previous_severity: None,
        summary: e.summary.clone(),
        description: info.description.clone(),
        plugin: info.plugin.clone(),
        target: info.target.clone(),
        runbook: info.runbook.clone(),
        at: e.at,
        since,
        failures: e.failures,
        lasted_s: None,
        recovery_attempts: 0,
        recovery_gave_up: false,
        route: String::new(),
        values: info.values.clone(),
        source: source.to_string(),
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
