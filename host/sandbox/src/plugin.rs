//! Plugins: the built-ins embedded in the binary, `.wasm` files named in check files,
//! their verification (sha256 pin, expected export, supported imports) and their
//! `describe` info. Each distinct wasm is compiled, pre-instantiated and described once
//! per process and shared by every check that uses it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::bindings::{CHECK_EXPORT, CONTRACT_VERSION, PluginPre, types};
use crate::engine::sha256_hex;
use crate::{HostState, Sandbox};
pub use picket_core::plugin::{ForecastInfo, MetricInfo, ParamInfo, ParamKind, PluginInfo, TargetShape, UrlScheme, UrlShape};
use picket_core::result::Failure;
use picket_core::shape::{FlatKey, Shape, ShapeNode, ValueKind};

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
    pub info: Arc<PluginInfo>,
    /// Interface names the component imports, e.g. "picket:plugin/tcp@0.3.0".
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
            Failure::MissingExport(format!(
                "{CHECK_EXPORT} with the expected functions ({e:#}); rebuild the plugin against this picket's wit/ ({}.x)",
                minor(CONTRACT_VERSION)
            ))
        })?;
        let (info, mut problems) = plugin_info(self.sandbox.describe(&pre, &source.to_string()).await?);
        problems.extend(info.problems());
        if !problems.is_empty() {
            return Err(Failure::Load(format!("{source}: its describe() declares {}", problems.join("; "))));
        }
        let loaded = Arc::new(Loaded { source, sha256: sha256.clone(), size: wasm.len(), info: info.into(), imports, exports, pre });
        self.by_sha.lock().unwrap().insert(sha256, loaded.clone());
        Ok(loaded)
    }
}

/// `describe`'s answer in host types, and what could not be taken from it (a shape whose
/// nodes point backwards, a pattern that does not compile).
fn plugin_info(info: types::Info) -> (PluginInfo, Vec<String>) {
    let mut problems = Vec::new();
    let params = info
        .params
        .into_iter()
        .map(|p| {
            let nodes: Vec<ShapeNode> = p.shape.into_iter().map(shape_node).collect();
            let shape = Shape::from_nodes(&nodes).unwrap_or_else(|e| {
                problems.push(format!("param `{}`: {e}", p.name));
                None
            });
            ParamInfo { name: p.name, kind: param_kind(p.kind), required: p.required, description: p.description, shape }
        })
        .collect();
    let info = PluginInfo {
        name: info.name,
        version: info.version,
        description: info.description,
        params,
        metrics: info
            .metrics
            .into_iter()
            .map(|m| MetricInfo {
                name: m.name,
                unit: m.unit,
                description: m.description,
                lower_is_worse: m.lower_is_worse,
                when: m.when.filter(|w| !w.trim().is_empty()),
            })
            .collect(),
        targets: info
            .targets
            .into_iter()
            .map(|t| match t {
                types::TargetShape::Url(u) => TargetShape::Url(UrlShape {
                    schemes: u
                        .schemes
                        .into_iter()
                        .map(|s| UrlScheme { name: s.name.to_ascii_lowercase(), default_port: s.default_port })
                        .collect(),
                    user_required: u.user_required,
                    example: u.example,
                }),
                types::TargetShape::HostPort => TargetShape::HostPort,
                types::TargetShape::Path => TargetShape::Path,
            })
            .collect(),
        forecasts: info
            .forecasts
            .into_iter()
            .map(|f| ForecastInfo {
                name: f.name,
                metric: f.metric,
                reaches: f.reaches,
                window: std::time::Duration::from_secs(u64::from(f.window_s)),
                description: f.description,
            })
            .collect(),
    };
    (info, problems)
}

fn shape_node(n: types::ShapeNode) -> ShapeNode {
    ShapeNode {
        kinds: n.kinds.into_iter().map(value_kind).collect(),
        keys: n
            .keys
            .into_iter()
            .map(|k| FlatKey { name: k.name, node: k.node, required: k.required, description: k.description })
            .collect(),
        other_keys: n.other_keys,
        items: n.items,
        one_of: n.one_of,
        pattern: n.pattern.map(|p| (p.regex, p.description)),
    }
}

fn value_kind(k: types::ValueKind) -> ValueKind {
    match k {
        types::ValueKind::String => ValueKind::String,
        types::ValueKind::Integer => ValueKind::Integer,
        types::ValueKind::Number => ValueKind::Number,
        types::ValueKind::Bool => ValueKind::Bool,
        types::ValueKind::Duration => ValueKind::Duration,
        types::ValueKind::Size => ValueKind::Size,
        types::ValueKind::Table => ValueKind::Table,
        types::ValueKind::List => ValueKind::List,
        types::ValueKind::Any => ValueKind::Any,
    }
}

fn param_kind(k: types::ParamKind) -> ParamKind {
    match k {
        types::ParamKind::String => ParamKind::String,
        types::ParamKind::Integer => ParamKind::Integer,
        types::ParamKind::Number => ParamKind::Number,
        types::ParamKind::Bool => ParamKind::Bool,
        types::ParamKind::Duration => ParamKind::Duration,
        types::ParamKind::Size => ParamKind::Size,
        types::ParamKind::List => ParamKind::List,
        types::ParamKind::Table => ParamKind::Table,
        types::ParamKind::Secret => ParamKind::Secret,
        types::ParamKind::Any => ParamKind::Any,
    }
}

/// "0.3.0" → "0.3": the part of a 0.x version that changes on a breaking change.
fn minor(version: &str) -> &str {
    version.rsplit_once('.').map_or(version, |(m, _)| m)
}

/// Orders "0.1" and "0.10" numerically.
fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-', '+']).map(|p| p.parse().unwrap_or(0)).collect()
}

fn missing_export_help(exports: &[String]) -> String {
    let other_version = exports.iter().find_map(|e| e.strip_prefix("picket:plugin/check@").map(|v| (e, v)));
    let ours = minor(CONTRACT_VERSION);
    match other_version {
        Some((found, version)) if version_key(version) < version_key(CONTRACT_VERSION) => format!(
            "{CHECK_EXPORT}: it exports {found}, built for plugin contract {}, which this picket no longer runs; \
             rebuild it against this picket's wit/ ({ours}.x)",
            minor(version)
        ),
        Some((found, version)) => format!(
            "{CHECK_EXPORT}: it exports {found}, built for plugin contract {}, newer than this picket's ({ours}.x); \
             run it with a newer picket, or rebuild it against this picket's wit/",
            minor(version)
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
        "{text}; picket provides picket:plugin/{{log,clock,tcp,http,disk}}@{CONTRACT_VERSION} and WASI 0.2 (deny-all): \
         rebuild the plugin against this picket's wit/plugin.wit, or run it with a picket that provides that interface"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_contract_version_is_named_with_what_to_do() {
        for old in ["0.1.0", "0.2.0"] {
            let help = missing_export_help(&[format!("picket:plugin/check@{old}")]);
            let minor = &old[..3];
            assert!(
                help.ends_with(&format!(
                    "it exports picket:plugin/check@{old}, built for plugin contract {minor}, which this picket no longer runs; \
                     rebuild it against this picket's wit/ (0.3.x)"
                )),
                "{help}"
            );
        }
        let new = missing_export_help(&["picket:plugin/check@0.10.0".into()]);
        assert!(new.contains("built for plugin contract 0.10, newer than this picket's (0.3.x); run it with a newer picket"), "{new}");
        assert!(missing_export_help(&[]).contains("it exports nothing"));
    }
}
