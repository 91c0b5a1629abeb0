//! `kind = "pagerduty"`: PagerDuty Events API v2. A trigger opens (or updates) the alert
//! whose `dedup_key` is the incident's; "resolved" resolves it. Reminders are skipped:
//! PagerDuty runs its own escalation policy once paged.
//!
//! ```toml
//! [notify.oncall]
//! kind = "pagerduty"
//! routing_key = { env = "PAGERDUTY_ROUTING_KEY" }
//! url = "https://events.pagerduty.com/v2/enqueue"   # the default
//! ```

use serde_json::json;

use super::{FieldError, Fields, NoteKind, Notification, Provider, SendContext, SendFuture, check_response};
use picket_core::result::Status;

pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";

pub struct PagerDuty {
    url: url::Url,
    routing_key: String,
}

impl std::fmt::Debug for PagerDuty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PagerDuty").field("host", &self.url.host_str()).finish_non_exhaustive()
    }
}

/// The Events API v2 body.
pub fn payload(n: &Notification, routing_key: &str) -> serde_json::Value {
    if n.kind == NoteKind::Resolved {
        return json!({ "routing_key": routing_key, "event_action": "resolve", "dedup_key": n.dedup_key });
    }
    let severity = match n.severity {
        Status::Critical => "critical",
        Status::Warning => "warning",
        Status::Unknown => "error",
        Status::Ok => "info",
    };
    let mut details = json!({
        "incident": n.incident,
        "since": n.since,
        "failures": n.failures,
        "recovery_attempts": n.recovery_attempts,
        "target": n.target,
        "route": n.route,
    });
    if let Some(v) = n.values_line() {
        details["value"] = v.into();
    }
    if let Some(d) = &n.description {
        details["description"] = d.clone().into();
    }
    let summary: String = n.headline().chars().take(1024).collect();
    let mut body = json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": n.dedup_key,
        "client": "picket",
        "payload": {
            "summary": summary,
            "source": n.source,
            "severity": severity,
            "timestamp": n.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "component": n.check,
            "group": n.plugin,
            "class": n.kind.as_str(),
            "custom_details": details,
        },
    });
    if let Some(r) = &n.runbook {
        body["links"] = json!([{ "href": r, "text": "Runbook" }]);
    }
    body
}

impl PagerDuty {
    pub fn parse(f: &Fields) -> Result<PagerDuty, FieldError> {
        let routing_key = f.str("routing_key")?;
        if routing_key.trim().is_empty() {
            return Err(FieldError::new("routing_key", "must not be empty"));
        }
        Ok(PagerDuty { url: f.url("url", Some(DEFAULT_URL))?, routing_key })
    }
}

impl Provider for PagerDuty {
    fn kind(&self) -> &'static str {
        "pagerduty"
    }

    /// PagerDuty escalates by itself (no reminders), and its incident either resolves or
    /// goes on after flapping stops: nothing to tell it then.
    fn wants(&self, kind: NoteKind) -> bool {
        !matches!(kind, NoteKind::Reminder | NoteKind::FlappingStopped)
    }

    fn send<'a>(&'a self, n: &'a Notification, cx: &'a SendContext) -> SendFuture<'a> {
        Box::pin(async move {
            let body = payload(n, &self.routing_key);
            check_response(cx.http.post(self.url.clone()).json(&body).send().await).await
        })
    }
}
