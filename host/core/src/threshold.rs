//! Thresholds on metrics: `warn`/`crit` per metric, with units and Nagios range syntax.
//!
//! ```toml
//! thresholds = { response_time = { warn = "1s", crit = "3s" }, used = { crit = "90%" } }
//! ```
//!
//! A single value such as `"1s"` alerts when the metric is *worse* than it: above it for
//! most metrics, below it for metrics the plugin declares lower-is-worse (days until a
//! certificate expires). Nagios ranges are taken literally: `"10:20"` alerts outside
//! 10..20, `"@10:20"` inside it, `"10:"` below 10, `"~:10"` above 10.
//!
//! A threshold is never skipped in silence: when a run does not report its metric, the
//! result names the metric in its diagnostics and the check gets the threshold's
//! `missing` status (`missing = "ok" | "unknown" | "warning" | "critical"`), by default
//! [`DEFAULT_MISSING`].

use crate::result::Status;
use crate::units::{Dim, Quantity, format_metric, metric_unit, parse_quantity};

/// One end of a range, in the threshold's own units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub dim: Dim,
}

/// A parsed threshold value.
#[derive(Debug, Clone, PartialEq)]
pub enum Range {
    /// A bare value: alert when the metric is worse than it.
    Beyond(Bound),
    /// Nagios `[@]start:end`; `None` is an open end.
    Nagios { start: Option<Bound>, end: Option<Bound>, inside: bool },
}

impl Range {
    pub fn parse(text: &str) -> Result<Range, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty threshold".into());
        }
        let bound = |s: &str| -> Result<Bound, String> {
            let q: Quantity = parse_quantity(s)?;
            Ok(Bound { value: q.value, dim: q.dim })
        };
        let (inside, body) = match t.strip_prefix('@') {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        match body.split_once(':') {
            None if !inside => Ok(Range::Beyond(bound(body)?)),
            // "@10" in Nagios means inside 0..10.
            None => Ok(Range::Nagios { start: Some(Bound { value: 0.0, dim: Dim::Plain }), end: Some(bound(body)?), inside }),
            Some((start, end)) => {
                let start = match start.trim() {
                    "~" => None,
                    "" => Some(Bound { value: 0.0, dim: Dim::Plain }),
                    s => Some(bound(s)?),
                };
                let end = match end.trim() {
                    "" => None,
                    s => Some(bound(s)?),
                };
                if let (Some(a), Some(b)) = (start, end)
                    && a.dim == b.dim
                    && a.value > b.value
                {
                    return Err(format!("range {text:?} starts above its end"));
                }
                Ok(Range::Nagios { start, end, inside })
            }
        }
    }

    fn bounds(&self) -> impl Iterator<Item = Bound> + '_ {
        let (a, b) = match self {
            Range::Beyond(b) => (Some(*b), None),
            Range::Nagios { start, end, .. } => (*start, *end),
        };
        a.into_iter().chain(b)
    }

    /// Checks that every bound can be compared with a metric in `unit`.
    pub fn check_unit(&self, unit: &str) -> Result<(), String> {
        let (dim, _) = metric_unit(unit);
        for b in self.bounds() {
            if b.dim != Dim::Plain && b.dim != dim {
                let shown = if unit.is_empty() { "a plain number".to_string() } else { format!("in {unit}") };
                return Err(format!("the threshold is {} but the metric is {shown}", b.dim.name()));
            }
        }
        Ok(())
    }

    /// Whether `value` (in the metric's `unit`) is in the alerting region.
    pub fn breached(&self, value: f64, unit: &str, lower_is_worse: bool) -> bool {
        let (_, scale) = metric_unit(unit);
        // A plain bound is in the metric's own unit; others are in base units.
        let base = |b: Bound| if b.dim == Dim::Plain { b.value * scale } else { b.value };
        let v = value * scale;
        match self {
            Range::Beyond(b) if lower_is_worse => v < base(*b),
            Range::Beyond(b) => v > base(*b),
            Range::Nagios { start, end, inside } => {
                let within = start.is_none_or(|s| v >= base(s)) && end.is_none_or(|e| v <= base(e));
                within == *inside
            }
        }
    }
}

/// What a threshold's `missing` is when the file does not say: `unknown`.
///
/// A threshold promises to say when its metric crosses a line; a run that did not report
/// the metric cannot keep that promise, and "could not tell" is what `unknown` means. It is
/// loud on purpose (an unknown incident goes to `[route.unknown]`, else to the critical
/// route): a threshold skipped in silence is how a Redis without `maxmemory` filled its
/// host's memory while its `used_memory_pct` threshold never fired. `ok` would be that
/// silence again, and `warning` would claim the metric is past its line, which nobody
/// knows. A check whose metric comes and goes on purpose says `missing = "ok"`; its
/// results still name the metric in their diagnostics.
pub const DEFAULT_MISSING: Status = Status::Unknown;

/// `missing` for a threshold on a forecast when the file does not say: `ok`. A forecast
/// has no value while its metric's trend is not heading for the limit, while there is too
/// little history, and under `picket check` (which derives none): nothing to alert about.
pub const DEFAULT_MISSING_FORECAST: Status = Status::Ok;

/// Thresholds for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub metric: String,
    pub warn: Option<(Range, String)>,
    pub crit: Option<(Range, String)>,
    /// The status this threshold gives a run that did not report the metric.
    pub missing: Status,
}

/// A threshold that a value crossed.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    pub status: Status,
    pub message: String,
}

impl Threshold {
    /// The worst level breached by `value`, if any; critical is checked first.
    pub fn evaluate(&self, value: f64, unit: &str, lower_is_worse: bool) -> Option<Breach> {
        for (status, level, spec) in [(Status::Critical, "crit", &self.crit), (Status::Warning, "warn", &self.warn)] {
            if let Some((range, text)) = spec
                && range.breached(value, unit, lower_is_worse)
            {
                let rel = match range {
                    Range::Beyond(_) if lower_is_worse => "<",
                    Range::Beyond(_) => ">",
                    Range::Nagios { inside: true, .. } => "inside",
                    Range::Nagios { .. } => "outside",
                };
                return Some(Breach { status, message: format!("{} {} {rel} {level} {text}", self.metric, format_metric(value, unit)) });
            }
        }
        None
    }

    /// The diagnostic for a run that did not report the metric; `when` is the plugin's
    /// condition for reporting it ("for https targets"), if it declared one.
    pub fn missing_note(&self, when: Option<&str>) -> String {
        let only = when.map(|w| format!(" (the plugin reports it only {w})")).unwrap_or_default();
        format!("metric `{}` was not reported{only}, so its threshold was not evaluated; missing = \"{}\"", self.metric, self.missing)
    }

    /// The summary's words when `missing` sets the status.
    pub fn missing_breach(&self) -> Breach {
        Breach { status: self.missing, message: format!("{} not reported (missing = {})", self.metric, self.missing) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th(warn: &str, crit: &str) -> Threshold {
        Threshold {
            metric: "m".into(),
            warn: Some((Range::parse(warn).unwrap(), warn.into())),
            crit: Some((Range::parse(crit).unwrap(), crit.into())),
            missing: DEFAULT_MISSING,
        }
    }

    #[test]
    fn a_missing_metric_is_named_with_the_status_it_gives() {
        let mut t = th("1s", "3s");
        assert_eq!(t.missing_note(None), "metric `m` was not reported, so its threshold was not evaluated; missing = \"unknown\"");
        t.missing = Status::Warning;
        assert_eq!(
            t.missing_note(Some("for https targets")),
            "metric `m` was not reported (the plugin reports it only for https targets), so its threshold was not evaluated; missing = \"warning\""
        );
        assert_eq!(t.missing_breach(), Breach { status: Status::Warning, message: "m not reported (missing = warning)".into() });
    }

    #[test]
    fn durations_compare_across_units() {
        let t = th("1s", "3s");
        assert_eq!(t.evaluate(0.5, "s", false), None);
        assert_eq!(t.evaluate(1.5, "s", false).unwrap().status, Status::Warning);
        assert_eq!(t.evaluate(3500.0, "ms", false).unwrap().status, Status::Critical);
        assert_eq!(t.evaluate(1.42, "s", false).unwrap().message, "m 1.42s > warn 1s");
    }

    #[test]
    fn sizes_and_percentages() {
        let t = th("800MB", "950MB");
        assert_eq!(t.evaluate(900e6, "B", false).unwrap().status, Status::Warning);
        assert!(Range::parse("80%").unwrap().check_unit("%").is_ok());
        assert!(Range::parse("80%").unwrap().check_unit("B").unwrap_err().contains("percentage"));
        assert!(Range::parse("1s").unwrap().check_unit("B").is_err());
        assert!(Range::parse("5").unwrap().check_unit("B").is_ok());
    }

    #[test]
    fn lower_is_worse_flips_bare_values() {
        let t = th("30", "7");
        assert_eq!(t.evaluate(20.0, "days", true).unwrap().status, Status::Warning);
        assert_eq!(t.evaluate(3.0, "days", true).unwrap().status, Status::Critical);
        assert_eq!(t.evaluate(90.0, "days", true), None);
    }

    #[test]
    fn nagios_ranges() {
        let r = Range::parse("10:20").unwrap();
        assert!(r.breached(9.0, "", false) && r.breached(21.0, "", false) && !r.breached(15.0, "", false));
        let r = Range::parse("@10:20").unwrap();
        assert!(r.breached(15.0, "", false) && !r.breached(25.0, "", false));
        let r = Range::parse("~:10").unwrap();
        assert!(r.breached(11.0, "", false) && !r.breached(-100.0, "", false));
        let r = Range::parse("10:").unwrap();
        assert!(r.breached(9.0, "", false) && !r.breached(1e9, "", false));
        assert!(Range::parse("20:10").is_err());
        assert!(Range::parse("").is_err());
    }
}
