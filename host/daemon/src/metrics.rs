//! `/metrics` in the Prometheus text exposition format (version 0.0.4), written by hand.
//! With 10,000 checks the page is megabytes, so it is rendered a family at a time, a few
//! hundred checks per lock, and streamed: results never wait long for the lock, and the
//! page is never in memory whole.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::live::{CheckLive, Histogram, Shared};
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

/// Checks rendered per lock: results wait for the lock at most this long, and a scrape
/// of 10,000 checks never holds them all up at once.
const CHECKS_PER_LOCK: usize = 500;
/// Text handed to the sink at a time, so a scrape streams instead of building megabytes.
const CHUNK: usize = 256 * 1024;

type PerCheck = fn(&mut String, &CheckLive);

/// One family per check: name, type, help, and what a check contributes.
const CHECK_FAMILIES: &[(&str, &str, &str, PerCheck)] = &[
    ("picket_check_up", "gauge", "1 if the check's last result was ok or warning, 0 if critical or unknown.", |out, c| {
        if let Some(l) = &c.last {
            let up = matches!(l.status, Status::Ok | Status::Warning) as u8;
            let _ = writeln!(out, "picket_check_up{{check=\"{}\"}} {up}", label(&c.spec.name));
        }
    }),
    ("picket_check_status", "gauge", "The last result: 0 ok, 1 warning, 2 critical, 3 unknown.", |out, c| {
        if let Some(l) = &c.last {
            let _ = writeln!(out, "picket_check_status{{check=\"{}\"}} {}", label(&c.spec.name), l.status.nagios_code());
        }
    }),
    ("picket_check_failing", "gauge", "1 while the check has an open incident (phase failing).", |out, c| {
        let _ = writeln!(out, "picket_check_failing{{check=\"{}\"}} {}", label(&c.spec.name), c.state.incident.is_some() as u8);
    }),
    ("picket_check_flapping", "gauge", "1 while the check is flapping.", |out, c| {
        let _ = writeln!(out, "picket_check_flapping{{check=\"{}\"}} {}", label(&c.spec.name), c.state.flapping as u8);
    }),
    ("picket_check_duration_seconds", "histogram", "How long each run took.", |out, c| {
        if c.durations.count > 0 {
            histogram(out, "picket_check_duration_seconds", &format!("check=\"{}\"", label(&c.spec.name)), &c.durations);
        }
    }),
    ("picket_check_metric", "gauge", "Every metric a plugin reported (and every forecast), by check and metric.", |out, c| {
        for m in c.last.iter().flat_map(|l| &l.metrics) {
            let _ = writeln!(
                out,
                "picket_check_metric{{check=\"{}\",metric=\"{}\",unit=\"{}\"}} {}",
                label(&c.spec.name),
                label(&m.name),
                label(&m.unit),
                float(m.value)
            );
        }
    }),
    ("picket_check_last_run_timestamp_seconds", "gauge", "When the check last finished.", |out, c| {
        if let Some(l) = &c.last {
            let t = l.at.timestamp_millis() as f64 / 1000.0;
            let _ = writeln!(out, "picket_check_last_run_timestamp_seconds{{check=\"{}\"}} {t}", label(&c.spec.name));
        }
    }),
    ("picket_check_skipped_total", "counter", "Turns skipped because the previous run was still going.", |out, c| {
        let _ = writeln!(out, "picket_check_skipped_total{{check=\"{}\"}} {}", label(&c.spec.name), c.skipped);
    }),
];

/// Renders the exposition, handing it to `sink` in chunks of about `CHUNK` (256 KiB).
pub fn render_into(shared: &Shared, store_bytes: Option<u64>, sink: &mut dyn FnMut(String)) {
    let mut out = String::with_capacity(CHUNK + 4096);
    let mut flush = |out: &mut String, force: bool| {
        if force || out.len() >= CHUNK {
            sink(std::mem::replace(out, String::with_capacity(CHUNK + 4096)));
        }
    };
    let (mut configured, mut open) = (0usize, 0usize);
    for (i, (name, kind, help, per_check)) in CHECK_FAMILIES.iter().enumerate() {
        header(&mut out, name, kind, help);
        let mut after: Option<String> = None;
        loop {
            let next = {
                let checks = shared.checks.lock().expect("lock");
                let range: Box<dyn Iterator<Item = (&String, &CheckLive)>> = match &after {
                    None => Box::new(checks.iter()),
                    Some(k) => Box::new(checks.range::<String, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded))),
                };
                let mut last = None;
                for (k, c) in range.take(CHECKS_PER_LOCK) {
                    per_check(&mut out, c);
                    if i == 0 {
                        configured += 1;
                        open += c.state.incident.is_some() as usize;
                    }
                    last = Some(k.clone());
                }
                last
            };
            flush(&mut out, false);
            match next {
                Some(k) => after = Some(k),
                None => break,
            }
        }
    }
    header(&mut out, "picket_incidents_open", "gauge", "Checks with an open incident.");
    let _ = writeln!(out, "picket_incidents_open {open}");
    header(&mut out, "picket_checks", "gauge", "Checks configured.");
    let _ = writeln!(out, "picket_checks {configured}");

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
    header(&mut out, "picket_scheduler_lateness_seconds", "histogram", "From a check's due time to the scheduler dispatching it.");
    let lateness = c.lateness.lock().expect("lock").clone();
    histogram(&mut out, "picket_scheduler_lateness_seconds", "", &lateness);
    header(
        &mut out,
        "picket_check_start_delay_seconds",
        "histogram",
        "From a check's due time to its start (waiting for a run slot included).",
    );
    let delay = c.start_delay.lock().expect("lock").clone();
    histogram(&mut out, "picket_check_start_delay_seconds", "", &delay);

    let reload_ok = shared.config.lock().expect("lock").last_reload.as_ref().is_none_or(|r| r.ok);
    header(&mut out, "picket_config_last_reload_successful", "gauge", "0 when the last reload was rejected (the old config runs on).");
    let _ = writeln!(out, "picket_config_last_reload_successful {}", reload_ok as u8);
    if let Some(bytes) = store_bytes {
        header(&mut out, "picket_store_bytes", "gauge", "Size of the history store on disk.");
        let _ = writeln!(out, "picket_store_bytes {bytes}");
    }
    notify_families(&mut out, shared);
    header(&mut out, "picket_start_time_seconds", "gauge", "When the daemon started.");
    let _ = writeln!(out, "picket_start_time_seconds {}", shared.started.timestamp());
    flush(&mut out, true);
}

/// The outbox and recovery families.
fn notify_families(out: &mut String, shared: &Shared) {
    match shared.journal.counts() {
        Ok(c) => {
            header(
                out,
                "picket_notifications",
                "gauge",
                "Notifications in the outbox by state (pending: not yet delivered; failed: given up).",
            );
            for (state, n) in [("pending", c.pending), ("delivered", c.delivered), ("failed", c.failed), ("suppressed", c.suppressed)] {
                let _ = writeln!(out, "picket_notifications{{state=\"{state}\"}} {n}");
            }
        }
        Err(e) => tracing::warn!("cannot count the outbox for /metrics: {e}"),
    }
    let s = &shared.notify_stats;
    let per_channel = [
        ("picket_notifications_delivered_total", "Notifications delivered, by channel.", &s.delivery.delivered),
        (
            "picket_notification_attempts_failed_total",
            "Delivery attempts that failed (each retry counts), by channel.",
            &s.delivery.failed_attempts,
        ),
        (
            "picket_notifications_failed_total",
            "Notifications given up on (refused, or retried past give_up_after), by channel.",
            &s.delivery.given_up,
        ),
    ];
    for (name, help, m) in per_channel {
        header(out, name, "counter", help);
        for (ch, n) in m.lock().expect("lock").iter() {
            let _ = writeln!(out, "{name}{{channel=\"{}\"}} {n}", label(ch));
        }
    }
    header(out, "picket_recovery_attempts_total", "counter", "Recovery actions run, by check and outcome (ok, failed, timeout, error).");
    for ((check, outcome), n) in s.recoveries.lock().expect("lock").iter() {
        let _ = writeln!(out, "picket_recovery_attempts_total{{check=\"{}\",outcome=\"{outcome}\"}} {n}", label(check));
    }
    header(out, "picket_recovery_gave_up_total", "counter", "Incidents whose recovery budget was spent while still failing, by check.");
    for (check, n) in s.gave_up.lock().expect("lock").iter() {
        let _ = writeln!(out, "picket_recovery_gave_up_total{{check=\"{}\"}} {n}", label(check));
    }
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
