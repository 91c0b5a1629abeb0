//! `cargo xtask cycles`: the data flows one way inside each crate too.
//!
//! Between crates cargo already refuses cycles. Inside a crate, each top-level module (a
//! `src/NAME.rs` or `src/NAME/` folder) may use its siblings through `crate::NAME`; this
//! builds that graph for every crate under `host/` and fails on a cycle, naming it. The
//! crate root (`lib.rs`) declares and wires the modules and is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

pub fn check(root: &Path) -> Result<ExitCode> {
    let mut found = Vec::new();
    let mut crates = 0;
    for entry in std::fs::read_dir(root.join("host")).context("host/")? {
        let src = entry?.path().join("src");
        if !src.join("lib.rs").is_file() && !src.join("main.rs").is_file() {
            continue;
        }
        crates += 1;
        let graph = graph(&src)?;
        if let Some(cycle) = find_cycle(&graph) {
            found.push(format!("{}: {}", src.display(), cycle.join(" → ")));
        }
    }
    if found.is_empty() {
        println!("cycles: none among the modules of {crates} host crates");
        return Ok(ExitCode::SUCCESS);
    }
    for f in &found {
        eprintln!("module cycle in {f}");
    }
    Ok(ExitCode::FAILURE)
}

/// Top-level module → the sibling modules it names with `crate::`.
fn graph(src: &Path) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src)? {
        let path = entry?.path();
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if path.is_dir() {
            modules.entry(name).or_default().extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            modules.entry(name).or_default().push(path);
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (name, files) in &modules {
        let mut uses = BTreeSet::new();
        for file in files {
            // Code only: a doc link to a sibling is not a dependency.
            let text: String =
                std::fs::read_to_string(file)?.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let used: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if used != *name && names.contains(&used) {
                    uses.insert(used);
                }
            }
        }
        graph.insert(name.clone(), uses);
    }
    Ok(graph)
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(out)
}

/// A cycle as the modules along it, first repeated at the end.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(n: &str, g: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_found_and_a_chain_is_not() {
        let g = |edges: &[(&str, &str)]| {
            let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (a, b) in edges {
                g.entry(a.to_string()).or_default().insert(b.to_string());
                g.entry(b.to_string()).or_default();
            }
            g
        };
        assert_eq!(find_cycle(&g(&[("api", "live"), ("live", "events")])), None);
        assert_eq!(find_cycle(&g(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap(), vec!["a", "b", "c", "a"]);
    }
}
