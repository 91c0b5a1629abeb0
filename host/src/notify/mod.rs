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
pub mod quiet;
pub mod router;
pub mod service;
pub mod slack;
pub mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::result::Status;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoteKind {
    /// An incident opened (or a held one was released: its parent recovered, a silence ended).
    Trigger,
    /// Still failing, sent again after the route's reminder interval.
    Reminder,
    /// Nobody resolved it within the route's `escalate.after`: sent to the escalation route.
    Escalation,
    /// Warning ↔ critical within one incident.
    SeverityChanged,
    Resolved,
    /// The recovery budget is spent and the check still fails.
    RecoveryGaveUp,
}

impl NoteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Trigger => "trigger",
            NoteKind::Reminder => "reminder",
            NoteKind::Escalation => "escalation",
            NoteKind::SeverityChanged => "severity-changed",
            NoteKind::Resolved => "resolved",
            NoteKind::RecoveryGaveUp => "recovery-gave-up",
        }
    }
}

/// A metric of the last result, against its thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    pub metric: String,
    pub value: f64,
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit: Option<String>,
}

impl Value {
    /// `812ms (warn 500ms, crit 2s)`.
    pub fn describe(&self) -> String {
        let v = crate::units::format_metric(self.value, &self.unit);
        let limits: Vec<String> =
            [("warn", &self.warn), ("crit", &self.crit)].into_iter().filter_map(|(l, t)| t.as_ref().map(|t| format!("{l} {t}"))).collect();
        if limits.is_empty() { v } else { format!("{v} ({})", limits.join(", ")) }
    }
}

/// One notification, as stored in the outbox and rendered by providers. This struct is
/// also the `webhook` provider's JSON body, so its field names are a public contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub kind: NoteKind,
    pub check: String,
    pub incident: u64,
    /// Stable for the incident (and distinct for its "recovery gave up" alert): receivers
    /// that deduplicate (PagerDuty, Alertmanager) see one alert however often it is sent.
    pub dedup_key: String,
    pub severity: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_severity: Option<Status>,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub plugin: String,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// When this happened.
    pub at: DateTime<Utc>,
    /// When the incident opened.
    pub since: DateTime<Utc>,
    pub failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lasted_s: Option<u64>,
    pub recovery_attempts: u32,
    pub route: String,
    pub values: Vec<Value>,
    /// Which picket sent it (`picket@HOSTNAME`).
    pub source: String,
}

impl Notification {
    /// `[CRITICAL] mech-queue: HTTP 503` — the one-line form for subjects and chat.
    pub fn headline(&self) -> String {
        let tag = match self.kind {
            NoteKind::Resolved => "RESOLVED".to_string(),
            NoteKind::RecoveryGaveUp => "RECOVERY GAVE UP".to_string(),
            _ => self.severity.as_str().to_uppercase(),
        };
        let extra = match self.kind {
            NoteKind::Reminder => " (still failing)",
            NoteKind::Escalation => " (escalated: not resolved)",
            _ => "",
        };
        format!("[{tag}] {}{extra}: {}", self.check, self.summary)
    }

    /// The main "value vs threshold" line, if the check reported any.
    pub fn values_line(&self) -> Option<String> {
        (!self.values.is_empty())
            .then(|| self.values.iter().map(|v| format!("{} {}", v.metric, v.describe())).collect::<Vec<_>>().join("; "))
    }
}

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

/// A configured `[notify.NAME]`: the provider and its retry policy.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub provider: Arc<dyn Provider>,
    pub retry: RetryPolicy,
}

/// Exponential backoff from `first`, doubling up to `max`, given up after `give_up`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub first: Duration,
    pub max: Duration,
    pub give_up: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { first: Duration::from_secs(1), max: Duration::from_secs(300), give_up: Duration::from_secs(86400) }
    }
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failed attempt (1-based).
    pub fn delay(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// A provider table's fields, secrets already resolved. Errors name the field.
pub struct Fields {
    values: BTreeMap<String, serde_json::Value>,
    used: std::cell::RefCell<Vec<String>>,
}

/// A problem with one field of a `[notify.NAME]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field, or `None` for the table as a whole.
    pub field: Option<String>,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> FieldError {
        FieldError { field: Some(field.to_string()), message: message.into() }
    }
}

impl Fields {
    pub fn new(values: BTreeMap<String, serde_json::Value>) -> Fields {
        Fields { values, used: Default::default() }
    }

    fn take(&self, key: &str) -> Option<&serde_json::Value> {
        self.used.borrow_mut().push(key.to_string());
        self.values.get(key)
    }

    pub fn opt_str(&self, key: &str) -> Result<Option<String>, FieldError> {
        match self.take(key) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(FieldError::new(key, "expected a string")),
        }
    }

    pub fn str(&self, key: &str) -> Result<String, FieldError> {
        self.opt_str(key)?.ok_or_else(|| FieldError { field: None, message: format!("missing the required field `{key}`") })
    }

    /// An http(s) URL.
    pub fn url(&self, key: &str, default: Option<&str>) -> Result<url::Url, FieldError> {
        let text = match (self.opt_str(key)?, default) {
            (Some(s), _) => s,
            (None, Some(d)) => d.to_string(),
            (None, None) => return Err(FieldError { field: None, message: format!("missing the required field `{key}`") }),
        };
        // The URL may be a secret (Slack's is): never repeat it in the message.
        let u = url::Url::parse(&text).map_err(|e| FieldError::new(key, format!("not a valid URL ({e})")))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(FieldError::new(key, "must be an http:// or https:// URL"));
        }
        Ok(u)
    }

    pub fn string_map(&self, key: &str) -> Result<Vec<(String, String)>, FieldError> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(serde_json::Value::Object(m)) => m
                .iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(FieldError::new(key, format!("`{k}` must be a string"))),
                })
                .collect(),
            Some(_) => Err(FieldError::new(key, "expected a table of strings like { \"X-Team\" = \"ops\" }")),
        }
    }

    pub fn string_list(&self, key: &str) -> Result<Vec<String>, FieldError> {
        match self.take(key) {
            None => Ok(Vec::new()),
            Some(serde_json::Value::String(s)) => Ok(vec![s.clone()]),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| FieldError::new(key, "expected a list of strings")))
                .collect(),
            Some(_) => Err(FieldError::new(key, "expected a list of strings")),
        }
    }

    pub fn opt_duration(&self, key: &str) -> Result<Option<Duration>, FieldError> {
        self.opt_str(key)?.map(|s| crate::units::parse_duration(&s).map_err(|e| FieldError::new(key, e))).transpose()
    }

    pub fn opt_u16(&self, key: &str) -> Result<Option<u16>, FieldError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => {
                v.as_u64().and_then(|n| u16::try_from(n).ok()).map(Some).ok_or_else(|| FieldError::new(key, "expected a port number"))
            }
        }
    }

    /// Fields the provider never asked for: typos.
    pub fn unused(&self) -> Vec<String> {
        let used = self.used.borrow();
        self.values.keys().filter(|k| !used.contains(k)).cloned().collect()
    }
}

/// The provider kinds, for messages.
pub const KINDS: &[&str] = &["log", "webhook", "slack", "pagerduty", "alertmanager", "email"];
/// Keys every provider table takes besides its own.
pub const COMMON_KEYS: &[&str] = &["kind", "retry_first", "retry_max", "give_up_after"];

/// Validates a `[notify.NAME]` table into a channel.
pub fn build(name: &str, kind: &str, fields: Fields) -> Result<Channel, FieldError> {
    let provider: Arc<dyn Provider> = match kind {
        "log" => Arc::new(log::Log::parse(&fields)?),
        "webhook" => Arc::new(webhook::Webhook::parse(&fields)?),
        "slack" => Arc::new(slack::Slack::parse(&fields)?),
        "pagerduty" => Arc::new(pagerduty::PagerDuty::parse(&fields)?),
        "alertmanager" => Arc::new(alertmanager::Alertmanager::parse(&fields)?),
        "email" => Arc::new(email::Email::parse(&fields)?),
        other => {
            return Err(FieldError::new(
                "kind",
                format!("unknown kind `{other}`{} (one of: {})", crate::config::suggestion(other, KINDS.iter().copied()), KINDS.join(", ")),
            ));
        }
    };
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
    Ok(Channel { name: name.to_string(), provider, retry })
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
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let r = RetryPolicy { first: Duration::from_secs(1), max: Duration::from_secs(10), give_up: Duration::from_secs(60) };
        let d: Vec<u64> = (1..=6).map(|n| r.delay(n).as_secs()).collect();
        assert_eq!(d, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(r.delay(1000).as_secs(), 10);
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
