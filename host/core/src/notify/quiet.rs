//! When notifications hold back on purpose: silences (set at run time through the API or
//! `picket silence`) and maintenance windows (declared in the check file).
//!
//! ```toml
//! [[maintenance]]
//! checks = ["app-*", "queue-redis"]      # names, `*` matches any run of characters
//! cron = "0 3 * * SUN"                   # weekly, for...
//! duration = "2h"
//! timezone = "Europe/Berlin"
//! reason = "weekly patching"
//!
//! [[maintenance]]
//! checks = ["*"]
//! start = "2026-12-01T22:00:00Z"         # or a one-off window
//! end = "2026-12-02T01:00:00Z"
//! ```
//!
//! A maintenance window also pauses recovery actions: nobody wants picket restarting the
//! service a person is working on.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::schedule::{Schedule, Zone};
use serde::Serialize;

/// `*` matches any run of characters; everything else literally.
pub fn matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[derive(Debug, Clone)]
pub enum Window {
    Once { start: DateTime<Utc>, end: DateTime<Utc> },
    Cron { schedule: Box<cron::Schedule>, expr: String, zone: Zone, duration: Duration },
}

#[derive(Debug, Clone)]
pub struct Maintenance {
    pub checks: Vec<String>,
    pub window: Window,
    pub reason: String,
    /// Where it was declared, for messages.
    pub line: usize,
}

impl Maintenance {
    pub fn covers(&self, check: &str) -> bool {
        self.checks.iter().any(|p| matches(p, check))
    }

    /// Whether the window is open at `at`.
    pub fn active(&self, at: DateTime<Utc>) -> bool {
        match &self.window {
            Window::Once { start, end } => *start <= at && at < *end,
            Window::Cron { schedule, zone, duration, .. } => {
                // Open if the cron fired in (at - duration, at].
                let back = at - chrono::Duration::from_std(*duration).unwrap_or_default();
                Schedule::next_cron(schedule, *zone, back).is_some_and(|fire| fire <= at)
            }
        }
    }
}

/// Why a check is quiet right now, if it is.
pub fn reason(check: &str, at: DateTime<Utc>, silences: &[Silence], maintenance: &[Maintenance]) -> Option<String> {
    let at_ms = at.timestamp_millis();
    if let Some(s) = silences.iter().find(|s| s.until_ms > at_ms && matches(&s.check, check)) {
        return Some(format!("silenced until {} by {}: {}", s.until, s.by, s.reason));
    }
    maintenance.iter().find(|m| m.covers(check) && m.active(at)).map(|m| format!("maintenance: {}", m.reason))
}

/// A silence: notifications for matching checks are held until `until`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Silence {
    pub id: i64,
    /// A check name, or a pattern with `*`.
    pub check: String,
    pub created: String,
    pub until: String,
    pub reason: String,
    pub by: String,
    #[serde(skip)]
    pub until_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn patterns() {
        assert!(matches("app-*", "app-db"));
        assert!(matches("*", "anything"));
        assert!(matches("*-redis", "queue-redis"));
        assert!(!matches("app-*", "mech-app"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
    }

    #[test]
    fn weekly_window() {
        let Schedule::Cron { schedule, expr, .. } = Schedule::cron("0 3 * * SUN", Zone::Named(chrono_tz::UTC)).unwrap() else {
            unreachable!()
        };
        let m = Maintenance {
            checks: vec!["app-*".into()],
            window: Window::Cron { schedule, expr, zone: Zone::Named(chrono_tz::UTC), duration: Duration::from_secs(7200) },
            reason: "patching".into(),
            line: 1,
        };
        // 2026-11-22 is a Sunday.
        let t = |d, h, mi| Utc.with_ymd_and_hms(2026, 11, d, h, mi, 0).unwrap();
        assert!(!m.active(t(22, 2, 59)));
        assert!(m.active(t(22, 3, 0)));
        assert!(m.active(t(22, 4, 59)));
        assert!(!m.active(t(22, 5, 0)));
        assert!(!m.active(t(23, 3, 30)));
        assert_eq!(reason("app-db", t(22, 3, 30), &[], std::slice::from_ref(&m)).as_deref(), Some("maintenance: patching"));
        assert_eq!(reason("redis", t(22, 3, 30), &[], &[m]), None);
    }
}
