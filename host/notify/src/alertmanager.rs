//! `kind = "alertmanager"`: Alertmanager API v2 (`POST /api/v2/alerts`). Labels are
//! `alertname`, `check`, `severity` and `plugin` — no instance label, so several pickets
//! watching the same service raise one alert that Alertmanager deduplicates, groups,
//! silences and routes (HA included). "Resolved" posts the same labels with `endsAt`.
//!
//! ```toml
//! [notify.am]
//! kind = "alertmanager"
//! url = "http://127.0.0.1:9093"      # the Alertmanager, not the API path
//! expire = "24h"                     # endsAt while firing; reminders push it on
//! ```
//!
//! Alertmanager resolves an alert by itself at `endsAt`; picket sets it `expire` ahead
//! and sends it again every quarter of `expire` while the incident is open (and with every
//! reminder), so a picket that disappears does not leave an alert firing forever, and
//! one that keeps running never lets it lapse.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{FieldError, Fields, NoteKind, Notification, Provider, SendContext, SendFuture, check_response};
use picket_core::result::Status;

pub struct Alertmanager {
    url: url::Url,
    expire: Duration,
}

impl std::fmt::Debug for Alertmanager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alertmanager").field("host", &self.url.host_str()).field("expire", &self.expire).finish()
    }
}

fn alert(n: &Notification, severity: Status, ends: DateTime<Utc>) -> serde_json::Value {
    let alertname = if n.kind == NoteKind::RecoveryGaveUp { "PicketRecoveryGaveUp" } else { "PicketCheckFailing" };
    let mut annotations = json!({
        "summary": n.summary,
        "incident": n.incident.to_string(),
        "dedup_key": n.dedup_key,
        "source": n.source,
        "recovery_attempts": n.recovery_attempts.to_string(),
    });
    if let Some(d) = &n.description {
        annotations["description"] = d.clone().into();
    }
    if let Some(r) = &n.runbook {
        annotations["runbook_url"] = r.clone().into();
    }
    if let Some(v) = n.values_line() {
        annotations["value"] = v.into();
    }
    json!({
        "labels": { "alertname": alertname, "check": n.check, "severity": severity.as_str(), "plugin": n.plugin },
        "annotations": annotations,
        "startsAt": n.since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "endsAt": ends.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    })
}

/// The alerts to post for one notification.
pub fn payload(n: &Notification, expire: Duration) -> serde_json::Value {
    let firing_until = n.at + chrono::Duration::from_std(expire).unwrap_or(chrono::Duration::hours(24));
    match n.kind {
        // Recovery's own alert ends with the incident's.
        NoteKind::Resolved if n.recovery_gave_up => {
            let gave_up = Notification { kind: NoteKind::RecoveryGaveUp, ..n.clone() };
            json!([alert(n, n.severity, n.at), alert(&gave_up, Status::Critical, n.at)])
        }
        NoteKind::Resolved => json!([alert(n, n.severity, n.at)]),
        // The old severity's alert ends: it is a different label set.
        NoteKind::SeverityChanged => match n.previous_severity {
            Some(prev) if prev != n.severity => json!([alert(n, prev, n.at), alert(n, n.severity, firing_until)]),
            _ => json!([alert(n, n.severity, firing_until)]),
        },
        _ => json!([alert(n, n.severity, firing_until)]),
    }
}

impl Alertmanager {
    pub fn parse(f: &Fields) -> Result<Alertmanager, FieldError> {
        let base = f.url("url", None)?;
        let url = base
            .join(&format!("{}/api/v2/alerts", base.path().trim_end_matches('/')))
            .map_err(|e| FieldError::new("url", format!("cannot add /api/v2/alerts: {e}")))?;
        let expire = f.opt_duration("expire")?.unwrap_or(Duration::from_secs(86400));
        if expire < Duration::from_secs(60) {
            return Err(FieldError::new("expire", "must be at least 1m"));
        }
        Ok(Alertmanager { url, expire })
    }
}

impl Provider for Alertmanager {
    fn kind(&self) -> &'static str {
        "alertmanager"
    }

    /// The alert keeps firing until it resolves: "flapping stopped" says nothing new to it.
    fn wants(&self, kind: NoteKind) -> bool {
        kind != NoteKind::FlappingStopped
    }

    fn refresh_every(&self) -> Option<Duration> {
        Some(self.expire / 4)
    }

    fn send<'a>(&'a self, n: &'a Notification, cx: &'a SendContext) -> SendFuture<'a> {
        Box::pin(async move {
            let body = payload(n, self.expire);
            check_response(cx.http.post(self.url.clone()).json(&body).send().await).await
        })
    }
}
