//! The per-run host state that lives in a wasmtime `Store`: the deny-all WASI context,
//! the resource table, the check's grants, and what the sandbox observed (memory cap hit,
//! denied capabilities, log volume, the guest's captured stderr).

use std::sync::{Arc, Mutex};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::grants::Grants;
use super::http::HttpClients;
use super::types::{Error as CapError, ErrorKind};
use picket_core::grants::TlsOptions;

/// How much of the guest's stdout/stderr is kept (a panic message, a stray print).
pub const GUEST_OUTPUT_CAP: usize = 8 * 1024;

/// What a run needs to know about its check.
#[derive(Clone)]
pub struct RunContext {
    pub check: Arc<str>,
    pub plugin: Arc<str>,
    pub grants: Arc<Grants>,
    pub tls: TlsOptions,
    pub http: HttpClients,
    pub tls_configs: super::tls::TlsConfigs,
}

pub struct HostState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) run: RunContext,
    memory_cap: u64,
    /// Set by the limiter: a refused memory.grow is not a trap of its own, so the trap
    /// that follows (usually an abort in the guest's allocator) is classified by this.
    pub(crate) memory_hit: bool,
    /// Every capability request the grants refused, in order.
    pub(crate) denials: Vec<String>,
    pub(crate) log_lines: u32,
    pub(crate) log_dropped: u32,
    pub(crate) open_connections: u32,
    guest_output: CapturedOutput,
}

impl HostState {
    pub fn new(run: RunContext, memory_cap: u64) -> HostState {
        let guest_output = CapturedOutput::default();
        // Deny-all WASI: no preopened directories, no environment, no arguments, no
        // network (sockets are denied by default and we add no socket addr check).
        let wasi = WasiCtx::builder()
            .stdout(guest_output.clone())
            .stderr(guest_output.clone())
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            run,
            memory_cap,
            memory_hit: false,
            denials: Vec::new(),
            log_lines: 0,
            log_dropped: 0,
            open_connections: 0,
            guest_output,
        }
    }

    /// Records a refused request and builds the error handed back to the plugin.
    pub(crate) fn deny(&mut self, what: String) -> CapError {
        tracing::warn!(check = %self.run.check, plugin = %self.run.plugin, request = %what, grants = %self.run.grants, "capability denied");
        let message = format!("{what} is not granted to check {} (grants: {})", self.run.check, self.run.grants);
        self.denials.push(what);
        CapError { kind: ErrorKind::Denied, message }
    }

    pub fn guest_output(&self) -> String {
        self.guest_output.text()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_cap {
            self.memory_hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// Keeps the first [`GUEST_OUTPUT_CAP`] bytes the guest writes to stdout/stderr and
/// silently drops the rest, so a chatty guest is neither trapped nor able to fill memory.
#[derive(Clone, Default)]
pub struct CapturedOutput {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl CapturedOutput {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut buf = self.buf.lock().unwrap();
        let room = GUEST_OUTPUT_CAP.saturating_sub(buf.len());
        buf.extend_from_slice(&data[..data.len().min(room)]);
        std::task::Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl super::types::Host for HostState {}
