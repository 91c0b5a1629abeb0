//! The daemon as the API sees it: [`Handle`] over the live view, the store and the
//! journal. The API's types are built here, so the API never reads `Shared`.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Daemon;
use super::live::CheckLive;
use super::responder::Msg;
use crate::api::handle::BoxFuture;
use crate::api::{CheckView, Handle, ReloadOutcome};
use crate::store::Store;
use crate::store::journal::Journal;

fn view(c: &CheckLive, grace: Option<DateTime<Utc>>, budget: Option<picket_core::recovery::BudgetView>) -> CheckView {
    let s = &c.spec;
    CheckView {
        name: s.name.clone(),
        plugin: s.plugin_name.clone(),
        target: s.secrets.scrub(&s.target),
        description: s.description.clone(),
        runbook: s.runbook.clone(),
        route: s.route.clone(),
        recover: s.recover.as_ref().map(|r| r.action.describe()),
        recovery_grace_until: grace.filter(|g| *g > Utc::now()),
        recovery_budget: s
            .recover
            .as_ref()
            .map(|r| budget.unwrap_or(picket_core::recovery::BudgetView { used: 0, max: r.max, next_allowed: None, last_outcome: None })),
        schedule: s.schedule.describe(),
        file: s.file.display().to_string(),
        line: s.line,
        // Flapping is reported as a state of its own; `flapping` says the same as a flag.
        phase: if c.state.flapping { "flapping".into() } else { c.state.phase.as_str().into() },
        flapping: c.state.flapping,
        status: c.state.status,
        severity: c.state.severity,
        incident: c.state.incident,
        inhibited: c.state.inhibited,
        depends_on: s.depends_on.clone(),
        consecutive_failures: c.state.consecutive_failures,
        consecutive_successes: c.state.consecutive_successes,
        since: c.state.since,
        last_run: c.state.last_run,
        duration_ms: c.last.as_ref().map(|l| l.duration.as_secs_f64() * 1000.0),
        summary: c.state.summary.clone(),
        metrics: c.last.as_ref().map(|l| l.metrics.clone()).unwrap_or_default(),
        failure: c.last.as_ref().and_then(|l| l.failure).map(String::from),
        runs: c.state.runs,
        failures: c.state.failures,
        skipped: c.skipped,
    }
}

impl Handle for Daemon {
    fn checks(&self) -> Vec<CheckView> {
        let grace = self.shared.grace.lock().expect("lock").clone();
        let budgets = self.shared.budgets.lock().expect("lock").clone();
        let checks = self.shared.checks.lock().expect("lock");
        checks.values().map(|c| view(c, grace.get(&c.spec.name).copied(), budgets.get(&c.spec.name).cloned())).collect()
    }

    fn check(&self, name: &str) -> Option<CheckView> {
        let grace = self.shared.grace.lock().expect("lock").get(name).copied();
        let budget = self.shared.budgets.lock().expect("lock").get(name).cloned();
        self.shared.checks.lock().expect("lock").get(name).map(|c| view(c, grace, budget))
    }

    fn check_names(&self) -> Vec<String> {
        self.shared.checks.lock().expect("lock").keys().cloned().collect()
    }

    fn started(&self) -> DateTime<Utc> {
        self.shared.started
    }

    fn config_ok(&self) -> bool {
        self.shared.config.lock().expect("lock").last_reload.as_ref().is_none_or(|r| r.ok)
    }

    fn config_status(&self) -> serde_json::Value {
        let config = self.shared.config.lock().expect("lock").clone();
        serde_json::to_value(config).unwrap_or_default()
    }

    fn store(&self) -> Option<Arc<Store>> {
        self.shared.store.clone()
    }

    fn journal(&self) -> Arc<Journal> {
        self.notifier.journal.clone()
    }

    fn render_metrics(&self, sink: &mut dyn FnMut(String)) {
        let bytes = self.shared.store.as_ref().map(|s| s.size_bytes());
        super::metrics::render_into(&self.shared, bytes, sink);
    }

    fn reload(&self) -> BoxFuture<'_, ReloadOutcome> {
        Box::pin(Daemon::reload(self))
    }

    fn silences_changed(&self) {
        let _ = self.notifier.msgs.send(Msg::SilencesChanged);
    }

    fn reset_recovery(&self, check: &str) -> BoxFuture<'_, bool> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.notifier.msgs.send(Msg::ResetRecovery { check: check.to_string(), done: tx }).is_ok();
        Box::pin(async move { sent && rx.await.is_ok() })
    }
}
