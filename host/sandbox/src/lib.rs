//! The sandbox: the only crate that depends on wasmtime. It owns the engine and its
//! compile cache ([`engine`]), plugin loading and verification ([`plugin`]), and running one
//! check inside a fresh wasmtime `Store` ([`Sandbox::run`]), with one module per host
//! capability.
//!
//! Architecture Invariants: only this crate names wasmtime or wasmtime-wasi (the others'
//! `Cargo.toml`s do not list them); only [`engine`] configures wasmtime; only [`bindings`]
//! runs `bindgen!`.
//!
//! Each run gets a new store from the plugin's pre-instantiated component (cheap with the
//! pooling allocator), a deny-all WASI context, the check's grants, a memory limiter, an
//! epoch deadline whose callback yields to tokio, and a tokio timeout around the whole
//! call (epochs only fire while wasm runs, not during host calls such as a slow HTTP read).
//!
//! Layout: [`bindings`] is the one `bindgen!`; [`grants`] decides what a check may reach;
//! `tcp`, `http`, `disk`, `log` implement one capability each; `state` is the store data.
//!
//! Architecture Invariant: [`Sandbox::run`] never returns an error. Whatever the plugin
//! does, the caller gets an [`Outcome`].

pub mod bindings;
mod disk;
pub mod engine;
pub mod http;
mod log;
pub mod plugin;
mod state;
mod tcp;
mod tls;

use std::time::{Duration, Instant};

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Store, UpdateDeadline};

pub use bindings::types;
pub use bindings::types::{Info, Report};
pub use http::HttpClients;
pub use picket_core::grants::{self, Grant, Grants, Limits, TlsOptions};
pub use state::{HostState, RunContext};
pub use tls::TlsConfigs;

use crate::engine::{Engine, EngineError};
use picket_core::result::Failure;
use picket_core::target::Endpoint;

/// Limits for calling `describe`, which must be quick and small.
pub const DESCRIBE_LIMITS: Limits = Limits { timeout: Duration::from_secs(10), memory: 256 << 20, output: 1 << 20 };

/// One run's inputs.
pub struct RunRequest<'a> {
    pub ctx: RunContext,
    pub target: &'a str,
    /// `target` as config parsed it against the plugin's shapes (what was granted).
    pub endpoint: Option<&'a Endpoint>,
    /// The plugin's params as a JSON object.
    pub params: &'a str,
    pub limits: Limits,
}

/// What a run produced: the plugin's report, or why the sandbox stopped it.
#[derive(Debug)]
pub struct Outcome {
    pub report: Result<Report, Failure>,
    pub elapsed: Duration,
    /// Extra text for failed runs: the guest's stderr, the plugin's own summary when the
    /// sandbox overrode it.
    pub diagnostics: Option<String>,
}

/// The engine, the linker with every capability, and the shared HTTP clients.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    http: HttpClients,
    tls: TlsConfigs,
}

impl Sandbox {
    pub fn new(engine: Engine) -> Result<Sandbox, EngineError> {
        let mut linker = Linker::new(engine.wasmtime());
        // Language runtimes import wasi:cli, clocks, random, filesystem; the context
        // behind them (state.rs) denies everything that matters.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| EngineError::Config(e.to_string()))?;
        bindings::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| EngineError::Config(e.to_string()))?;
        Ok(Sandbox { engine, linker, http: HttpClients::default(), tls: TlsConfigs::default() })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }

    /// The shared clients a [`RunContext`] needs.
    pub fn context(&self, check: &str, plugin: &str, grants: std::sync::Arc<Grants>, tls: TlsOptions) -> RunContext {
        RunContext { check: check.into(), plugin: plugin.into(), grants, tls, http: self.http.clone(), tls_configs: self.tls.clone() }
    }

    fn store(&self, ctx: RunContext, memory: u64) -> Store<HostState> {
        let mut store = Store::new(self.engine.wasmtime(), HostState::new(ctx, memory));
        store.limiter(|s| s);
        store.set_epoch_deadline(1);
        // Yield to tokio on every tick instead of trapping: a spinning guest then shares
        // its worker thread, and the tokio timeout around the call can fire.
        store.epoch_deadline_callback(|_| Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::task::yield_now()))));
        store
    }

    /// Runs `check` once. Never fails: every problem is an [`Outcome`] with a [`Failure`].
    pub async fn run(&self, pre: &bindings::PluginPre<HostState>, req: RunRequest<'_>) -> Outcome {
        let started = Instant::now();
        let limits = req.limits;
        let mut store = self.store(req.ctx.clone(), limits.memory);
        let config = bindings::types::Config {
            name: req.ctx.check.to_string(),
            target: req.target.to_string(),
            endpoint: req.endpoint.map(|e| bindings::types::Endpoint {
                scheme: e.scheme.clone(),
                user: e.user.clone(),
                password: e.password.clone(),
                host: e.host.clone(),
                port: e.port,
                path: e.path.clone(),
                query: e.query.clone(),
            }),
            params: req.params.to_string(),
            timeout_ms: limits.timeout.as_millis().min(u32::MAX as u128) as u32,
        };
        let result = {
            let call = async {
                let plugin = pre.instantiate_async(&mut store).await?;
                plugin.picket_plugin_check().call_check(&mut store, &config).await
            };
            tokio::time::timeout(limits.timeout, call).await
        };
        let elapsed = started.elapsed();
        let state = store.data();
        let guest_output = state.guest_output();
        if state.log_dropped > 0 {
            tracing::warn!(check = %req.ctx.check, dropped = state.log_dropped, "plugin log lines over the cap were dropped");
        }
        let mut diagnostics = (!guest_output.trim().is_empty()).then(|| format!("guest output:\n{guest_output}"));
        let mut report = match result {
            Err(_) => Err(Failure::Timeout(limits.timeout)),
            Ok(Err(_)) if state.memory_hit => Err(Failure::MemoryLimit(limits.memory)),
            Ok(Err(e)) => Err(Failure::Trap(trap_detail(&e, &guest_output))),
            Ok(Ok(r)) => check_output(r, limits.output, &mut diagnostics),
        };
        if !state.denials.is_empty() {
            // The plugin may have swallowed the error and claimed success: the attempt
            // itself is what the operator must see.
            if let Ok(r) = &report {
                diagnostics = Some(format!("plugin reported {:?}: {}", r.status, picket_core::text::truncate(&r.summary, 1024)));
            }
            report = Err(Failure::Denied(state.denials.join("; ")));
        }
        if let Err(f) = &report {
            tracing::warn!(check = %req.ctx.check, plugin = %req.ctx.plugin, reason = f.kind(), detail = %f, elapsed_ms = elapsed.as_millis() as u64, "sandbox stopped the plugin");
        }
        Outcome { report, elapsed, diagnostics }
    }

    /// Calls `describe` on a fresh instance with no grants.
    pub async fn describe(&self, pre: &bindings::PluginPre<HostState>, name: &str) -> Result<Info, Failure> {
        let ctx = self.context("describe", name, Default::default(), TlsOptions::default());
        let mut store = self.store(ctx, DESCRIBE_LIMITS.memory);
        let call = async {
            let plugin = pre.instantiate_async(&mut store).await?;
            plugin.picket_plugin_check().call_describe(&mut store).await
        };
        match tokio::time::timeout(DESCRIBE_LIMITS.timeout, call).await {
            Err(_) => Err(Failure::Timeout(DESCRIBE_LIMITS.timeout)),
            Ok(Err(e)) => Err(Failure::Trap(format!("in describe: {}", trap_detail(&e, &store.data().guest_output())))),
            Ok(Ok(info)) => Ok(info),
        }
    }
}

/// Enforces the output cap on what the plugin returned.
fn check_output(r: Report, cap: usize, diagnostics: &mut Option<String>) -> Result<Report, Failure> {
    let size = r.summary.len()
        + r.diagnostics.as_ref().map_or(0, String::len)
        + r.metrics.iter().map(|m| m.name.len() + m.unit.len() + 8).sum::<usize>();
    if size > cap {
        *diagnostics = Some(format!("start of the plugin's summary: {}", picket_core::text::truncate(&r.summary, 512)));
        return Err(Failure::OutputLimit(format!(
            "plugin returned {} of summary, diagnostics and metrics; the cap is {}",
            picket_core::units::format_bytes(size as u64),
            picket_core::units::format_bytes(cap as u64)
        )));
    }
    Ok(r)
}

/// A one-line reason for a trap: the wasm trap code, plus the panic message when a Rust
/// guest printed one to stderr.
fn trap_detail(e: &wasmtime::Error, guest_output: &str) -> String {
    let code = match e.downcast_ref::<wasmtime::Trap>() {
        Some(t) => t.to_string(),
        None => e.to_string(),
    };
    let panic = guest_output.lines().skip_while(|l| !l.contains("panicked at")).nth(1).map(str::trim).filter(|l| !l.is_empty());
    match panic {
        Some(msg) => format!("{code} (panic: {msg})"),
        None => code,
    }
}

/// Where the build put the test fixture plugins (`fixtures.wasm`, `noop.wasm`), for the
/// integration tests and benchmarks.
#[doc(hidden)]
pub const FIXTURE_DIR: &str = env!("PICKET_FIXTURE_DIR");
