//! Plugins: the built-ins embedded in the binary, `.wasm` files named in check files,
//! their verification (sha256 pin, expected export, supported imports) and their
//! `describe` info. Each distinct wasm is compiled, pre-instantiated and described once
//! per process and shared by every check that uses it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::bindings::{CHECK_EXPORT, PluginPre};
use crate::engine::sha256_hex;
use crate::{HostState, Sandbox};
pub use picket_core::plugin::{MetricInfo, ParamInfo, PluginInfo};
use picket_core::result::Failure;

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtins.rs"));
}

/// Names of the plugins compiled into this binary.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    builtin::BUILTINS.iter().map(|(n, _)| *n)
}

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Builtin(String),
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin(n) => write!(f, "{n}"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A verified, compiled, described plugin, ready to instantiate.
pub struct Loaded {
    pub source: Source,
    pub sha256: String,
    pub size: usize,
    pub info: PluginInfo,
    /// Interface names the component imports, e.g. "picket:plugin/tcp@0.1.0".
    pub imports: Vec<String>,
    pub exports: Vec<String>,
    pub pre: PluginPre<HostState>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded").field("source", &self.source).field("sha256", &self.sha256).finish()
    }
}

/// Loads plugins once each and hands out shared handles. Cheap to clone: clones share
/// the loaded plugins.
#[derive(Clone)]
pub struct Plugins {
    sandbox: Arc<Sandbox>,
    by_sha: Arc<Mutex<HashMap<String, Arc<Loaded>>>>,
}

impl Plugins {
    pub fn new(sandbox: Arc<Sandbox>) -> Plugins {
        Plugins { sandbox, by_sha: Default::default() }
    }

    /// A plugin loaded before (by [`Plugins::builtin`] or [`Plugins::file`]), by sha256.
    pub fn loaded(&self, sha256: &str) -> Option<Arc<Loaded>> {
        self.by_sha.lock().unwrap().get(sha256).cloned()
    }

    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// A built-in plugin by name; `None` if there is no such built-in.
    pub async fn builtin(&self, name: &str) -> Option<Result<Arc<Loaded>, Failure>> {
        let (_, wasm) = builtin::BUILTINS.iter().find(|(n, _)| *n == name)?;
        Some(self.load(Source::Builtin(name.to_string()), wasm, sha256_hex(wasm)).await)
    }

    /// A plugin file, checked against `pinned` (a hex sha256) when given.
    pub async fn file(&self, path: &Path, pinned: Option<&str>) -> Result<Arc<Loaded>, Failure> {
        let wasm = tokio::fs::read(path).await.map_err(|e| Failure::Load(format!("cannot read {}: {e}", path.display())))?;
        let sha256 = sha256_hex(&wasm);
        if let Some(expected) = pinned
            && !sha256.eq_ignore_ascii_case(expected.trim())
        {
            return Err(Failure::HashMismatch { expected: expected.trim().to_lowercase(), actual: sha256 });
        }
        self.load(Source::File(path.to_path_buf()), &wasm, sha256).await
    }

    async fn load(&self, source: Source, wasm: &[u8], sha256: String) -> Result<Arc<Loaded>, Failure> {
        if let Some(found) = self.by_sha.lock().unwrap().get(&sha256) {
            return Ok(found.clone());
        }
        let what = source.to_string();
        let engine = self.sandbox.engine().clone();
        let bytes = wasm.to_vec();
        let sha = sha256.clone();
        // Compiling is CPU-bound and can take seconds for a language runtime.
        let component = tokio::task::spawn_blocking(move || engine.component(&what, &sha, &bytes))
            .await
            .map_err(|e| Failure::Load(e.to_string()))?
            .map_err(|e| Failure::Load(e.to_string()))?;
        let engine = self.sandbox.engine().wasmtime();
        let ty = component.component_type();
        let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
        let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
        if !exports.iter().any(|e| e == CHECK_EXPORT) {
            return Err(Failure::MissingExport(missing_export_help(&exports)));
        }
        let pre = self.sandbox.linker().instantiate_pre(&component).map_err(|e| Failure::UnsupportedImport(unsupported_import_help(&e)))?;
        let pre = PluginPre::new(pre).map_err(|e| {
            Failure::MissingExport(format!("{CHECK_EXPORT} with the expected functions ({e:#}); rebuild the plugin against wit/ 0.1.x"))
        })?;
        let info = self.sandbox.describe(&pre, &source.to_string()).await?;
        let info = PluginInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            params: info
                .params
                .into_iter()
                .map(|p| ParamInfo { name: p.name, kind: p.kind, required: p.required, description: p.description })
                .collect(),
            metrics: info
                .metrics
                .into_iter()
                .map(|m| MetricInfo { name: m.name, unit: m.unit, description: m.description, lower_is_worse: m.lower_is_worse })
                .collect(),
        };
        let loaded = Arc::new(Loaded { source, sha256: sha256.clone(), size: wasm.len(), info, imports, exports, pre });
        self.by_sha.lock().unwrap().insert(sha256, loaded.clone());
        Ok(loaded)
    }
}

fn missing_export_help(exports: &[String]) -> String {
    let other_version = exports.iter().find(|e| e.starts_with("picket:plugin/check@"));
    match other_version {
        Some(found) => format!(
            "{CHECK_EXPORT}: it exports {found}, built for another version of the plugin contract; rebuild it against this picket's wit/ (0.1.x)"
        ),
        None if exports.is_empty() => {
            format!("{CHECK_EXPORT}: it exports nothing; is it a picket plugin built with picket-sdk or wit/plugin.wit?")
        }
        None => format!("{CHECK_EXPORT}: it exports only {}", exports.join(", ")),
    }
}

fn unsupported_import_help(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    format!(
        "{text}; picket provides picket:plugin/{{log,clock,tcp,http,disk}}@0.1.0 and WASI 0.2 (deny-all): \
         rebuild the plugin against this picket's wit/plugin.wit, or run it with a picket that provides that interface"
    )
}
