//! `picket plugin build`: one command for every language, running the toolchain the
//! project's files name and leaving `<project>.wasm` in the project directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{AuthorError, Lang, c, cannot_start, contract, run_tool};

/// What a build produced.
#[derive(Debug)]
pub struct Built {
    pub lang: Lang,
    pub wasm: PathBuf,
    pub elapsed: Duration,
}

/// Builds the project in `dir` (its language detected unless given) into `out`, by
/// default `dir/<dir name>.wasm`.
pub fn build(dir: &Path, lang: Option<Lang>, out: Option<&Path>) -> Result<Built, AuthorError> {
    let started = Instant::now();
    if !dir.is_dir() {
        return Err(AuthorError::Project(format!("{}: not a directory", dir.display())));
    }
    let lang = match lang.or_else(|| Lang::detect(dir)) {
        Some(l) => l,
        None => {
            return Err(AuthorError::Project(format!(
                "{}: no Cargo.toml, package.json, app.py or .c file here, so no language to build; \
                 start one with `picket plugin new NAME --lang rust|python|js|c`",
                dir.display()
            )));
        }
    };
    let wasm = match out {
        Some(o) => absolute(o)?,
        None => dir.join(format!("{}.wasm", project_name(dir)?)),
    };
    let wit = contract(dir)?;
    let scratch = Scratch::new()?;
    match lang {
        Lang::Rust => rust(dir, &wasm)?,
        Lang::Python => python(dir, &scratch.wit_dir(dir, &wit)?, &wasm)?,
        Lang::Js => js(dir, &scratch.wit_dir(dir, &wit)?, &wasm)?,
        Lang::C => c::build(dir, &wit, scratch.path(), &wasm)?,
    }
    Ok(Built { lang, wasm, elapsed: started.elapsed() })
}

/// The directory's own name, which is the plugin's file name.
fn project_name(dir: &Path) -> Result<String, AuthorError> {
    let full = dir.canonicalize().map_err(|e| AuthorError::io(dir, e))?;
    Ok(full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin".to_string()))
}

fn absolute(p: &Path) -> Result<PathBuf, AuthorError> {
    std::path::absolute(p).map_err(|e| AuthorError::io(p, e))
}

/// `cargo build --release --target wasm32-wasip2`; the cdylib it reports is the component.
fn rust(dir: &Path, wasm: &Path) -> Result<(), AuthorError> {
    let out = Command::new("cargo")
        .current_dir(dir)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--message-format=json-render-diagnostics"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| cannot_start(e, "cargo", "install Rust with rustup, then `rustup target add wasm32-wasip2`"))?;
    if !out.status.success() {
        return Err(AuthorError::ToolFailed { tool: "cargo build".into(), status: out.status });
    }
    let built = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "cdylib")))
        .flat_map(|m| m["filenames"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(PathBuf::from))
        .find(|f| f.extension().is_some_and(|x| x == "wasm"));
    let Some(built) = built else {
        return Err(AuthorError::Project(format!(
            "{}: cargo built no .wasm library; the package needs `[lib] crate-type = [\"cdylib\"]`",
            dir.join("Cargo.toml").display()
        )));
    };
    std::fs::copy(&built, wasm).map_err(|e| AuthorError::io(wasm, e))?;
    Ok(())
}

/// componentize-py, with the project directory on its module path and `app` as the module.
fn python(dir: &Path, wit_dir: &Path, wasm: &Path) -> Result<(), AuthorError> {
    run_tool(
        Command::new("componentize-py")
            .arg("-d")
            .arg(wit_dir)
            .args(["-w", "plugin", "componentize", "app", "-p"])
            .arg(dir)
            .arg("-o")
            .arg(wasm),
        "componentize-py",
        "install it with `pip install componentize-py==0.25.1` (in a venv) and put it on PATH",
    )
}

/// jco from the project's own `node_modules` (installed from its lockfile first if
/// missing), so the pinned versions are the ones that run.
fn js(dir: &Path, wit_dir: &Path, wasm: &Path) -> Result<(), AuthorError> {
    let jco = dir.join("node_modules/.bin/jco");
    if !jco.exists() {
        run_tool(
            Command::new("npm").current_dir(dir).args(["install", "--no-audit", "--no-fund"]),
            "npm",
            "install Node.js 18 or newer (with npm)",
        )?;
    }
    let entry = std::fs::read_to_string(dir.join("package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|p| p["main"].as_str().map(str::to_string))
        .unwrap_or_else(|| "app.js".to_string());
    run_tool(
        Command::new(&jco)
            .current_dir(dir)
            .args(["componentize", &entry, "--wit"])
            .arg(wit_dir)
            // Without these two, componentize-js links its own HTTP server glue, which
            // imports WASI interfaces a picket plugin has no use for.
            .args(["--world-name", "plugin", "-d", "http", "-d", "fetch-event", "-o"])
            .arg(wasm),
        "jco",
        "add @bytecodealliance/jco and @bytecodealliance/componentize-js to devDependencies",
    )
}

/// A private temporary directory (created 0700 under an unpredictable name, so another
/// user cannot plant files in it), removed when dropped.
pub(crate) struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Result<Scratch, AuthorError> {
        let dir = tempfile::Builder::new().prefix("picket-build-").tempdir().map_err(|e| AuthorError::io(&std::env::temp_dir(), e))?;
        Ok(Scratch(dir))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    /// The project's `wit/` if it has one, else picket's contract written here.
    fn wit_dir(&self, dir: &Path, wit: &str) -> Result<PathBuf, AuthorError> {
        let own = dir.join("wit");
        if own.join("plugin.wit").is_file() {
            return Ok(own);
        }
        let ours = self.path().join("wit");
        std::fs::create_dir_all(&ours).map_err(|e| AuthorError::io(&ours, e))?;
        let file = ours.join("plugin.wit");
        std::fs::write(&file, wit).map_err(|e| AuthorError::io(&file, e))?;
        Ok(ours)
    }
}
