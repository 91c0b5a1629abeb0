//! A plugin's report plus the check's thresholds → a [`CheckResult`].
//!
//! The plugin's own status is a floor: thresholds can only make a result worse. A
//! sandbox failure becomes `critical` when the target did not answer in time and
//! `unknown` otherwise (the plugin, not the service, is at fault).

use picket_config::CheckSpec;
use picket_core::result::{CheckResult, Failure, Metric, Status};
use picket_sandbox::{Outcome, types};

fn status(s: types::Status) -> Status {
    match s {
        types::Status::Ok => Status::Ok,
        types::Status::Warning => Status::Warning,
        types::Status::Critical => Status::Critical,
        types::Status::Unknown => Status::Unknown,
    }
}

/// The result for a failure decided before or instead of the plugin's report.
pub fn failed(spec: &CheckSpec, failure: Failure, elapsed: std::time::Duration, diagnostics: Option<String>) -> CheckResult {
    let status = match failure {
        Failure::Timeout(_) => Status::Critical,
        _ => Status::Unknown,
    };
    CheckResult {
        name: spec.name.clone(),
        plugin: spec.plugin_name.clone(),
        target: spec.target.clone(),
        status,
        summary: failure.to_string(),
        duration: elapsed,
        metrics: Vec::new(),
        diagnostics,
        failure: Some(failure),
        attempts: 1,
    }
}

/// A run's outcome judged against the check's thresholds, with metrics derived from the
/// reported ones (the daemon's forecasts) added before thresholds apply.
pub fn evaluate_with(spec: &CheckSpec, outcome: Outcome, derive: &mut dyn FnMut(&[Metric]) -> Vec<Metric>) -> CheckResult {
    let report = match outcome.report {
        Ok(r) => r,
        Err(f) => return failed(spec, f, outcome.elapsed, outcome.diagnostics),
    };
    let mut metrics: Vec<Metric> =
        report.metrics.into_iter().filter(|m| m.value.is_finite()).map(|m| Metric { name: m.name, value: m.value, unit: m.unit }).collect();
    let derived = derive(&metrics);
    metrics.extend(derived.into_iter().filter(|m| m.value.is_finite()));
    let mut status = status(report.status);
    // The summary is one line; anything after the first line belongs in diagnostics.
    let (mut summary, rest) = match report.summary.split_once('\n') {
        Some((first, rest)) => (first.trim_end().to_string(), Some(rest.to_string())),
        None => (report.summary, None),
    };
    let mut breaches = Vec::new();
    for th in &spec.thresholds {
        let Some(m) = metrics.iter().find(|m| m.name == th.metric) else { continue };
        if let Err(e) = th.warn.iter().chain(&th.crit).try_for_each(|(r, _)| r.check_unit(&m.unit)) {
            status = status.worst(Status::Unknown);
            breaches.push(format!("threshold on {} not applied: {e}", m.name));
            continue;
        }
        if let Some(b) = th.evaluate(m.value, &m.unit, spec.lower_is_worse(&m.name)) {
            status = status.worst(b.status);
            breaches.push(b.message);
        }
    }
    if !breaches.is_empty() {
        summary = format!("{summary}; {}", breaches.join("; "));
    }
    let diagnostics = if status == Status::Ok {
        None
    } else {
        let parts: Vec<String> = [report.diagnostics, rest, outcome.diagnostics].into_iter().flatten().collect();
        (!parts.is_empty()).then(|| parts.join("\n"))
    };
    CheckResult {
        name: spec.name.clone(),
        plugin: spec.plugin_name.clone(),
        target: spec.target.clone(),
        status,
        summary,
        duration: outcome.elapsed,
        metrics,
        diagnostics,
        failure: None,
        attempts: 1,
    }
}
