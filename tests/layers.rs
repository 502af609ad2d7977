//! The core's modules form layers, and a module only uses the layers below it: no module reaches
//! up, so the imports have no cycle. ARCHITECTURE.md states the same order; this test reads every
//! `crate::MODULE` path in `core/src/` and holds the code to it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use modules of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["span", "text"],
    &["diagnostic", "json"],
    &["syntax", "render"],
    &["model"],
    &["check", "format", "coverage"],
    &["graph"],
    &["pipeline"],
    &["route"],
    &["files", "explain", "report"],
    &["testing", "diff", "simulate"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`route` for `core/src/route/state/mod.rs`).
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap();
    let first = relative
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::NAME` in the code of a file (comments left out).
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push((index + 1, name));
            rest = after;
        }
        // `use crate::{a, b}` names several modules at once.
        if let Some(group) = code.split("crate::{").nth(1) {
            for name in group.split(',') {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((index + 1, name));
                }
            }
        }
    }
    found
}

#[test]
fn core_modules_only_use_the_layers_below_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("core/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let module = module_of(&root, file);
        if module == "lib" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            problems.push(format!(
                "{}: module `{module}` is in no layer",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (line, used) in uses(&text) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(layer) if layer < own => {}
                Some(_) => problems.push(format!(
                    "{}:{line}: `{module}` uses `{used}`, which is not below it",
                    file.display()
                )),
                None => problems.push(format!(
                    "{}:{line}: `{module}` uses `crate::{used}`: name the module that owns it",
                    file.display()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn owned_items_are_used_only_through_their_owners() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("core/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    for file in files {
        let module = module_of(&root, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        for (needle, owner) in [
            ("crate::check::FieldType", "check"),
            ("crate::route::clock", "route"),
            ("crate::testing::", "testing"),
        ] {
            assert!(
                module == owner || !text.contains(needle),
                "{}: uses `{needle}` from outside `{owner}`",
                file.display()
            );
        }
    }
}

#[test]
fn the_layers_are_those_architecture_md_states() {
    let architecture =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let stated: Vec<String> = LAYERS
        .iter()
        .map(|layer| {
            layer
                .iter()
                .map(|module| format!("`{module}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect();
    let line = format!("Layers, lowest first: {}.", stated.join(" < "));
    assert!(
        architecture.contains(&line),
        "ARCHITECTURE.md should state: {line}"
    );
}
