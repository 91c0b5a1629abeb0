//! Request and response bodies of the API, shared with the CLI (`picket silence` posts a
//! [`NewSilence`]) and built by the daemon ([`CheckView`], [`ReloadOutcome`]).

use chrono::{DateTime, Utc};
use picket_core::result::{Metric, Status};
use serde::{Deserialize, Serialize};

/// A check's current state (`GET /api/v1/checks[/NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckView {
    pub name: String,
    pub plugin: String,
    /// Secrets already replaced by `***`.
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// `alert.route`, when the check names its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The recovery action, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recover: Option<String>,
    /// Until when failures are not counted (a recovery action ran; its recheck is due then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_grace_until: Option<DateTime<Utc>>,
    /// The recovery budget: attempts used in the `within` window, the most allowed, when
    /// the window frees the next, and how the latest attempt ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_budget: Option<picket_core::recovery::BudgetView>,
    pub schedule: String,
    pub file: String,
    pub line: usize,
    /// ok, pending, failing, or flapping (a state of its own; `flapping` says the same).
    pub phase: String,
    pub flapping: bool,
    pub status: Option<Status>,
    pub severity: Option<Status>,
    pub incident: Option<u64>,
    pub inhibited: bool,
    pub depends_on: Vec<String>,
    pub consecutive_failures: u32,
    pub consecutive_successes: u32,
    pub since: Option<DateTime<Utc>>,
    pub last_run: Option<DateTime<Utc>>,
    pub duration_ms: Option<f64>,
    pub summary: String,
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub runs: u64,
    pub failures: u64,
    pub skipped: u64,
}

/// What a reload did (`POST /api/v1/reload`, and the last one in `/api/v1/status`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReloadOutcome {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// Config errors, one per line (`file:line:col: …`); empty when ok.
    pub errors: Vec<String>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

/// `POST /api/v1/silences`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewSilence {
    /// A check name, or a pattern with `*`.
    pub check: String,
    #[serde(rename = "for")]
    pub duration: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}
