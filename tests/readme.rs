//! The README names files and folders: every one of them exists. Two
//! sources: paths written in the prose (`src/...`, `crates/.../src/...`,
//! `tests/...`, `bench/...`), and the tree of the "Layout" section, whose
//! indentation says which folder an entry is in.

use std::path::{Path, PathBuf};

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md is readable")
}

/// Where a path the README gives would be.
fn in_repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The folders whose files the prose names by path.
const ROOTS: [&str; 9] =
    ["crates/", "src/", "tests/", "bench/", "benches/", "examples/", "presets/", "samples/", "fuzz/"];

/// Paths in the prose: runs of path characters that start with one of
/// [`ROOTS`] (after a non-path character), without trailing punctuation;
/// patterns (`*`, `|`, `<...>`) are not paths.
fn prose_paths(text: &str) -> Vec<String> {
    let is_path_char = |c: char| c.is_ascii_alphanumeric() || "_./-*|<>".contains(c);
    let mut found = Vec::new();
    for word in text.split(|c: char| !is_path_char(c)) {
        let word = word.trim_end_matches(['.', '/']);
        if ROOTS.iter().any(|root| word.starts_with(root)) && !word.contains(['*', '|', '<', '>']) {
            found.push(word.to_string());
        }
    }
    found
}

/// The entries of the Layout section's tree: each line's first word, joined
/// to the folders above it by indentation (an entry ending in `/` is a
/// folder; a continuation line, indented past its entry's description
/// column, has no entry).
fn layout_paths(text: &str) -> Vec<String> {
    let section = text.split("## Layout").nth(1).expect("the README has a Layout section");
    let tree = section.split("```text").nth(1).and_then(|t| t.split("```").next()).expect("the Layout has a tree");
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut found = Vec::new();
    for line in tree.lines().filter(|l| !l.trim().is_empty()) {
        let indent = line.len() - line.trim_start().len();
        let first = line.split_whitespace().next().unwrap_or_default();
        // An entry is a file name (with an extension) or a folder (ending in `/`) at most 4 deep.
        let is_entry = indent <= 4 && (first.ends_with('/') || first.contains('.')) && !first.contains(['*', '|']);
        if !is_entry {
            continue;
        }
        stack.retain(|(depth, _)| *depth < indent);
        let parent: String = stack.iter().map(|(_, folder)| folder.as_str()).collect();
        let path = format!("{parent}{first}");
        if first.ends_with('/') {
            stack.push((indent, first.to_string()));
        }
        found.push(path);
    }
    found
}

#[test]
fn every_path_in_the_prose_exists() {
    let paths = prose_paths(&readme());
    assert!(paths.len() > 20, "the parser found too few paths to be right: {paths:?}");
    let missing: Vec<&String> = paths.iter().filter(|p| !in_repo(p).exists()).collect();
    assert!(missing.is_empty(), "README.md names paths that do not exist: {missing:?}");
}

#[test]
fn every_entry_of_the_layout_tree_exists() {
    let paths = layout_paths(&readme());
    for expected in ["crates/chiffre-core/src/layers/", "crates/chiffre-core/Cargo.toml", "src/cli/", "tests/"] {
        assert!(paths.iter().any(|p| p == expected), "the layout parser missed {expected}: {paths:?}");
    }
    let missing: Vec<&String> = paths.iter().filter(|p| !in_repo(p).exists()).collect();
    assert!(missing.is_empty(), "the README's Layout names paths that do not exist: {missing:?}");
}

#[test]
fn the_parsers_see_a_missing_path() {
    let text = "see `src/no_such_file.rs`.\n## Layout\n```text\nsrc/\n  gone.rs    nothing\n```\n";
    assert_eq!(prose_paths(text), vec!["src/no_such_file.rs"]);
    assert_eq!(layout_paths(text), vec!["src/", "src/gone.rs"]);
    assert!(!in_repo("src/gone.rs").exists());
}
