//! Builds the wasm plugins (the built-ins and the test fixtures) in one nested cargo
//! invocation for wasm32-wasip2, embeds the built-ins in the binary, and tells the tests
//! where the fixtures are (`PICKET_FIXTURE_DIR`).
//!
//! The nested build uses its own target dir (`target/plugins`) so it never waits on the
//! outer build's lock, and the `plugin` profile (size-optimised, LTO).

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Embedded in the binary: `plugin = "<name>"` in a check file.
const BUILTINS: &[&str] = &["http", "tcp", "disk", "redis", "postgres"];
/// Built for the tests only.
const FIXTURES: &[&str] = &["fixtures"];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().and_then(Path::parent).unwrap().to_path_buf();
    for dir in ["plugins", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { root.join(d) })
        .unwrap_or_else(|| root.join("target"))
        .join("plugins");

    check_wasm_target();

    let mut cmd = nested_cargo(&root, &target_dir);
    for p in BUILTINS.iter().chain(FIXTURES) {
        cmd.args(["-p", &format!("picket-plugin-{p}")]);
    }
    build(&mut cmd);
    // The import-free no-op fixture is its own workspace (see its Cargo.toml), so it gets
    // its own, small invocation.
    build(nested_cargo(&root, &target_dir).args(["--manifest-path", "plugins/fixtures/noop/Cargo.toml"]));

    let wasm_dir = target_dir.join("wasm32-wasip2").join("plugin");
    let out_dir = PathBuf::from(env::var("OUT_DIR").unwrap());
    let mut src = String::from("/// (name, component bytes) of every built-in plugin.\npub const BUILTINS: &[(&str, &[u8])] = &[\n");
    for name in BUILTINS {
        let file = wasm_file(&wasm_dir, name);
        // Copy so the embedded bytes cannot change under a later nested build.
        let copy = out_dir.join(format!("{name}.wasm"));
        std::fs::copy(&file, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
        writeln!(src, "    ({name:?}, include_bytes!({:?})),", copy.display().to_string()).unwrap();
    }
    src.push_str("];\n");
    std::fs::write(out_dir.join("builtins.rs"), src).unwrap();

    let fixtures = out_dir.join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    for name in FIXTURES {
        std::fs::copy(wasm_file(&wasm_dir, name), fixtures.join(format!("{name}.wasm"))).unwrap();
    }
    std::fs::copy(wasm_dir.join("picket_fixture_noop.wasm"), fixtures.join("noop.wasm")).unwrap();
    println!("cargo:rustc-env=PICKET_FIXTURE_DIR={}", fixtures.display());
}

/// `cargo build` of wasm plugins, isolated from the outer (host-target) build's flags.
fn nested_cargo(root: &Path, target_dir: &Path) -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root).args(["build", "--profile", "plugin", "--target", "wasm32-wasip2", "--target-dir"]).arg(target_dir);
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    cmd
}

fn build(cmd: &mut Command) {
    let out = cmd.output().expect("run cargo to build the wasm plugins");
    if !out.status.success() {
        panic!(
            "building the wasm plugins failed ({cmd:?}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn wasm_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("picket_plugin_{name}.wasm"))
}

fn check_wasm_target() {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).args(["--print", "sysroot"]).output().expect("run rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !sysroot.join("lib/rustlib/wasm32-wasip2").exists() {
        panic!("the wasm32-wasip2 target is not installed; run `rustup target add wasm32-wasip2` (the README's commands do this)");
    }
}
