//! The runner: a [`Plan`](picket_config::Plan)'s checks in the sandbox, each result
//! judged against its thresholds ([`evaluate`]). Used by `picket check` and the daemon.
//!
//! Runs a plan's checks: concurrently, bounded by a semaphore, each in its own sandbox.
//!
//! The bound exists because every run holds a pooled instance slot and a fiber stack,
//! and because hundreds of simultaneous connections to one service are a load test, not a
//! health check. `run_until_healthy` is `picket check --wait`: failing checks are re-run
//! until every one passes or the deadline comes.

pub mod evaluate;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::evaluate::{evaluate_with, failed};
use picket_config::CheckSpec;
use picket_core::result::Failure;
use picket_core::result::{CheckResult, Metric, Status};
use picket_sandbox::RunRequest;
use picket_sandbox::plugin::Plugins;

pub use picket_config::DEFAULT_CONCURRENCY;

#[derive(Clone)]
pub struct Runner {
    plugins: Plugins,
    permits: Arc<Semaphore>,
}

impl Runner {
    /// A runner for plans loaded with `plugins` (it finds each check's compiled plugin
    /// there by sha256).
    pub fn new(plugins: Plugins, concurrency: usize) -> Runner {
        let n = concurrency.clamp(1, picket_sandbox::engine::MAX_INSTANCES as usize / 2);
        Runner { plugins, permits: Arc::new(Semaphore::new(n)) }
    }

    /// Runs one check once.
    pub async fn run_one(&self, spec: &CheckSpec) -> CheckResult {
        self.run_deriving(spec, &mut |_| Vec::new()).await
    }

    /// Runs one check once; `derive` adds metrics computed from the reported ones before
    /// thresholds apply (the daemon's forecasts).
    #[tracing::instrument(skip_all, fields(check = %spec.name, plugin = %spec.plugin_name))]
    pub async fn run_deriving(&self, spec: &CheckSpec, derive: &mut (dyn FnMut(&[Metric]) -> Vec<Metric> + Send)) -> CheckResult {
        let _permit = self.permits.acquire().await.expect("semaphore never closed");
        let loaded = match &spec.plugin {
            Ok(p) => self.plugins.loaded(&p.sha256).ok_or_else(|| Failure::Load(format!("plugin {} was not loaded", spec.plugin_name))),
            Err(f) => Err(f.clone()),
        };
        let loaded = match loaded {
            Ok(l) => l,
            Err(f) => {
                let mut r = failed(spec, f.clone(), Duration::ZERO, None);
                spec.secrets.scrub_result(&mut r);
                return r;
            }
        };
        let req = RunRequest {
            ctx: self.plugins.sandbox().context(&spec.name, &spec.plugin_name, spec.grants.clone(), spec.tls.clone()),
            target: &spec.target,
            endpoint: spec.endpoint.as_ref(),
            params: &spec.params,
            limits: spec.limits,
        };
        let outcome = self.plugins.sandbox().run(&loaded.pre, req).await;
        let mut result = evaluate_with(spec, outcome, derive);
        spec.secrets.scrub_result(&mut result);
        tracing::debug!(status = %result.status, elapsed_ms = result.duration.as_millis() as u64, "check finished");
        result
    }

    /// Runs every check once, concurrently; results come back in plan order.
    /// `on_result` sees each result as it completes (for a progress line).
    pub async fn run_all(&self, specs: &[Arc<CheckSpec>], on_result: &(dyn Fn(&CheckResult) + Sync)) -> Vec<CheckResult> {
        let mut set = JoinSet::new();
        for (i, spec) in specs.iter().enumerate() {
            let runner = self.clone();
            let spec = spec.clone();
            set.spawn(async move { (i, runner.run_one(&spec).await) });
        }
        let mut slots: Vec<Option<CheckResult>> = vec![None; specs.len()];
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, r)) => {
                    on_result(&r);
                    slots[i] = Some(r);
                }
                // A panic in our own code, not the plugin's: surface it loudly.
                Err(e) => panic!("check task failed: {e}"),
            }
        }
        slots.into_iter().map(|r| r.expect("every check produced a result")).collect()
    }

    /// Re-runs checks that do not `pass` until all do or `within` has elapsed, waiting
    /// `interval` between rounds. Each result counts its attempts.
    pub async fn run_until_healthy(
        &self,
        specs: &[Arc<CheckSpec>],
        within: Duration,
        interval: Duration,
        pass: impl Fn(Status) -> bool,
        on_round: &(dyn Fn(&[CheckResult], Duration) + Sync),
        on_result: &(dyn Fn(&CheckResult) + Sync),
    ) -> Vec<CheckResult> {
        let deadline = Instant::now() + within;
        let mut results = self.run_all(specs, on_result).await;
        loop {
            let failing: Vec<usize> = (0..results.len()).filter(|&i| !pass(results[i].status)).collect();
            let left = deadline.saturating_duration_since(Instant::now());
            if failing.is_empty() || left.is_zero() {
                return results;
            }
            on_round(&results, left);
            tokio::time::sleep(interval.min(left)).await;
            let again: Vec<Arc<CheckSpec>> = failing.iter().map(|&i| specs[i].clone()).collect();
            let rerun = self.run_all(&again, on_result).await;
            for (i, mut r) in failing.into_iter().zip(rerun) {
                r.attempts = results[i].attempts + 1;
                results[i] = r;
            }
        }
    }
}
