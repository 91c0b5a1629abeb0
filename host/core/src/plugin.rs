//! What a plugin says about itself (`describe`), in host types: its params, their kinds
//! and the shapes of their values ([`crate::shape`]), its metrics (and when each is reported), the target shapes it accepts and the forecasts it derives by
//! default. The sandbox produces it (and checks it with [`PluginInfo::problems`]); config
//! validates check files against it through a catalog. Nothing here knows any particular
//! plugin: what a target must look like is what the plugin declared.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::policy::ForecastSpec;
use crate::shape::{Shape, ValueKind};
use crate::units::format_metric;

/// What a param's value must be (`param-kind` in `wit/plugin.wit`, which says how each
/// kind reaches the plugin).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    String,
    Integer,
    Number,
    Bool,
    /// A duration string; handed over as whole milliseconds.
    Duration,
    /// A size string or a number of bytes; handed over as bytes.
    Size,
    List,
    Table,
    /// `{ env = "VAR" }`, `{ file = "path" }` or a literal: resolved at load, scrubbed from results.
    Secret,
    Any,
}

impl ParamKind {
    pub const ALL: [ParamKind; 10] = [
        ParamKind::String,
        ParamKind::Integer,
        ParamKind::Number,
        ParamKind::Bool,
        ParamKind::Duration,
        ParamKind::Size,
        ParamKind::List,
        ParamKind::Table,
        ParamKind::Secret,
        ParamKind::Any,
    ];

    /// Whether a param of this kind may have a value of `kind` (what a declared shape's
    /// root may allow). A secret has no shape: its value is resolved, not checked.
    pub fn admits(self, kind: ValueKind) -> bool {
        match self {
            ParamKind::String => kind == ValueKind::String,
            ParamKind::Integer => kind == ValueKind::Integer,
            ParamKind::Number => matches!(kind, ValueKind::Integer | ValueKind::Number),
            ParamKind::Bool => kind == ValueKind::Bool,
            ParamKind::Duration => kind == ValueKind::Duration,
            ParamKind::Size => kind == ValueKind::Size,
            ParamKind::List => kind == ValueKind::List,
            ParamKind::Table => kind == ValueKind::Table,
            ParamKind::Secret => false,
            ParamKind::Any => true,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ParamKind::String => "string",
            ParamKind::Integer => "integer",
            ParamKind::Number => "number",
            ParamKind::Bool => "bool",
            ParamKind::Duration => "duration",
            ParamKind::Size => "size",
            ParamKind::List => "list",
            ParamKind::Table => "table",
            ParamKind::Secret => "secret",
            ParamKind::Any => "any",
        }
    }
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamInfo {
    pub name: String,
    pub kind: ParamKind,
    pub required: bool,
    pub description: String,
    /// What the value's inside must be (a table's keys and their kinds, a list's items).
    /// `None`: only `kind` is checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<Shape>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricInfo {
    pub name: String,
    pub unit: String,
    pub description: String,
    pub lower_is_worse: bool,
    /// When the metric is reported only under some condition, that condition, completing
    /// "reported only …": "for https targets". `None`: every successful run reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

/// A URL scheme a plugin accepts, and the port such a URL means when it names none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UrlScheme {
    pub name: String,
    pub default_port: Option<u16>,
}

/// `scheme://[user[:password]@]host[:port][/path][?query]` with one of `schemes`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UrlShape {
    pub schemes: Vec<UrlScheme>,
    /// The URL must name a user.
    pub user_required: bool,
    /// A target of this shape, for error messages.
    pub example: String,
}

/// A form of `target` a plugin accepts (`target-shape` in `wit/plugin.wit`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "form")]
pub enum TargetShape {
    Url(UrlShape),
    HostPort,
    Path,
}

impl fmt::Display for TargetShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetShape::Url(u) => {
                let schemes: Vec<String> = u
                    .schemes
                    .iter()
                    .map(|s| match s.default_port {
                        Some(p) => format!("{}:// (port {p})", s.name),
                        None => format!("{}://", s.name),
                    })
                    .collect();
                let user = if u.user_required { ", with a user" } else { "" };
                write!(f, "URL: {}{user}; e.g. {:?}", schemes.join(", "), u.example)
            }
            TargetShape::HostPort => f.write_str("host:port"),
            TargetShape::Path => f.write_str("an absolute path"),
        }
    }
}

/// A derived metric the plugin declares for every check of it (`forecast-info`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastInfo {
    pub name: String,
    pub metric: String,
    /// In the metric's unit.
    pub reaches: f64,
    pub window: Duration,
    pub description: String,
}

/// What `describe` returned, in host types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub params: Vec<ParamInfo>,
    pub metrics: Vec<MetricInfo>,
    /// Empty: any target, granting what its form names.
    pub targets: Vec<TargetShape>,
    pub forecasts: Vec<ForecastInfo>,
}

impl PluginInfo {
    pub fn metric(&self, name: &str) -> Option<&MetricInfo> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// What is wrong with the declaration itself (a forecast of an undeclared metric, a
    /// URL shape without schemes, …); a plugin with problems is refused when it loads.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in &self.params {
            if !seen.insert(p.name.as_str()) {
                out.push(format!("param `{}` is declared twice", p.name));
            }
            if let Some(shape) = &p.shape {
                if let Some(k) = shape.kinds.iter().find(|k| !p.kind.admits(**k)) {
                    out.push(format!("param `{}` (kind {}) has a shape that allows a {k}", p.name, p.kind));
                }
                if shape.kinds.is_empty() && p.kind != ParamKind::Any {
                    out.push(format!("param `{}` (kind {}) has a shape that allows anything", p.name, p.kind));
                }
                out.extend(shape.problems(&p.name).into_iter().map(|e| format!("param shape: {e}")));
            }
        }
        for shape in &self.targets {
            if let TargetShape::Url(u) = shape {
                if u.schemes.is_empty() {
                    out.push("a url target shape lists no schemes".into());
                }
                for s in &u.schemes {
                    let ok = s.name.starts_with(|c: char| c.is_ascii_lowercase())
                        && s.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
                    if !ok {
                        out.push(format!("target scheme {:?} is not a lowercase URL scheme", s.name));
                    }
                }
            }
        }
        for f in &self.forecasts {
            if self.metric(&f.name).is_some() {
                out.push(format!("forecast `{}` has the name of a metric", f.name));
            }
            if self.metric(&f.metric).is_none() {
                out.push(format!("forecast `{}` is of `{}`, which is not a declared metric", f.name, f.metric));
            }
            if f.window < Duration::from_secs(60) || !f.reaches.is_finite() {
                out.push(format!("forecast `{}` needs a finite limit and a window of at least 60 s", f.name));
            }
        }
        out
    }

    /// The forecasts a check of this plugin gets by default, as the daemon runs them.
    pub fn default_forecasts(&self) -> Vec<ForecastSpec> {
        self.forecasts
            .iter()
            .map(|f| {
                let unit = self.metric(&f.metric).map(|m| m.unit.as_str()).unwrap_or("");
                ForecastSpec {
                    name: f.name.clone(),
                    metric: f.metric.clone(),
                    reaches: f.reaches,
                    reaches_text: format_metric(f.reaches, unit).replace(' ', ""),
                    window: f.window,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> PluginInfo {
        PluginInfo {
            name: "probe".into(),
            version: "1".into(),
            description: String::new(),
            params: Vec::new(),
            metrics: vec![MetricInfo {
                name: "used".into(),
                unit: "%".into(),
                description: String::new(),
                lower_is_worse: false,
                when: None,
            }],
            targets: vec![TargetShape::Path],
            forecasts: vec![ForecastInfo {
                name: "days_until_full".into(),
                metric: "used".into(),
                reaches: 100.0,
                window: Duration::from_secs(7 * 86400),
                description: String::new(),
            }],
        }
    }

    #[test]
    fn a_declared_forecast_becomes_a_default_spec() {
        let i = info();
        assert!(i.problems().is_empty(), "{:?}", i.problems());
        let f = &i.default_forecasts()[0];
        assert_eq!((f.name.as_str(), f.metric.as_str(), f.reaches, f.reaches_text.as_str()), ("days_until_full", "used", 100.0, "100%"));
        assert_eq!(f.window, Duration::from_secs(7 * 86400));
    }

    #[test]
    fn bad_declarations_are_named() {
        let mut i = info();
        i.forecasts[0].metric = "size".into();
        i.targets.push(TargetShape::Url(UrlShape { schemes: vec![], user_required: false, example: String::new() }));
        let p = i.problems().join("; ");
        assert!(p.contains("`size`, which is not a declared metric") && p.contains("lists no schemes"), "{p}");
    }

    #[test]
    fn a_shape_must_fit_its_param_kind() {
        let mut i = info();
        let param =
            |kind, shape| ParamInfo { name: "expect".into(), kind, required: false, description: String::new(), shape: Some(shape) };
        i.params.push(param(ParamKind::Table, Shape::table(Vec::new())));
        i.params.push(ParamInfo { name: "status".into(), ..param(ParamKind::Any, Shape::of(&[ValueKind::Integer, ValueKind::List])) });
        assert!(i.problems().is_empty(), "{:?}", i.problems());
        i.params.push(ParamInfo { name: "port".into(), ..param(ParamKind::Integer, Shape::of(&[ValueKind::String])) });
        i.params.push(ParamInfo { name: "token".into(), ..param(ParamKind::Secret, Shape::of(&[])) });
        let p = i.problems().join("; ");
        assert!(p.contains("param `port` (kind integer) has a shape that allows a string"), "{p}");
        assert!(p.contains("param `token` (kind secret) has a shape that allows anything"), "{p}");
        assert!(ParamKind::Number.admits(ValueKind::Integer) && !ParamKind::Secret.admits(ValueKind::String));
    }

    #[test]
    fn kinds_have_their_wit_names() {
        let names: Vec<&str> = ParamKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["string", "integer", "number", "bool", "duration", "size", "list", "table", "secret", "any"]);
        assert_eq!(serde_json::to_string(&ParamKind::Secret).unwrap(), "\"secret\"");
    }
}
