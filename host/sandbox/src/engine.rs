//! The one place that configures wasmtime: the [`Engine`] with its pooling allocator and
//! epoch interruption, the epoch ticker thread, and the on-disk cache of compiled
//! components.
//!
//! Architecture Invariant: no other module builds a `wasmtime::Config`. Compiled artifacts
//! only load into an engine with the same configuration, and the cache key includes
//! wasmtime's compatibility hash of this configuration.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// How often the epoch advances. A spinning guest yields to tokio at most this long after
/// it starts spinning, so timers (and the run's timeout) keep firing.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The largest memory any single check may be granted (`memory = ...` in TOML).
pub use picket_core::grants::MAX_MEMORY_CAP;

/// How many sandboxes may exist at once; the runner's semaphore stays below this.
pub const MAX_INSTANCES: u32 = 256;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot configure the wasm engine: {0}")]
    Config(String),
    #[error("cannot compile {what}: {why}")]
    Compile { what: String, why: String },
}

/// A configured engine plus its compile cache. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: wasmtime::Engine,
    cache_dir: Option<PathBuf>,
    _ticker: Arc<Ticker>,
}

/// What the engine is tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `picket check`: a handful of runs, often one after another.
    OneShot,
    /// `picket run`: thousands of runs a second on every CPU.
    Daemon,
}

impl Engine {
    /// Builds the engine with a pooling allocator, falling back to on-demand allocation
    /// where the pool's address-space reservation is refused (small `ulimit -v`).
    pub fn new(cache_dir: Option<PathBuf>) -> Result<Engine, EngineError> {
        Self::for_workload(cache_dir, Workload::OneShot)
    }

    pub fn for_workload(cache_dir: Option<PathBuf>, workload: Workload) -> Result<Engine, EngineError> {
        let inner = match wasmtime::Engine::new(&config(true, workload)) {
            Ok(e) => e,
            Err(err) => {
                tracing::warn!(error = %err, "pooling allocator unavailable; using on-demand allocation");
                wasmtime::Engine::new(&config(false, workload)).map_err(|e| EngineError::Config(e.to_string()))?
            }
        };
        let ticker = Ticker::start(inner.clone());
        Ok(Engine { inner, cache_dir, _ticker: Arc::new(ticker) })
    }

    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner
    }

    /// The directory picket caches compiled components in unless told otherwise:
    /// `$PICKET_CACHE_DIR`, else `$XDG_CACHE_HOME/picket`, else `~/.cache/picket`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        if let Some(d) = std::env::var_os("PICKET_CACHE_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(d).join("picket"));
        }
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("picket"))
    }

    /// Compiles `wasm` (whose sha256 the caller has computed), or loads the artifact cached
    /// from an earlier compile of the same bytes by an identically configured engine.
    pub fn component(&self, what: &str, sha256: &str, wasm: &[u8]) -> Result<Component, EngineError> {
        let path = self.cache_path(sha256);
        if let Some(path) = &path
            && path.exists()
        {
            // SAFETY: the cache directory holds only artifacts this function wrote with
            // `Component::serialize` for an engine with the same compatibility hash
            // (part of the path); wasmtime re-checks that header on load.
            match unsafe { Component::deserialize_file(&self.inner, path) } {
                Ok(c) => {
                    tracing::debug!(plugin = what, path = %path.display(), "loaded compiled component from cache");
                    return Ok(c);
                }
                Err(e) => {
                    tracing::warn!(plugin = what, error = %e, "discarding unusable cache entry");
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let started = std::time::Instant::now();
        let component =
            Component::new(&self.inner, wasm).map_err(|e| EngineError::Compile { what: what.to_string(), why: format!("{e:#}") })?;
        tracing::info!(plugin = what, elapsed_ms = started.elapsed().as_millis() as u64, "compiled component");
        if let Some(path) = path
            && let Err(e) = write_atomically(&path, &component)
        {
            tracing::warn!(plugin = what, error = %e, "cannot write compile cache; next run compiles again");
        }
        Ok(component)
    }

    fn cache_path(&self, sha: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        // DefaultHasher::new() uses fixed keys, so the hash is stable for one build.
        let mut h = std::hash::DefaultHasher::new();
        self.inner.precompile_compatibility_hash().hash(&mut h);
        Some(dir.join(format!("{:016x}", h.finish())).join(format!("{sha}.cwasm")))
    }
}

fn write_atomically(path: &Path, component: &Component) -> anyhow::Result<()> {
    let bytes = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = path.parent().expect("cache path has a parent");
    std::fs::create_dir_all(dir)?;
    // A unique temporary name, then rename: concurrent picket processes never see a
    // half-written artifact.
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), rand_suffix()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn config(pooling: bool, workload: Workload) -> Config {
    let mut cfg = Config::new();
    cfg.wasm_component_model(true);
    // Epochs, not fuel: checking a counter on loop back-edges is cheaper than counting
    // every instruction, and the callback lets a spinning guest yield (see sandbox).
    cfg.epoch_interruption(true);
    cfg.cranelift_opt_level(OptLevel::Speed);
    cfg.max_wasm_stack(1 << 20);
    cfg.async_stack_size(2 << 20);
    // The daemon copies data segments into each fresh memory instead of mapping the image
    // copy-on-write: the first write to a CoW page replaces a shared mapping, and with
    // worker threads on several CPUs every such fault is a TLB-shootdown IPI. Profiled at
    // 10,000 checks a second (`cargo xtask bench scale`) that was a quarter of the
    // workers' time, and turning it off cut the daemon's CPU per check from 152 to 105 µs.
    // A lone sequential run is faster with CoW (p50 ~31 vs ~44 µs), so `picket check`
    // keeps it.
    cfg.memory_init_cow(workload == Workload::OneShot);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(MAX_INSTANCES)
            .total_core_instances(MAX_INSTANCES * 8)
            .total_memories(MAX_INSTANCES * 2)
            .total_tables(MAX_INSTANCES * 4)
            .total_stacks(MAX_INSTANCES)
            .max_memories_per_component(8)
            .max_tables_per_component(16)
            .max_core_instances_per_component(64)
            // Language runtimes (componentize-py, StarlingMonkey) have large tables.
            .table_elements(100_000)
            .max_memory_size(MAX_MEMORY_CAP as usize);
        // Each run is a fresh instance in a reused slot; resetting the slot dominates a
        // no-op run. Batching the madvise calls and memsetting the hot first 64 KiB
        // instead of faulting it back in took the no-op p50 from ~45 µs to ~35 µs
        // (BENCHMARKS.md); keeping more resident costs more in memset than it saves.
        pool.decommit_batch_size(64).linear_memory_keep_resident(64 << 10);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    cfg
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: wasmtime::Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("picket-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn epoch ticker");
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
