//! `kind = "slack"`: a Slack incoming webhook, one attachment per notification coloured by
//! severity, with the fields on-call asks for first: check, severity, value vs threshold,
//! since when, recovery attempts, runbook.
//!
//! ```toml
//! [notify.slack]
//! kind = "slack"
//! url = { env = "SLACK_WEBHOOK_URL" }
//! channel = "#ops-alerts"     # optional; the webhook's own channel otherwise
//! ```

use serde_json::json;

use super::{FieldError, Fields, NoteKind, Notification, Provider, SendContext, SendFuture, check_response};
use picket_core::result::Status;

pub struct Slack {
    url: url::Url,
    channel: Option<String>,
}

impl std::fmt::Debug for Slack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slack").field("channel", &self.channel).finish_non_exhaustive()
    }
}

/// Slack's own colours: danger, warning, good; grey for unknown.
pub fn colour(n: &Notification) -> &'static str {
    match (n.kind, n.severity) {
        (NoteKind::Resolved | NoteKind::FlappingStopped, _) => "#2eb886",
        (NoteKind::RecoveryGaveUp, _) | (_, Status::Critical) => "#d50200",
        (_, Status::Warning) => "#daa038",
        _ => "#808080",
    }
}

/// The message body.
pub fn payload(n: &Notification, channel: Option<&str>) -> serde_json::Value {
    let short = |title: &str, value: String| json!({ "title": title, "value": value, "short": true });
    let mut fields = vec![short("Check", n.check.clone()), short("Severity", n.severity.as_str().to_string())];
    if let Some(v) = n.values_line() {
        fields.push(json!({ "title": "Value", "value": v, "short": false }));
    }
    fields.push(short("Since", n.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    if let Some(s) = n.lasted_s {
        fields.push(short("Lasted", picket_core::units::format_duration(std::time::Duration::from_secs(s))));
    }
    fields.push(short("Recovery attempts", n.recovery_attempts.to_string()));
    if let Some(r) = &n.runbook {
        fields.push(json!({ "title": "Runbook", "value": format!("<{r}|runbook>"), "short": true }));
    }
    let mut body = json!({
        "text": n.headline(),
        "attachments": [{
            "color": colour(n),
            "fallback": n.headline(),
            "title": format!("{} — incident {}", n.check, n.incident),
            "text": n.description.clone().unwrap_or_else(|| n.summary.clone()),
            "fields": fields,
            "footer": n.source,
            "ts": n.at.timestamp(),
        }],
    });
    if let Some(c) = channel {
        body["channel"] = c.into();
    }
    body
}

impl Slack {
    pub fn parse(f: &Fields) -> Result<Slack, FieldError> {
        Ok(Slack { url: f.url("url", None)?, channel: f.opt_str("channel")? })
    }
}

impl Provider for Slack {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn send<'a>(&'a self, n: &'a Notification, cx: &'a SendContext) -> SendFuture<'a> {
        Box::pin(async move {
            let body = payload(n, self.channel.as_deref());
            check_response(cx.http.post(self.url.clone()).json(&body).send().await).await
        })
    }
}
