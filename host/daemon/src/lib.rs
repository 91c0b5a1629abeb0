//! `picket run`: the long-running monitor.
//!
//! ```text
//! Plan ─▶ scheduler ─▶ runner/sandbox ─▶ CheckResult ─▶ Shared::absorb ─▶ state machine
//!                                                          │            ├─▶ events (broadcast) ─▶ log sink
//!                                                          │            │      └─▶ responder: recovery + router ─▶ outbox ─▶ delivery
//!                                                          │            └─▶ store (results, state, incidents)
//!                                                          └─▶ live view ─▶ API, /metrics
//! ```
//!
//! Reload (SIGHUP, `POST /api/v1/reload`) loads the files into a new plan first and swaps
//! it in only if it is valid; checks keep their state by name. SIGTERM/SIGINT stop the
//! scheduler, give running checks `shutdown_grace`, flush the store and return.

//!
//! The daemon is the one owner of the live view and every counter ([`live::Shared`]); the
//! API sees it only through [`handle`]. Nothing upstream (config, sandbox, runner, store,
//! notify, api) depends on this crate.

pub mod config;
pub mod events;
pub mod handle;
pub mod live;
pub mod metrics;
pub mod recovery;
pub mod responder;
pub mod schedule;
pub mod scheduler;

// The crates this one ties together, by the names the modules use.
pub(crate) use picket_api as api;
pub(crate) use picket_core::{forecast, result, state, units};
pub(crate) use picket_notify as notify;
pub(crate) use picket_runner as runner;
pub(crate) use picket_sandbox::plugin;
pub(crate) use picket_store as store;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use crate::config::{CheckSpec, DaemonSettings, Plan};
use crate::forecast::Series;
use crate::notify::delivery::{Delivery, http_client};
use crate::plugin::Plugins;
use crate::responder::{Notifier, Responder};
use crate::result::CheckResult;
use crate::runner::Runner;
use crate::store::Store;
use crate::store::journal::Journal;
use live::{ConfigStatus, ReloadOutcome, Shared};
use scheduler::{Control, Execute, Scheduler};

/// How often complete hours are rolled up and retention applied.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("cannot install signal handlers or start a thread: {0}")]
    Signals(std::io::Error),
}

/// Runs checks in the sandbox, adding forecasts from the live series.
struct SandboxExec {
    runner: Runner,
    shared: Arc<Shared>,
}

impl Execute for SandboxExec {
    fn execute(&self, spec: Arc<CheckSpec>) -> Pin<Box<dyn Future<Output = CheckResult> + Send + 'static>> {
        let (runner, shared) = (self.runner.clone(), self.shared.clone());
        Box::pin(async move {
            let mut derive = |metrics: &[crate::result::Metric]| {
                if spec.forecasts.is_empty() {
                    return Vec::new();
                }
                shared.forecasts.lock().expect("lock").derive(&spec.name, &spec.forecasts, metrics, crate::store::now_ms())
            };
            runner.run_deriving(&spec, &mut derive).await
        })
    }
}

/// A running daemon, as the API sees it.
pub struct Daemon {
    pub(crate) shared: Arc<Shared>,
    plugins: Plugins,
    path: PathBuf,
    settings: DaemonSettings,
    /// `[daemon] listen` and `store` as the files said them at the last load: a reload
    /// warns only when the files change them (not when `--listen` overrides them).
    from_files: std::sync::Mutex<(std::net::SocketAddr, Option<PathBuf>)>,
    ctl: mpsc::UnboundedSender<Control>,
    reload_lock: tokio::sync::Mutex<()>,
    pub notifier: Notifier,
}

/// What `picket run` starts from.
pub struct Options {
    pub path: PathBuf,
    pub settings: DaemonSettings,
    /// `None`: keep no history (results live in memory only).
    pub store: Option<PathBuf>,
}

fn file_list(plan: &Plan) -> Vec<String> {
    plan.files.iter().map(|f| f.display().to_string()).collect()
}

impl Daemon {
    /// Loads the files again and swaps the new plan in if it is valid.
    pub async fn reload(&self) -> ReloadOutcome {
        let _one_at_a_time = self.reload_lock.lock().await;
        let at = Utc::now();
        let plan = match config::load(&self.path, &self.plugins).await {
            Ok(plan) => plan,
            Err(errors) => {
                for e in &errors.errors {
                    tracing::error!("reload rejected, the running configuration stays: {e}");
                }
                let outcome = ReloadOutcome {
                    at,
                    ok: false,
                    errors: errors.errors.iter().map(|e| e.to_string()).collect(),
                    added: Vec::new(),
                    removed: Vec::new(),
                    changed: Vec::new(),
                };
                self.shared.config.lock().expect("lock").last_reload = Some(outcome.clone());
                return outcome;
            }
        };
        for w in &plan.warnings {
            tracing::warn!("reload: {w}");
        }
        let changed: Vec<String> = {
            let checks = self.shared.checks.lock().expect("lock");
            plan.checks
                .iter()
                .filter(|c| checks.get(&c.name).is_some_and(|old| old.spec.fingerprint != c.fingerprint))
                .map(|c| c.name.clone())
                .collect()
        };
        let mut restored = match &self.shared.store {
            Some(s) => {
                let s = s.clone();
                match tokio::task::spawn_blocking(move || s.restore()).await {
                    Ok(Ok(r)) => r.states,
                    // New checks start fresh; existing ones keep their live state anyway.
                    Ok(Err(e)) => {
                        tracing::error!("reload: cannot read stored states, new checks start fresh: {e}");
                        Default::default()
                    }
                    Err(e) => {
                        tracing::error!("reload: restoring states panicked, new checks start fresh: {e}");
                        Default::default()
                    }
                }
            }
            None => Default::default(),
        };
        let (added, removed) = self.shared.install(&plan.checks, &mut restored);
        seed_forecasts(&self.shared, &plan.checks).await;
        let _ = self.ctl.send(Control::Reload(plan.checks.clone()));
        self.notifier.plan.send_replace(plan.notify.clone());
        let files_now = (plan.daemon.listen, plan.daemon.store.clone());
        if std::mem::replace(&mut *self.from_files.lock().expect("lock"), files_now.clone()) != files_now {
            tracing::warn!(listen = %self.settings.listen, "[daemon] listen and store take effect on restart, not on reload");
        }
        tracing::info!(
            checks = plan.checks.len(),
            added = added.len(),
            removed = removed.len(),
            changed = changed.len(),
            "configuration reloaded"
        );
        let outcome = ReloadOutcome { at, ok: true, errors: Vec::new(), added, removed, changed };
        let mut status = self.shared.config.lock().expect("lock");
        *status = ConfigStatus { loaded_at: at, files: file_list(&plan), checks: plan.checks.len(), last_reload: Some(outcome.clone()) };
        outcome
    }
}

/// Loads each forecast's window of history the daemon does not hold yet.
async fn seed_forecasts(shared: &Arc<Shared>, specs: &[Arc<CheckSpec>]) {
    let Some(store) = shared.store.clone() else { return };
    let now = crate::store::now_ms();
    for spec in specs {
        for f in &spec.forecasts {
            if shared.forecasts.lock().expect("lock").has(&spec.name, &f.name) {
                continue;
            }
            let (s, name, metric, since) = (store.clone(), spec.name.clone(), f.metric.clone(), now - f.window.as_millis() as i64);
            match tokio::task::spawn_blocking(move || s.series(&name, &metric, since)).await {
                Ok(Ok(points)) => shared.forecasts.lock().expect("lock").seed(&spec.name, &f.name, Series::new(points)),
                Ok(Err(e)) => tracing::warn!(check = %spec.name, "cannot read history for forecast: {e}"),
                Err(e) => tracing::warn!(check = %spec.name, "cannot read history for forecast: {e}"),
            }
        }
    }
}

/// Runs the daemon until SIGTERM or SIGINT (or `stop` resolves, for tests).
pub async fn run(plan: Plan, plugins: Plugins, opts: Options, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), DaemonError> {
    let store = match &opts.store {
        Some(path) => Some(Store::open(path)?),
        None => None,
    };
    let restored = match &store {
        Some(s) => s.restore()?,
        None => Default::default(),
    };
    let journal = Arc::new(match &opts.store {
        Some(path) => Journal::open(path)?,
        None => Journal::memory(),
    });
    let mut states = restored.states;
    let resumed = states.values().filter(|s| s.incident.is_some()).count();
    let shared = Arc::new(Shared::new(store.clone(), journal.clone(), restored.next_incident));
    shared.install(&plan.checks, &mut states);
    *shared.config.lock().expect("lock") =
        ConfigStatus { loaded_at: Utc::now(), files: file_list(&plan), checks: plan.checks.len(), last_reload: None };
    seed_forecasts(&shared, &plan.checks).await;
    tokio::spawn(crate::events::log_sink(shared.events.subscribe()));

    let settings = opts.settings.clone();
    let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
    let runner = Runner::new(plugins.clone(), settings.concurrency);
    let exec = Arc::new(SandboxExec { runner, shared: shared.clone() });
    let mut sched = Scheduler::new(exec, shared.clone(), settings.concurrency, ctl_tx.clone());
    sched.load(plan.checks.clone());
    // The scheduler gets a thread and a runtime of its own, so its timer is never queued
    // behind the checks it dispatched (they run on the main runtime's workers).
    let (sched_done_tx, sched_done) = tokio::sync::oneshot::channel::<()>();
    let grace = settings.shutdown_grace;
    std::thread::Builder::new()
        .name("picket-scheduler".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt.block_on(sched.run(ctl_rx, grace)),
                Err(e) => tracing::error!("cannot start the scheduler's runtime: {e}"),
            }
            let _ = sched_done_tx.send(());
        })
        .map_err(DaemonError::Signals)?;

    // Notifications and recovery: the responder follows the events, delivery the outbox.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (plan_tx, plan_rx) = tokio::sync::watch::channel(plan.notify.clone());
    let (msgs_tx, msgs_rx) = mpsc::unbounded_channel();
    let wake = Arc::new(tokio::sync::Notify::new());
    let http = http_client();
    let notifier =
        Notifier { journal: journal.clone(), plan: Arc::new(plan_tx), msgs: msgs_tx.clone(), stats: shared.notify_stats.clone() };
    let responder = Responder {
        shared: shared.clone(),
        journal: journal.clone(),
        plan: plan_rx.clone(),
        events: shared.events.subscribe(),
        msgs: msgs_rx,
        msgs_tx,
        ctl: ctl_tx.clone(),
        wake: wake.clone(),
        stats: shared.notify_stats.clone(),
        http: http.clone(),
        clock: crate::schedule::clock_now(),
    };
    let responder = tokio::spawn(responder.run(stop_rx.clone()));
    let delivery = Delivery {
        providers: Default::default(),
        journal: journal.clone(),
        plan: plan_rx,
        wake,
        stats: shared.notify_stats.delivery.clone(),
        http,
    };
    let delivery = tokio::spawn(delivery.run(stop_rx));

    let daemon = Arc::new(Daemon {
        shared: shared.clone(),
        plugins,
        path: opts.path.clone(),
        settings: settings.clone(),
        from_files: std::sync::Mutex::new((plan.daemon.listen, plan.daemon.store.clone())),
        ctl: ctl_tx.clone(),
        reload_lock: tokio::sync::Mutex::new(()),
        notifier,
    });
    let listener =
        tokio::net::TcpListener::bind(settings.listen).await.map_err(|source| DaemonError::Listen { addr: settings.listen, source })?;
    let addr = listener.local_addr().map_err(|source| DaemonError::Listen { addr: settings.listen, source })?;
    // One line on stderr whatever the log level: scripts and tests read the port from it.
    eprintln!("picket: {} checks; API on http://{addr}", plan.checks.len());
    tracing::info!(%addr, checks = plan.checks.len(), resumed_incidents = resumed, store = ?opts.store, "daemon started");
    let (api_stop_tx, api_stop_rx) = tokio::sync::oneshot::channel::<()>();
    let api = tokio::spawn(
        axum::serve(listener, crate::api::router(daemon.clone() as Arc<dyn crate::api::Handle>))
            .with_graceful_shutdown(async move {
                let _ = api_stop_rx.await;
            })
            .into_future(),
    );

    let maintenance = store.clone().map(|s| {
        let (keep_results, keep_rollups) = (settings.keep_results, settings.keep_rollups);
        let journal = journal.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(MAINTENANCE_EVERY);
            loop {
                tick.tick().await;
                match s.maintain(crate::store::now_ms(), keep_results, keep_rollups).await {
                    Ok(m) => tracing::info!(?m, bytes = s.size_bytes(), "history maintained"),
                    Err(e) => tracing::warn!("history maintenance: {e}"),
                }
                // Finished notifications and recovery attempts are kept as long as results.
                let (j, before) = (journal.clone(), crate::store::now_ms() - keep_results.as_millis() as i64);
                match tokio::task::spawn_blocking(move || j.prune(before)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!("journal maintenance: {e}"),
                    Err(e) => tracing::error!("journal maintenance panicked: {e}"),
                }
            }
        })
    });

    wait_for_signals(&daemon, stop).await?;
    tracing::info!("shutting down");
    let _ = ctl_tx.send(Control::Stop);
    let _ = sched_done.await;
    // Pending notifications stay in the outbox for the next start; sends on the wire finish.
    let _ = stop_tx.send(true);
    let _ = responder.await;
    let _ = tokio::time::timeout(Duration::from_secs(35), delivery).await;
    let _ = api_stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), api).await;
    if let Some(m) = maintenance {
        m.abort();
    }
    if let Some(s) = &store {
        let _ = s.flush().await;
        let s = s.clone();
        let _ = tokio::task::spawn_blocking(move || s.close()).await;
    }
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signals(daemon: &Arc<Daemon>, stop: impl Future<Output = ()> + Send + 'static) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    let mut term = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading");
                let d = daemon.clone();
                // Reload off this loop, so a slow plugin compile cannot delay SIGTERM.
                tokio::spawn(async move { d.reload().await });
            }
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = &mut stop => return Ok(()),
        }
    }
}
