//! The Nagios plugin format: a status line with perfdata, then one line per check.
//! With this format the exit code follows the Nagios convention (0–3 for the worst
//! status), so `picket check --format nagios` can be a Nagios/Icinga command.

use super::{counts, worst};
use crate::result::CheckResult;

/// Perfdata units Nagios understands; others are converted or dropped.
fn perf_value(value: f64, unit: &str) -> (f64, &'static str) {
    match unit {
        "s" => (value, "s"),
        "ms" => (value, "ms"),
        "us" => (value, "us"),
        "%" => (value, "%"),
        "B" => (value, "B"),
        "KB" => (value, "KB"),
        "MB" => (value, "MB"),
        "GB" => (value, "GB"),
        _ => (value, ""),
    }
}

fn label(check: &str, metric: &str) -> String {
    format!("'{}.{}'", check.replace('\'', "\"").replace('=', "_"), metric)
}

pub fn render(results: &[CheckResult]) -> String {
    let [ok, warning, critical, unknown] = counts(results);
    let status = worst(results).as_str().to_uppercase();
    let mut perf = Vec::new();
    for r in results {
        for m in &r.metrics {
            let (v, u) = perf_value(m.value, &m.unit);
            perf.push(format!("{}={}{u}", label(&r.name, &m.name), (v * 1e6).round() / 1e6));
        }
    }
    let problems: Vec<&CheckResult> = results.iter().filter(|r| r.status != crate::result::Status::Ok).collect();
    let headline = match problems.first() {
        Some(p) if problems.len() == 1 => format!("{}: {}", p.name, p.summary.replace('|', "/")),
        _ => format!("{ok} ok, {warning} warning, {critical} critical, {unknown} unknown"),
    };
    let mut out = format!("PICKET {status} - {headline}");
    if !perf.is_empty() {
        out.push_str(&format!(" | {}", perf.join(" ")));
    }
    out.push('\n');
    for r in results {
        out.push_str(&format!("[{}] {}: {}\n", r.status.as_str().to_uppercase(), r.name, r.summary.replace('|', "/")));
    }
    out
}
