//! The daemon's keys, shared by `[defaults]` and `[[check]]`: `every`/`cron`,
//! `retry_every`, `timezone`, `alert`, plus the per-check `depends_on` and `forecast`.
//! `picket check` accepts and ignores the scheduling ones, so one file serves both.

use std::time::Duration;

use toml::de::DeValue;

use super::doc::{Doc, Value, as_i64, scalar_text, type_name};
use super::error::suggestion;
pub use picket_core::policy::{AlertPolicy, ForecastSpec};
use picket_core::schedule::{DEFAULT_EVERY, Schedule, Zone};
use picket_core::units::{Dim, metric_unit, parse_duration, parse_quantity};

const ALERT_KEYS: &[&str] = &["after", "resolve_after", "flap_history", "flap_start", "flap_stop", "route"];

/// The scheduling keys as read so far (from `[defaults]`, then overridden by a check).
#[derive(Debug, Clone)]
pub struct Timing {
    pub every: Option<Duration>,
    pub cron: Option<(String, std::ops::Range<usize>)>,
    pub retry_every: Option<Duration>,
    pub zone: Zone,
    pub alert: AlertPolicy,
    /// `alert.route`: the route for every severity of this check.
    pub route: Option<String>,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing { every: None, cron: None, retry_every: None, zone: Zone::Local, alert: AlertPolicy::default(), route: None }
    }
}

impl Timing {
    /// Reads one key if it is a timing key; returns whether it was.
    pub fn parse_key(&mut self, doc: &mut Doc<'_>, ctx: &str, key: &str, v: &Value<'_>) -> bool {
        let field = |doc: &mut Doc<'_>, msg: String| doc.error(v.span(), format!("{ctx}, field `{key}`: {msg}"));
        match key {
            "every" | "retry_every" => match v.get_ref().as_str().map(parse_duration) {
                Some(Ok(d)) if d >= Duration::from_millis(100) => {
                    if key == "every" {
                        self.every = Some(d);
                        self.cron = None;
                    } else {
                        self.retry_every = Some(d);
                    }
                }
                Some(Ok(_)) => field(doc, "must be at least 100ms".into()),
                Some(Err(e)) => field(doc, e),
                None => field(doc, format!("expected a duration string such as \"30s\", found {}", type_name(v.get_ref()))),
            },
            "cron" => match v.get_ref().as_str() {
                Some(s) => {
                    self.cron = Some((s.to_string(), v.span()));
                    self.every = None;
                }
                None => field(doc, format!("expected a string such as \"*/15 * * * *\", found {}", type_name(v.get_ref()))),
            },
            "timezone" => match v.get_ref().as_str().map(Zone::parse) {
                Some(Ok(z)) => self.zone = z,
                Some(Err(e)) => field(doc, e),
                None => field(doc, format!("expected a time zone name such as \"UTC\", found {}", type_name(v.get_ref()))),
            },
            "alert" => self.parse_alert(doc, ctx, v),
            _ => return false,
        }
        true
    }

    fn parse_alert(&mut self, doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>) {
        let DeValue::Table(t) = v.get_ref() else {
            doc.error(v.span(), format!("{ctx}, field `alert`: expected a table like {{ after = 2, resolve_after = 2 }}"));
            return;
        };
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let count = |doc: &mut Doc<'_>| match as_i64(v.get_ref()) {
                Some(n) if (1..=1000).contains(&n) => Some(n as u32),
                _ => {
                    doc.error(v.span(), format!("{ctx}, field `alert.{key}`: expected a whole number from 1 to 1000"));
                    None
                }
            };
            match key {
                "after" => self.alert.after = count(doc).unwrap_or(self.alert.after),
                "route" => match v.get_ref().as_str() {
                    Some(r) => self.route = Some(r.to_string()),
                    None => doc.error(v.span(), format!("{ctx}, field `alert.route`: expected a route name such as \"database\"")),
                },
                "resolve_after" => self.alert.resolve_after = count(doc).unwrap_or(self.alert.resolve_after),
                "flap_history" => match as_i64(v.get_ref()) {
                    Some(n) if (0..=100).contains(&n) => self.alert.flap_history = n as u32,
                    _ => doc.error(
                        v.span(),
                        format!("{ctx}, field `alert.flap_history`: expected a whole number of results from 0 (no flap detection) to 100"),
                    ),
                },
                "flap_start" | "flap_stop" => match as_i64(v.get_ref()) {
                    Some(n) if (1..=100).contains(&n) => {
                        if key == "flap_start" {
                            self.alert.flap_start = n as u8;
                        } else {
                            self.alert.flap_stop = n as u8;
                        }
                    }
                    _ => doc.error(v.span(), format!("{ctx}, field `alert.{key}`: expected a percentage from 1 to 100, such as 50")),
                },
                "flap_changes" | "flap_window" => doc.error(
                    k.span(),
                    format!(
                        "{ctx}, field `alert.{key}`: replaced by `flap_history`, `flap_start` and `flap_stop` (the percent of \
                         ok/failure changes over the last results, with hysteresis; defaults 10, 50 and 25: see the README)"
                    ),
                ),
                _ => doc.error(k.span(), format!("{ctx}: unknown field `alert.{key}`{}", suggestion(key, ALERT_KEYS.iter().copied()))),
            }
        }
        self.check_alert(doc, ctx, v.span());
    }

    /// Checks what only makes sense of the alert keys together, once all are read.
    fn check_alert(&self, doc: &mut Doc<'_>, ctx: &str, span: std::ops::Range<usize>) {
        if self.alert.flap_history > 0 && self.alert.flap_stop >= self.alert.flap_start {
            doc.error(
                span,
                format!(
                    "{ctx}, field `alert`: flap_stop ({}) must be below flap_start ({}), or flapping would toggle on every result",
                    self.alert.flap_stop, self.alert.flap_start
                ),
            );
        }
    }

    /// The schedule these keys describe; a bad cron expression is reported at its value.
    pub fn schedule(&self, doc: &mut Doc<'_>, ctx: &str) -> Option<Schedule> {
        match &self.cron {
            Some((expr, span)) => match Schedule::cron(expr, self.zone) {
                Ok(s) => Some(s),
                Err(e) => {
                    doc.error(span.clone(), format!("{ctx}, field `cron`: {e}"));
                    None
                }
            },
            None => Some(Schedule::Every(self.every.unwrap_or(DEFAULT_EVERY))),
        }
    }

    /// While a check is pending it is re-checked this often: `retry_every`, or a third of
    /// its interval between 1 s and 10 s, never slower than the schedule itself.
    pub fn retry_every(&self, schedule: &Schedule) -> Duration {
        let nominal = match schedule {
            Schedule::Every(d) => *d,
            Schedule::Cron { .. } => Duration::from_secs(15 * 60),
        };
        self.retry_every.unwrap_or_else(|| (nominal / 3).clamp(Duration::from_secs(1), Duration::from_secs(10)).min(nominal))
    }
}

/// `depends_on = ["redis", "app-db"]`.
pub fn parse_depends_on(doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>) -> Vec<String> {
    let help = format!("{ctx}, field `depends_on`: expected an array of check names such as [\"redis\"]");
    let DeValue::Array(items) = v.get_ref() else {
        doc.error(v.span(), help);
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        match item.get_ref().as_str() {
            Some(s) if !out.iter().any(|o: &String| o == s) => out.push(s.to_string()),
            Some(_) => {}
            None => doc.error(item.span(), help.clone()),
        }
    }
    out
}

/// `forecast = { days_until_full = { metric = "used", reaches = "100%", window = "7d" } }`;
/// `metric_unit` gives the unit the plugin reports a metric in, if it declares it.
pub fn parse_forecasts(doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>, metric_unit_of: &dyn Fn(&str) -> Option<String>) -> Vec<ForecastSpec> {
    let example = "{ days_until_full = { metric = \"used\", reaches = \"100%\", window = \"7d\" } }";
    let DeValue::Table(t) = v.get_ref() else {
        doc.error(v.span(), format!("{ctx}, field `forecast`: expected a table like {example}"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, fv) in t.iter() {
        let name = k.get_ref().to_string();
        let fctx = format!("{ctx}, field `forecast.{name}");
        let DeValue::Table(ft) = fv.get_ref() else {
            doc.error(fv.span(), format!("{fctx}`: expected a table like {{ metric = \"used\", reaches = \"100%\", window = \"7d\" }}"));
            continue;
        };
        let errors_before = doc.errors.len();
        let (mut metric, mut reaches, mut window) = (None, None, Duration::from_secs(7 * 86400));
        for (fk, x) in ft.iter() {
            let key = fk.get_ref().as_ref();
            match key {
                "metric" => match x.get_ref().as_str() {
                    Some(m) => match metric_unit_of(m) {
                        Some(_) => metric = Some((m.to_string(), x.span())),
                        None => doc.error(x.span(), format!("{fctx}.metric`: the plugin does not report a metric `{m}`")),
                    },
                    None => doc.error(x.span(), format!("{fctx}.metric`: expected a metric name")),
                },
                "reaches" => match scalar_text(x.get_ref()).map(|s| (parse_quantity(&s), s)) {
                    Some((Ok(q), s)) => reaches = Some((q, s, x.span())),
                    Some((Err(e), _)) => doc.error(x.span(), format!("{fctx}.reaches`: {e}")),
                    None => doc.error(x.span(), format!("{fctx}.reaches`: expected a value such as \"100%\" or \"1GB\"")),
                },
                "window" => match x.get_ref().as_str().map(parse_duration) {
                    Some(Ok(d)) if d >= Duration::from_secs(60) => window = d,
                    Some(Ok(_)) => doc.error(x.span(), format!("{fctx}.window`: must be at least 1m")),
                    Some(Err(e)) => doc.error(x.span(), format!("{fctx}.window`: {e}")),
                    None => doc.error(x.span(), format!("{fctx}.window`: expected a duration such as \"7d\"")),
                },
                _ => doc.error(fk.span(), format!("{fctx}`: unknown field `{key}`{}", suggestion(key, ["metric", "reaches", "window"]))),
            }
        }
        let (Some((metric, _)), Some((q, text, rspan))) = (metric, reaches) else {
            if doc.errors.len() == errors_before {
                doc.error(fv.span(), format!("{fctx}`: give both `metric` and `reaches`"));
            }
            continue;
        };
        let unit = metric_unit_of(&metric).unwrap_or_default();
        let (dim, scale) = metric_unit(&unit);
        let limit = match q.dim {
            Dim::Plain => q.value,
            d if d == dim => q.value / scale,
            d => {
                doc.error(rspan, format!("{fctx}.reaches`: {text:?} is {} but `{metric}` is in {unit}", d.name()));
                continue;
            }
        };
        out.push(ForecastSpec { name, metric, reaches: limit, reaches_text: text, window });
    }
    out
}
