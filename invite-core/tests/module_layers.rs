//! invite-core's modules import in one direction: no top-level module reaches, through
//! `crate::…` paths, a module that reaches it back. The layers this keeps (ids, contact,
//! token, role, expiry → invitation → ports → service) are what lets a reader, or a host
//! implementing a port, take one module at a time. `testing` (test support) and each
//! file's `#[cfg(test)]` part are left out: tests may reach anywhere.

#![allow(clippy::expect_used)] // a test: a file it cannot read fails it

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `.rs` files under `dir`, recursively.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules of the crate (files and directories under `src/`), except the
/// crate root and test support.
fn modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .expect("read src")
        .map(|entry| {
            let path = entry.expect("dir entry").path();
            path.file_stem().expect("a name").to_string_lossy().into_owned()
        })
        .filter(|name| name != "lib" && name != "testing")
        .collect()
}

/// The top-level modules `text` names in `crate::<module>` paths.
fn reached(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    text.match_indices("crate::")
        .filter_map(|(at, prefix)| {
            let rest = &text[at + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            modules.contains(&name).then_some(name)
        })
        .collect()
}

/// Which top-level module imports which, from the non-test part of every file.
fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules(src);
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component");
        let owner = Path::new(first.as_os_str())
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if !modules.contains(&owner) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read file");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let targets = reached(code, &modules);
        let edges = graph.entry(owner.clone()).or_default();
        edges.extend(targets.into_iter().filter(|t| *t != owner));
    }
    graph
}

/// A cycle of the graph, if it has one (as the path that closes it).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut found = path[start..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_core_modules_import_in_one_direction() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph(&src);
    // The check sees the layers it is about.
    for (module, below) in [
        ("invitation", "ids"),
        ("ports", "invitation"),
        ("service", "ports"),
    ] {
        assert!(
            graph.get(module).is_some_and(|edges| edges.contains(below)),
            "{module} should import {below}: {graph:?}"
        );
    }
    assert_eq!(cycle(&graph), None, "a cycle among invite-core's modules");
}

#[test]
fn a_cycle_is_found() {
    let edge = |a: &str, b: &str| (a.to_owned(), BTreeSet::from([b.to_owned()]));
    let looped = BTreeMap::from([edge("answer", "ports"), edge("ports", "answer")]);
    assert_eq!(
        cycle(&looped),
        Some(vec!["answer".to_owned(), "ports".to_owned(), "answer".to_owned()])
    );
    let layered = BTreeMap::from([edge("service", "ports"), edge("ports", "ids")]);
    assert_eq!(cycle(&layered), None);
}
