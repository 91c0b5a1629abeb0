//! What a check run produces: a [`CheckResult`], with a [`Status`] and, when the sandbox
//! stopped the plugin, a [`Failure`] saying why.
//!
//! Architecture Invariant: a plugin failure is data, never an `Err`. Timeouts, traps,
//! memory caps and denied capabilities all come back as a `CheckResult`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The outcome of a check, as Nagios names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Ok, Status::Warning, Status::Critical, Status::Unknown];

    /// The status named `text` ("ok", "warning", "critical", "unknown").
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// How bad a status is when combining several: a critical finding beats "could not
    /// tell", which beats a warning.
    pub fn badness(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    pub fn worst(self, other: Status) -> Status {
        if other.badness() > self.badness() { other } else { self }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Unknown => "unknown",
        }
    }

    /// The Nagios plugin exit code for this status.
    pub fn nagios_code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One measurement a plugin reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// Why the sandbox, rather than the plugin, decided the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum Failure {
    /// The run exceeded its wall-clock budget.
    Timeout(Duration),
    /// The plugin tried to grow its memory past the cap (bytes).
    MemoryLimit(u64),
    /// The plugin trapped (panic, unreachable, stack overflow); the detail says which.
    Trap(String),
    /// The plugin asked for something its grants do not cover; the detail names it.
    Denied(String),
    /// The plugin's summary and diagnostics exceeded the output cap.
    OutputLimit(String),
    /// The component does not export the `check` interface picket expects.
    MissingExport(String),
    /// The component imports something picket does not provide.
    UnsupportedImport(String),
    /// The wasm file does not match the pinned sha256.
    HashMismatch { expected: String, actual: String },
    /// The plugin could not be read or compiled.
    Load(String),
}

impl Failure {
    /// A short, stable name, used in metrics labels and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Timeout(_) => "timeout",
            Failure::MemoryLimit(_) => "memory-limit",
            Failure::Trap(_) => "trap",
            Failure::Denied(_) => "denied",
            Failure::OutputLimit(_) => "output-limit",
            Failure::MissingExport(_) => "missing-export",
            Failure::UnsupportedImport(_) => "unsupported-import",
            Failure::HashMismatch { .. } => "sha256-mismatch",
            Failure::Load(_) => "load",
        }
    }
}

impl Failure {
    /// The same failure with its free text passed through `f` (used to scrub secrets).
    pub fn map_text(&self, f: impl Fn(&str) -> String) -> Failure {
        match self {
            Failure::Trap(t) => Failure::Trap(f(t)),
            Failure::Denied(t) => Failure::Denied(f(t)),
            Failure::OutputLimit(t) => Failure::OutputLimit(f(t)),
            Failure::MissingExport(t) => Failure::MissingExport(f(t)),
            Failure::UnsupportedImport(t) => Failure::UnsupportedImport(f(t)),
            Failure::Load(t) => Failure::Load(f(t)),
            other => other.clone(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout(d) => write!(f, "timed out after {}", crate::units::format_duration(*d)),
            Failure::MemoryLimit(cap) => {
                write!(f, "memory limit hit: tried to grow past {}", crate::units::format_bytes(*cap))
            }
            Failure::Trap(why) => write!(f, "plugin trapped: {why}"),
            Failure::Denied(what) => write!(f, "capability denied: {what}"),
            Failure::OutputLimit(what) => write!(f, "output limit exceeded: {what}"),
            Failure::MissingExport(what) => write!(f, "plugin does not export {what}"),
            Failure::UnsupportedImport(what) => write!(f, "plugin imports something picket does not provide: {what}"),
            Failure::HashMismatch { expected, actual } => {
                write!(
                    f,
                    "plugin sha256 mismatch: expected {expected}, file has {actual}; the file changed since it was pinned \
                     (if you rebuilt or upgraded it on purpose, pin the new sha256; otherwise do not run it)"
                )
            }
            Failure::Load(why) => write!(f, "plugin could not be loaded: {why}"),
        }
    }
}

/// The evaluated outcome of one run of one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub name: String,
    pub plugin: String,
    pub target: String,
    pub status: Status,
    /// One line for humans.
    pub summary: String,
    #[serde(serialize_with = "as_millis")]
    #[serde(rename = "duration_ms")]
    pub duration: Duration,
    pub metrics: Vec<Metric>,
    /// Kept for failed results: body excerpts, transcripts, the guest's stderr on a trap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<String>,
    /// Set when the sandbox decided the outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// How many times the check ran (more than one with `picket check --wait`).
    pub attempts: u32,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

impl CheckResult {
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn critical_beats_unknown_beats_warning() {
        assert_eq!(Status::Warning.worst(Status::Unknown), Status::Unknown);
        assert_eq!(Status::Unknown.worst(Status::Critical), Status::Critical);
        assert_eq!(Status::Critical.worst(Status::Ok), Status::Critical);
    }

    #[test]
    fn statuses_parse_from_their_names() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("crit"), None);
    }
}
