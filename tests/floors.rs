//! The floors of docs/ARCHITECTURE.md hold: each module imports only from floors below its
//! own, each module's header names its floor as the table does, and no two files of one
//! module import each other (directly or round a loop). The table in ARCHITECTURE.md is the
//! one source: this test reads it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module name -> floor, from the "## Floors" table.
fn floors() -> BTreeMap<String, u32> {
    let doc = fs::read_to_string(Path::new(ROOT).join("docs/ARCHITECTURE.md")).unwrap();
    let table = doc
        .split("## Floors")
        .nth(1)
        .expect("ARCHITECTURE.md has a Floors section");
    let mut out = BTreeMap::new();
    for line in table.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(floor), Some(code)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Ok(floor) = floor.parse::<u32>() else {
            continue;
        };
        for path in code.split('`').filter(|s| s.starts_with("src/")) {
            let name = path
                .trim_start_matches("src/")
                .trim_end_matches('/')
                .trim_end_matches(".rs");
            if name != "main" {
                out.insert(name.to_string(), floor);
            }
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if dir.is_file() {
        return vec![dir.to_path_buf()];
    }
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The code of a file without comment lines (docs may name any module).
fn code(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifiers following `prefix` (`crate::` or `super::`) in `text`.
fn names_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in text.split(prefix).skip(1) {
        if let Some(rest) = part.strip_prefix('{') {
            // use super::{a, b::c, self}
            let inner = rest.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let id: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !id.is_empty() {
                    out.insert(id);
                }
            }
        } else {
            let id: String = part
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !id.is_empty() {
                out.insert(id);
            }
        }
    }
    out
}

fn module_path(name: &str) -> PathBuf {
    let dir = Path::new(ROOT).join("src").join(name);
    if dir.is_dir() {
        dir
    } else {
        Path::new(ROOT).join("src").join(format!("{name}.rs"))
    }
}

#[test]
fn every_module_has_a_floor_and_its_header_says_which() {
    let floors = floors();
    let src = Path::new(ROOT).join("src");
    for e in fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" || name == "main" {
            continue;
        }
        let floor = floors
            .get(&name)
            .unwrap_or_else(|| panic!("src/{name} is not in ARCHITECTURE.md's floor table"));
        let header_file = if p.is_dir() {
            p.join("mod.rs")
        } else {
            p.clone()
        };
        let first = fs::read_to_string(&header_file)
            .unwrap()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            first.starts_with(&format!("//! Floor {floor}:")),
            "{}: the header should start with `//! Floor {floor}:` as in ARCHITECTURE.md, not {first:?}",
            header_file.display()
        );
    }
}

#[test]
fn modules_import_only_from_floors_below() {
    let floors = floors();
    let mut bad = Vec::new();
    for (name, &floor) in &floors {
        for file in rust_files(&module_path(name)) {
            for used in names_after(&code(&file), "crate::") {
                let Some(&f) = floors.get(&used) else {
                    continue; // an item of lib.rs, such as a re-export
                };
                if used != *name && f >= floor {
                    bad.push(format!(
                        "{} (floor {floor}) imports {used} (floor {f})",
                        file.strip_prefix(ROOT).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports that go up or sideways:\n{}",
        bad.join("\n")
    );
}

/// Files (or subfolders) of one module folder that import each other through `super::`.
fn sibling_edges(dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut nodes = BTreeSet::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        if stem != "mod" && (p.is_dir() || p.extension().is_some_and(|x| x == "rs")) {
            nodes.insert(stem);
        }
    }
    let mut edges = BTreeMap::new();
    for node in &nodes {
        let path = if dir.join(node).is_dir() {
            dir.join(node)
        } else {
            dir.join(format!("{node}.rs"))
        };
        // A subfolder's files reach this level through `super::super::`; its own `super::`
        // means the subfolder's mod.rs.
        let prefix = if path.is_dir() {
            "super::super::"
        } else {
            "super::"
        };
        let mut to = BTreeSet::new();
        for f in rust_files(&path) {
            for used in names_after(&code(&f), prefix) {
                if nodes.contains(&used) && used != *node {
                    to.insert(used);
                }
            }
        }
        edges.insert(node.clone(), to);
    }
    edges
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn no_two_files_of_a_module_import_each_other() {
    let mut cycles = Vec::new();
    let mut dirs = vec![Path::new(ROOT).join("src")];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            }
        }
        if d.join("mod.rs").is_file() {
            if let Some(c) = find_cycle(&sibling_edges(&d)) {
                cycles.push(format!(
                    "{}: {}",
                    d.strip_prefix(ROOT).unwrap().display(),
                    c.join(" -> ")
                ));
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let e = |pairs: &[(&str, &str)]| {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            m.entry(a.to_string()).or_default().insert(b.to_string());
            m.entry(b.to_string()).or_default();
        }
        m
    };
    assert!(find_cycle(&e(&[("a", "b"), ("b", "c")])).is_none());
    let c = find_cycle(&e(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
    assert_eq!(
        names_after(
            "use super::{batch::X, pool, self};\nsuper::kernels::K",
            "super::"
        ),
        ["batch", "kernels", "pool", "self"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}

/// Files stay small enough to read in one sitting; the case table is data, not logic.
#[test]
fn no_source_file_is_over_450_lines() {
    const DATA_TABLES: &[&str] = &["src/check/suite.rs"];
    let mut long = Vec::new();
    for f in rust_files(&Path::new(ROOT).join("src")) {
        let rel = f.strip_prefix(ROOT).unwrap().display().to_string();
        let n = fs::read_to_string(&f).unwrap().lines().count();
        if n > 450 && !DATA_TABLES.contains(&rel.as_str()) {
            long.push(format!("{rel}: {n} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "split these by concern:\n{}",
        long.join("\n")
    );
}
