//! Resolving one file's `[defaults]` and `[[check]]` tables.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::daemon::DaemonSettings;
use super::doc::{Doc, Value, as_i64, entries, scalar_text, type_name};
use super::error::{ConfigError, suggestion};
use super::policy::{Timing, parse_depends_on, parse_forecasts};
use super::{CheckSpec, Secrets};
use crate::catalog::{Catalog, Described, PluginRef};
use picket_core::grants::MAX_MEMORY_CAP;
use picket_core::grants::{Grant, Grants, Limits, TlsOptions};
use picket_core::result::Status;
use picket_core::threshold::{DEFAULT_MISSING, DEFAULT_MISSING_FORECAST, Range, Threshold};
use picket_core::units::{parse_duration, parse_size};

const TOP_KEYS: &[&str] = &["defaults", "check", "daemon", "notify", "route", "maintenance"];
const DEFAULT_KEYS: &[&str] = &["timeout", "memory", "output", "every", "cron", "retry_every", "timezone", "alert"];
const CHECK_KEYS: &[&str] = &[
    "name",
    "plugin",
    "target",
    "sha256",
    "thresholds",
    "timeout",
    "memory",
    "output",
    "allow",
    "tls",
    "description",
    "every",
    "cron",
    "retry_every",
    "timezone",
    "alert",
    "depends_on",
    "forecast",
    "runbook",
    "recover",
];

/// What `[defaults]` sets for the checks of its file.
#[derive(Debug, Clone, Default)]
struct Defaults {
    limits: Limits,
    timing: Timing,
}

/// One file's checks, its `[daemon]` table if it has one, and every error found.
pub struct FileContents {
    pub checks: Vec<CheckSpec>,
    pub daemon: Option<DaemonSettings>,
    pub notify: super::notify::Parts,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<super::error::ConfigWarning>,
}

/// Loads one file.
pub async fn load_file<C: Catalog>(path: &Path, text: &str, catalog: &C) -> FileContents {
    let mut doc = Doc::new(path, text);
    let Some(root) = doc.parse() else {
        return FileContents { checks: Vec::new(), daemon: None, notify: Default::default(), errors: doc.errors, warnings: doc.warnings };
    };
    let root = root.into_inner();

    let mut defaults = Defaults::default();
    let mut daemon = None;
    let mut notify = super::notify::Parts::default();
    let mut check_values = Vec::new();
    for (key, span, v) in entries(&root) {
        match key {
            "defaults" => match v.get_ref() {
                DeValue::Table(t) => parse_defaults(&mut doc, t, &mut defaults),
                other => doc.error(v.span(), format!("`defaults` must be a table, not {}", type_name(other))),
            },
            "daemon" => match v.get_ref() {
                DeValue::Table(t) => {
                    let line = doc.line_of(&span);
                    daemon = Some(super::daemon::parse(&mut doc, line, t));
                }
                other => doc.error(v.span(), format!("`daemon` must be a table, not {}", type_name(other))),
            },
            "notify" | "route" => match v.get_ref() {
                DeValue::Table(t) if key == "notify" => super::notify::parse_channels(&mut doc, t, &mut notify, catalog),
                DeValue::Table(t) => super::notify::parse_routes(&mut doc, t, &mut notify),
                other => doc.error(v.span(), format!("`{key}` must be written [{key}.NAME], not {}", type_name(other))),
            },
            "maintenance" => super::notify::parse_maintenance(&mut doc, v, &mut notify),
            "check" => match v.get_ref() {
                DeValue::Array(items) => check_values.extend(items.iter()),
                other => doc.error(v.span(), format!("`check` must be written [[check]], not {}", type_name(other))),
            },
            _ => doc.error(span, format!("unknown top-level key `{key}`{}", suggestion(key, TOP_KEYS.iter().copied()))),
        }
    }

    let mut checks = Vec::new();
    for v in check_values {
        match v.get_ref() {
            DeValue::Table(t) => {
                if let Some(c) = parse_check(&mut doc, v.span(), t, &defaults, catalog).await {
                    checks.push(c);
                }
            }
            other => doc.error(v.span(), format!("each [[check]] must be a table, not {}", type_name(other))),
        }
    }
    FileContents { checks, daemon, notify, errors: doc.errors, warnings: doc.warnings }
}

/// Reads the limit keys shared by `[defaults]` and `[[check]]`; returns whether `key` was one.
fn parse_limit(doc: &mut Doc<'_>, ctx: &str, key: &str, v: &Value<'_>, limits: &mut Limits) -> bool {
    let field = |doc: &mut Doc<'_>, msg: String| doc.error(v.span(), format!("{ctx}, field `{key}`: {msg}"));
    match key {
        "timeout" => match v.get_ref().as_str().map(parse_duration) {
            Some(Ok(d)) if d >= Duration::from_millis(1) => limits.timeout = d,
            Some(Ok(_)) => field(doc, "must be at least 1ms".into()),
            Some(Err(e)) => field(doc, e),
            None => field(doc, format!("expected a duration string such as \"5s\", found {}", type_name(v.get_ref()))),
        },
        "memory" => match size(v) {
            Ok(n) if (1 << 20..=MAX_MEMORY_CAP).contains(&n) => limits.memory = n,
            Ok(_) => field(doc, format!("must be between 1MiB and {}", picket_core::units::format_bytes(MAX_MEMORY_CAP))),
            Err(e) => field(doc, e),
        },
        "output" => match size(v) {
            Ok(n) if n >= 256 => limits.output = n as usize,
            Ok(_) => field(doc, "must be at least 256B".into()),
            Err(e) => field(doc, e),
        },
        _ => return false,
    }
    true
}

fn size(v: &Value<'_>) -> Result<u64, String> {
    match v.get_ref() {
        DeValue::String(s) => parse_size(s),
        DeValue::Integer(_) => as_i64(v.get_ref()).filter(|n| *n >= 0).map(|n| n as u64).ok_or("must not be negative".into()),
        other => Err(format!("expected a size such as \"64MiB\", found {}", type_name(other))),
    }
}

fn parse_defaults(doc: &mut Doc<'_>, t: &DeTable<'_>, defaults: &mut Defaults) {
    for (key, span, v) in entries(t) {
        if !parse_limit(doc, "[defaults]", key, v, &mut defaults.limits) && !defaults.timing.parse_key(doc, "[defaults]", key, v) {
            doc.error(span, format!("[defaults]: unknown field `{key}`{}", suggestion(key, DEFAULT_KEYS.iter().copied())));
        }
    }
}

fn string(doc: &mut Doc<'_>, ctx: &str, key: &str, v: &Value<'_>) -> Option<String> {
    match v.get_ref() {
        DeValue::String(s) => Some(s.to_string()),
        other => {
            doc.error(v.span(), format!("{ctx}, field `{key}`: expected a string, found {}", type_name(other)));
            None
        }
    }
}

async fn parse_check<C: Catalog>(
    doc: &mut Doc<'_>,
    span: std::ops::Range<usize>,
    t: &DeTable<'_>,
    defaults: &Defaults,
    catalog: &C,
) -> Option<CheckSpec> {
    let get = |k: &str| entries(t).find(|(key, _, _)| *key == k).map(|(_, s, v)| (s, v));
    let line = doc.line_of(&span);
    let errors_before = doc.errors.len();

    let name = match get("name") {
        Some((_, v)) => string(doc, "[[check]]", "name", v).filter(|n| {
            let ok = !n.trim().is_empty() && n.len() <= 128 && !n.chars().any(char::is_control);
            if !ok {
                doc.error(v.span(), "[[check]], field `name`: must be 1 to 128 printable characters".into());
            }
            ok
        }),
        None => {
            doc.error(span.clone(), "[[check]] is missing the required field `name`".into());
            None
        }
    }?;
    let ctx = format!("check {name:?}");

    let target = match get("target") {
        Some((_, v)) => string(doc, &ctx, "target", v),
        None => {
            doc.error(span.clone(), format!("{ctx} is missing the required field `target`"));
            None
        }
    };
    let sha256 = get("sha256").and_then(|(_, v)| {
        let s = string(doc, &ctx, "sha256", v)?;
        if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
            doc.error(v.span(), format!("{ctx}, field `sha256`: expected 64 hex digits"));
            return None;
        }
        Some(s)
    });

    // The plugin first: its describe info validates params and thresholds.
    let (plugin_name, plugin) = match get("plugin") {
        None => {
            doc.error(
                span.clone(),
                format!(
                    "{ctx} is missing the required field `plugin` (one of: {}, or a path to a .wasm file)",
                    catalog.builtins().join(", ")
                ),
            );
            return None;
        }
        Some((_, v)) => {
            let written = string(doc, &ctx, "plugin", v)?;
            let is_path = written.contains('/') || written.ends_with(".wasm");
            let loaded = if is_path {
                let path = doc.relative(&written);
                if !path.is_file() {
                    doc.error(v.span(), format!("{ctx}, field `plugin`: no plugin file at {}", path.display()));
                    return None;
                }
                match catalog.plugin(PluginRef::File { path: &path, sha256: sha256.as_deref() }).await {
                    Some(r) => r,
                    None => Err(picket_core::result::Failure::Load(format!("cannot load {}", path.display()))),
                }
            } else {
                if sha256.is_some() {
                    doc.error(
                        get("sha256").unwrap().1.span(),
                        format!("{ctx}, field `sha256`: only plugin files can be pinned; built-ins are part of picket"),
                    );
                }
                match catalog.plugin(PluginRef::Builtin(&written)).await {
                    Some(r) => r,
                    None => {
                        doc.error(
                            v.span(),
                            format!(
                                "{ctx}, field `plugin`: unknown plugin `{written}`{} (built-ins: {}; or a path to a .wasm file)",
                                suggestion(&written, catalog.builtins().iter().map(String::as_str)),
                                catalog.builtins().join(", ")
                            ),
                        );
                        return None;
                    }
                }
            };
            (written, loaded)
        }
    };
    if let Err(f) = &plugin {
        tracing::warn!(check = %name, plugin = %plugin_name, reason = f.kind(), "plugin unusable: {f}");
    }

    let mut limits = defaults.limits;
    let mut timing = defaults.timing.clone();
    let mut depends_on = Vec::new();
    let mut forecast_value = None;
    let mut description = None;
    let mut runbook = None;
    let mut recover = None;
    let mut grants: Vec<Grant> = Vec::new();
    let mut tls = TlsOptions::default();
    let mut params = BTreeMap::new();
    let mut threshold_value = None;
    for (key, kspan, v) in entries(t) {
        if parse_limit(doc, &ctx, key, v, &mut limits) || timing.parse_key(doc, &ctx, key, v) {
            continue;
        }
        match key {
            "name" | "target" | "plugin" | "sha256" => {}
            "description" => description = string(doc, &ctx, key, v),
            "runbook" => runbook = string(doc, &ctx, key, v),
            "recover" => recover = super::notify::parse_recover(doc, &ctx, v),
            "depends_on" => depends_on = parse_depends_on(doc, &ctx, v),
            "forecast" => forecast_value = Some(v),
            "thresholds" => threshold_value = Some(v),
            "allow" => match v.get_ref() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        match item.get_ref().as_str().map(Grant::parse_allow) {
                            Some(Ok(g)) => grants.push(g),
                            Some(Err(e)) => doc.error(item.span(), format!("{ctx}, field `allow`: {e}")),
                            None => doc.error(item.span(), format!("{ctx}, field `allow`: entries must be strings like \"tcp:db:5432\"")),
                        }
                    }
                }
                other => doc.error(v.span(), format!("{ctx}, field `allow`: expected an array of strings, found {}", type_name(other))),
            },
            "tls" => parse_tls(doc, &ctx, v, &mut tls),
            _ => {
                params.insert(key.to_string(), (kspan, v));
            }
        }
    }

    let target = target?;
    let info = plugin.as_ref().ok().map(|p| &p.info);
    // The plugin's declared shapes decide what the target may be and what it grants; a
    // plugin that could not be loaded reports that as the check's result instead.
    let resolved = match info {
        Some(i) => picket_core::target::resolve(&target, &i.targets),
        None => Ok(picket_core::target::infer(&target)),
    };
    let endpoint = match resolved {
        Ok(r) => {
            grants.extend(r.grant);
            r.endpoint
        }
        Err(problem) => {
            let (_, v) = get("target").unwrap();
            doc.error(v.span(), format!("{ctx}, field `target`: {problem}"));
            None
        }
    };

    // A password written into the target URL is a secret too.
    let mut secrets: Vec<String> = endpoint.as_ref().and_then(|e| e.password.clone()).into_iter().collect();
    // So is a recovery action's environment read from a secret reference.
    secrets.extend(recover.iter().flat_map(|r| r.env.iter().filter(|e| e.secret).map(|e| e.value.clone())));
    let params_json =
        super::params::validate_params(doc, &ctx, &span, info.map(|i| i.params.as_slice()), &plugin_name, CHECK_KEYS, params, &mut secrets);
    let unit_of = |m: &str| match &plugin {
        Ok(p) => p.info.metric(m).map(|m| m.unit.clone()),
        Err(_) => Some(String::new()),
    };
    let mut forecasts = match forecast_value {
        Some(v) => parse_forecasts(doc, &ctx, v, &unit_of),
        None => Vec::new(),
    };
    // What the plugin derives by default, unless the check wrote its own of that name.
    for default in info.map(|i| i.default_forecasts()).unwrap_or_default() {
        if !forecasts.iter().any(|f| f.name == default.name) {
            forecasts.push(default);
        }
    }
    let forecast_names: Vec<&str> = forecasts.iter().map(|f| f.name.as_str()).collect();
    let thresholds = match threshold_value {
        Some(v) => parse_thresholds(doc, &ctx, v, plugin.as_ref().ok(), &forecast_names),
        None => Vec::new(),
    };
    let schedule = timing.schedule(doc, &ctx);

    if doc.errors.len() > errors_before {
        return None;
    }
    let schedule = schedule?;
    let retry_every = timing.retry_every(&schedule);
    let grants = Grants::new(grants);
    let mut spec = CheckSpec {
        name,
        file: doc.path.to_path_buf(),
        line,
        plugin_name,
        plugin,
        target,
        endpoint,
        params: params_json,
        thresholds,
        limits,
        grants: std::sync::Arc::new(grants),
        tls,
        secrets: Secrets::new(secrets),
        description,
        schedule,
        retry_every,
        alert: timing.alert,
        route: timing.route.clone(),
        runbook,
        recover,
        depends_on,
        forecasts,
        fingerprint: String::new(),
    };
    spec.fingerprint = spec.compute_fingerprint();
    Some(spec)
}

fn parse_tls(doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>, tls: &mut TlsOptions) {
    let DeValue::Table(t) = v.get_ref() else {
        doc.error(v.span(), format!("{ctx}, field `tls`: expected a table like {{ ca_file = \"ca.pem\" }}"));
        return;
    };
    for (key, span, v) in entries(t) {
        match (key, v.get_ref()) {
            ("ca_file", DeValue::String(s)) => {
                let path = doc.relative(s);
                if !path.is_file() {
                    doc.error(v.span(), format!("{ctx}, field `tls.ca_file`: no file at {}", path.display()));
                }
                tls.ca_file = Some(path);
            }
            ("insecure", DeValue::Boolean(b)) => tls.insecure = *b,
            ("ca_file" | "insecure", other) => doc.error(v.span(), format!("{ctx}, field `tls.{key}`: unexpected {}", type_name(other))),
            _ => doc.error(span, format!("{ctx}: unknown field `tls.{key}`{}", suggestion(key, ["ca_file", "insecure"]))),
        }
    }
}

/// The keys of one metric's threshold table.
const THRESHOLD_KEYS: [&str; 3] = ["warn", "crit", "missing"];

fn parse_thresholds(doc: &mut Doc<'_>, ctx: &str, v: &Value<'_>, plugin: Option<&Described>, forecasts: &[&str]) -> Vec<Threshold> {
    let DeValue::Table(t) = v.get_ref() else {
        doc.error(
            v.span(),
            format!("{ctx}, field `thresholds`: expected a table like {{ response_time = {{ warn = \"1s\", crit = \"3s\" }} }}"),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (metric, mspan, levels) in entries(t) {
        let declared = plugin.map(|p| &p.info.metrics).filter(|m| !m.is_empty());
        let info = declared.and_then(|ms| ms.iter().find(|m| m.name == metric));
        let is_forecast = forecasts.contains(&metric);
        let DeValue::Table(lt) = levels.get_ref() else {
            doc.error(levels.span(), format!("{ctx}, field `thresholds.{metric}`: expected {{ warn = ..., crit = ... }}"));
            continue;
        };
        let default_missing = if is_forecast { DEFAULT_MISSING_FORECAST } else { DEFAULT_MISSING };
        let mut th = Threshold { metric: metric.to_string(), warn: None, crit: None, missing: default_missing };
        let errors_before = doc.errors.len();
        for (level, lspan, lv) in entries(lt) {
            let slot = match level {
                "warn" => &mut th.warn,
                "crit" => &mut th.crit,
                "missing" => {
                    match lv.get_ref().as_str() {
                        Some(text) if Status::parse(text).is_some() => th.missing = Status::parse(text).unwrap_or(default_missing),
                        found => {
                            let names = Status::ALL.map(Status::as_str);
                            let hint = found.map(|text| suggestion(text, names)).unwrap_or_default();
                            doc.error(
                                lv.span(),
                                format!(
                                    "{ctx}, field `thresholds.{metric}.missing`: expected one of \"ok\", \"unknown\", \"warning\", \"critical\"{hint}"
                                ),
                            );
                        }
                    }
                    continue;
                }
                _ => {
                    doc.error(
                        lspan,
                        format!(
                            "{ctx}: unknown field `thresholds.{metric}.{level}`{} (use warn, crit and missing)",
                            suggestion(level, THRESHOLD_KEYS)
                        ),
                    );
                    continue;
                }
            };
            let Some(text) = scalar_text(lv.get_ref()) else {
                doc.error(
                    lv.span(),
                    format!("{ctx}, field `thresholds.{metric}.{level}`: expected a value such as \"1s\", \"80%\" or \"10:20\""),
                );
                continue;
            };
            let unit = if is_forecast { Some("days") } else { info.map(|m| m.unit.as_str()) };
            match Range::parse(&text).and_then(|r| match unit {
                Some(u) => r.check_unit(u).map(|_| r),
                None => Ok(r),
            }) {
                Ok(r) => *slot = Some((r, text)),
                Err(e) => doc.error(lv.span(), format!("{ctx}, field `thresholds.{metric}.{level}`: {e}")),
            }
        }
        if doc.errors.len() > errors_before {
            continue;
        }
        if th.warn.is_none() && th.crit.is_none() && !lt.contains_key("missing") {
            doc.error(levels.span(), format!("{ctx}, field `thresholds.{metric}`: give warn, crit or both"));
            continue;
        }
        // A metric the plugin does not list may still be reported (a plugin may name
        // metrics at run time), so this does not stop the file; but most often it is a
        // typo, which would otherwise surface only as `missing` at the first run.
        if let (Some(ms), None, false) = (declared, info, is_forecast) {
            let names: Vec<&str> = ms.iter().map(|m| m.name.as_str()).chain(forecasts.iter().copied()).collect();
            doc.warn(
                mspan,
                format!(
                    "{ctx}, field `thresholds`: plugin does not list a metric `{metric}`{} (it reports {}); a run without it is {} (missing = \"{}\")",
                    suggestion(metric, names.iter().copied()),
                    names.join(", "),
                    th.missing,
                    th.missing
                ),
            );
        }
        out.push(th);
    }
    out
}
