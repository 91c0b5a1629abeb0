//! `picket plugin inspect|list|precompile|new|build|bindgen`: what a plugin is, exports,
//! imports, and what a check using it would have to grant; compiling large plugins into
//! the cache ahead of time; and the authoring commands (see [`crate::author`]).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{Global, InfoFormat, exit};
use crate::author::{self, Lang};
use crate::plugin::{Loaded, Plugins, builtin_names};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Show a plugin's describe info, exports, imports and the grants it needs.
    Inspect {
        /// A built-in name or a path to a .wasm component.
        plugin: String,
        /// Fail unless the file's sha256 is this.
        #[arg(long)]
        sha256: Option<String>,
        #[arg(long, value_enum, default_value_t = InfoFormat::Human)]
        format: InfoFormat,
    },
    /// List the built-in plugins.
    List,
    /// Compile plugin files into the cache now, for `picket check` and `picket run` both
    /// (their engines differ), so no run pays for it (Python and JavaScript plugins take
    /// seconds to compile).
    Precompile {
        /// .wasm component files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Start a plugin project: a working sample check, its build command and a README.
    New {
        /// The plugin's name (lowercase, digits, '-', '_'); also its directory by default.
        name: String,
        #[arg(long, value_enum)]
        lang: Lang,
        /// Where to create it [default: ./NAME].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Build the plugin project in DIR into DIR/<dir name>.wasm with its language's
    /// toolchain, then load it as `picket check` would.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The project's language [default: told by its files].
        #[arg(long, value_enum)]
        lang: Option<Lang>,
        /// Where to write the component.
        #[arg(long, short)]
        out: Option<PathBuf>,
    },
    /// Write C bindings (plugin.h, plugin.c, plugin_component_type.o) for the contract in
    /// ./wit/plugin.wit, or this picket's own when there is none.
    Bindgen {
        #[arg(long, value_enum, default_value_t = Lang::C)]
        lang: Lang,
        #[arg(long, default_value = "bindings")]
        out: PathBuf,
    },
}

pub async fn run(cmd: PluginCommand, global: &Global) -> u8 {
    match &cmd {
        PluginCommand::Precompile { files } => return precompile(files, global).await,
        PluginCommand::New { name, lang, dir } => return new(name, *lang, dir.as_deref()),
        PluginCommand::Build { dir, lang, out } => return build(dir, *lang, out.as_deref(), global).await,
        PluginCommand::Bindgen { lang, out } => return bindgen(*lang, out),
        PluginCommand::Inspect { .. } | PluginCommand::List => {}
    }
    let plugins = match super::plugins(global) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match cmd {
        PluginCommand::List => {
            for name in builtin_names() {
                match plugins.builtin(name).await {
                    Some(Ok(p)) => println!("{:<8} {}", name, p.info.description),
                    Some(Err(e)) => println!("{name:<8} (broken: {e})"),
                    None => {}
                }
            }
            exit::OK
        }
        PluginCommand::Inspect { plugin, sha256, format } => {
            let loaded = load(&plugins, &plugin, sha256.as_deref()).await;
            let loaded = match loaded {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("picket: {plugin}: {e}");
                    return exit::CONFIG;
                }
            };
            match format {
                InfoFormat::Json => println!("{}", serde_json::to_string_pretty(&inspect_json(&loaded)).expect("serialize")),
                InfoFormat::Human => print!("{}", inspect_human(&loaded)),
            }
            exit::OK
        }
        _ => unreachable!("handled above"),
    }
}

async fn precompile(files: &[PathBuf], global: &Global) -> u8 {
    if global.no_cache {
        eprintln!("picket: precompile writes the compile cache; drop --no-cache");
        return exit::USAGE;
    }
    let mut code = exit::OK;
    for (what, workload) in [("picket check", crate::engine::Workload::OneShot), ("picket run", crate::engine::Workload::Daemon)] {
        let plugins = match super::plugins_for(global, workload) {
            Ok(p) => p,
            Err(c) => return c,
        };
        for file in files {
            let started = std::time::Instant::now();
            match plugins.file(file, None).await {
                Ok(p) => println!(
                    "{}: ready for {what} in {} ({} {}, sha256 {})",
                    file.display(),
                    crate::units::format_duration(started.elapsed()),
                    p.info.name,
                    p.info.version,
                    &p.sha256[..12]
                ),
                Err(e) => {
                    eprintln!("picket: {}: {e}", file.display());
                    code = exit::CONFIG;
                }
            }
        }
    }
    code
}

fn new(name: &str, lang: Lang, dir: Option<&Path>) -> u8 {
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(name));
    match author::scaffold::create(name, lang, &dir) {
        Ok(files) => {
            println!("created a {} plugin in {}:", lang.name(), dir.display());
            for f in files {
                println!("  {}", f.strip_prefix(&dir).unwrap_or(&f).display());
            }
            println!("next: cd {} && picket plugin build && picket plugin inspect {name}.wasm", dir.display());
            exit::OK
        }
        Err(e) => {
            eprintln!("picket: {e}");
            exit::USAGE
        }
    }
}

async fn build(dir: &Path, lang: Option<Lang>, out: Option<&Path>, global: &Global) -> u8 {
    let (dir, out) = (dir.to_path_buf(), out.map(Path::to_path_buf));
    // The toolchains run for seconds to minutes; keep them off the async workers.
    let built = tokio::task::spawn_blocking(move || author::build::build(&dir, lang, out.as_deref())).await;
    let built = match built {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            eprintln!("picket: {e}");
            return exit::CONFIG;
        }
        Err(e) => {
            eprintln!("picket: the build stopped: {e}");
            return exit::INTERNAL;
        }
    };
    // Loading it checks the contract now rather than at the first run, and fills the
    // compile cache for `picket check`.
    let plugins = match super::plugins(global) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let loading = std::time::Instant::now();
    match plugins.file(&built.wasm, None).await {
        Ok(p) => {
            println!(
                "built {} ({}, {} KiB) in {}: {} {} — {}",
                built.wasm.display(),
                built.lang.name(),
                p.size / 1024,
                crate::units::format_duration(built.elapsed),
                p.info.name,
                p.info.version,
                p.info.description
            );
            println!("sha256 {}; compiled and cached for picket check in {}", p.sha256, crate::units::format_duration(loading.elapsed()));
            exit::OK
        }
        Err(e) => {
            eprintln!("picket: {} was built but is not a plugin picket can run: {e}", built.wasm.display());
            exit::CONFIG
        }
    }
}

fn bindgen(lang: Lang, out: &Path) -> u8 {
    if lang != Lang::C {
        eprintln!(
            "picket: bindgen writes C bindings; Rust (wit_bindgen::generate!), Python (componentize-py) and JavaScript (jco) make their own"
        );
        return exit::USAGE;
    }
    let written = author::contract(Path::new(".")).and_then(|wit| author::c::write_bindings(&wit, out));
    match written {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("picket: {e}");
            exit::CONFIG
        }
    }
}

async fn load(plugins: &Plugins, name: &str, sha256: Option<&str>) -> Result<std::sync::Arc<Loaded>, String> {
    let is_path = name.contains('/') || name.ends_with(".wasm");
    if !is_path {
        if let Some(r) = plugins.builtin(name).await {
            return r.map_err(|e| e.to_string());
        }
        return Err(format!("no built-in plugin of that name (built-ins: {})", builtin_names().collect::<Vec<_>>().join(", ")));
    }
    plugins.file(&PathBuf::from(name), sha256).await.map_err(|e| e.to_string())
}

/// The grants each picket capability import needs, in words.
pub fn grant_needed(import: &str) -> Option<&'static str> {
    let iface = import.split('@').next().unwrap_or(import);
    Some(match iface {
        "picket:plugin/tcp" => "tcp: target = \"host:port\" (or scheme://host:port), or allow = [\"tcp:HOST:PORT\"]",
        "picket:plugin/http" => "http: target = \"http(s)://host:port/...\", or allow = [\"http:URL\"]",
        "picket:plugin/disk" => "disk: target = \"/path\", or allow = [\"disk:/PATH\"]",
        _ => return None,
    })
}

fn inspect_json(p: &Loaded) -> serde_json::Value {
    serde_json::json!({
        "info": &*p.info,
        "source": p.source,
        "sha256": p.sha256,
        "size": p.size,
        "exports": p.exports,
        "imports": p.imports,
        "grants_needed": p.imports.iter().filter_map(|i| grant_needed(i)).collect::<Vec<_>>(),
    })
}

/// The inside of a shaped param, one line per key (`expect.status`), list item
/// (`require[]`) or other key (`headers.*`), each with the kinds it allows.
fn shape_lines(out: &mut String, path: &str, shape: &crate::shape::Shape) {
    let kinds = |s: &crate::shape::Shape| {
        if s.kinds.is_empty() { "any".to_string() } else { s.kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join("|") }
    };
    let extra = |s: &crate::shape::Shape| {
        let mut t = String::new();
        if !s.one_of.is_empty() {
            t.push_str(&format!(" (one of {})", s.one_of.join(", ")));
        }
        if let Some(p) = &s.pattern {
            t.push_str(&format!(" (a string: {})", if p.description.is_empty() { p.as_str() } else { &p.description }));
        }
        t
    };
    let mut line = |at: String, s: &crate::shape::Shape, req: &str, description: &str| {
        out.push_str(&format!("    {at:<16} {:<9} {req:<9} {description}{}\n", kinds(s), extra(s)));
        shape_lines(out, &at, s);
    };
    for k in &shape.keys {
        line(format!("{path}.{}", k.name), &k.shape, if k.required { "required" } else { "optional" }, &k.description);
    }
    if let Some(o) = &shape.other_keys {
        line(format!("{path}.*"), o, "", "any other key");
    }
    if let Some(i) = &shape.items {
        line(format!("{path}[]"), i, "", "each item");
    }
}

fn inspect_human(p: &Loaded) -> String {
    let i = &p.info;
    let mut out = format!("{} {} — {}\n", i.name, i.version, i.description);
    out.push_str(&format!("source   {} ({} bytes, sha256 {})\n", p.source, p.size, p.sha256));
    out.push_str(&format!("exports  {}\n", p.exports.join(", ")));
    out.push_str("imports\n");
    for imp in &p.imports {
        let note = if imp.starts_with("wasi:") {
            "provided, deny-all (no files, env, sockets)"
        } else {
            grant_needed(imp).unwrap_or("always granted")
        };
        out.push_str(&format!("  {imp:<40} {note}\n"));
    }
    if !i.params.is_empty() {
        out.push_str("params\n");
        for prm in &i.params {
            let req = if prm.required { "required" } else { "optional" };
            out.push_str(&format!("  {:<18} {:<9} {req:<9} {}\n", prm.name, prm.kind, prm.description));
            if let Some(shape) = &prm.shape {
                shape_lines(&mut out, &prm.name, shape);
            }
        }
    }
    if !i.metrics.is_empty() {
        out.push_str("metrics\n");
        for m in &i.metrics {
            let dir = if m.lower_is_worse { " (lower is worse)" } else { "" };
            let unit = if m.unit.is_empty() { "count" } else { &m.unit };
            let only = m.when.as_ref().map(|w| format!("; reported only {w}")).unwrap_or_default();
            out.push_str(&format!("  {:<18} {unit:<6} {}{dir}{only}\n", m.name, m.description));
        }
    }
    if !i.forecasts.is_empty() {
        out.push_str("forecasts (picket run; a check's own `forecast` of the name replaces one)\n");
        for f in &i.default_forecasts() {
            out.push_str(&format!(
                "  {:<18} days   when `{}` reaches {}, from its {} trend\n",
                f.name,
                f.metric,
                f.reaches_text,
                match f.window.as_secs() {
                    s if s >= 86_400 && s % 86_400 == 0 => format!("{}-day", s / 86_400),
                    _ => crate::units::format_duration(f.window),
                }
            ));
        }
    }
    out.push_str("targets\n");
    if i.targets.is_empty() {
        out.push_str("  any: an http(s) URL, host:port or an absolute path, granting what it names\n");
    }
    for t in &i.targets {
        out.push_str(&format!("  {t}\n"));
    }
    out
}
