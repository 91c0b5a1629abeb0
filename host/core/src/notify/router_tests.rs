//! The router's tests: every routing rule with a hand-moved clock.

use std::time::Duration;

use chrono::TimeZone;

use super::*;
use crate::notify::{Channel, RetryPolicy};

/// A channel as the notify crate validates it: PagerDuty skips reminders (it escalates
/// itself) and "flapping stopped" (its incident resolves or goes on), Alertmanager is re-sent every quarter of its `expire`.
fn channel(name: &str, kind: &str) -> (String, Channel) {
    let skips = if kind == "pagerduty" { vec![NoteKind::Reminder, NoteKind::FlappingStopped] } else { Vec::new() };
    let ch = Channel {
        name: name.into(),
        kind: kind.into(),
        fields: BTreeMap::new(),
        retry: RetryPolicy::default(),
        skips,
        refresh_every: None,
    };
    (name.to_string(), ch)
}

fn plan() -> NotifyPlan {
    let route = |name: &str, notify: &[&str]| Route {
        name: name.into(),
        notify: notify.iter().map(|s| s.to_string()).collect(),
        cooldown: DEFAULT_COOLDOWN,
        remind: None,
        escalate: None,
        resolved: true,
    };
    let mut critical = route("critical", &["pager", "chat"]);
    critical.remind = Some(Remind { every: Duration::from_secs(600), backoff: 2.0, max: Duration::from_secs(1800) });
    critical.escalate = Some(Escalate { after: Duration::from_secs(900), to: "managers".into() });
    NotifyPlan {
        channels: [channel("pager", "pagerduty"), channel("chat", "slack"), channel("boss", "webhook")].into_iter().collect(),
        routes: [
            ("critical".into(), critical),
            ("warning".into(), route("warning", &["chat"])),
            ("managers".into(), route("managers", &["boss"])),
        ]
        .into_iter()
        .collect(),
        maintenance: Vec::new(),
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

fn mins(m: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(m)
}

fn ev(check: &str, incident: u64, kind: EventKind, severity: Status, at: DateTime<Utc>, inhibited: bool) -> Input {
    Input::Event(
        Event { check: check.into(), at, kind, incident: Some(incident), severity, summary: "HTTP 503".into(), failures: 2, inhibited },
        CheckInfo { plugin: "http".into(), ..CheckInfo::default() },
    )
}

fn sent(out: &[Outgoing]) -> Vec<(String, NoteKind)> {
    out.iter().filter(|o| o.suppressed.is_none()).map(|o| (o.channel.clone(), o.note.kind)).collect()
}

fn held(out: &[Outgoing]) -> Vec<(String, String)> {
    out.iter().filter_map(|o| Some((o.channel.clone(), o.suppressed.clone()?))).collect()
}

struct Harness {
    router: Router,
    plan: NotifyPlan,
    silences: Vec<Silence>,
    /// What the state machine says at tick time: is the incident failing right now?
    failing: bool,
}

impl Harness {
    fn new() -> Harness {
        Harness { router: Router::new("picket@test".into()), plan: plan(), silences: Vec::new(), failing: true }
    }
    fn input(&mut self, i: Input, now: DateTime<Utc>) -> Vec<Outgoing> {
        let w = World { now, plan: &self.plan, silences: &self.silences };
        self.router.handle(i, &w)
    }
    fn tick(&mut self, now: DateTime<Utc>) -> Vec<Outgoing> {
        let w = World { now, plan: &self.plan, silences: &self.silences };
        let failing = self.failing;
        self.router.tick(&w, &|_| CheckNow { route: None, failing })
    }
}

#[test]
fn critical_pages_reminds_with_backoff_escalates_and_resolves_to_everyone_told() {
    let mut h = Harness::new();
    let out = h.input(ev("api", 1, EventKind::IncidentOpened, Status::Critical, mins(0), false), mins(0));
    assert_eq!(sent(&out), vec![("pager".into(), NoteKind::Trigger), ("chat".into(), NoteKind::Trigger)]);
    assert_eq!(out[0].note.dedup_key, "picket/api/1");
    assert_eq!(out[0].note.route, "critical");
    assert!(h.tick(mins(9)).is_empty());
    // Reminder at 10m: PagerDuty runs its own escalation, so only chat is reminded.
    assert_eq!(sent(&h.tick(mins(10))), vec![("chat".into(), NoteKind::Reminder)]);
    // Escalation at 15m to the managers' route.
    assert_eq!(sent(&h.tick(mins(15))), vec![("boss".into(), NoteKind::Escalation)]);
    assert!(h.tick(mins(16)).is_empty(), "escalates once");
    // Next reminder 20 min after the first (backoff 2), then capped at 30.
    assert!(h.tick(mins(29)).is_empty());
    assert_eq!(sent(&h.tick(mins(30))), vec![("chat".into(), NoteKind::Reminder)]);
    assert!(h.tick(mins(59)).is_empty());
    assert_eq!(sent(&h.tick(mins(60))), vec![("chat".into(), NoteKind::Reminder)]);
    assert_eq!(sent(&h.tick(mins(90))), vec![("chat".into(), NoteKind::Reminder)]);
    let out = h.input(ev("api", 1, EventKind::Resolved { lasted_s: 0 }, Status::Critical, mins(95), false), mins(95));
    assert_eq!(
        sent(&out),
        vec![("boss".into(), NoteKind::Resolved), ("chat".into(), NoteKind::Resolved), ("pager".into(), NoteKind::Resolved)]
    );
    assert_eq!(out[0].note.lasted_s, Some(95 * 60));
    assert!(h.tick(mins(200)).is_empty());
}

#[test]
fn warnings_cool_down_per_check_but_critical_breaks_through() {
    let mut h = Harness::new();
    let open = |h: &mut Harness, id, sev, at| h.input(ev("disk", id, EventKind::IncidentOpened, sev, at, false), at);
    let resolve = |h: &mut Harness, id, at| h.input(ev("disk", id, EventKind::Resolved { lasted_s: 0 }, Status::Warning, at, false), at);
    assert_eq!(sent(&open(&mut h, 1, Status::Warning, mins(0))), vec![("chat".into(), NoteKind::Trigger)]);
    assert_eq!(sent(&resolve(&mut h, 1, mins(10))), vec![("chat".into(), NoteKind::Resolved)]);
    // A second warning 1 h later is held (and recorded as such), and so is its resolve.
    let out = open(&mut h, 2, Status::Warning, mins(60));
    assert!(sent(&out).is_empty());
    assert!(held(&out)[0].1.starts_with("cooldown"), "{out:?}");
    assert!(resolve(&mut h, 2, mins(70)).is_empty());
    // Other checks have their own cooldown.
    let out = h.input(ev("other", 3, EventKind::IncidentOpened, Status::Warning, mins(61), false), mins(61));
    assert_eq!(sent(&out).len(), 1);
    // Held warning turning critical is sent at once on the critical route.
    open(&mut h, 4, Status::Warning, mins(120));
    let out = h.input(ev("disk", 4, EventKind::SeverityChanged { from: Status::Warning }, Status::Critical, mins(121), false), mins(121));
    assert_eq!(sent(&out), vec![("pager".into(), NoteKind::Trigger), ("chat".into(), NoteKind::Trigger)]);
    h.input(ev("disk", 4, EventKind::Resolved { lasted_s: 0 }, Status::Critical, mins(130), false), mins(130));
    // After 6 h the next warning goes out again.
    assert_eq!(sent(&open(&mut h, 5, Status::Warning, mins(361))), vec![("chat".into(), NoteKind::Trigger)]);
}

#[test]
fn inhibited_children_are_held_then_released_if_still_failing() {
    let mut h = Harness::new();
    let out = h.input(ev("worker", 7, EventKind::IncidentOpened, Status::Critical, mins(0), true), mins(0));
    assert!(sent(&out).is_empty());
    assert_eq!(held(&out).len(), 2, "recorded for both channels, marked inhibited: {out:?}");
    assert!(held(&out)[0].1.starts_with("inhibited"));
    // Still inhibited: nothing new (not even another suppressed row).
    assert!(h.input(ev("worker", 7, EventKind::StillFailing { failures: 3 }, Status::Critical, mins(1), true), mins(1)).is_empty());
    assert!(h.tick(mins(20)).is_empty(), "no reminders or escalation while held");
    // The parent recovered but the child still fails: now it pages.
    let out = h.input(ev("worker", 7, EventKind::StillFailing { failures: 4 }, Status::Critical, mins(2), false), mins(2));
    assert_eq!(sent(&out), vec![("pager".into(), NoteKind::Trigger), ("chat".into(), NoteKind::Trigger)]);
    // A child that recovers while held is never announced at all.
    h.input(ev("cache", 8, EventKind::IncidentOpened, Status::Critical, mins(3), true), mins(3));
    assert!(h.input(ev("cache", 8, EventKind::Resolved { lasted_s: 60 }, Status::Critical, mins(4), true), mins(4)).is_empty());
}

#[test]
fn silences_hold_acknowledge_and_release_when_they_end() {
    let mut h = Harness::new();
    h.silences.push(Silence {
        id: 1,
        check: "app-*".into(),
        created: String::new(),
        until: "later".into(),
        reason: "deploy".into(),
        by: "alice".into(),
        until_ms: mins(30).timestamp_millis(),
    });
    let out = h.input(ev("app-db", 1, EventKind::IncidentOpened, Status::Critical, mins(0), false), mins(0));
    assert!(sent(&out).is_empty());
    assert!(held(&out)[0].1.contains("silenced until later by alice: deploy"), "{out:?}");
    assert!(h.tick(mins(29)).is_empty());
    // The silence ended and it still fails: page now; the timers start from here.
    let out = h.tick(mins(30));
    assert_eq!(sent(&out), vec![("pager".into(), NoteKind::Trigger), ("chat".into(), NoteKind::Trigger)]);
    assert!(h.tick(mins(39)).is_empty());
    assert_eq!(sent(&h.tick(mins(40))), vec![("chat".into(), NoteKind::Reminder)]);
    // A silence set after paging stops reminders and escalation (it acknowledges).
    h.silences[0].until_ms = mins(120).timestamp_millis();
    assert!(h.tick(mins(45)).is_empty());
    assert!(h.tick(mins(80)).is_empty());
    // Resolved is still sent to those who were paged.
    let out = h.input(ev("app-db", 1, EventKind::Resolved { lasted_s: 0 }, Status::Critical, mins(90), false), mins(90));
    assert_eq!(sent(&out).len(), 2);
}

#[test]
fn maintenance_windows_hold_like_silences() {
    let mut h = Harness::new();
    h.plan.maintenance.push(Maintenance {
        checks: vec!["db".into()],
        window: quiet::Window::Once { start: mins(0), end: mins(60) },
        reason: "upgrade".into(),
        line: 1,
    });
    let out = h.input(ev("db", 1, EventKind::IncidentOpened, Status::Critical, mins(5), false), mins(5));
    assert_eq!(held(&out)[0].1, "maintenance: upgrade");
    assert_eq!(sent(&h.tick(mins(60))).len(), 2);
}

#[test]
fn recovery_gave_up_is_its_own_alert_on_the_critical_route_and_resolves_with_the_incident() {
    let mut h = Harness::new();
    h.input(ev("api", 4, EventKind::IncidentOpened, Status::Warning, mins(0), false), mins(0));
    h.input(Input::Recovered { check: "api".into(), incident: 4, attempts: 3 }, mins(1));
    let out = h.input(gave_up("api", 4, 3, mins(2)), mins(2));
    assert_eq!(sent(&out), vec![("pager".into(), NoteKind::RecoveryGaveUp), ("chat".into(), NoteKind::RecoveryGaveUp)]);
    // The pager never heard of this warning: an alert of its own. Chat did: an update.
    assert_eq!(out[0].note.dedup_key, "picket/api/4/recovery-gave-up");
    assert_eq!(out[1].note.dedup_key, "picket/api/4");
    assert_eq!(out[0].note.severity, Status::Critical);
    assert_eq!(out[0].note.recovery_attempts, 3);
    assert!(out[0].note.summary.starts_with("recovery gave up after 3 attempts (last: exit 1: no DOCKER_HOST); still failing: "));
    let out = h.input(ev("api", 4, EventKind::Resolved { lasted_s: 0 }, Status::Warning, mins(9), false), mins(9));
    let keys: Vec<(String, String)> = out.iter().map(|o| (o.channel.clone(), o.note.dedup_key.clone())).collect();
    // Exactly one "resolved" per channel, each closing the alert that channel has.
    assert_eq!(keys, vec![("chat".into(), "picket/api/4".into()), ("pager".into(), "picket/api/4/recovery-gave-up".into())]);
    assert!(out.iter().all(|o| o.note.recovery_gave_up));
}

fn gave_up(check: &str, incident: u64, attempts: u32, at: DateTime<Utc>) -> Input {
    let why = format!("recovery gave up after {attempts} attempts (last: exit 1: no DOCKER_HOST)");
    Input::GaveUp { check: check.into(), incident, attempts, at, why }
}

#[test]
fn a_critical_incident_that_gave_up_resolves_once_per_channel() {
    let mut h = Harness::new();
    h.input(ev("api", 2, EventKind::IncidentOpened, Status::Critical, mins(0), false), mins(0));
    let out = h.input(gave_up("api", 2, 3, mins(3)), mins(3));
    assert!(out.iter().all(|o| o.note.dedup_key == "picket/api/2"), "an update of the page, not a second page");
    let out = h.input(ev("api", 2, EventKind::Resolved { lasted_s: 0 }, Status::Critical, mins(9), false), mins(9));
    assert_eq!(sent(&out), vec![("chat".into(), NoteKind::Resolved), ("pager".into(), NoteKind::Resolved)]);
}

#[test]
fn a_gave_up_held_by_a_silence_is_sent_when_the_silence_ends_while_still_failing() {
    let mut h = Harness::new();
    h.input(ev("api", 3, EventKind::IncidentOpened, Status::Critical, mins(0), false), mins(0));
    h.silences.push(Silence {
        id: 1,
        check: "api".into(),
        created: String::new(),
        until: String::new(),
        reason: "deploy".into(),
        by: "ops".into(),
        until_ms: mins(30).timestamp_millis(),
    });
    let out = h.input(gave_up("api", 3, 3, mins(5)), mins(5));
    assert!(sent(&out).is_empty());
    assert_eq!(held(&out).len(), 2, "recorded as held, not lost");
    assert!(sent(&h.tick(mins(29))).is_empty());
    let out = h.tick(mins(30));
    // The escalation due at 15 minutes waited for the silence too.
    assert_eq!(
        sent(&out),
        vec![("pager".into(), NoteKind::RecoveryGaveUp), ("chat".into(), NoteKind::RecoveryGaveUp), ("boss".into(), NoteKind::Escalation)]
    );
    assert!(sent(&h.tick(mins(31))).iter().all(|(_, k)| *k != NoteKind::RecoveryGaveUp), "once");
}

#[test]
fn reminders_and_escalation_wait_while_the_incident_is_not_failing_right_now() {
    let mut h = Harness::new();
    h.input(ev("api", 1, EventKind::IncidentOpened, Status::Critical, mins(0), false), mins(0));
    // One ok result, short of resolve_after: not failing at this moment.
    h.failing = false;
    assert!(h.tick(mins(10)).is_empty(), "no reminder");
    assert!(h.tick(mins(15)).is_empty(), "no escalation");
    assert!(h.tick(mins(40)).is_empty());
    // Failing again: what was due goes out now, once.
    h.failing = true;
    assert_eq!(sent(&h.tick(mins(41))), vec![("chat".into(), NoteKind::Reminder), ("boss".into(), NoteKind::Escalation)]);
    assert!(h.tick(mins(42)).is_empty());
}

#[test]
fn flapping_is_one_notification_then_stopped_then_one_resolve_and_no_escalation() {
    let mut h = Harness::new();
    let start = EventKind::FlappingStarted { changes: 5, percent: 56, results: 6 };
    let out = h.input(ev("api", 1, start, Status::Critical, mins(0), false), mins(0));
    assert_eq!(sent(&out), vec![("pager".into(), NoteKind::Flapping), ("chat".into(), NoteKind::Flapping)]);
    assert!(out[0].note.summary.starts_with("flapping: 5 ok/failure changes in the last 6 results (56%)"), "{}", out[0].note.summary);
    assert_eq!(out[0].note.dedup_key, "picket/api/1");
    // Flapping, then healthy: the clock passes escalate.after and nobody is escalated to.
    h.failing = false;
    for m in 1..30 {
        assert!(h.tick(mins(m)).is_empty(), "minute {m}");
    }
    let out = h.input(ev("api", 1, EventKind::FlappingStopped, Status::Critical, mins(30), false), mins(30));
    assert_eq!(sent(&out), vec![("chat".into(), NoteKind::FlappingStopped)], "PagerDuty waits for the resolve");
    let out = h.input(ev("api", 1, EventKind::Resolved { lasted_s: 0 }, Status::Critical, mins(30), false), mins(30));
    assert_eq!(sent(&out), vec![("chat".into(), NoteKind::Resolved), ("pager".into(), NoteKind::Resolved)]);
    assert!(h.tick(mins(60)).is_empty());
}

#[test]
fn an_open_incident_that_starts_flapping_says_so_and_stops_reminding() {
    let mut h = Harness::new();
    h.input(ev("api", 1, EventKind::IncidentOpened, Status::Critical, mins(0), false), mins(0));
    let start = EventKind::FlappingStarted { changes: 6, percent: 60, results: 11 };
    let out = h.input(ev("api", 1, start, Status::Critical, mins(5), false), mins(5));
    assert_eq!(sent(&out), vec![("pager".into(), NoteKind::Flapping), ("chat".into(), NoteKind::Flapping)]);
    // The state machine says "not failing now" while it flaps; the router holds off too.
    assert!(h.tick(mins(20)).is_empty());
    let out = h.input(ev("api", 1, EventKind::FlappingStopped, Status::Critical, mins(21), false), mins(21));
    assert_eq!(sent(&out), vec![("chat".into(), NoteKind::FlappingStopped)]);
    // Goes on as an ordinary incident: the overdue reminder and escalation now go out.
    assert_eq!(sent(&h.tick(mins(22))), vec![("chat".into(), NoteKind::Reminder), ("boss".into(), NoteKind::Escalation)]);
}

#[test]
fn alertmanager_hears_an_open_incident_again_before_it_would_expire() {
    let mut h = Harness::new();
    let (_, mut am) = channel("am", "alertmanager");
    am.refresh_every = Some(Duration::from_secs(15 * 60));
    h.plan.channels.insert("am".into(), am);
    h.plan.routes.get_mut("warning").unwrap().notify.push("am".into());
    let out = h.input(ev("db", 1, EventKind::IncidentOpened, Status::Warning, mins(0), false), mins(0));
    assert_eq!(sent(&out), vec![("chat".into(), NoteKind::Trigger), ("am".into(), NoteKind::Trigger)]);
    assert!(h.tick(mins(14)).is_empty());
    // A quarter of `expire`, silenced or not; the chat channel is not bothered.
    h.silences.push(Silence {
        id: 1,
        check: "db".into(),
        created: String::new(),
        until: String::new(),
        reason: "x".into(),
        by: "y".into(),
        until_ms: mins(100).timestamp_millis(),
    });
    assert_eq!(sent(&h.tick(mins(15))), vec![("am".into(), NoteKind::Reminder)]);
    assert!(h.tick(mins(29)).is_empty());
    assert_eq!(sent(&h.tick(mins(30))), vec![("am".into(), NoteKind::Reminder)]);
    let out = h.input(ev("db", 1, EventKind::Resolved { lasted_s: 0 }, Status::Warning, mins(31), false), mins(31));
    assert!(sent(&out).contains(&("am".into(), NoteKind::Resolved)));
    assert!(h.tick(mins(60)).is_empty());
}

#[test]
fn state_survives_a_restart() {
    let mut h = Harness::new();
    h.input(ev("api", 1, EventKind::IncidentOpened, Status::Critical, mins(0), false), mins(0));
    let json = h.router.to_json();
    h.router = Router::restore(&json, "picket@test".into()).unwrap();
    let out = h.input(ev("api", 1, EventKind::Resolved { lasted_s: 0 }, Status::Critical, mins(5), false), mins(5));
    assert_eq!(sent(&out).len(), 2);
}

#[test]
fn after_failure_pages_only_when_the_recheck_still_fails() {
    let mut h = Harness::new();
    let recovering = |check: &str, incident: u64, kind: EventKind, at: DateTime<Utc>, recovering: bool| {
        let Input::Event(e, mut info) = ev(check, incident, kind, Status::Critical, at, false) else { unreachable!() };
        info.recovering = recovering;
        Input::Event(e, info)
    };
    // The restart works: the incident is on record (held rows with the reason), nobody paged.
    let out = h.input(recovering("api", 1, EventKind::IncidentOpened, mins(0), true), mins(0));
    assert!(sent(&out).is_empty());
    assert!(held(&out).iter().all(|(_, why)| why.starts_with("recovery running")), "{out:?}");
    h.input(Input::Recovered { check: "api".into(), incident: 1, attempts: 1 }, mins(0));
    assert!(h.tick(mins(20)).is_empty(), "no reminder, no escalation for an incident nobody was told of");
    let out = h.input(recovering("api", 1, EventKind::Resolved { lasted_s: 40 }, mins(1), false), mins(1));
    assert!(out.is_empty(), "{out:?}");
    // With `recover.route`, the low-priority route hears it was fixed; still nobody paged.
    h.input(recovering("api", 5, EventKind::IncidentOpened, mins(2), true), mins(2));
    h.input(Input::Recovered { check: "api".into(), incident: 5, attempts: 1 }, mins(2));
    let Input::Event(e, mut info) = recovering("api", 5, EventKind::Resolved { lasted_s: 40 }, mins(3), false) else { unreachable!() };
    info.recover_route = Some("warning".into());
    let out = h.input(Input::Event(e, info), mins(3));
    assert_eq!(sent(&out), vec![("chat".into(), NoteKind::Resolved)]);
    assert!(out[0].note.summary.starts_with("fixed by recovery (1 attempt), nobody paged; it was failing: "), "{}", out[0].note.summary);
    // The restart does not help: the recheck's result releases the trigger at once.
    h.input(recovering("api", 2, EventKind::IncidentOpened, mins(30), true), mins(30));
    h.input(Input::Recovered { check: "api".into(), incident: 2, attempts: 1 }, mins(30));
    let out = h.input(recovering("api", 2, EventKind::StillFailing { failures: 3 }, mins(31), false), mins(31));
    assert_eq!(sent(&out), vec![("pager".into(), NoteKind::Trigger), ("chat".into(), NoteKind::Trigger)]);
    assert_eq!(out[0].note.recovery_attempts, 1, "says what was tried");
}
