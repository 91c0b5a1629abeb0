//! The JSON format: one document with the overall status, counts and every result.

use serde_json::json;

use super::{Context, counts, worst};
use crate::result::CheckResult;

pub fn render(results: &[CheckResult], ctx: &Context) -> String {
    let [ok, warning, critical, unknown] = counts(results);
    let doc = json!({
        "status": worst(results),
        "passed": !results.iter().any(|r| ctx.fails(r.status)),
        "counts": { "ok": ok, "warning": warning, "critical": critical, "unknown": unknown },
        "duration_ms": (ctx.elapsed.as_secs_f64() * 1e3).round(),
        "checks": results,
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("results serialize");
    s.push('\n');
    s
}
