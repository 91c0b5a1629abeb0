//! The TAP 13 format: `ok`/`not ok` per check with a YAML block for failures.

use super::Context;
use crate::result::CheckResult;

pub fn render(results: &[CheckResult], ctx: &Context) -> String {
    let mut out = format!("TAP version 13\n1..{}\n", results.len());
    for (i, r) in results.iter().enumerate() {
        let ok = if ctx.fails(r.status) { "not ok" } else { "ok" };
        let summary = r.summary.replace('#', "\\#");
        out.push_str(&format!("{ok} {} - {}: {summary}\n", i + 1, r.name));
        if r.status != crate::result::Status::Ok {
            out.push_str("  ---\n");
            out.push_str(&format!("  status: {}\n  plugin: {}\n", r.status, yaml_str(&r.plugin)));
            out.push_str(&format!("  duration_ms: {:.1}\n", r.duration.as_secs_f64() * 1e3));
            if let Some(f) = &r.failure {
                out.push_str(&format!("  reason: {}\n", f.kind()));
            }
            if let Some(d) = &r.diagnostics {
                out.push_str("  diagnostics: |\n");
                for l in d.lines() {
                    out.push_str(&format!("    {l}\n"));
                }
            }
            out.push_str("  ...\n");
        }
    }
    out
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).expect("string serializes")
}
