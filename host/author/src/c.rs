//! C plugins: bindings generated from picket's own `wit/` (wit-bindgen's C generator, the
//! same code the `wit-bindgen c` command runs), a wasm32-wasi core module from Debian's
//! clang and wasi-libc, and the component made in-process with `wit-component` and the
//! WASI preview1 adapter. So a C author needs clang and picket, nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

use wasi_preview1_component_adapter_provider::{WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER};

use super::{AuthorError, run_tool};

/// The files the generator writes: `plugin.h`, `plugin.c` and `plugin_component_type.o`
/// (the world's type, which the linker keeps as a custom section for `component new`).
pub fn bindings(wit: &str) -> Result<Vec<(String, Vec<u8>)>, AuthorError> {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("plugin.wit", wit).map_err(|e| AuthorError::Wit(format!("{e:#}")))?;
    let world = resolve.select_world(&[pkg], Some("plugin")).map_err(|e| AuthorError::Wit(format!("{e:#}")))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default().build().generate(&mut resolve, world, &mut files).map_err(|e| AuthorError::Wit(format!("{e:#}")))?;
    Ok(files.iter().map(|(n, b)| (n.to_string(), b.to_vec())).collect())
}

/// Helpers for C authors (parameters from JSON, building reports and describe info with
/// the ownership the bindings expect), written beside the bindings.
pub const HELPERS: &str = include_str!("c/picket.h");

/// Writes the bindings for `wit`, and `picket.h`, into `dir`.
pub fn write_bindings(wit: &str, dir: &Path) -> Result<Vec<PathBuf>, AuthorError> {
    std::fs::create_dir_all(dir).map_err(|e| AuthorError::io(dir, e))?;
    let mut written = Vec::new();
    for (name, bytes) in bindings(wit)? {
        let path = dir.join(&name);
        std::fs::write(&path, bytes).map_err(|e| AuthorError::io(&path, e))?;
        written.push(path);
    }
    let helpers = dir.join("picket.h");
    std::fs::write(&helpers, HELPERS).map_err(|e| AuthorError::io(&helpers, e))?;
    written.push(helpers);
    Ok(written)
}

/// Turns a wasm32-wasi core module that links the bindings' type object into a
/// component; its WASI preview1 imports go through the reactor adapter (no `_start`).
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, AuthorError> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|e| e.adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER))
        .map(|e| e.validate(true))
        .and_then(|e| e.encode())
        .map_err(|e| AuthorError::Componentize(format!("{e:#}")))
}

/// The compiler: `$CC` when set (a wasi-sdk clang, say), else `clang`.
fn compiler() -> String {
    std::env::var("CC").ok().filter(|c| !c.is_empty()).unwrap_or_else(|| "clang".to_string())
}

/// Builds every `*.c` in `dir` (plus the bindings for `wit`, regenerated into
/// `dir/bindings` so an editor finds `plugin.h`) into the component `out`, using
/// `scratch` for the core module.
pub fn build(dir: &Path, wit: &str, scratch: &Path, out: &Path) -> Result<(), AuthorError> {
    let bindings_dir = dir.join("bindings");
    write_bindings(wit, &bindings_dir)?;
    let mut sources: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| AuthorError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    if sources.is_empty() {
        return Err(AuthorError::Project(format!("{}: no .c files", dir.display())));
    }
    let core = scratch.join("core.wasm");
    let cc = compiler();
    let mut cmd = Command::new(&cc);
    cmd.current_dir(dir)
        .args(["--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])
        .arg("-I")
        .arg(&bindings_dir);
    if let Some(sysroot) = std::env::var_os("WASI_SYSROOT") {
        cmd.arg(format!("--sysroot={}", PathBuf::from(sysroot).display()));
    }
    cmd.args(&sources).arg(bindings_dir.join("plugin.c")).arg(bindings_dir.join("plugin_component_type.o")).arg("-o").arg(&core);
    run_tool(&mut cmd, &cc, "apt-get install clang lld wasi-libc libclang-rt-dev-wasm32 (or set CC to a wasi-sdk clang)")?;
    let bytes = std::fs::read(&core).map_err(|e| AuthorError::io(&core, e))?;
    let component = componentize(&bytes)?;
    std::fs::write(out, component).map_err(|e| AuthorError::io(out, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WIT;

    #[test]
    fn bindings_cover_the_whole_world() {
        let files = bindings(WIT).unwrap();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&"plugin.h") && names.contains(&"plugin.c") && names.contains(&"plugin_component_type.o"));
        let header = String::from_utf8(files.iter().find(|(n, _)| n == "plugin.h").unwrap().1.clone()).unwrap();
        // The export a C author implements, and each capability import.
        for f in [
            "exports_picket_plugin_check_check",
            "exports_picket_plugin_check_describe",
            "picket_plugin_tcp_connect",
            "picket_plugin_http_send",
            "picket_plugin_disk_stat",
        ] {
            assert!(header.contains(f), "{f} missing from plugin.h");
        }
    }

    #[test]
    fn a_broken_contract_is_reported_not_generated() {
        let err = bindings("package picket:plugin@0.1.0;\nworld plugin { export nope; }").unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
