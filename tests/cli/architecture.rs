//! The boundaries ARCHITECTURE.md states, enforced: a test over the library's module import graph.
//!
//! The graph is read from the source text, as rust-analyzer's tidy tests read theirs: every
//! `crate::...` and `super::...` path in production code (comments, strings and `#[cfg(test)]`
//! modules left out) is an edge from the file it is written in to the module it names. Two rules
//! hold:
//! - **Layers.** ARCHITECTURE.md's "Boundaries" table lists, for each top-level module, the modules
//!   it may use. An edge to any other module fails the test, naming the file and the path; a module
//!   missing from the table fails too, so a new module must take its place in the table.
//! - **No cycles between files.** Inside a module as between modules, no file reaches itself through
//!   other files' imports (a parent re-exporting its children, `pub use child::X`, is not an edge).
//!
//! Why a test and not a Cargo workspace whose crates are the boundaries: see ARCHITECTURE.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path below the crate root (`["store", "writer"]`); empty for the root.
type ModPath = Vec<String>;

/// One use of another module, for the error messages.
#[derive(Debug, Clone)]
struct Edge {
    from: ModPath,
    to: ModPath,
    file: PathBuf,
    path: String,
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file of the library with its module path (`main.rs`, the binary, is not the library).
fn library_files() -> Vec<(PathBuf, ModPath)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = src_dir();
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|file| {
            let rel = file.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match parts.last().map(String::as_str) {
                Some("main") if parts.len() == 1 => return None,
                Some("lib") if parts.len() == 1 => parts.clear(),
                Some("mod") => {
                    parts.pop();
                }
                _ => {}
            }
            Some((file, parts))
        })
        .collect()
}

/// The source with comments, string and char literals blanked out (newlines kept), so neither a doc
/// link nor a message mentioning a module counts as using it.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, s: &str| {
        for c in s.chars() {
            out.push(if c == '\n' { '\n' } else { ' ' });
        }
    };
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            blank(&mut out, &rest[..end]);
            i += end;
        } else if let Some(len) = raw_string_len(rest) {
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest.starts_with('"') || rest.starts_with("b\"") {
            let open = if rest.starts_with('b') { 2 } else { 1 };
            let mut j = open;
            let rb = rest.as_bytes();
            while j < rb.len() && rb[j] != b'"' {
                j += if rb[j] == b'\\' { 2 } else { 1 };
            }
            let len = (j + 1).min(rest.len());
            blank(&mut out, &rest[..len]);
            i += len;
        } else if let Some(len) = char_literal_len(rest) {
            blank(&mut out, &rest[..len]);
            i += len;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length of a raw string literal (`r"..."`, `r#"..."#`, `br"..."`) at the start of `s`.
fn raw_string_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix("br").or_else(|| s.strip_prefix('r'))?;
    let prefix = s.len() - body.len();
    let hashes = body.bytes().take_while(|&b| b == b'#').count();
    if body.as_bytes().get(hashes) != Some(&b'"') {
        return None;
    }
    let close = format!("\"{}", "#".repeat(hashes));
    let start = prefix + hashes + 1;
    let end = s[start..].find(&close)? + start + close.len();
    Some(end)
}

/// The length of a char literal (`'a'`, `'\n'`, `'{'`) at the start of `s`; `None` for a lifetime.
fn char_literal_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('\'')?;
    let mut chars = rest.char_indices();
    let (_, first) = chars.next()?;
    let after = if first == '\\' {
        let close = rest.find('\'')?;
        if close == 0 {
            return None;
        }
        // `'\''`: the escaped quote is not the closing one.
        if rest[1..].starts_with('\'') {
            3
        } else {
            close + 1
        }
    } else {
        let (next, c) = chars.next()?;
        if c != '\'' {
            return None;
        }
        next + 1
    };
    Some(1 + after)
}

/// `code` without the bodies of `#[cfg(test)]` items (test modules use what production must not).
fn without_test_items(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(at) = out[from..].find("#[cfg(test)]").map(|p| p + from) {
        let after = at + "#[cfg(test)]".len();
        let rest = &out[after..];
        // A `mod x;` declaration: the file it names is dropped by `library_files`' caller.
        let semi = rest.find(';');
        let brace = rest.find('{');
        let end = match (brace, semi) {
            (Some(b), Some(s)) if s < b => after + s + 1,
            (Some(b), _) => {
                let open = after + b;
                let mut depth = 0usize;
                let mut end = out.len();
                for (i, c) in out[open..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = open + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => after + s + 1,
            (None, None) => out.len(),
        };
        let blanked: String = out[at..end]
            .chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect();
        out.replace_range(at..end, &blanked);
        from = at + blanked.len();
    }
    out
}

/// Files declared `#[cfg(test)] mod name;` (test-only files), by module path.
fn test_only_modules(files: &[(PathBuf, ModPath)]) -> BTreeSet<ModPath> {
    let mut out = BTreeSet::new();
    for (file, module) in files {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let mut rest = code.as_str();
        while let Some(at) = rest.find("#[cfg(test)]") {
            let tail = rest[at + 12..].trim_start();
            let decl = tail.strip_prefix("pub ").unwrap_or(tail);
            if let Some(name) = decl.strip_prefix("mod ") {
                let name: String = name
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name.len() < decl.len() && decl[4 + name.len()..].trim_start().starts_with(';') {
                    let mut path = module.clone();
                    path.push(name);
                    out.insert(path);
                }
            }
            rest = &rest[at + 12..];
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The paths a use-tree starting at `s` names (after `crate::` or `super::`), each as its segments.
fn use_tree(s: &str) -> Vec<Vec<String>> {
    fn parse(s: &[char], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let skip_ws = |i: &mut usize| {
            while *i < s.len() && s[*i].is_whitespace() {
                *i += 1;
            }
        };
        skip_ws(i);
        if *i < s.len() && s[*i] == '{' {
            *i += 1;
            loop {
                skip_ws(i);
                if *i >= s.len() || s[*i] == '}' {
                    *i += 1;
                    return;
                }
                parse(s, i, prefix, out);
                skip_ws(i);
                if *i < s.len() && s[*i] == ',' {
                    *i += 1;
                }
            }
        }
        let start = *i;
        while *i < s.len() && is_ident(s[*i]) {
            *i += 1;
        }
        if *i == start {
            if *i < s.len() && s[*i] == '*' {
                *i += 1;
            }
            out.push(prefix.to_vec());
            return;
        }
        let mut path = prefix.to_vec();
        path.push(s[start..*i].iter().collect());
        skip_ws(i);
        if *i + 1 < s.len() && s[*i] == ':' && s[*i + 1] == ':' {
            *i += 2;
            parse(s, i, &path, out);
        } else {
            out.push(path);
        }
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    parse(&chars, &mut 0, &[], &mut out);
    out
}

/// Every edge of the library's module graph, production code only.
fn edges() -> (Vec<Edge>, BTreeSet<ModPath>) {
    let files = library_files();
    let test_only = test_only_modules(&files);
    let files: Vec<(PathBuf, ModPath)> = files
        .into_iter()
        .filter(|(_, m)| !test_only.iter().any(|t| m.starts_with(t)))
        .collect();
    let modules: BTreeSet<ModPath> = files.iter().map(|(_, m)| m.clone()).collect();
    // The deepest module a path names; the rest of it is items inside.
    let resolve = |path: &[String]| -> ModPath {
        let mut best = Vec::new();
        for n in 1..=path.len() {
            if modules.contains(&path[..n]) {
                best = path[..n].to_vec();
            }
        }
        best
    };
    let mut out = Vec::new();
    for (file, module) in &files {
        let code = without_test_items(&code_only(&std::fs::read_to_string(file).unwrap()));
        let chars: Vec<(usize, char)> = code.char_indices().collect();
        let mut k = 0;
        while k < chars.len() {
            let (at, _) = chars[k];
            let rest = &code[at..];
            let preceded_by_ident = k > 0 && (is_ident(chars[k - 1].1) || chars[k - 1].1 == ':');
            let (base, tail) = if preceded_by_ident {
                (None, rest)
            } else if let Some(tail) = rest.strip_prefix("crate::") {
                (Some(Vec::new()), tail)
            } else if rest.starts_with("super::") {
                let mut base = module.clone();
                let mut tail = rest;
                while let Some(t) = tail.strip_prefix("super::") {
                    base.pop();
                    tail = t;
                }
                (Some(base), tail)
            } else {
                (None, rest)
            };
            if let Some(base) = base {
                for path in use_tree(tail) {
                    let mut full = base.clone();
                    full.extend(path);
                    let to = resolve(&full);
                    if &to != module {
                        out.push(Edge {
                            from: module.clone(),
                            to,
                            file: file.strip_prefix(src_dir()).unwrap().to_path_buf(),
                            path: full.join("::"),
                        });
                    }
                }
                k += rest.len() - tail.len();
                continue;
            }
            k += 1;
        }
    }
    (out, modules)
}

/// ARCHITECTURE.md's "Boundaries" table: module -> the modules it may use.
fn boundaries() -> BTreeMap<String, BTreeSet<String>> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let section = doc
        .split("\n## Boundaries")
        .nth(1)
        .expect("ARCHITECTURE.md has a \"## Boundaries\" section");
    let section = section.split("\n## ").next().unwrap();
    let mut table = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`').to_string();
        let allowed = cells[2]
            .split(',')
            .map(|s| s.trim().trim_matches('`').to_string())
            .filter(|s| !s.is_empty() && s != "—")
            .collect();
        table.insert(name, allowed);
    }
    assert!(!table.is_empty(), "the Boundaries table has no rows");
    table
}

#[test]
fn every_module_uses_only_what_architecture_md_allows() {
    let (edges, modules) = edges();
    let table = boundaries();
    let top: BTreeSet<String> = modules.iter().filter_map(|m| m.first().cloned()).collect();
    let unlisted: Vec<&String> = top.iter().filter(|m| !table.contains_key(*m)).collect();
    assert!(
        unlisted.is_empty(),
        "modules missing from ARCHITECTURE.md's Boundaries table: {unlisted:?}; add a row saying what each may use"
    );
    let stale: Vec<&String> = table.keys().filter(|m| !top.contains(*m)).collect();
    assert!(
        stale.is_empty(),
        "ARCHITECTURE.md's Boundaries table lists modules that do not exist: {stale:?}"
    );
    let mut violations = BTreeSet::new();
    for edge in &edges {
        let (Some(from), Some(to)) = (edge.from.first(), edge.to.first()) else {
            continue;
        };
        if from != to && !table[from].contains(to) {
            violations.insert(format!(
                "{}: `{}` uses `{}` ({})",
                edge.file.display(),
                from,
                to,
                edge.path
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "uses that ARCHITECTURE.md's Boundaries table does not allow (move the code, or change the table and say why):\n{}",
        violations.into_iter().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn no_file_reaches_itself_through_imports() {
    let (edges, _) = edges();
    let mut graph: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for edge in &edges {
        // A parent re-exporting (or declaring) its children is not a dependency of the parent.
        if edge.to.starts_with(&edge.from) || edge.to.is_empty() {
            continue;
        }
        graph
            .entry(edge.from.clone())
            .or_default()
            .insert(edge.to.clone());
    }
    let cycles = strongly_connected(&graph);
    let shown: Vec<String> = cycles
        .iter()
        .map(|c| {
            c.iter()
                .map(|m| m.join("::"))
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .collect();
    assert!(
        shown.is_empty(),
        "module cycles (each line is a set of files that import each other, directly or not):\n{}",
        shown.join("\n")
    );
}

/// The strongly connected components of more than one node (Tarjan).
fn strongly_connected(graph: &BTreeMap<ModPath, BTreeSet<ModPath>>) -> Vec<Vec<ModPath>> {
    struct State<'a> {
        graph: &'a BTreeMap<ModPath, BTreeSet<ModPath>>,
        index: BTreeMap<&'a ModPath, usize>,
        low: BTreeMap<&'a ModPath, usize>,
        stack: Vec<&'a ModPath>,
        on_stack: BTreeSet<&'a ModPath>,
        out: Vec<Vec<ModPath>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a ModPath) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(next) = s.graph.get(v) {
            for w in next {
                if !s.index.contains_key(w) {
                    // Nodes without outgoing edges are not keys; look them up through the set.
                    let w = s.graph.get_key_value(w).map_or(w, |(k, _)| k);
                    visit(s, w);
                    let low = s.low[w].min(s.low[v]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.index[w].min(s.low[v]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.out
}

#[test]
fn the_graph_reader_sees_uses_and_skips_comments_strings_and_tests() {
    let code = code_only(
        "use crate::{a::B, c::{d, e::F}}; // crate::x::y\nlet s = \"crate::z\"; let c = '{';\n#[cfg(test)]\nmod tests { use crate::t; }\nfn f<'a>(x: &'a str) { super::g::h(); }",
    );
    let code = without_test_items(&code);
    assert!(!code.contains("crate::x"));
    assert!(!code.contains("crate::z"));
    assert!(!code.contains("crate::t"));
    assert_eq!(
        use_tree("{a::B, c::{d, e::F}};"),
        vec![
            vec!["a".to_string(), "B".into()],
            vec!["c".into(), "d".into()],
            vec!["c".into(), "e".into(), "F".into()]
        ]
    );
    assert!(code.contains("super::g::h"));
}

#[test]
#[ignore]
fn print_top_level_graph() {
    let (edges, _) = edges();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &edges {
        if let (Some(f), Some(t)) = (e.from.first(), e.to.first())
            && f != t
        {
            g.entry(f.clone()).or_default().insert(t.clone());
        }
    }
    for (k, v) in g {
        println!("{k}: {}", v.into_iter().collect::<Vec<_>>().join(", "));
    }
}

#[test]
#[ignore]
fn print_edges_of() {
    // EDGES=from_top:to_top prints the edges between two top-level modules.
    let want = std::env::var("EDGES").unwrap();
    let (from, to) = want.split_once(':').unwrap();
    let (edges, _) = edges();
    for e in &edges {
        if e.from.first().map(String::as_str) == Some(from)
            && e.to.first().map(String::as_str) == Some(to)
        {
            println!("{} -> {}: {}", e.from.join("::"), e.to.join("::"), e.path);
        }
    }
}
