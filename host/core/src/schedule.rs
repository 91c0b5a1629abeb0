//! When a check runs: `every = "30s"` or `cron = "*/15 * * * *"`, each shifted by a
//! deterministic splay so that a thousand checks with the same interval do not all fire in
//! the same millisecond.
//!
//! Times are `Instant`s handed in by the caller (the daemon takes them from tokio's clock,
//! so its tests can pause time); a cron expression is evaluated on the wall clock that
//! [`Clock`] maps onto those instants. Nothing here reads a clock.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use std::time::Instant;

/// The time zone cron expressions are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// The machine's local time (as `cron` itself does).
    Local,
    Named(chrono_tz::Tz),
}

impl Zone {
    pub fn parse(text: &str) -> Result<Zone, String> {
        match text {
            "local" | "Local" => Ok(Zone::Local),
            _ => chrono_tz::Tz::from_str(text)
                .map(Zone::Named)
                .map_err(|_| format!("unknown time zone {text:?}; use an IANA name such as \"UTC\" or \"Europe/Berlin\", or \"local\"")),
        }
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Local => f.write_str("local"),
            Zone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

/// A check's schedule.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(Duration),
    Cron { expr: String, schedule: Box<cron::Schedule>, zone: Zone },
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Schedule) -> bool {
        match (self, other) {
            (Schedule::Every(a), Schedule::Every(b)) => a == b,
            (Schedule::Cron { expr: a, zone: za, .. }, Schedule::Cron { expr: b, zone: zb, .. }) => a == b && za == zb,
            _ => false,
        }
    }
}

/// The interval when nothing is written: once a minute, as cron's finest step.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(60);
/// The most a cron-scheduled check is shifted by its splay.
const MAX_CRON_SPLAY: Duration = Duration::from_secs(30);

impl Schedule {
    /// Parses a cron expression: the classic five fields (`*/15 * * * *`), or six/seven with
    /// seconds (and years) first as the `cron` crate reads them.
    pub fn cron(expr: &str, zone: Zone) -> Result<Schedule, String> {
        let fields = expr.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expr}"),
            6 | 7 => expr.to_string(),
            _ => return Err(format!("{expr:?} has {fields} fields; write five, as in \"*/15 * * * *\"")),
        };
        let schedule = cron::Schedule::from_str(&full).map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))?;
        if schedule.upcoming(Utc).next().is_none() {
            return Err(format!("{expr:?} never fires"));
        }
        Ok(Schedule::Cron { expr: expr.to_string(), schedule: Box::new(schedule), zone })
    }

    /// How it reads in the API and logs.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Every(d) => format!("every {}", crate::units::format_duration(*d)),
            Schedule::Cron { expr, zone, .. } => format!("cron {expr} ({zone})"),
        }
    }

    /// The first wall-clock firing strictly after `after` (cron only).
    pub fn next_cron(schedule: &cron::Schedule, zone: Zone, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        fn next<Z: TimeZone>(s: &cron::Schedule, z: Z, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
            s.after(&after.with_timezone(&z)).next().map(|t| t.with_timezone(&Utc))
        }
        match zone {
            Zone::Local => next(schedule, chrono::Local, after),
            Zone::Named(tz) => next(schedule, tz, after),
        }
    }

    /// The first due time for a check named `name`, starting at `now`.
    pub fn first(&self, name: &str, clock: &Clock, now: Instant) -> Instant {
        let fraction = splay_fraction(name);
        match self {
            Schedule::Every(d) => now + d.mul_f64(fraction),
            Schedule::Cron { .. } => self.next(name, clock, now, now),
        }
    }

    /// The due time after one that was due at `due`, never at or before `now`: a check that
    /// fell behind skips the turns it missed rather than running them back to back.
    pub fn next(&self, name: &str, clock: &Clock, due: Instant, now: Instant) -> Instant {
        match self {
            Schedule::Every(d) => {
                let mut next = due + *d;
                if next <= now {
                    let behind = now - next;
                    let missed = (behind.as_nanos() / d.as_nanos().max(1)) as u32 + 1;
                    next += *d * missed;
                }
                next
            }
            Schedule::Cron { schedule, zone, .. } => {
                // The splay was added to `due`; take the wall time of the unsplayed firing.
                let base = clock.wall(now.max(due));
                let Some(fire) = Self::next_cron(schedule, *zone, base) else { return now + Duration::from_secs(86400 * 365) };
                let following = Self::next_cron(schedule, *zone, fire).unwrap_or(fire + chrono::Duration::hours(1));
                let gap = (following - fire).to_std().unwrap_or(MAX_CRON_SPLAY);
                let splay = MAX_CRON_SPLAY.min(gap / 10).mul_f64(splay_fraction(name));
                clock.instant(fire) + splay
            }
        }
    }
}

/// A check's place within its interval, in [0, 1): a hash of its name, so the spread is
/// the same on every start and every machine.
pub fn splay_fraction(name: &str) -> f64 {
    // FNV-1a, then a finalizer so that names differing in one letter land far apart.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51afd7ed558ccd);
    h ^= h >> 33;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Maps an `Instant` to wall-clock time: fixed at start, so paused test time and cron
/// agree.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    instant: Instant,
    wall: DateTime<Utc>,
}

impl Clock {
    /// A clock on which `instant` is the wall time `wall`.
    pub fn new(instant: Instant, wall: DateTime<Utc>) -> Clock {
        Clock { instant, wall }
    }

    pub fn wall(&self, at: Instant) -> DateTime<Utc> {
        if at >= self.instant {
            self.wall + chrono::Duration::from_std(at - self.instant).unwrap_or_default()
        } else {
            self.wall - chrono::Duration::from_std(self.instant - at).unwrap_or_default()
        }
    }

    pub fn instant(&self, wall: DateTime<Utc>) -> Instant {
        match (wall - self.wall).to_std() {
            Ok(ahead) => self.instant + ahead,
            Err(_) => self.instant.checked_sub((self.wall - wall).to_std().unwrap_or_default()).unwrap_or(self.instant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splay_spreads_names_across_the_interval() {
        let mut buckets = [0u32; 10];
        for i in 0..10_000 {
            buckets[(splay_fraction(&format!("check-{i}")) * 10.0) as usize] += 1;
        }
        // Uniform would be 1,000 each.
        assert!(buckets.iter().all(|&n| (850..1150).contains(&n)), "{buckets:?}");
        assert_eq!(splay_fraction("mech-queue"), splay_fraction("mech-queue"));
    }

    #[test]
    fn every_skips_missed_turns() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, Utc::now());
        let s = Schedule::Every(Duration::from_secs(30));
        assert_eq!(s.next("a", &clock, t0, t0), t0 + Duration::from_secs(30));
        // 100 s late: the turns at 30, 60 and 90 are gone; the next is at 120.
        assert_eq!(s.next("a", &clock, t0, t0 + Duration::from_secs(100)), t0 + Duration::from_secs(120));
        let first = s.first("a", &clock, t0);
        assert!(first >= t0 && first < t0 + Duration::from_secs(30));
    }

    #[test]
    fn cron_fires_on_the_wall_clock_in_its_zone() {
        let wall = Utc.with_ymd_and_hms(2026, 11, 22, 10, 7, 0).unwrap();
        let now = Instant::now();
        let clock = Clock::new(now, wall);
        let s = Schedule::cron("*/15 * * * *", Zone::Named(chrono_tz::UTC)).unwrap();
        let due = s.first("root-disk", &clock, now);
        let at = clock.wall(due);
        // 10:15 plus a splay of at most 30 s (a tenth of the 15 min gap is 90 s; capped).
        let base = Utc.with_ymd_and_hms(2026, 11, 22, 10, 15, 0).unwrap();
        assert!(at >= base && at < base + chrono::Duration::seconds(30), "{at}");

        let berlin = Schedule::cron("0 3 * * *", Zone::parse("Europe/Berlin").unwrap()).unwrap();
        let at = clock.wall(berlin.first("x", &clock, now));
        // 03:00 in Berlin in November is 02:00 UTC, the next day.
        let base = Utc.with_ymd_and_hms(2026, 11, 23, 2, 0, 0).unwrap();
        assert!(at >= base && at < base + chrono::Duration::seconds(30), "{at}");
    }

    #[test]
    fn bad_cron_and_zones_are_explained() {
        assert!(Schedule::cron("*/15 * * *", Zone::Local).unwrap_err().contains("4 fields"));
        assert!(Schedule::cron("*/15 * * * * * * *", Zone::Local).is_err());
        assert!(Schedule::cron("61 * * * *", Zone::Local).unwrap_err().contains("not a valid cron"));
        assert!(Zone::parse("Mars/Olympus").unwrap_err().contains("IANA"));
    }
}
