//! Notifications: the state machine's events become [`Notification`]s, routed by severity
//! to providers, written to the outbox, then delivered with retries.
//!
//! ```text
//! events ─▶ router (routes, cooldown, reminders, escalation, inhibition, silences,
//!  recovery ─▶   maintenance: pure, clock passed in)
//!                 │ Vec<Outgoing>
//!                 ▼
//!           journal.outbox (committed before any attempt) ─▶ delivery (retries, backoff,
//!                                                           per-incident order) ─▶ Provider::send
//! ```
//!
//! A provider is one module behind [`Provider`]: it validates its own `[notify.NAME]` table
//! ([`build`]), renders and sends one notification, and says which kinds it wants (what it
//! does on resolve). [`webhook`] is the reference to copy.

pub mod alertmanager;
pub mod delivery;
pub mod email;
pub mod log;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use picket_core::notify::{Channel, FieldError, Fields, NoteKind, Notification, RetryPolicy, Value, quiet, router};

/// Why a send failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq)]
pub struct SendError {
    pub message: String,
    /// False for a refusal that will not change (HTTP 400, 401, 403, 404): the row fails
    /// at once instead of retrying for a day.
    pub retryable: bool,
}

impl SendError {
    pub fn retry(message: impl Into<String>) -> SendError {
        SendError { message: message.into(), retryable: true }
    }

    pub fn fatal(message: impl Into<String>) -> SendError {
        SendError { message: message.into(), retryable: false }
    }

    /// Classifies an HTTP answer: 2xx ok; 408, 425, 429 and 5xx retry; other 4xx fail.
    pub fn from_status(status: reqwest::StatusCode, body: &str) -> Result<(), SendError> {
        if status.is_success() {
            return Ok(());
        }
        let body: String = body.chars().take(300).collect();
        let message = format!("HTTP {status}: {}", body.trim());
        if status.is_server_error() || [408, 425, 429].contains(&status.as_u16()) {
            Err(SendError::retry(message))
        } else {
            Err(SendError::fatal(message))
        }
    }
}

/// What every send gets besides the notification.
pub struct SendContext {
    pub http: reqwest::Client,
    /// The outbox row's id: a delivery id receivers can log (same on every retry).
    pub delivery: i64,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>>;

/// One notification channel. Implementations live one per module; `webhook` is the
/// reference.
pub trait Provider: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> &'static str;

    /// Whether this provider is sent notifications of `kind`. The default takes all;
    /// a provider with its own escalation (PagerDuty) skips reminders. On `Resolved` a
    /// provider either closes the alert it opened (PagerDuty resolve, Alertmanager
    /// `endsAt`) or posts a "resolved" message (chat, e-mail, webhook).
    fn wants(&self, _kind: NoteKind) -> bool {
        true
    }

    fn send<'a>(&'a self, n: &'a Notification, cx: &'a SendContext) -> SendFuture<'a>;

    /// For receivers that forget an alert unless told again (Alertmanager's `endsAt`):
    /// how often the router re-sends an open incident to this channel, whatever the
    /// route's reminders say.
    fn refresh_every(&self) -> Option<std::time::Duration> {
        None
    }
}

/// Every provider, listed once: its `kind` and how its table becomes a provider.
type Parse = fn(&Fields) -> Result<Arc<dyn Provider>, FieldError>;
const PROVIDERS: &[(&str, Parse)] = &[
    ("log", |f| Ok(Arc::new(log::Log::parse(f)?))),
    ("webhook", |f| Ok(Arc::new(webhook::Webhook::parse(f)?))),
    ("slack", |f| Ok(Arc::new(slack::Slack::parse(f)?))),
    ("pagerduty", |f| Ok(Arc::new(pagerduty::PagerDuty::parse(f)?))),
    ("alertmanager", |f| Ok(Arc::new(alertmanager::Alertmanager::parse(f)?))),
    ("email", |f| Ok(Arc::new(email::Email::parse(f)?))),
];

/// The provider kinds, for messages.
pub fn kinds() -> impl Iterator<Item = &'static str> {
    PROVIDERS.iter().map(|(k, _)| *k)
}

fn parse(kind: &str, fields: &Fields) -> Result<Arc<dyn Provider>, FieldError> {
    let Some((_, parse)) = PROVIDERS.iter().find(|(k, _)| *k == kind) else {
        let all: Vec<&str> = kinds().collect();
        return Err(FieldError::new(
            "kind",
            format!("unknown kind `{kind}`{} (one of: {})", picket_core::text::suggestion(kind, all.iter().copied()), all.join(", ")),
        ));
    };
    parse(fields)
}

/// Validates a `[notify.NAME]` table (its provider parses it) into a channel.
pub fn build(name: &str, kind: &str, fields: Fields) -> Result<Channel, FieldError> {
    let provider = parse(kind, &fields)?;
    let mut retry = RetryPolicy::default();
    if let Some(d) = fields.opt_duration("retry_first")? {
        retry.first = d.max(Duration::from_millis(10));
    }
    if let Some(d) = fields.opt_duration("retry_max")? {
        retry.max = d.max(retry.first);
    }
    if let Some(d) = fields.opt_duration("give_up_after")? {
        retry.give_up = d;
    }
    if let Some(extra) = fields.unused().into_iter().find(|k| k != "kind") {
        return Err(FieldError::new(&extra, format!("unknown field for a `{kind}` notifier")));
    }
    Ok(Channel {
        name: name.to_string(),
        kind: kind.to_string(),
        fields: fields.values().clone(),
        retry,
        skips: NoteKind::ALL.into_iter().filter(|k| !provider.wants(*k)).collect(),
        refresh_every: provider.refresh_every(),
    })
}

/// The provider of a channel that [`build`] validated.
pub fn provider(channel: &Channel) -> Result<Arc<dyn Provider>, FieldError> {
    parse(&channel.kind, &Fields::new(channel.fields.clone()))
}

/// `picket@HOSTNAME`, for receivers that gather several pickets.
pub fn source() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    if host.is_empty() { "picket".into() } else { format!("picket@{host}") }
}

/// Reads an HTTP answer and classifies it.
pub async fn check_response(resp: Result<reqwest::Response, reqwest::Error>) -> Result<(), SendError> {
    match resp {
        Ok(r) => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            SendError::from_status(status, &body)
        }
        // Connection refused, timeout, DNS: all may pass. The URL (maybe a secret) is left out.
        Err(e) => Err(SendError::retry(describe_reqwest(e))),
    }
}

/// A reqwest error without its URL (which may hold a key).
pub fn describe_reqwest(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_channel_carries_what_its_provider_says_and_rebuilds_it() {
        let mut f = BTreeMap::new();
        f.insert("routing_key".to_string(), serde_json::json!("k"));
        let pd = build("oncall", "pagerduty", Fields::new(f)).unwrap();
        assert_eq!(pd.skips, vec![NoteKind::Reminder, NoteKind::FlappingStopped]);
        assert_eq!(provider(&pd).unwrap().kind(), "pagerduty");
        let mut f = BTreeMap::new();
        f.insert("url".to_string(), serde_json::json!("http://127.0.0.1:9093"));
        f.insert("expire".to_string(), serde_json::json!("1h"));
        let am = build("am", "alertmanager", Fields::new(f)).unwrap();
        assert_eq!(am.refresh_every, Some(Duration::from_secs(15 * 60)));
        assert_eq!(am.skips, vec![NoteKind::FlappingStopped], "it fires until resolved");
        // Its fields hold secrets: Debug leaves them out.
        assert!(!format!("{pd:?}").contains("routing_key"), "{pd:?}");
    }

    #[test]
    fn http_answers_are_classified() {
        assert!(SendError::from_status(reqwest::StatusCode::ACCEPTED, "").is_ok());
        assert!(SendError::from_status(reqwest::StatusCode::SERVICE_UNAVAILABLE, "").unwrap_err().retryable);
        assert!(SendError::from_status(reqwest::StatusCode::TOO_MANY_REQUESTS, "").unwrap_err().retryable);
        let e = SendError::from_status(reqwest::StatusCode::BAD_REQUEST, "invalid routing key").unwrap_err();
        assert!(!e.retryable);
        assert_eq!(e.message, "HTTP 400 Bad Request: invalid routing key");
    }

    #[test]
    fn unknown_kind_and_fields_are_named() {
        let e = build("x", "slak", Fields::new(BTreeMap::new())).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("kind"));
        assert!(e.message.contains("did you mean `slack`"), "{}", e.message);
        let mut f = BTreeMap::new();
        f.insert("stream".to_string(), serde_json::json!("stdout"));
        f.insert("colour".to_string(), serde_json::json!("red"));
        let e = build("x", "log", Fields::new(f)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("colour"));
    }
}
