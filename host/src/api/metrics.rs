//! `/metrics` in the Prometheus text exposition format (version 0.0.4), written by hand:
//! it is a few `write!`s, and rendering 10,000 checks stays a single pass under one lock.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::daemon::live::{Histogram, Shared};
use crate::result::Status;

/// Escapes a label value: backslash, double quote and newline.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0;
    for (bound, count) in h.bounds.iter().zip(&h.counts) {
        cumulative += count;
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
    let _ = writeln!(out, "{name}_sum{braces} {}\n{name}_count{braces} {}", float(h.sum), h.count);
}

pub fn render(shared: &Shared, store_bytes: Option<u64>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    {
        let checks = shared.checks.lock().expect("lock");
        let with_result = || checks.values().filter_map(|c| c.last.as_ref().map(|l| (c, l)));

        header(&mut out, "picket_check_up", "gauge", "1 if the check's last result was ok or warning, 0 if critical or unknown.");
        for (c, l) in with_result() {
            let up = matches!(l.status, Status::Ok | Status::Warning) as u8;
            let _ = writeln!(out, "picket_check_up{{check=\"{}\"}} {up}", label(&c.spec.name));
        }
        header(&mut out, "picket_check_status", "gauge", "The last result: 0 ok, 1 warning, 2 critical, 3 unknown.");
        for (c, l) in with_result() {
            let _ = writeln!(out, "picket_check_status{{check=\"{}\"}} {}", label(&c.spec.name), l.status.nagios_code());
        }
        header(&mut out, "picket_check_failing", "gauge", "1 while the check has an open incident (phase failing).");
        for c in checks.values() {
            let failing = c.state.incident.is_some() as u8;
            let _ = writeln!(out, "picket_check_failing{{check=\"{}\"}} {failing}", label(&c.spec.name));
        }
        header(&mut out, "picket_check_flapping", "gauge", "1 while the check is flapping.");
        for c in checks.values() {
            let _ = writeln!(out, "picket_check_flapping{{check=\"{}\"}} {}", label(&c.spec.name), c.state.flapping as u8);
        }
        header(&mut out, "picket_check_duration_seconds", "histogram", "How long each run took.");
        for c in checks.values().filter(|c| c.durations.count > 0) {
            histogram(&mut out, "picket_check_duration_seconds", &format!("check=\"{}\"", label(&c.spec.name)), &c.durations);
        }
        header(&mut out, "picket_check_metric", "gauge", "Every metric a plugin reported (and every forecast), by check and metric.");
        for (c, l) in with_result() {
            for m in &l.metrics {
                let _ = writeln!(
                    out,
                    "picket_check_metric{{check=\"{}\",metric=\"{}\",unit=\"{}\"}} {}",
                    label(&c.spec.name),
                    label(&m.name),
                    label(&m.unit),
                    float(m.value)
                );
            }
        }
        header(&mut out, "picket_check_last_run_timestamp_seconds", "gauge", "When the check last finished.");
        for (c, l) in with_result() {
            let _ = writeln!(
                out,
                "picket_check_last_run_timestamp_seconds{{check=\"{}\"}} {}",
                label(&c.spec.name),
                l.at.timestamp_millis() as f64 / 1000.0
            );
        }
        header(&mut out, "picket_check_skipped_total", "counter", "Turns skipped because the previous run was still going.");
        for c in checks.values() {
            let _ = writeln!(out, "picket_check_skipped_total{{check=\"{}\"}} {}", label(&c.spec.name), c.skipped);
        }
        header(&mut out, "picket_incidents_open", "gauge", "Checks with an open incident.");
        let _ = writeln!(out, "picket_incidents_open {}", checks.values().filter(|c| c.state.incident.is_some()).count());
        header(&mut out, "picket_checks", "gauge", "Checks configured.");
        let _ = writeln!(out, "picket_checks {}", checks.len());
    }

    let c = &shared.counters;
    header(&mut out, "picket_checks_run_total", "counter", "Check runs completed.");
    let _ = writeln!(out, "picket_checks_run_total {}", c.runs.load(Ordering::Relaxed));
    header(&mut out, "picket_checks_skipped_total", "counter", "Turns skipped because the check was still running.");
    let _ = writeln!(out, "picket_checks_skipped_total {}", c.skipped.load(Ordering::Relaxed));
    header(&mut out, "picket_sandbox_failures_total", "counter", "Runs the sandbox stopped, by reason.");
    for (reason, n) in c.sandbox_failures.lock().expect("lock").iter() {
        let _ = writeln!(out, "picket_sandbox_failures_total{{reason=\"{reason}\"}} {n}");
    }
    header(&mut out, "picket_events_total", "counter", "State-machine events emitted, by kind.");
    for (event, n) in c.events.lock().expect("lock").iter() {
        let _ = writeln!(out, "picket_events_total{{event=\"{event}\"}} {n}");
    }
    header(&mut out, "picket_scheduler_lateness_seconds", "histogram", "From a check's due time to its start.");
    histogram(&mut out, "picket_scheduler_lateness_seconds", "", &c.lateness.lock().expect("lock"));

    let reload_ok = shared.config.lock().expect("lock").last_reload.as_ref().is_none_or(|r| r.ok);
    header(&mut out, "picket_config_last_reload_successful", "gauge", "0 when the last reload was rejected (the old config runs on).");
    let _ = writeln!(out, "picket_config_last_reload_successful {}", reload_ok as u8);
    if let Some(bytes) = store_bytes {
        header(&mut out, "picket_store_bytes", "gauge", "Size of the history store on disk.");
        let _ = writeln!(out, "picket_store_bytes {bytes}");
    }
    header(&mut out, "picket_start_time_seconds", "gauge", "When the daemon started.");
    let _ = writeln!(out, "picket_start_time_seconds {}", shared.started.timestamp());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_buckets_cumulative() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(5.0);
        let mut out = String::new();
        histogram(&mut out, "x", "check=\"a\"", &h);
        assert!(out.contains("x_bucket{check=\"a\",le=\"0.1\"} 1\n"));
        assert!(out.contains("x_bucket{check=\"a\",le=\"1\"} 2\n"));
        assert!(out.contains("x_bucket{check=\"a\",le=\"+Inf\"} 3\n"));
        assert!(out.contains("x_count{check=\"a\"} 3\n"));
    }
}
