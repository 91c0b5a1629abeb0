//! The JUnit XML format, as CI systems (GitLab, Jenkins, GitHub test reporters) read it:
//! one testcase per check; failing statuses are `<failure>`, plugin/sandbox trouble
//! (`unknown`) is `<error>`; a warning passes unless `--fail-on warning`.

use super::{Context, counts};
use crate::result::{CheckResult, Status};
use crate::units::format_metric;

/// Escapes text for XML attributes and content, dropping characters XML 1.0 forbids.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

pub fn render(results: &[CheckResult], ctx: &Context) -> String {
    let failures = results.iter().filter(|r| ctx.fails(r.status) && r.status != Status::Unknown).count();
    let errors = counts(results)[3];
    let time = format!("{:.3}", ctx.elapsed.as_secs_f64());
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"picket\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time}\">\n  <testsuite name=\"picket\" tests=\"{n}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{time}\">\n",
        n = results.len()
    ));
    for r in results {
        out.push_str(&format!(
            "    <testcase name=\"{}\" classname=\"picket.{}\" time=\"{:.3}\">\n",
            escape(&r.name),
            escape(&r.plugin),
            r.duration.as_secs_f64()
        ));
        let body = escape(r.diagnostics.as_deref().unwrap_or(""));
        if r.status == Status::Unknown {
            let kind = r.failure.as_ref().map_or("unknown", |f| f.kind());
            out.push_str(&format!("      <error message=\"{}\" type=\"{kind}\">{body}</error>\n", escape(&r.summary)));
        } else if ctx.fails(r.status) {
            out.push_str(&format!("      <failure message=\"{}\" type=\"{}\">{body}</failure>\n", escape(&r.summary), r.status));
        }
        let metrics: Vec<String> = r.metrics.iter().map(|m| format!("{}={}", m.name, format_metric(m.value, &m.unit))).collect();
        out.push_str(&format!(
            "      <system-out>{}: {}{}</system-out>\n    </testcase>\n",
            r.status,
            escape(&r.summary),
            if metrics.is_empty() { String::new() } else { escape(&format!("\n{}", metrics.join(" "))) }
        ));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
