//! The notification tables — `[notify.NAME]` (channels), `[route.NAME]` (who hears what),
//! `[[maintenance]]` — and a check's `recover` table. Channels and routes may be written
//! in any file of a directory; names are unique across them, and every name a route or a
//! check refers to must exist.
//!
//! ```toml
//! [notify.oncall]
//! kind = "pagerduty"
//! routing_key = { env = "PAGERDUTY_ROUTING_KEY" }
//!
//! [notify.slack]
//! kind = "slack"
//! url = { env = "SLACK_WEBHOOK_URL" }
//!
//! [route.critical]                      # critical (and unknown) incidents
//! notify = ["oncall", "slack"]
//! remind = { every = "30m", backoff = 2, max = "4h" }
//! escalate = { after = "15m", to = "leads" }
//!
//! [route.warning]
//! notify = ["slack"]
//! cooldown = "6h"                       # the default
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::doc::{Doc, Value, as_f64, as_i64, entries, to_json, type_name};
use super::error::{ConfigError, suggestion};
use super::params::resolve_secret;
use crate::catalog::Catalog;
use picket_core::notify::quiet::{Maintenance, Window};
use picket_core::notify::router::{DEFAULT_COOLDOWN, Escalate, NotifyPlan, Remind, Route};
use picket_core::notify::{Channel, Fields};
use picket_core::recovery::{Action, EnvVar, RecoverNotify, RecoverSpec};
use picket_core::schedule::{Schedule, Zone};
use picket_core::units::parse_duration;

/// Something declared in a file, with where.
#[derive(Debug, Clone)]
pub struct Declared<T> {
    pub value: T,
    pub file: PathBuf,
    pub line: usize,
}

/// One file's notification tables.
#[derive(Debug, Default)]
pub struct Parts {
    pub channels: Vec<Declared<Channel>>,
    pub routes: Vec<Declared<Route>>,
    pub maintenance: Vec<Declared<Maintenance>>,
    /// Channels declared but invalid (already reported): routes naming them say nothing more.
    pub broken_channels: Vec<String>,
}

const ROUTE_KEYS: &[&str] = &["notify", "cooldown", "remind", "escalate", "resolved"];
const MAINTENANCE_KEYS: &[&str] = &["checks", "cron", "duration", "timezone", "start", "end", "reason"];
const RECOVER_KEYS: &[&str] =
    &["run", "http", "method", "body", "recheck_after", "max", "within", "timeout", "env", "inherit_env", "notify", "route"];

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn duration(doc: &mut Doc<'_>, ctx: &str, key: &str, v: &Value<'_>, min: Duration) -> Option<Duration> {
    match v.get_ref().as_str().map(parse_duration) {
        Some(Ok(d)) if d >= min => Some(d),
        Some(Ok(_)) => {
            doc.error(v.span(), format!("{ctx}, field `{key}`: must be at least {}", picket_core::units::format_duration(min)));
            None
        }
        Some(Err(e)) => {
            doc.error(v.span(), format!("{ctx}, field `{key}`: {e}"));
            None
        }
        None => {
            doc.error(v.span(), format!("{ctx}, field `{key}`: expected a duration such as \"30m\", found {}", type_name(v.get_ref())));
            None
        }
    }
}

fn strings(doc: &mut Doc<'_>, ctx: &str, key: &str, v: &Value<'_>) -> Option<Vec<String>> {
    let DeValue::Array(items) = v.get_ref() else {
        doc.error(v.span(), format!("{ctx}, field `{key}`: expected a list of strings, found {}", type_name(v.get_ref())));
        return None;
    };
    let mut out = Vec::new();
    for item in items.iter() {
        match item.get_ref().as_str() {
            Some(s) => out.push(s.to_string()),
            None => {
                doc.error(item.span(), format!("{ctx}, field `{key}`: expected strings, found {}", type_name(item.get_ref())));
                return None;
            }
        }
    }
    Some(out)
}

/// `[notify.NAME]` tables.
pub fn parse_channels<C: Catalog>(doc: &mut Doc<'_>, t: &DeTable<'_>, parts: &mut Parts, catalog: &C) {
    for (name, span, v) in entries(t) {
        let ctx = format!("[notify.{name}]");
        if !valid_name(name) {
            doc.error(span.clone(), format!("{ctx}: names are letters, digits, '-', '_' and '.'"));
            continue;
        }
        let DeValue::Table(table) = v.get_ref() else {
            doc.error(v.span(), format!("{ctx} must be a table like {{ kind = \"slack\", url = ... }}"));
            continue;
        };
        let mut kind = None;
        let mut fields = BTreeMap::new();
        let mut spans = BTreeMap::new();
        let errors_before = doc.errors.len();
        let mut unresolved = false;
        for (key, kspan, fv) in entries(table) {
            spans.insert(key.to_string(), fv.span());
            if key == "kind" {
                match fv.get_ref().as_str() {
                    Some(k) => kind = Some(k.to_string()),
                    None => doc.error(fv.span(), format!("{ctx}, field `kind`: expected a string such as \"slack\"")),
                }
                continue;
            }
            // A one-key table of env or file is a secret reference; resolve it here.
            let is_ref = matches!(fv.get_ref(), DeValue::Table(r) if r.len() == 1 && r.iter().all(|(k, _)| ["env", "file"].contains(&k.get_ref().as_ref())));
            let value = if is_ref {
                match resolve_secret(doc, fv) {
                    Ok(s) => serde_json::Value::String(s),
                    Err(_) if !catalog.notifies() => {
                        unresolved = true;
                        continue;
                    }
                    Err(e) => {
                        doc.error(fv.span(), format!("{ctx}, field `{key}`: {e}"));
                        continue;
                    }
                }
            } else if let (true, Some(path)) = (key.ends_with("_file"), fv.get_ref().as_str()) {
                // Paths are relative to the file that names them, as everywhere.
                serde_json::Value::String(doc.relative(path).display().to_string())
            } else {
                to_json(fv.get_ref())
            };
            let _ = kspan;
            fields.insert(key.to_string(), value);
        }
        if doc.errors.len() > errors_before {
            parts.broken_channels.push(name.to_string());
        }
        let Some(kind) = kind else {
            parts.broken_channels.push(name.to_string());
            if doc.errors.len() == errors_before {
                doc.error(span, format!("{ctx} is missing the required field `kind` (one of: {})", catalog.channel_kinds().join(", ")));
            }
            continue;
        };
        if doc.errors.len() > errors_before {
            continue;
        }
        // Not notifying: left out, and routes naming it are not errors either.
        if unresolved {
            parts.broken_channels.push(name.to_string());
            continue;
        }
        match catalog.channel(name, &kind, Fields::new(fields)) {
            Ok(ch) => parts.channels.push(Declared { value: ch, file: doc.path.to_path_buf(), line: doc.line_of(&span) }),
            Err(e) => {
                parts.broken_channels.push(name.to_string());
                let at = e.field.as_ref().and_then(|f| spans.get(f).cloned()).unwrap_or_else(|| v.span());
                let field = e.field.map(|f| format!(", field `{f}`")).unwrap_or_default();
                doc.error(at, format!("{ctx}{field}: {}", e.message));
            }
        }
    }
}

/// `[route.NAME]` tables.
pub fn parse_routes(doc: &mut Doc<'_>, t: &DeTable<'_>, parts: &mut Parts) {
    for (name, span, v) in entries(t) {
        let ctx = format!("[route.{name}]");
        if !valid_name(name) {
            doc.error(span.clone(), format!("{ctx}: names are letters, digits, '-', '_' and '.'"));
            continue;
        }
        let DeValue::Table(table) = v.get_ref() else {
            doc.error(v.span(), format!("{ctx} must be a table like {{ notify = [\"slack\"] }}"));
            continue;
        };
        let mut route =
            Route { name: name.to_string(), notify: Vec::new(), cooldown: DEFAULT_COOLDOWN, remind: None, escalate: None, resolved: true };
        let mut has_notify = false;
        for (key, kspan, fv) in entries(table) {
            match key {
                "notify" => {
                    has_notify = true;
                    route.notify = strings(doc, &ctx, key, fv).unwrap_or_default();
                }
                "cooldown" => route.cooldown = duration(doc, &ctx, key, fv, Duration::ZERO).unwrap_or(route.cooldown),
                "resolved" => match fv.get_ref() {
                    DeValue::Boolean(b) => route.resolved = *b,
                    other => doc.error(fv.span(), format!("{ctx}, field `resolved`: expected true or false, found {}", type_name(other))),
                },
                "remind" => route.remind = parse_remind(doc, &ctx, fv),
                "escalate" => route.escalate = parse_escalate(doc, &ctx, fv),
                _ => doc.error(kspan, format!("{ctx}: unknown field `{key}`{}", suggestion(key, ROUTE_KEYS.iter().copied()))),
            }
        }
        if !has_notify {
            doc.error(span.clone(), format!("{ctx} is missing the required field `notify` (a list of [notify.NAME] names)"));
            continue;
        }
        parts.routes.push(Declared { value: route, file: doc.path.to_path_buf(), line: doc.line_of(&span) });
    }
}

fn parse_remind(doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>) -> Option<Remind> {
    let min = Duration::from_secs(60);
    if v.get_ref().as_str().is_some() {
        let every = duration(doc, ctx, "remind", v, min)?;
        return Some(Remind { every, backoff: 1.0, max: every });
    }
    let DeValue::Table(t) = v.get_ref() else {
        doc.error(v.span(), format!("{ctx}, field `remind`: expected \"30m\" or {{ every = \"30m\", backoff = 2, max = \"4h\" }}"));
        return None;
    };
    let (mut every, mut backoff, mut max) = (None, 1.0, None);
    let errors_before = doc.errors.len();
    for (key, kspan, fv) in entries(t) {
        match key {
            "every" => every = duration(doc, ctx, "remind.every", fv, min),
            "max" => max = duration(doc, ctx, "remind.max", fv, min),
            "backoff" => match as_f64(fv.get_ref()) {
                Some(b) if (1.0..=10.0).contains(&b) => backoff = b,
                _ => doc.error(fv.span(), format!("{ctx}, field `remind.backoff`: expected a number from 1 to 10")),
            },
            _ => doc.error(kspan, format!("{ctx}: unknown field `remind.{key}`{}", suggestion(key, ["every", "backoff", "max"]))),
        }
    }
    let Some(every) = every else {
        if doc.errors.len() == errors_before {
            doc.error(v.span(), format!("{ctx}, field `remind`: give `every`"));
        }
        return None;
    };
    let max = max.unwrap_or(if backoff > 1.0 { Duration::from_secs(24 * 3600) } else { every }).max(every);
    Some(Remind { every, backoff, max })
}

fn parse_escalate(doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>) -> Option<Escalate> {
    let DeValue::Table(t) = v.get_ref() else {
        doc.error(v.span(), format!("{ctx}, field `escalate`: expected {{ after = \"15m\", to = \"ROUTE\" }}"));
        return None;
    };
    let (mut after, mut to) = (None, None);
    for (key, kspan, fv) in entries(t) {
        match key {
            "after" => after = duration(doc, ctx, "escalate.after", fv, Duration::from_secs(1)),
            "to" => match fv.get_ref().as_str() {
                Some(s) => to = Some(s.to_string()),
                None => doc.error(fv.span(), format!("{ctx}, field `escalate.to`: expected a route name")),
            },
            _ => doc.error(kspan, format!("{ctx}: unknown field `escalate.{key}`{}", suggestion(key, ["after", "to"]))),
        }
    }
    match (after, to) {
        (Some(after), Some(to)) => Some(Escalate { after, to }),
        _ => {
            doc.error(v.span(), format!("{ctx}, field `escalate`: give both `after` and `to`"));
            None
        }
    }
}

/// `[[maintenance]]` tables.
pub fn parse_maintenance(doc: &mut Doc<'_>, v: &Value<'_>, parts: &mut Parts) {
    let DeValue::Array(items) = v.get_ref() else {
        doc.error(v.span(), "`maintenance` must be written [[maintenance]]".into());
        return;
    };
    for item in items.iter() {
        let ctx = "[[maintenance]]".to_string();
        let DeValue::Table(t) = item.get_ref() else {
            doc.error(item.span(), "each [[maintenance]] must be a table".into());
            continue;
        };
        let (mut checks, mut cron, mut dur, mut zone, mut start, mut end, mut reason) = (None, None, None, Zone::Local, None, None, None);
        for (key, kspan, fv) in entries(t) {
            let time = |doc: &mut Doc<'_>| match fv.get_ref().as_str().map(chrono::DateTime::parse_from_rfc3339) {
                Some(Ok(t)) => Some(t.with_timezone(&chrono::Utc)),
                _ => {
                    doc.error(fv.span(), format!("{ctx}, field `{key}`: expected an RFC 3339 time such as \"2026-12-01T22:00:00Z\""));
                    None
                }
            };
            match key {
                "checks" => checks = strings(doc, &ctx, key, fv),
                "cron" => cron = Some((fv.get_ref().as_str().unwrap_or_default().to_string(), fv.span())),
                "duration" => dur = duration(doc, &ctx, key, fv, Duration::from_secs(60)),
                "timezone" => match fv.get_ref().as_str().map(Zone::parse) {
                    Some(Ok(z)) => zone = z,
                    Some(Err(e)) => doc.error(fv.span(), format!("{ctx}, field `timezone`: {e}")),
                    None => doc.error(fv.span(), format!("{ctx}, field `timezone`: expected a string")),
                },
                "start" => start = time(doc),
                "end" => end = time(doc),
                "reason" => reason = fv.get_ref().as_str().map(str::to_string),
                _ => doc.error(kspan, format!("{ctx}: unknown field `{key}`{}", suggestion(key, MAINTENANCE_KEYS.iter().copied()))),
            }
        }
        let window = match (cron, dur, start, end) {
            (Some((expr, span)), Some(duration), None, None) => match Schedule::cron(&expr, zone) {
                Ok(Schedule::Cron { schedule, expr, zone }) => Window::Cron { schedule, expr, zone, duration },
                Ok(_) => continue,
                Err(e) => {
                    doc.error(span, format!("{ctx}, field `cron`: {e}"));
                    continue;
                }
            },
            (None, None, Some(start), Some(end)) if start < end => Window::Once { start, end },
            (None, None, Some(_), Some(_)) => {
                doc.error(item.span(), format!("{ctx}: `end` must be after `start`"));
                continue;
            }
            _ => {
                doc.error(item.span(), format!("{ctx}: give either `cron` and `duration`, or `start` and `end`"));
                continue;
            }
        };
        let Some(checks) = checks.filter(|c| !c.is_empty()) else {
            doc.error(item.span(), format!("{ctx} is missing `checks` (names or patterns such as \"app-*\"; \"*\" for all)"));
            continue;
        };
        let line = doc.line_of(&item.span());
        let m = Maintenance { checks, window, reason: reason.unwrap_or_else(|| "maintenance window".into()), line };
        parts.maintenance.push(Declared { value: m, file: doc.path.to_path_buf(), line });
    }
}

/// A check's `recover = { ... }`.
pub fn parse_recover(doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>) -> Option<RecoverSpec> {
    let DeValue::Table(t) = v.get_ref() else {
        doc.error(
            v.span(),
            format!(
                "{ctx}, field `recover`: expected a table like {{ run = [\"systemctl\", \"restart\", \"app\"], recheck_after = \"30s\" }}"
            ),
        );
        return None;
    };
    let errors_before = doc.errors.len();
    let (mut run, mut http, mut method, mut body) = (None, None, None, None);
    let mut spec_times = (Duration::from_secs(30), 3u32, Duration::from_secs(3600), Duration::from_secs(60));
    let (mut env, mut inherit_env, mut notify, mut route) = (Vec::new(), Vec::new(), RecoverNotify::Always, None);
    for (key, kspan, fv) in entries(t) {
        let field = format!("recover.{key}");
        match key {
            "env" => env = parse_env(doc, ctx, fv),
            "inherit_env" => {
                for name in strings(doc, ctx, &field, fv).unwrap_or_default() {
                    if env_name_ok(&name) {
                        inherit_env.push(name);
                    } else {
                        doc.error(fv.span(), format!("{ctx}, field `{field}`: {name:?} is not an environment variable name"));
                    }
                }
            }
            "route" => match fv.get_ref().as_str() {
                Some(r) => route = Some(r.to_string()),
                None => doc.error(fv.span(), format!("{ctx}, field `{field}`: expected a route name such as \"ops\"")),
            },
            "notify" => match fv.get_ref().as_str() {
                Some("always") => notify = RecoverNotify::Always,
                Some("after_failure") => notify = RecoverNotify::AfterFailure,
                _ => doc.error(
                    fv.span(),
                    format!(
                        "{ctx}, field `{field}`: expected \"always\" (page at once) or \"after_failure\" (page only if recovery fails)"
                    ),
                ),
            },
            "run" if fv.get_ref().is_str() => doc.error(
                fv.span(),
                format!(
                    "{ctx}, field `{field}`: write the command as a list, e.g. [\"systemctl\", \"restart\", \"app\"]; no shell is used"
                ),
            ),
            "run" => match strings(doc, ctx, &field, fv) {
                Some(argv) if !argv.is_empty() && !argv[0].is_empty() => {
                    let mut argv = argv;
                    // A relative program path is relative to the check file, like every path.
                    if argv[0].contains('/') && !argv[0].starts_with('/') {
                        argv[0] = doc.relative(&argv[0]).display().to_string();
                    }
                    run = Some(argv);
                }
                Some(_) => doc.error(
                    fv.span(),
                    format!("{ctx}, field `{field}`: give the program and its arguments, e.g. [\"systemctl\", \"restart\", \"app\"]"),
                ),
                None => {}
            },
            "http" => match fv.get_ref().as_str().map(url::Url::parse) {
                Some(Ok(u)) if matches!(u.scheme(), "http" | "https") => http = Some(u),
                _ => doc.error(fv.span(), format!("{ctx}, field `{field}`: expected an http(s) URL")),
            },
            "method" => match fv.get_ref().as_str() {
                Some(m) if ["POST", "PUT", "GET", "DELETE", "PATCH"].contains(&m.to_uppercase().as_str()) => {
                    method = Some(m.to_uppercase())
                }
                _ => doc.error(fv.span(), format!("{ctx}, field `{field}`: expected POST, PUT, PATCH, DELETE or GET")),
            },
            "body" => body = fv.get_ref().as_str().map(str::to_string),
            "recheck_after" => spec_times.0 = duration(doc, ctx, &field, fv, Duration::from_secs(1)).unwrap_or(spec_times.0),
            "max" => match as_i64(fv.get_ref()) {
                Some(n) if (1..=100).contains(&n) => spec_times.1 = n as u32,
                _ => doc.error(fv.span(), format!("{ctx}, field `{field}`: expected a whole number from 1 to 100")),
            },
            "within" => spec_times.2 = duration(doc, ctx, &field, fv, Duration::from_secs(60)).unwrap_or(spec_times.2),
            "timeout" => spec_times.3 = duration(doc, ctx, &field, fv, Duration::from_millis(100)).unwrap_or(spec_times.3),
            _ => doc.error(kspan, format!("{ctx}: unknown field `{field}`{}", suggestion(key, RECOVER_KEYS.iter().copied()))),
        }
    }
    let action = match (run, http) {
        (Some(argv), None) => {
            if method.is_some() || body.is_some() {
                doc.error(v.span(), format!("{ctx}, field `recover`: `method` and `body` go with `http`, not `run`"));
            }
            Action::Run { argv, dir: doc.relative(".") }
        }
        (None, Some(url)) => Action::Http { url, method: method.unwrap_or_else(|| "POST".into()), body },
        (Some(_), Some(_)) => {
            doc.error(v.span(), format!("{ctx}, field `recover`: give `run` or `http`, not both"));
            return None;
        }
        (None, None) => {
            if doc.errors.len() == errors_before {
                doc.error(v.span(), format!("{ctx}, field `recover`: give the action: `run = [argv...]` or `http = \"URL\"`"));
            }
            return None;
        }
    };
    if doc.errors.len() > errors_before {
        return None;
    }
    let (recheck_after, max, within, timeout) = spec_times;
    if route.is_some() && notify != RecoverNotify::AfterFailure {
        doc.error(
            v.span(),
            format!("{ctx}, field `recover.route`: goes with notify = \"after_failure\" (the route told of incidents recovery fixed)"),
        );
    }
    Some(RecoverSpec { action, recheck_after, max, within, timeout, env, inherit_env, notify, route })
}

fn env_name_ok(name: &str) -> bool {
    !name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `recover.env = { NAME = "value" | { env = "VAR" } | { file = "path" } }`.
fn parse_env(doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>) -> Vec<EnvVar> {
    let DeValue::Table(t) = v.get_ref() else {
        doc.error(v.span(), format!("{ctx}, field `recover.env`: expected a table like {{ DOCKER_HOST = {{ env = \"DOCKER_HOST\" }} }}"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, kspan, fv) in entries(t) {
        if !env_name_ok(name) || name.starts_with("PICKET_") {
            doc.error(
                kspan,
                format!("{ctx}, field `recover.env`: {name:?} is not a name picket can set (letters, digits, _; not PICKET_*)"),
            );
            continue;
        }
        match resolve_secret(doc, fv) {
            Ok(value) => out.push(EnvVar { name: name.to_string(), value, secret: fv.get_ref().is_table() }),
            Err(e) => doc.error(fv.span(), format!("{ctx}, field `recover.env.{name}`: {e}")),
        }
    }
    out
}

/// A route a check names (`alert.route`, `recover.route`), to be checked it exists.
pub struct RouteRef {
    pub file: PathBuf,
    pub line: usize,
    pub check: String,
    pub field: &'static str,
    pub route: String,
}

/// Joins every file's tables into one plan and checks every name refers to something,
/// the routes checks name among them.
pub fn assemble(parts: Vec<Parts>, check_routes: &[RouteRef]) -> Result<NotifyPlan, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let err = |file: &PathBuf, line: usize, message: String| ConfigError { file: file.clone(), line, column: 1, message };
    let mut plan = NotifyPlan::default();
    let mut channel_at: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    let mut route_at: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
    let mut routes = Vec::new();
    let mut broken: Vec<String> = Vec::new();
    for p in parts {
        broken.extend(p.broken_channels);
        for c in p.channels {
            if let Some((f, l)) = channel_at.get(&c.value.name) {
                errors.push(err(&c.file, c.line, format!("[notify.{}] is declared twice; first at {}:{l}", c.value.name, f.display())));
                continue;
            }
            channel_at.insert(c.value.name.clone(), (c.file, c.line));
            plan.channels.insert(c.value.name.clone(), c.value);
        }
        for r in p.routes {
            if let Some((f, l)) = route_at.get(&r.value.name) {
                errors.push(err(&r.file, r.line, format!("[route.{}] is declared twice; first at {}:{l}", r.value.name, f.display())));
                continue;
            }
            route_at.insert(r.value.name.clone(), (r.file.clone(), r.line));
            routes.push(r);
        }
        plan.maintenance.extend(p.maintenance.into_iter().map(|m| m.value));
    }
    for r in &routes {
        for n in &r.value.notify {
            if !plan.channels.contains_key(n) && !broken.contains(n) {
                let hint = suggestion(n, plan.channels.keys().map(String::as_str));
                errors.push(err(&r.file, r.line, format!("[route.{}], field `notify`: no [notify.{n}]{hint}", r.value.name)));
            }
        }
        if let Some(e) = &r.value.escalate {
            if !route_at.contains_key(&e.to) {
                let hint = suggestion(&e.to, route_at.keys().map(String::as_str));
                errors.push(err(&r.file, r.line, format!("[route.{}], field `escalate.to`: no [route.{}]{hint}", r.value.name, e.to)));
            } else if e.to == r.value.name {
                errors.push(err(
                    &r.file,
                    r.line,
                    format!("[route.{}], field `escalate.to`: a route cannot escalate to itself", r.value.name),
                ));
            }
        }
    }
    for RouteRef { file, line, check, field, route } in check_routes {
        if !route_at.contains_key(route) {
            let hint = suggestion(route, route_at.keys().map(String::as_str));
            errors.push(err(file, *line, format!("check {check:?}, field `{field}`: no [route.{route}]{hint}")));
        }
    }
    plan.routes = routes.into_iter().map(|r| (r.value.name.clone(), r.value)).collect();
    if errors.is_empty() { Ok(plan) } else { Err(errors) }
}
