//! The notification model: what is sent ([`Notification`], [`NoteKind`]), where
//! ([`Channel`]: a validated `[notify.NAME]` as data), and the pure decisions — the
//! [`router`] (routes, cooldown, reminders, escalation, inhibition) and [`quiet`] times
//! (silences, maintenance windows). Sending is the `picket-notify` crate's job: it builds
//! a provider from each channel's fields.

pub mod quiet;
pub mod router;

use std::collections::BTreeMap;
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
    /// The check started flapping (one notification, instead of one per flip).
    Flapping,
    /// It stopped flapping: a "resolved" follows if it is healthy, else the incident goes on.
    FlappingStopped,
}

impl NoteKind {
    pub const ALL: [NoteKind; 8] = [
        NoteKind::Trigger,
        NoteKind::Reminder,
        NoteKind::Escalation,
        NoteKind::SeverityChanged,
        NoteKind::Resolved,
        NoteKind::RecoveryGaveUp,
        NoteKind::Flapping,
        NoteKind::FlappingStopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Trigger => "trigger",
            NoteKind::Reminder => "reminder",
            NoteKind::Escalation => "escalation",
            NoteKind::SeverityChanged => "severity-changed",
            NoteKind::Resolved => "resolved",
            NoteKind::RecoveryGaveUp => "recovery-gave-up",
            NoteKind::Flapping => "flapping",
            NoteKind::FlappingStopped => "flapping-stopped",
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
    /// Stable for the incident: receivers that deduplicate (PagerDuty, Alertmanager) see
    /// one alert however often it is sent. "Recovery gave up" updates that alert where
    /// the channel was told of the incident, and is an alert of its own (`…/recovery-gave-up`)
    /// where it was not.
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
    /// On "resolved": recovery gave up during the incident, so its alert ends too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovery_gave_up: bool,
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
            NoteKind::Flapping => "FLAPPING".to_string(),
            NoteKind::FlappingStopped => "FLAPPING STOPPED".to_string(),
            _ => self.severity.as_str().to_uppercase(),
        };
        let extra = match self.kind {
            NoteKind::Reminder => " (still failing)".to_string(),
            NoteKind::Escalation => " (escalated: not resolved)".to_string(),
            NoteKind::Trigger if self.recovery_attempts > 0 => {
                format!(
                    " (recovery tried {} time{}, still failing)",
                    self.recovery_attempts,
                    if self.recovery_attempts == 1 { "" } else { "s" }
                )
            }
            _ => String::new(),
        };
        format!("[{tag}] {}{extra}: {}", self.check, self.summary)
    }

    /// The main "value vs threshold" line, if the check reported any.
    pub fn values_line(&self) -> Option<String> {
        (!self.values.is_empty())
            .then(|| self.values.iter().map(|v| format!("{} {}", v.metric, v.describe())).collect::<Vec<_>>().join("; "))
    }
}

/// A configured `[notify.NAME]`, validated by its provider when the file was loaded: what
/// the router needs to know of it, and the fields the provider is built from.
#[derive(Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    /// The provider kind: `webhook`, `slack`, ….
    pub kind: String,
    /// The table's fields, secret references resolved. Never logged (`Debug` omits them).
    pub fields: BTreeMap<String, serde_json::Value>,
    pub retry: RetryPolicy,
    /// Kinds this provider is not sent (PagerDuty escalates itself: no reminders).
    pub skips: Vec<NoteKind>,
    /// For receivers that forget an alert unless told again (Alertmanager's `endsAt`):
    /// how often an open incident is re-sent to this channel, whatever the route says.
    pub refresh_every: Option<Duration>,
}

impl Channel {
    /// Whether this channel is sent notifications of `kind`.
    pub fn wants(&self, kind: NoteKind) -> bool {
        !self.skips.contains(&kind)
    }
}

// By hand: `fields` hold resolved secrets.
impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel").field("name", &self.name).field("kind", &self.kind).field("retry", &self.retry).finish_non_exhaustive()
    }
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

    /// Every field as written (secrets resolved).
    pub fn values(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.values
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
}
