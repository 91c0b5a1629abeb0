//! A param's value checked against the shape its plugin declared (`param-info.shape`):
//! every key of every nested table, every list item, each against its kind, reported at
//! the offending key or value with a "did you mean" where one is near. What passes is
//! turned into the JSON the plugin receives, durations in milliseconds and sizes in bytes
//! at any depth, so no plugin parses picket's grammar itself.

use std::ops::Range;

use serde_json::Value as J;
use toml::de::{DeTable, DeValue};

use super::doc::{Doc, Value, as_i64, duration_ms, entries, size_bytes, to_json, type_name};
use super::error::suggestion;
use picket_core::shape::{Shape, ValueKind};

/// How a value fits one kind of a shape.
enum Fit {
    Yes(J),
    /// Another TOML type: the next kind may fit.
    WrongType,
    /// The right TOML type, but not a value of this kind ("5 mins" for a duration).
    Bad(String),
}

/// Checks `v`, found at `path` ("expect", "expect.status[1]") in the check `ctx`, against
/// `shape`; returns it as the plugin receives it, or `None` after recording the problem.
/// Problems deeper inside a table or list are recorded there, and the rest still checked.
pub(super) fn check(doc: &mut Doc<'_>, ctx: &str, path: &str, shape: &Shape, v: &Value<'_>) -> Option<J> {
    let kinds: &[ValueKind] = if shape.kinds.is_empty() { &[ValueKind::Any] } else { &shape.kinds };
    let mut bad = None;
    for kind in kinds {
        match fit(doc, ctx, path, shape, *kind, v) {
            Fit::Yes(json) => return Some(json),
            Fit::WrongType => {}
            Fit::Bad(why) => {
                bad.get_or_insert(why);
            }
        }
    }
    let found = v.get_ref();
    let message = match (unquote_hint(shape, found), bad) {
        (Some(hint), _) => hint,
        (None, Some(why)) => why,
        (None, None) => format!("expected {}, found {}", shape.expected(), type_name(found)),
    };
    doc.error(v.span(), format!("{ctx}, field `{path}`: {message}"));
    None
}

fn fit(doc: &mut Doc<'_>, ctx: &str, path: &str, shape: &Shape, kind: ValueKind, v: &Value<'_>) -> Fit {
    let found = v.get_ref();
    match (kind, found) {
        (ValueKind::Any, _) => Fit::Yes(to_json(found)),
        (ValueKind::String, DeValue::String(s)) => string(shape, s),
        (ValueKind::Integer, DeValue::Integer(_)) => match as_i64(found) {
            Some(n) => Fit::Yes(J::from(n)),
            None => Fit::Bad("the integer is out of range".into()),
        },
        (ValueKind::Number, DeValue::Integer(_) | DeValue::Float(_)) => Fit::Yes(to_json(found)),
        (ValueKind::Bool, DeValue::Boolean(b)) => Fit::Yes(J::Bool(*b)),
        (ValueKind::Duration, DeValue::String(s)) => match duration_ms(s) {
            Ok(ms) => Fit::Yes(J::from(ms)),
            Err(e) => Fit::Bad(e),
        },
        (ValueKind::Size, _) => match size_bytes(found) {
            Some(Ok(bytes)) => Fit::Yes(J::from(bytes)),
            Some(Err(e)) => Fit::Bad(e),
            None => Fit::WrongType,
        },
        (ValueKind::Table, DeValue::Table(t)) => Fit::Yes(table(doc, ctx, path, shape, v.span(), t)),
        (ValueKind::List, DeValue::Array(items)) => Fit::Yes(J::Array(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match &shape.items {
                    Some(s) => check(doc, ctx, &format!("{path}[{i}]"), s, item),
                    None => Some(to_json(item.get_ref())),
                })
                .collect(),
        )),
        _ => Fit::WrongType,
    }
}

fn string(shape: &Shape, s: &str) -> Fit {
    if !shape.one_of.is_empty() && !shape.one_of.iter().any(|o| o == s) {
        let hint = suggestion(s, shape.one_of.iter().map(String::as_str));
        return Fit::Bad(format!("unknown value {s:?}{hint} (one of {})", shape.one_of.join(", ")));
    }
    match &shape.pattern {
        Some(p) if !p.matches(s) && p.description.is_empty() => Fit::Bad(format!("{s:?} does not have the form /{}/", p.as_str())),
        Some(p) if !p.matches(s) => Fit::Bad(format!("{s:?} is not {}", p.description)),
        _ => Fit::Yes(J::String(s.to_string())),
    }
}

/// The keys of a table, each against its own shape (or the shape of other keys); unknown
/// keys at their own span, missing required keys at the table.
fn table(doc: &mut Doc<'_>, ctx: &str, path: &str, shape: &Shape, span: Range<usize>, t: &DeTable<'_>) -> J {
    let mut out = serde_json::Map::new();
    for (key, kspan, kv) in entries(t) {
        let at = join(path, key);
        match shape.key(key).map(|k| &k.shape).or(shape.other_keys.as_deref()) {
            Some(s) => {
                if let Some(json) = check(doc, ctx, &at, s, kv) {
                    out.insert(key.to_string(), json);
                }
            }
            None => {
                let names: Vec<&str> = shape.keys.iter().map(|k| k.name.as_str()).collect();
                let takes = if names.is_empty() { format!("{path} takes no keys") } else { format!("{path} takes {}", names.join(", ")) };
                doc.error(kspan, format!("{ctx}, field `{at}`: unknown key{} ({takes})", suggestion(key, names.iter().copied())));
            }
        }
    }
    for k in shape.keys.iter().filter(|k| k.required) {
        if !entries(t).any(|(key, _, _)| key == k.name) {
            let about = if k.description.is_empty() { String::new() } else { format!(" ({})", k.description) };
            doc.error(span.clone(), format!("{ctx}, field `{path}`: missing the required key `{}`{about}", k.name));
        }
    }
    J::Object(out)
}

/// `path.key`, the key quoted as TOML would need it ("expect.json.\"checks.db\"").
fn join(path: &str, key: &str) -> String {
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { format!("{path}.{key}") } else { format!("{path}.{key:?}") }
}

/// `"200"` where an integer would do: the most common slip, named as such.
fn unquote_hint(shape: &Shape, found: &DeValue<'_>) -> Option<String> {
    let text = found.as_str()?.trim();
    let wanted = if text.parse::<i64>().is_ok() && shape.kinds.contains(&ValueKind::Integer) {
        ValueKind::Integer
    } else if text.parse::<f64>().is_ok_and(f64::is_finite) && shape.kinds.contains(&ValueKind::Number) {
        ValueKind::Number
    } else if matches!(text, "true" | "false") && shape.kinds.contains(&ValueKind::Bool) {
        ValueKind::Bool
    } else {
        return None;
    };
    Some(format!("expected {}, found a string; write {text} without quotes", wanted.described()))
}
