//! A plugin's report plus the check's thresholds → a [`CheckResult`].
//!
//! The plugin's own status is a floor: thresholds can only make a result worse. A
//! sandbox failure becomes `critical` when the target did not answer in time and
//! `unknown` otherwise (the plugin, not the service, is at fault).
//!
//! A threshold whose metric the run did not report is never skipped in silence: the
//! result's diagnostics name the metric (even when the check is ok), and its `missing`
//! status applies. The one exception is a forecast left at its default `missing = "ok"`:
//! a forecast has no value whenever nothing is heading for its limit, which is news to
//! nobody.

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
    let plugin_status = status;
    let mut breaches = Vec::new();
    // Kept in the diagnostics whatever the status.
    let mut missing = Vec::new();
    for th in &spec.thresholds {
        let Some(m) = metrics.iter().find(|m| m.name == th.metric) else {
            let forecast = spec.forecasts.iter().any(|f| f.name == th.metric);
            if forecast && th.missing == Status::Ok {
                continue;
            }
            missing.push(th.missing_note(spec.reported_only(&th.metric)));
            let b = th.missing_breach();
            // The summary says why the status is what it is; a missing metric on a run the
            // plugin already failed (no metrics at all) is not that reason.
            if b.status.badness() > plugin_status.badness() {
                breaches.push(b.message);
            }
            status = status.worst(b.status);
            continue;
        };
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
    let mut parts = missing;
    if status != Status::Ok {
        parts.extend([report.diagnostics, rest, outcome.diagnostics].into_iter().flatten());
    }
    let diagnostics = (!parts.is_empty()).then(|| parts.join("\n"));
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use picket_config::{CheckSpec, Described, ForecastSpec};
    use picket_core::plugin::{MetricInfo, PluginInfo};
    use picket_core::result::Status;
    use picket_core::schedule::Schedule;
    use picket_core::threshold::{DEFAULT_MISSING, DEFAULT_MISSING_FORECAST, Range, Threshold};
    use picket_sandbox::{Outcome, types};

    use super::evaluate_with;

    /// A check of a plugin that lists `latency` (always) and `cert_days` (for https only),
    /// with the given thresholds and a `days_left` forecast.
    fn spec(thresholds: Vec<Threshold>) -> CheckSpec {
        let metric = |name: &str, when: Option<&str>| MetricInfo {
            name: name.into(),
            unit: "s".into(),
            description: String::new(),
            lower_is_worse: false,
            when: when.map(String::from),
        };
        let info = PluginInfo {
            name: "probe".into(),
            version: "1".into(),
            description: String::new(),
            params: Vec::new(),
            metrics: vec![metric("latency", None), metric("cert_days", Some("for https targets"))],
            targets: Vec::new(),
            forecasts: Vec::new(),
        };
        let mut spec = CheckSpec::synthetic("api", Schedule::Every(Duration::from_secs(60)));
        spec.plugin = Ok(Described { sha256: "ab".repeat(32), info: info.into() });
        spec.thresholds = thresholds;
        spec.forecasts = vec![ForecastSpec {
            name: "days_left".into(),
            metric: "latency".into(),
            reaches: 1.0,
            reaches_text: "1s".into(),
            window: Duration::from_secs(3600),
        }];
        spec
    }

    fn threshold(metric: &str, warn: &str, missing: Status) -> Threshold {
        Threshold { metric: metric.into(), warn: Some((Range::parse(warn).unwrap(), warn.into())), crit: None, missing }
    }

    /// The plugin reports `status` with `latency` = 0.1 s only.
    fn run(spec: &CheckSpec, status: types::Status) -> picket_core::result::CheckResult {
        let report = types::Report {
            status,
            summary: "fine".into(),
            metrics: vec![types::Metric { name: "latency".into(), value: 0.1, unit: "s".into() }],
            diagnostics: None,
        };
        evaluate_with(spec, Outcome { report: Ok(report), elapsed: Duration::from_millis(5), diagnostics: None }, &mut |_| Vec::new())
    }

    #[test]
    fn a_missing_metric_gets_the_default_status_and_is_named() {
        let r =
            run(&spec(vec![threshold("latency", "1s", DEFAULT_MISSING), threshold("cert_days", "30", DEFAULT_MISSING)]), types::Status::Ok);
        assert_eq!(r.status, Status::Unknown);
        assert_eq!(r.summary, "fine; cert_days not reported (missing = unknown)");
        assert_eq!(
            r.diagnostics.as_deref(),
            Some(
                "metric `cert_days` was not reported (the plugin reports it only for https targets), so its threshold was not evaluated; \
                 missing = \"unknown\""
            )
        );
    }

    #[test]
    fn missing_ok_keeps_the_check_ok_but_still_says_so() {
        let r = run(&spec(vec![threshold("cert_days", "30", Status::Ok)]), types::Status::Ok);
        assert_eq!((r.status, r.summary.as_str()), (Status::Ok, "fine"));
        assert!(r.diagnostics.unwrap().starts_with("metric `cert_days` was not reported"));
    }

    #[test]
    fn missing_can_warn_and_only_makes_a_result_worse() {
        let spec = spec(vec![threshold("cert_days", "30", Status::Warning)]);
        let r = run(&spec, types::Status::Ok);
        assert_eq!((r.status, r.summary.as_str()), (Status::Warning, "fine; cert_days not reported (missing = warning)"));
        // A run the plugin already judged critical stays critical, its summary its own.
        let r = run(&spec, types::Status::Critical);
        assert_eq!((r.status, r.summary.as_str()), (Status::Critical, "fine"));
        assert!(r.diagnostics.unwrap().contains("`cert_days` was not reported"));
    }

    #[test]
    fn a_forecast_without_a_value_is_not_news_unless_missing_says_so() {
        let r = run(&spec(vec![threshold("days_left", "30", DEFAULT_MISSING_FORECAST)]), types::Status::Ok);
        assert_eq!((r.status, r.diagnostics), (Status::Ok, None));
        let r = run(&spec(vec![threshold("days_left", "30", Status::Critical)]), types::Status::Ok);
        assert_eq!(r.status, Status::Critical);
        assert!(r.diagnostics.unwrap().starts_with("metric `days_left` was not reported, so"));
    }

    #[test]
    fn a_reported_metric_is_judged_as_before() {
        let r = run(&spec(vec![threshold("latency", "50ms", DEFAULT_MISSING)]), types::Status::Ok);
        assert_eq!((r.status, r.summary.as_str(), r.diagnostics), (Status::Warning, "fine; latency 100ms > warn 50ms", None));
    }
}
