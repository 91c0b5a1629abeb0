//! Dotted-path lookups in JSON documents: `status`, `checks.db.status`, `items.0.id`.

use serde_json::Value;

/// Looks up a dotted path; numeric segments index arrays.
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, seg| match v {
        Value::Object(map) => map.get(seg),
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Flattens a nested expectation table into (dotted path, expected value) pairs, so
/// `{ checks = { db = "up" } }` means the field `checks.db` equals "up".
pub fn flatten_expectations(expected: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&path, child, out);
                }
            }
            other => out.push((prefix.to_string(), other.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", expected, &mut out);
    out
}

/// Equality that treats 1 and 1.0 as equal, as a TOML author would expect.
pub fn loosely_equal(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => actual == expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths() {
        let doc = json!({"status": "healthy", "checks": {"db": {"ok": true}}, "items": [{"id": 7}]});
        assert_eq!(lookup(&doc, "status"), Some(&json!("healthy")));
        assert_eq!(lookup(&doc, "checks.db.ok"), Some(&json!(true)));
        assert_eq!(lookup(&doc, "items.0.id"), Some(&json!(7)));
        assert_eq!(lookup(&doc, "items.1.id"), None);
        assert_eq!(lookup(&doc, "status.x"), None);
    }

    #[test]
    fn nested_expectations_flatten() {
        let mut got = flatten_expectations(&json!({"status": "ok", "checks": {"db": "up"}}));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, vec![("checks.db".into(), json!("up")), ("status".into(), json!("ok"))]);
        assert!(loosely_equal(&json!(1), &json!(1.0)));
    }
}
