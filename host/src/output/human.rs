//! The human format: one line per check in file order, diagnostics indented under
//! failures, a count line last. Colour only on a terminal (and never with NO_COLOR).

use crate::result::{CheckResult, Status};
use crate::units::format_duration;

use super::{Context, counts};

const MAX_DIAG_LINES: usize = 12;

fn paint(color: bool, code: &str, text: &str) -> String {
    if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}

pub fn mark(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Ok => ("✓", "32"),
        Status::Warning => ("!", "33"),
        Status::Critical => ("✗", "31"),
        Status::Unknown => ("?", "35"),
    }
}

pub fn render(results: &[CheckResult], ctx: &Context) -> String {
    let width = results.iter().map(|r| r.name.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for r in results {
        let (sym, code) = mark(r.status);
        let pad = width - r.name.chars().count();
        let attempts = if r.attempts > 1 { format!(", {} attempts", r.attempts) } else { String::new() };
        out.push_str(&format!(
            "{} {}{} {} {} {}\n",
            paint(ctx.color, code, sym),
            paint(ctx.color, "1", &r.name),
            " ".repeat(pad),
            // Pad before painting: escape codes would count towards the width.
            paint(ctx.color, code, &format!("{:<8}", r.status.as_str())),
            r.summary,
            paint(ctx.color, "2", &format!("({}{attempts})", format_duration(r.duration))),
        ));
        if r.status != Status::Ok
            && let Some(d) = &r.diagnostics
        {
            let lines: Vec<&str> = d.lines().collect();
            for l in lines.iter().take(MAX_DIAG_LINES) {
                out.push_str(&format!("    {}\n", paint(ctx.color, "2", l)));
            }
            if lines.len() > MAX_DIAG_LINES {
                out.push_str(&format!(
                    "    {}\n",
                    paint(ctx.color, "2", &format!("… {} more lines (see --format json)", lines.len() - MAX_DIAG_LINES))
                ));
            }
        }
    }
    let [ok, warn, crit, unknown] = counts(results);
    out.push_str(&format!(
        "\n{} checks: {ok} ok, {warn} warning, {crit} critical, {unknown} unknown in {}\n",
        results.len(),
        format_duration(ctx.elapsed)
    ));
    out
}
