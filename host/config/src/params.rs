//! A check's plugin params: every key that is not one of the check's own, validated
//! against the params the plugin declares (name, kind, required, and the shape of a
//! table's or list's inside), secrets resolved, and turned into the JSON object the plugin
//! receives.

use std::collections::BTreeMap;
use std::ops::Range;

use serde_json::Value as J;
use toml::de::DeValue;

use super::doc::{Doc, Value, duration_ms, entries, size_bytes, to_json, type_name};
use super::error::suggestion;
use picket_core::plugin::{ParamInfo, ParamKind};

/// Checks `params` (key → its span and value) against the plugin's declared ones and turns
/// them into JSON. `declared` is `None` when the plugin could not be loaded: the params go
/// through as written (the check reports the load failure instead). `check_keys` are the
/// check's own keys, for "did you mean" on a misspelt one.
#[allow(clippy::too_many_arguments)]
pub(super) fn validate_params(
    doc: &mut Doc<'_>,
    ctx: &str,
    check_span: &Range<usize>,
    declared: Option<&[ParamInfo]>,
    plugin: &str,
    check_keys: &[&str],
    params: BTreeMap<String, (Range<usize>, &Value<'_>)>,
    secrets: &mut Vec<String>,
) -> String {
    if let Some(declared) = declared {
        for p in declared.iter().filter(|p| p.required && !params.contains_key(&p.name)) {
            doc.error(
                check_span.clone(),
                format!("{ctx} is missing the field `{}` required by plugin `{plugin}` ({})", p.name, p.description),
            );
        }
    }
    let mut out = serde_json::Map::new();
    for (key, (span, v)) in params {
        let value = match declared {
            None => Some(to_json(v.get_ref())),
            Some(declared) => match declared.iter().find(|p| p.name == key) {
                Some(p) => param_value(doc, ctx, p, v, secrets),
                None => {
                    let candidates = check_keys.iter().copied().chain(declared.iter().map(|p| p.name.as_str()));
                    let valid: Vec<&str> = declared.iter().map(|p| p.name.as_str()).collect();
                    let accepts =
                        if valid.is_empty() { "it takes no params".to_string() } else { format!("it accepts {}", valid.join(", ")) };
                    doc.error(
                        span,
                        format!("{ctx}: unknown field `{key}` for plugin `{plugin}`{} ({accepts})", suggestion(&key, candidates)),
                    );
                    None
                }
            },
        };
        if let Some(value) = value {
            out.insert(key, value);
        }
    }
    serde_json::to_string(&out).expect("params serialize")
}

/// One declared param's value as the plugin receives it, or `None` after recording why not.
fn param_value(doc: &mut Doc<'_>, ctx: &str, p: &ParamInfo, v: &Value<'_>, secrets: &mut Vec<String>) -> Option<J> {
    let key = p.name.as_str();
    let converted = match as_kind(p.kind, v.get_ref()) {
        Ok(c) => c,
        Err(problem) => {
            doc.error(v.span(), format!("{ctx}, field `{key}`: {problem}"));
            return None;
        }
    };
    if p.kind == ParamKind::Secret {
        return match resolve_secret(doc, v) {
            Ok(secret) => {
                secrets.push(secret.clone());
                Some(J::String(secret))
            }
            Err(e) => {
                doc.error(v.span(), format!("{ctx}, field `{key}`: {e}"));
                None
            }
        };
    }
    match (&p.shape, converted) {
        // The shape says what the inside must be, and converts durations and sizes in it.
        (Some(shape), _) => super::shape::check(doc, ctx, key, shape, v),
        // Durations and sizes arrive parsed, so plugins never parse them themselves.
        (None, Some(n)) => Some(J::from(n)),
        (None, None) => Some(to_json(v.get_ref())),
    }
}

/// A secret: `{ env = "VAR" }`, `{ file = "path" }` (relative to the check file; one
/// trailing newline dropped), or a literal string. Error messages never contain the value.
pub(super) fn resolve_secret(doc: &Doc<'_>, v: &Value<'_>) -> Result<String, String> {
    let help = "expected { env = \"VAR\" }, { file = \"path\" } or a string";
    match v.get_ref() {
        DeValue::String(s) => Ok(s.to_string()),
        DeValue::Table(t) => {
            let mut refs = entries(t);
            let (Some((kind, _, value)), None) = (refs.next(), refs.next()) else { return Err(help.into()) };
            let Some(name) = value.get_ref().as_str() else { return Err(help.into()) };
            match kind {
                "env" => match std::env::var(name) {
                    Ok(val) if !val.is_empty() => Ok(val),
                    Ok(_) => Err(format!("environment variable {name} is empty")),
                    Err(_) => Err(format!("environment variable {name} is not set")),
                },
                "file" => {
                    let path = doc.relative(name);
                    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?;
                    let text = text.strip_suffix('\n').unwrap_or(&text);
                    let text = text.strip_suffix('\r').unwrap_or(text);
                    if text.is_empty() {
                        return Err(format!("secret file {} is empty", path.display()));
                    }
                    Ok(text.to_string())
                }
                _ => Err(help.into()),
            }
        }
        _ => Err(help.into()),
    }
}

/// Checks a param's value against its declared kind; for durations and sizes, the value
/// as the plugin receives it (whole milliseconds, bytes).
fn as_kind(kind: ParamKind, v: &DeValue<'_>) -> Result<Option<u64>, String> {
    let mismatch = || Err(format!("expected {kind}, found {}", type_name(v)));
    let ok = match kind {
        ParamKind::String => v.is_str(),
        ParamKind::Integer => v.is_integer(),
        ParamKind::Number => v.is_integer() || v.is_float(),
        ParamKind::Bool => v.is_bool(),
        ParamKind::List => v.is_array(),
        ParamKind::Table => v.is_table(),
        ParamKind::Secret => v.is_str() || v.is_table(),
        ParamKind::Any => true,
        ParamKind::Duration => {
            let Some(text) = v.as_str() else { return mismatch() };
            return duration_ms(text).map(Some);
        }
        ParamKind::Size => {
            return match size_bytes(v) {
                Some(bytes) => bytes.map(Some),
                None => mismatch(),
            };
        }
    };
    if ok { Ok(None) } else { mismatch() }
}
