//! The one place that configures wasmtime: the [`Engine`] with its pooling allocator and
//! epoch interruption, the epoch ticker thread, and the on-disk cache of compiled
//! components.
//!
//! The cache is `<cache dir>/<engine hash>/<sha256>.cwasm`. It is bounded: every artifact
//! written trims it ([`CACHE_MAX_BYTES`] least recently used first, and the directories of
//! other engine configurations unused for [`CACHE_OTHER_ENGINE_MAX_AGE`]); a load from the
//! cache only touches the artifact's mtime, which is what "used" means. Several picket
//! processes may share a cache: files are only ever renamed into place or unlinked, and an
//! artifact that vanishes before it is opened is a cache miss.
//!
//! Architecture Invariant: no other module builds a `wasmtime::Config`. Compiled artifacts
//! only load into an engine with the same configuration, and the cache key includes
//! wasmtime's compatibility hash of this configuration.

use std::hash::{Hash, Hasher};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use wasmtime::component::Component;
use wasmtime::{Config, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

/// How often the epoch advances. A spinning guest yields to tokio at most this long after
/// it starts spinning, so timers (and the run's timeout) keep firing.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The largest memory any single check may be granted (`memory = ...` in TOML).
pub use picket_core::grants::MAX_MEMORY_CAP;

/// How many sandboxes may exist at once; the runner's semaphore stays below this.
pub const MAX_INSTANCES: u32 = 256;

/// The compile cache's size bound: after writing an artifact, picket deletes the least
/// recently used artifacts (by mtime, across all engine hashes) until the artifacts left
/// total at most this many bytes. A compiled built-in is a few MB; a Python or JavaScript
/// plugin's is ~35 MB.
pub const CACHE_MAX_BYTES: u64 = 512 << 20;

/// A directory of another engine configuration's artifacts (another picket or wasmtime
/// build, or a configuration no longer used) is removed when an artifact is written and
/// none of its own has been written or loaded for this long. `picket check` and
/// `picket run` have different configurations, so this is generous: each keeps the other's
/// entries while both are in use.
pub const CACHE_OTHER_ENGINE_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);

/// An artifact written or loaded this recently is never evicted, whatever the size bound
/// says: another picket process may be about to load it.
pub const CACHE_MIN_AGE: Duration = Duration::from_secs(60);

/// A temporary file in the cache older than this is left from a write that never finished
/// (a killed process) and is removed.
const CACHE_TMP_MAX_AGE: Duration = Duration::from_secs(3600);

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
            && let Some(c) = self.load_cached(what, path)
        {
            return Ok(c);
        }
        let started = std::time::Instant::now();
        let component =
            Component::new(&self.inner, wasm).map_err(|e| EngineError::Compile { what: what.to_string(), why: format!("{e:#}") })?;
        tracing::info!(plugin = what, elapsed_ms = started.elapsed().as_millis() as u64, "compiled component");
        if let (Some(path), Some(root)) = (path, &self.cache_dir) {
            match write_atomically(&path, &component) {
                // Only writes walk the cache: a hit costs an open and a touch, nothing more.
                Ok(()) => {
                    trim_cache(root, &path, CACHE_MAX_BYTES, SystemTime::now());
                }
                Err(e) => tracing::warn!(plugin = what, error = %e, "cannot write compile cache; next run compiles again"),
            }
        }
        Ok(component)
    }

    /// The cached artifact at `path`, or None (a miss) if there is none or it is unusable.
    fn load_cached(&self, what: &str, path: &Path) -> Option<Component> {
        // Touch it first: loading is what "recently used" means to `trim_cache`, and a fresh
        // mtime keeps another process's trim (CACHE_MIN_AGE) off it while it loads. A file
        // another process has just evicted is a miss like any other.
        match std::fs::File::open(path) {
            Ok(file) => {
                if let Err(e) = file.set_modified(SystemTime::now()) {
                    // A cache someone else owns: still usable, just not LRU-ordered by us.
                    tracing::debug!(plugin = what, path = %path.display(), error = %e, "cannot touch cache entry");
                }
            }
            Err(e) if e.kind() == ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(plugin = what, path = %path.display(), error = %e, "cannot open cache entry; compiling");
                return None;
            }
        }
        // SAFETY: the cache directory holds only artifacts this function wrote with
        // `Component::serialize` for an engine with the same compatibility hash
        // (part of the path); wasmtime re-checks that header on load. Files are only
        // replaced by rename and removed by unlink, never truncated, so an artifact mapped
        // here stays intact even if another process evicts it meanwhile.
        match unsafe { Component::deserialize_file(&self.inner, path) } {
            Ok(c) => {
                tracing::debug!(plugin = what, path = %path.display(), "loaded compiled component from cache");
                Some(c)
            }
            // Evicted by another process between the touch and the load.
            Err(_) if matches!(path.try_exists(), Ok(false)) => None,
            Err(e) => {
                tracing::warn!(plugin = what, error = %e, "discarding unusable cache entry");
                let _ = std::fs::remove_file(path);
                None
            }
        }
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
    if let Err(e) = std::fs::write(&tmp, &bytes) {
        if e.kind() != ErrorKind::NotFound {
            return Err(e.into());
        }
        // Another process's trim removed the directory as we made it: once more.
        std::fs::create_dir_all(dir)?;
        std::fs::write(&tmp, &bytes)?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// One compiled artifact found by [`trim_cache`].
struct Artifact {
    path: PathBuf,
    bytes: u64,
    used: SystemTime,
}

/// What one [`trim_cache`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Trimmed {
    files: u64,
    bytes: u64,
}

/// How long ago `t` was; a time in the future (clock skew) counts as now.
fn age(now: SystemTime, t: SystemTime) -> Duration {
    now.duration_since(t).unwrap_or_default()
}

/// A directory name `cache_path` makes: the engine hash in 16 hex digits.
fn is_engine_dir(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Bounds the cache under `root` after `fresh` (in the current engine's directory) was
/// written: removes the directories of other engines unused for
/// [`CACHE_OTHER_ENGINE_MAX_AGE`] and leftover temporary files, then deletes artifacts
/// least recently used first until at most `max_bytes` remain. Never deletes `fresh` or an
/// artifact used within [`CACHE_MIN_AGE`]. Touches only engine-hash directories and the
/// `.cwasm` and temporary files in them (the cache dir is the user's choice and may hold
/// other things), follows no symlinks, and treats a file that vanished as already gone:
/// other picket processes may be trimming the same cache.
fn trim_cache(root: &Path, fresh: &Path, max_bytes: u64, now: SystemTime) -> Trimmed {
    let mut trimmed = Trimmed::default();
    let mut remove = |path: &Path, bytes: u64, used: SystemTime, reason: &'static str| match std::fs::remove_file(path) {
        Ok(()) => {
            tracing::info!(path = %path.display(), bytes, idle_s = age(now, used).as_secs(), reason, "evicted from compile cache");
            trimmed.files += 1;
            trimmed.bytes += bytes;
            true
        }
        Err(e) if e.kind() == ErrorKind::NotFound => true,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot evict from compile cache");
            false
        }
    };
    let current = fresh.parent();
    let mut kept: Vec<Artifact> = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root) else { return trimmed };
    for dir in dirs.flatten() {
        let is_dir = dir.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || !dir.file_name().to_str().is_some_and(is_engine_dir) {
            continue;
        }
        let dir = dir.path();
        let mut artifacts = Vec::new();
        for file in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let (Ok(meta), Some(name)) = (file.metadata(), file.file_name().to_str().map(str::to_owned)) else { continue };
            if !meta.is_file() {
                continue;
            }
            let used = meta.modified().unwrap_or(now);
            let path = file.path();
            if name.starts_with('.') && name.ends_with(".tmp") {
                if age(now, used) > CACHE_TMP_MAX_AGE {
                    remove(&path, meta.len(), used, "unfinished write");
                }
            } else if name.ends_with(".cwasm") {
                artifacts.push(Artifact { path, bytes: meta.len(), used });
            }
        }
        // An empty directory counts from its own mtime: another process may have just made
        // it to write into.
        let last_used = artifacts.iter().map(|a| a.used).max().or_else(|| std::fs::metadata(&dir).and_then(|m| m.modified()).ok());
        if Some(dir.as_path()) != current && last_used.is_some_and(|t| age(now, t) > CACHE_OTHER_ENGINE_MAX_AGE) {
            let mut all_gone = true;
            for a in &artifacts {
                all_gone &= remove(&a.path, a.bytes, a.used, "other engine, unused");
            }
            // Only if empty: anything not ours (or just written by another process) stays.
            if all_gone && std::fs::remove_dir(&dir).is_ok() {
                tracing::info!(dir = %dir.display(), "removed compile cache directory of another engine");
            }
        } else {
            kept.extend(artifacts);
        }
    }
    let mut total: u64 = kept.iter().map(|a| a.bytes).sum();
    if total > max_bytes {
        kept.sort_by_key(|a| a.used);
        for a in kept {
            if total <= max_bytes {
                break;
            }
            if a.path == fresh || age(now, a.used) < CACHE_MIN_AGE {
                continue;
            }
            // Look again just before deleting: another process may have loaded it since.
            match std::fs::symlink_metadata(&a.path).and_then(|m| m.modified()) {
                Ok(t) if age(now, t) < CACHE_MIN_AGE => continue,
                Err(e) if e.kind() == ErrorKind::NotFound => total -= a.bytes,
                _ => {
                    if remove(&a.path, a.bytes, a.used, "least recently used") {
                        total -= a.bytes;
                    }
                }
            }
        }
    }
    if trimmed.files > 0 {
        tracing::info!(files = trimmed.files, bytes = trimmed.bytes, kept_bytes = total, "trimmed compile cache");
    }
    trimmed
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// How plugins are pinned and identified: the core's one definition.
pub use picket_core::text::sha256_hex;

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

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(24 * 3600);
    /// The current engine's directory and another engine's, as `cache_path` names them.
    const CURRENT: &str = "00000000000000aa";
    const OTHER: &str = "00000000000000bb";

    /// Sets a file's or a directory's mtime.
    fn set_used(path: &Path, at: SystemTime) {
        std::fs::File::open(path).unwrap().set_modified(at).unwrap();
    }

    fn used(path: &Path) -> SystemTime {
        std::fs::metadata(path).unwrap().modified().unwrap()
    }

    /// A file of `bytes` bytes at `root/dir/name`, last used `ago` before `now`.
    fn entry(root: &Path, dir: &str, name: &str, bytes: usize, now: SystemTime, ago: Duration) -> PathBuf {
        let path = root.join(dir).join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, vec![0u8; bytes]).unwrap();
        set_used(&path, now - ago);
        path
    }

    #[test]
    fn trim_evicts_least_recently_used_first_down_to_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let (root, now) = (dir.path(), SystemTime::now());
        // Another engine's entry still in use counts toward the bound like any other.
        let other = entry(root, OTHER, "x.cwasm", 100, now, 10 * HOUR);
        let a = entry(root, CURRENT, "a.cwasm", 100, now, 5 * HOUR);
        let b = entry(root, CURRENT, "b.cwasm", 100, now, 4 * HOUR);
        let c = entry(root, CURRENT, "c.cwasm", 100, now, 3 * HOUR);
        let d = entry(root, CURRENT, "d.cwasm", 100, now, 2 * HOUR);
        let fresh = entry(root, CURRENT, "fresh.cwasm", 100, now, Duration::ZERO);
        // 600 bytes against a bound of 300: the three least recently used go, oldest first.
        assert_eq!(trim_cache(root, &fresh, 300, now), Trimmed { files: 3, bytes: 300 });
        assert!(!other.exists() && !a.exists() && !b.exists());
        assert!(c.exists() && d.exists() && fresh.exists());
        // Under the bound now: nothing more goes.
        assert_eq!(trim_cache(root, &fresh, 300, now), Trimmed::default());
    }

    #[test]
    fn trim_never_evicts_the_fresh_entry_or_one_just_used() {
        let dir = tempfile::tempdir().unwrap();
        let (root, now) = (dir.path(), SystemTime::now());
        let old = entry(root, CURRENT, "old.cwasm", 100, now, 2 * HOUR);
        // Just loaded by another process (touched within CACHE_MIN_AGE).
        let loading = entry(root, CURRENT, "loading.cwasm", 100, now, Duration::from_secs(10));
        // The artifact just written, even on its own over the bound and with an old mtime.
        let fresh = entry(root, CURRENT, "fresh.cwasm", 1000, now, 3 * HOUR);
        assert_eq!(trim_cache(root, &fresh, 0, now), Trimmed { files: 1, bytes: 100 });
        assert!(!old.exists());
        assert!(loading.exists() && fresh.exists());
    }

    #[test]
    fn trim_removes_other_engines_left_unused_and_nothing_it_does_not_own() {
        let dir = tempfile::tempdir().unwrap();
        let (root, now) = (dir.path(), SystemTime::now());
        let fresh = entry(root, CURRENT, "fresh.cwasm", 100, now, Duration::ZERO);
        // An older picket's engine: nothing used for longer than CACHE_OTHER_ENGINE_MAX_AGE.
        entry(root, OTHER, "x.cwasm", 100, now, CACHE_OTHER_ENGINE_MAX_AGE + DAY);
        entry(root, OTHER, "y.cwasm", 100, now, CACHE_OTHER_ENGINE_MAX_AGE + 9 * DAY);
        entry(root, OTHER, ".1.2.tmp", 100, now, 2 * HOUR);
        // Another engine still in use (say `picket run` beside `picket check`): one recent
        // artifact keeps its whole directory, under the bound.
        let busy = "00000000000000cc";
        let busy_old = entry(root, busy, "old.cwasm", 100, now, CACHE_OTHER_ENGINE_MAX_AGE + DAY);
        let busy_new = entry(root, busy, "new.cwasm", 100, now, DAY);
        // A write killed halfway, and one in progress.
        let dead_tmp = entry(root, CURRENT, ".7.8.tmp", 100, now, 2 * HOUR);
        let live_tmp = entry(root, CURRENT, ".9.9.tmp", 100, now, Duration::ZERO);
        // Not the cache's: a directory that is no engine hash, a file at the top, a file
        // of another kind beside a stale artifact (which goes; the directory stays).
        let foreign = [
            entry(root, "notes", "a.cwasm", 100, now, 100 * DAY),
            entry(root, "", "b.cwasm", 100, now, 100 * DAY),
            entry(root, "00000000000000dd", "README", 100, now, 100 * DAY),
        ];
        let stale_beside_foreign = entry(root, "00000000000000dd", "z.cwasm", 100, now, 100 * DAY);
        // Empty engine directories: one long unused, one just made by a process about to
        // write into it.
        let (empty_old, empty_new) = (root.join("00000000000000ee"), root.join("00000000000000ff"));
        std::fs::create_dir_all(&empty_old).unwrap();
        std::fs::create_dir_all(&empty_new).unwrap();
        set_used(&empty_old, now - CACHE_OTHER_ENGINE_MAX_AGE - DAY);
        let t = trim_cache(root, &fresh, CACHE_MAX_BYTES, now);
        assert_eq!(t, Trimmed { files: 5, bytes: 500 });
        assert!(!root.join(OTHER).exists() && !stale_beside_foreign.exists());
        assert!(!empty_old.exists() && empty_new.exists());
        assert!(!dead_tmp.exists() && live_tmp.exists());
        assert!(fresh.exists() && busy_old.exists() && busy_new.exists());
        assert!(foreign.iter().all(|f| f.exists()));
    }

    #[test]
    fn a_hit_touches_the_artifact_a_write_trims_and_a_vanished_entry_is_a_miss() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let stale = entry(dir.path(), "0123456789abcdef", "x.cwasm", 100, SystemTime::now(), CACHE_OTHER_ENGINE_MAX_AGE + DAY);
        let engine = Engine::new(Some(dir.path().to_path_buf())).unwrap();
        let wasm = wat::parse_str("(component)").unwrap();
        let sha = sha256_hex(&wasm);
        let path = engine.cache_path(&sha).unwrap();
        // A miss compiles and writes, and the write trims the stale engine's directory.
        engine.component("t", &sha, &wasm).unwrap();
        assert!(path.exists() && !stale.exists());
        // A hit loads the same file (no rewrite: same inode) and marks it used.
        let inode = std::fs::metadata(&path).unwrap().ino();
        set_used(&path, SystemTime::now() - 5 * HOUR);
        engine.component("t", &sha, &wasm).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
        assert!(age(SystemTime::now(), used(&path)) < CACHE_MIN_AGE);
        // Evicted by another process: a miss, quietly, and the next load compiles again.
        std::fs::remove_file(&path).unwrap();
        assert!(engine.load_cached("t", &path).is_none());
        engine.component("t", &sha, &wasm).unwrap();
        assert!(path.exists());
    }
}
