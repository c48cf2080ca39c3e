//! The module graph, read from the source: every `crate::…` and `super::…` path in `src/`
//! (use statements and inline paths, test modules left out) is an arrow from the file that
//! writes it to the file it names. The layers of DESIGN.md §1-2 must hold (an arrow only runs
//! down: cli → pipeline → plugin | state → project | singer → vocab), no files may import each
//! other in a circle, and no `static` may hold run state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of each top-level module: an arrow must go to a strictly lower one.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "cli" => 5,
        "pipeline" => 4,
        "plugin" | "state" => 3,
        "project" | "singer" => 2,
        "vocab" => 1,
        _ => return None,
    })
}

/// The source files as module paths (`src/plugin/build.rs` → `["plugin", "build"]`).
fn modules() -> BTreeMap<Vec<String>, PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            out.insert(parts, path);
        }
    }
    out
}

/// The text of a file without comments and without its `#[cfg(test)]` module.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a file names: `use` trees expanded (`use a::{b, c::d}` → `a::b`, `a::c::d`),
/// and inline `crate::x::y` / `super::x` paths.
fn paths_in(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        let tail = &rest[i + 4..];
        let Some(end) = tail.find(';') else { break };
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
            let tree: String = tail[..end].chars().filter(|c| !c.is_whitespace()).collect();
            expand(&tree, "", &mut out);
        }
        rest = &tail[end..];
    }
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            let ident_before = code[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if !ident_before {
                out.push(path.trim_end_matches(':').to_string());
            }
            from = at + start.len();
        }
    }
    out
}

fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim_start_matches("::");
    match tree.find('{') {
        None => {
            for part in split_top(tree) {
                let part = part.split(" as ").next().unwrap_or(part);
                out.push(format!("{prefix}{part}"));
            }
        }
        Some(open) if split_top(tree).len() == 1 => {
            let head = &tree[..open];
            let inner = &tree[open + 1..tree.len() - 1];
            for part in split_top(inner) {
                expand(part, &format!("{prefix}{head}"), out);
            }
        }
        Some(_) => {
            for part in split_top(tree) {
                expand(part, prefix, out);
            }
        }
    }
}

/// Splits at commas outside braces.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut parts) = (0, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        parts.push(&s[start..]);
    }
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

/// The file a path names, from the module of the file that writes it.
fn target(
    path: &str,
    from: &[String],
    files: &BTreeMap<Vec<String>, PathBuf>,
) -> Option<Vec<String>> {
    let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    let mut base: Vec<String> = match parts.first() {
        Some(&"crate") => Vec::new(),
        Some(&"super") => {
            // `super` of `a/b.rs` (module `a::b`) is `a`; of `a/mod.rs` (module `a`) it is
            // the crate: popping one part per `super` gives both.
            let mut m = from.to_vec();
            let mut ups = 0;
            while parts.get(ups) == Some(&"super") {
                ups += 1;
            }
            for _ in 0..ups {
                m.pop();
            }
            parts.drain(..ups - 1);
            m
        }
        _ => return None,
    };
    parts.remove(0);
    let mut best = None;
    for p in parts {
        base.push(p.to_string());
        if files.contains_key(&base) {
            best = Some(base.clone());
        } else {
            break;
        }
    }
    best.or_else(|| files.contains_key(&base[..0]).then(Vec::new))
}

/// Paths written through a module imported by name (`use crate::pipeline::{self}` and then
/// `pipeline::plan::plan(…)`), rewritten to start from `crate::`.
fn aliased_paths(
    code: &str,
    imported: &[String],
    from: &[String],
    files: &BTreeMap<Vec<String>, PathBuf>,
) -> Vec<String> {
    let mut out = Vec::new();
    for path in imported {
        let path = path.trim_end_matches("::self");
        let Some(module) = target(path, from, files) else {
            continue;
        };
        let alias = path.rsplit("::").next().unwrap_or("");
        if module.last().map(String::as_str) != Some(alias) || alias.is_empty() {
            continue;
        }
        let needle = format!("{alias}::");
        let mut start = 0;
        while let Some(i) = code[start..].find(&needle) {
            let at = start + i;
            let glued = code[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if !glued {
                let rest: String = code[at + needle.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                out.push(format!("crate::{}::{rest}", module.join("::")));
            }
            start = at + needle.len();
        }
    }
    out
}

/// Arrows between files (module paths), each with the path that makes it.
fn arrows() -> BTreeMap<(Vec<String>, Vec<String>), String> {
    let files = modules();
    let mut out = BTreeMap::new();
    for (module, path) in &files {
        let is_mod_file = path.file_name().is_some_and(|n| n == "mod.rs");
        let code = code_of(path);
        let mut named_paths = paths_in(&code);
        named_paths.extend(aliased_paths(&code, &named_paths, module, &files));
        for named in named_paths {
            let Some(to) = target(&named, module, &files) else {
                continue;
            };
            // A module's own face (`mod.rs` re-exporting its parts) is not an arrow.
            let own_part = is_mod_file && to.len() > module.len() && to.starts_with(module);
            if to == *module || to.is_empty() || own_part {
                continue;
            }
            out.entry((module.clone(), to)).or_insert(named);
        }
    }
    out
}

#[test]
fn arrows_only_run_down_the_layers() {
    let mut up = Vec::new();
    for ((from, to), named) in arrows() {
        let (Some(a), Some(b)) = (
            from.first().and_then(|m| rank(m)),
            to.first().and_then(|m| rank(m)),
        ) else {
            continue;
        };
        if from[0] != to[0] && a <= b {
            up.push(format!("{} -> {} ({named})", from.join("/"), to.join("/")));
        }
    }
    assert!(
        up.is_empty(),
        "arrows that do not run down:\n{}",
        up.join("\n")
    );
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (from, to) in arrows().into_keys() {
        graph.entry(from).or_default().insert(to);
    }
    // Every file that reaches itself is on a circle.
    let mut circles = Vec::new();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&Vec<String>> = graph[start].iter().collect();
        while let Some(node) = stack.pop() {
            if node == start {
                circles.push(start.join("/"));
                break;
            }
            if seen.insert(node.clone()) {
                stack.extend(graph.get(node).into_iter().flatten());
            }
        }
    }
    assert!(circles.is_empty(), "files on an import circle: {circles:?}");
}

#[test]
fn the_reader_of_the_graph_sees_known_arrows() {
    // The checks above are only as good as this reader: it must see real arrows, or an empty
    // graph would pass them.
    let arrows = arrows();
    let has = |from: &str, to: &str| {
        let split = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
        arrows.contains_key(&(split(from), split(to)))
    };
    assert!(
        has("pipeline/extract_load", "pipeline/plan"),
        "use super::plan::…"
    );
    assert!(
        has("plugin/build", "vocab/confine"),
        "use crate::vocab::confine"
    );
    assert!(
        has("cli/run", "pipeline/plan"),
        "inline crate::pipeline paths"
    );
    assert!(
        has("plugin/schedule", "plugin/installer"),
        "use super::installer::{{…}}"
    );
}

#[test]
fn no_static_holds_run_state() {
    let allowed = [(
        "plugin/staging.rs",
        "static NEXT: AtomicU64",
        "a counter that makes staging names unique",
    )];
    let mut found = Vec::new();
    for path in modules().values() {
        let code = code_of(path);
        for line in code.lines() {
            let t = line.trim_start();
            if t.starts_with("static ")
                || t.starts_with("pub static ")
                || t.contains("OnceLock")
                || t.contains("thread_local!")
            {
                let rel = path
                    .to_string_lossy()
                    .split("src/")
                    .last()
                    .unwrap()
                    .to_string();
                if !allowed.iter().any(|(f, l, _)| rel == *f && t.contains(l)) {
                    found.push(format!("{rel}: {t}"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "statics holding state:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_unsafe_block_says_why_it_is_sound() {
    let mut bare = Vec::new();
    for path in modules().values() {
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let is_unsafe = code
                .split(|c: char| !c.is_alphanumeric() && c != '_')
                .any(|w| w == "unsafe")
                && !code.contains('"');
            let said = lines[i.saturating_sub(4)..i]
                .iter()
                .any(|l| l.contains("SAFETY:"));
            if is_unsafe && !said {
                bare.push(format!("{}:{}: {}", path.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        bare.is_empty(),
        "unsafe without a SAFETY: comment:\n{}",
        bare.join("\n")
    );
}
