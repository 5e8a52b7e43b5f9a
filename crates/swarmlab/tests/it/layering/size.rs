//! The size rules of the workspace (crates/README.md): the binary's `src` stays under
//! [`BINARY_LINES`] lines (it is glue; logic goes into the library crates), and no function
//! in a crate's `src` runs over [`FUNCTION_LINES`] lines, counted from its `fn` line to its
//! closing brace. Tests are exempt: `#[cfg(test)]` items (and the files of modules declared
//! so) and everything under `tests/`.
//!
//! The scan is brace matching over the text with comments, strings and character literals
//! blanked out; it does not parse Rust and must not grow into a parser.

use std::path::{Path, PathBuf};

/// The most lines the binary's `src` may hold, all files together.
const BINARY_LINES: usize = 2_000;

/// The most lines one function may run over.
const FUNCTION_LINES: usize = 100;

/// Functions exempt by name (path under `crates/`, name): route tables, one line a route,
/// which read as a list and would say less split in pieces.
const ROUTE_TABLES: &[(&str, &str)] = &[("swarmlab-hub/src/web/api/mod.rs", "table")];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the binary's crate sits in crates/")
        .to_path_buf()
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `text` line by line with comments, strings and character literals blanked, so that only
/// code's braces count.
fn code_lines(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        let after_word = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let end = if rest.starts_with(&['/', '/']) {
            rest.iter().position(|&c| c == '\n').unwrap_or(rest.len())
        } else if rest.starts_with(&['/', '*']) {
            block_comment_len(rest)
        } else if rest[0] == '"' {
            string_len(rest)
        } else if rest[0] == 'r' && !after_word && raw_string_start(rest).is_some() {
            raw_string_len(rest)
        } else if rest[0] == '\'' && (rest.get(1) == Some(&'\\') || rest.get(2) == Some(&'\'')) {
            char_len(rest)
        } else {
            out.push(rest[0]);
            i += 1;
            continue;
        };
        // Blanked, but its line breaks kept so that line numbers hold.
        out.extend(rest[..end].iter().filter(|&&c| c == '\n'));
        i += end.max(1);
    }
    out.split('\n').map(str::to_string).collect()
}

fn block_comment_len(rest: &[char]) -> usize {
    let (mut depth, mut i) = (0, 0);
    while i < rest.len() {
        if rest[i..].starts_with(&['/', '*']) {
            depth += 1;
            i += 2;
        } else if rest[i..].starts_with(&['*', '/']) {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    rest.len()
}

fn string_len(rest: &[char]) -> usize {
    let mut i = 1;
    while i < rest.len() {
        match rest[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    rest.len()
}

/// The number of `#` of a raw string starting at `rest` (`r"`, `r#"`...), if it is one.
fn raw_string_start(rest: &[char]) -> Option<usize> {
    let hashes = rest[1..].iter().take_while(|&&c| c == '#').count();
    (rest.get(1 + hashes) == Some(&'"')).then_some(hashes)
}

fn raw_string_len(rest: &[char]) -> usize {
    let hashes = raw_string_start(rest).expect("called on a raw string");
    let mut i = hashes + 2;
    while i < rest.len() {
        if rest[i] == '"'
            && rest[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return i + 1 + hashes;
        }
        i += 1;
    }
    rest.len()
}

fn char_len(rest: &[char]) -> usize {
    let start = if rest[1] == '\\' { 3 } else { 2 };
    rest[start..]
        .iter()
        .position(|&c| c == '\'')
        .map_or(rest.len(), |p| start + p + 1)
}

/// The name of the function whose `fn` line `line` is, if it is one.
fn fn_name(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace().skip_while(|w| {
        w.starts_with("pub") || ["const", "async", "unsafe", "extern", "default"].contains(w)
    });
    (words.next()? == "fn").then_some(())?;
    let name = words.next()?;
    Some(name.split(['(', '<']).next().unwrap_or(name))
}

/// The index of the line that closes the item starting at `start`: the line where its
/// braces balance again; `None` for an item without a body (a trait's declaration).
fn item_end(code: &[String], start: usize) -> Option<usize> {
    let mut depth = 0i64;
    let mut opened = false;
    for (i, line) in code.iter().enumerate().skip(start) {
        for c in line.chars() {
            match c {
                '{' => {
                    depth += 1;
                    opened = true;
                }
                '}' => depth -= 1,
                ';' if !opened => return None,
                _ => {}
            }
            if opened && depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// The functions of `text` outside `#[cfg(test)]` items that run over `limit` lines: each
/// one's name, first line (from 1) and length.
fn long_functions(text: &str, limit: usize) -> Vec<(String, usize, usize)> {
    let code = code_lines(text);
    let mut long = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let line = code[i].trim();
        if line == "#[cfg(test)]" {
            i = item_end(&code, i + 1).map_or(i + 1, |end| end + 1);
            continue;
        }
        if let (Some(name), Some(end)) = (fn_name(line), item_end(&code, i)) {
            if end - i + 1 > limit {
                long.push((name.to_string(), i + 1, end - i + 1));
            }
        }
        i += 1;
    }
    long
}

/// The files of the modules that `file` (text `text`) declares for tests alone
/// (`#[cfg(test)] mod tests;`): `tests.rs` beside it, or a `tests/` folder of them.
fn test_module_files(file: &Path, text: &str) -> Vec<PathBuf> {
    let code = code_lines(text);
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let dir = match stem {
        "mod" | "lib" | "main" => file.parent().expect("a file has a folder").to_path_buf(),
        _ => file.with_extension(""),
    };
    let mut files = Vec::new();
    for (i, line) in code.iter().enumerate() {
        if line.trim() != "#[cfg(test)]" {
            continue;
        }
        let next = code[i + 1..]
            .iter()
            .map(|l| l.trim())
            .find(|l| !l.is_empty());
        let declared = next.and_then(|l| l.strip_suffix(';')).and_then(|l| {
            l.split_whitespace()
                .skip_while(|w| w.starts_with("pub"))
                .nth(1)
        });
        if let Some(name) = declared {
            files.push(dir.join(format!("{name}.rs")));
            files.push(dir.join(name));
        }
    }
    files
}

#[test]
fn the_binary_stays_under_its_line_cap() {
    let src = crates_dir().join("swarmlab").join("src");
    let lines: usize = rust_files(&src)
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().lines().count())
        .sum();
    assert!(
        lines > 500,
        "the scan sees the binary's files ({lines} lines)"
    );
    assert!(
        lines < BINARY_LINES,
        "crates/swarmlab/src holds {lines} lines, over its cap of {BINARY_LINES}: the binary is \
         glue, move logic into a library crate"
    );
}

#[test]
fn no_function_outside_tests_runs_over_its_line_cap() {
    let crates = crates_dir();
    let files = rust_files(&crates);
    let tests_only: Vec<PathBuf> = files
        .iter()
        .flat_map(|f| test_module_files(f, &std::fs::read_to_string(f).unwrap()))
        .collect();
    assert!(
        !tests_only.is_empty(),
        "the scan sees `#[cfg(test)] mod tests;`"
    );
    let mut long = Vec::new();
    let mut seen = 0;
    for file in files {
        if tests_only.iter().any(|t| file.starts_with(t)) {
            continue;
        }
        let relative = file.strip_prefix(&crates).unwrap();
        let name = relative.to_string_lossy().replace('\\', "/");
        if name.split('/').nth(1) != Some("src") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&file).unwrap();
        for (function, line, lines) in long_functions(&text, FUNCTION_LINES) {
            if !ROUTE_TABLES.contains(&(name.as_str(), function.as_str())) {
                long.push(format!("crates/{name}:{line} `{function}`: {lines} lines"));
            }
        }
    }
    assert!(seen > 100, "the scan sees the crates' files ({seen})");
    assert!(
        long.is_empty(),
        "functions over {FUNCTION_LINES} lines (split them into named pieces):\n  {}",
        long.join("\n  ")
    );
}

#[test]
fn the_function_scan_counts_code_and_skips_tests_strings_and_comments() {
    let body = "    let x = 1;\n".repeat(FUNCTION_LINES);
    let text = format!(
        "pub(crate) async fn long() {{\n{body}}}\n\
         fn short() -> char {{\n    let s = \"}}}}\"; // }}\n    /* {{ */ let r = r#\"{{\"#;\n    '}}'\n}}\n\
         trait T {{\n    fn declared(&self);\n}}\n\
         #[cfg(test)]\nmod tests {{\n    fn long_test() {{\n{body}    }}\n}}\n\
         fn lifetime<'a>(x: &'a str) -> &'a str {{\n{body}}}\n"
    );
    let long = long_functions(&text, FUNCTION_LINES);
    let found: Vec<(&str, usize)> = long.iter().map(|(n, _, l)| (n.as_str(), *l)).collect();
    assert_eq!(
        found,
        [
            ("long", FUNCTION_LINES + 2),
            ("lifetime", FUNCTION_LINES + 2)
        ]
    );
    assert_eq!(long[0].1, 1);
    assert!(long_functions(&text, FUNCTION_LINES + 2).is_empty());
    let declared = "#[cfg(test)]\nmod tests;\nmod shipped;\n";
    assert_eq!(
        test_module_files(Path::new("/c/src/sweep.rs"), declared),
        [
            Path::new("/c/src/sweep/tests.rs"),
            Path::new("/c/src/sweep/tests")
        ]
    );
    assert_eq!(
        test_module_files(Path::new("/c/src/spec/mod.rs"), declared),
        [
            Path::new("/c/src/spec/tests.rs"),
            Path::new("/c/src/spec/tests")
        ]
    );
}
