use std::fs;

use swarmlab_core::spec::Files;

use super::*;

fn files() -> Files {
    Files {
        editable: vec!["src/train.rs".into(), "models/".into()],
        trusted: vec!["src/eval.rs".into()],
    }
}

const GOOD: &str = "\
DESCRIPTION: raise the learning rate to 3e-3
src/train.rs
```rust
<<<<<<< SEARCH
const LR: f64 = 0.002;
=======
const LR: f64 = 0.003;
>>>>>>> REPLACE
```
";

#[test]
fn parses_a_good_answer() {
    let answer = parse(GOOD).unwrap();
    assert_eq!(answer.description, "raise the learning rate to 3e-3");
    assert_eq!(
        answer.edits,
        vec![Edit {
            path: "src/train.rs".into(),
            search: "const LR: f64 = 0.002;\n".into(),
            replace: "const LR: f64 = 0.003;\n".into(),
        }]
    );
}

#[test]
fn parses_several_blocks_and_an_empty_replacement() {
    let text = "DESCRIPTION: two\n\nsrc/train.rs\n<<<<<<< SEARCH\na\n  b\n=======\n>>>>>>> REPLACE\n\n`models/new.rs`\n<<<<<<< SEARCH\n=======\nfn x() {}\n>>>>>>> REPLACE\n";
    let answer = parse(text).unwrap();
    assert_eq!(answer.edits.len(), 2);
    assert_eq!(answer.edits[0].search, "a\n  b\n");
    assert_eq!(answer.edits[0].replace, "");
    assert_eq!(answer.edits[1].path, "models/new.rs");
    assert_eq!(answer.edits[1].search, "");
}

#[test]
fn missing_markers_are_errors_naming_the_line() {
    let no_divider = GOOD.replace("=======\n", "");
    assert_eq!(
        parse(&no_divider),
        Err(EditError::NoDivider {
            line: 7,
            path: "src/train.rs".into()
        })
    );
    let unclosed = GOOD.replace(">>>>>>> REPLACE\n", "");
    assert_eq!(
        parse(&unclosed),
        Err(EditError::Unclosed {
            line: 4,
            path: "src/train.rs".into()
        })
    );
    let no_path = "DESCRIPTION: x\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n";
    assert_eq!(parse(no_path), Err(EditError::MissingPath { line: 2 }));
    let stray = "DESCRIPTION: x\n=======\n";
    assert_eq!(
        parse(stray),
        Err(EditError::Stray {
            line: 2,
            marker: "======="
        })
    );
    assert_eq!(
        parse(&GOOD.replace("DESCRIPTION: raise the learning rate to 3e-3\n", "")),
        Err(EditError::NoDescription)
    );
    assert_eq!(
        parse("DESCRIPTION: nothing to do\n"),
        Err(EditError::NoBlocks)
    );
}

fn worktree(train: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("src")).unwrap();
    fs::write(dir.path().join("src/train.rs"), train).unwrap();
    fs::write(dir.path().join("src/eval.rs"), "fn eval() {}\n").unwrap();
    dir
}

fn edit(path: &str, search: &str, replace: &str) -> Edit {
    Edit {
        path: path.into(),
        search: search.into(),
        replace: replace.into(),
    }
}

#[test]
fn applies_blocks_in_order_and_keeps_a_missing_final_newline() {
    let dir = worktree("fn main() {\n    let lr = 0.002;\n}");
    let written = apply(
        dir.path(),
        &files(),
        &[
            edit(
                "src/train.rs",
                "    let lr = 0.002;\n",
                "    let lr = 0.003;\n",
            ),
            edit("./src/train.rs", "}\n", "    run(lr);\n}\n"),
            edit("models/a.rs", "", "pub fn a() {}\n"),
        ],
    )
    .unwrap();
    assert_eq!(written, vec!["models/a.rs", "src/train.rs"]);
    assert_eq!(
        fs::read_to_string(dir.path().join("src/train.rs")).unwrap(),
        "fn main() {\n    let lr = 0.003;\n    run(lr);\n}"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("models/a.rs")).unwrap(),
        "pub fn a() {}\n"
    );
}

#[test]
fn a_search_that_matches_twice_or_never_is_an_error_and_nothing_is_written() {
    let original = "x = 1\ny = 2\nx = 1\n";
    let dir = worktree(original);
    let err = apply(
        dir.path(),
        &files(),
        &[
            edit("src/train.rs", "y = 2\n", "y = 3\n"),
            edit("src/train.rs", "x = 1\n", "x = 5\n"),
        ],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "src/train.rs: the SEARCH text starting with `x = 1` matches 2 places; include more lines so it matches exactly one"
    );
    let err = apply(dir.path(), &files(), &[edit("src/train.rs", "z = 0\n", "")]).unwrap_err();
    assert_eq!(
        err,
        EditError::NotFound {
            path: "src/train.rs".into(),
            first_line: "z = 0".into()
        }
    );
    // Part of a line is not a match: SEARCH holds whole lines.
    let err = apply(dir.path(), &files(), &[edit("src/train.rs", "= 2\n", "")]).unwrap_err();
    assert!(matches!(err, EditError::NotFound { .. }), "{err}");
    assert_eq!(
        fs::read_to_string(dir.path().join("src/train.rs")).unwrap(),
        original
    );
}

#[test]
fn overlapping_matches_count_as_ambiguous() {
    let dir = worktree("a\na\na\n");
    let err = apply(
        dir.path(),
        &files(),
        &[edit("src/train.rs", "a\na\n", "b\n")],
    )
    .unwrap_err();
    assert!(
        matches!(err, EditError::Ambiguous { count: 2, .. }),
        "{err}"
    );
}

#[test]
fn a_path_outside_editable_is_refused_and_nothing_is_written() {
    let dir = worktree("x = 1\n");
    for path in [
        "src/eval.rs",
        "../outside.rs",
        "/etc/passwd",
        "src/../src/eval.rs",
    ] {
        let err = apply(
            dir.path(),
            &files(),
            &[
                edit("src/train.rs", "x = 1\n", "x = 2\n"),
                edit(path, "fn eval() {}\n", "fn eval() { cheat() }\n"),
            ],
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                EditError::NotEditable { .. } | EditError::BadPath { .. }
            ),
            "{path}: {err}"
        );
    }
    let err = apply(
        dir.path(),
        &files(),
        &[edit("src/eval.rs", "fn eval() {}\n", "")],
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`src/eval.rs` is not editable; only `src/train.rs`, `models/` may change"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("src/train.rs")).unwrap(),
        "x = 1\n"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("src/eval.rs")).unwrap(),
        "fn eval() {}\n"
    );
}

#[test]
fn creating_needs_an_empty_search_and_a_new_file() {
    let dir = worktree("x = 1\n");
    let err = apply(dir.path(), &files(), &[edit("src/train.rs", "", "y\n")]).unwrap_err();
    assert!(matches!(err, EditError::Exists { .. }), "{err}");
    let err = apply(dir.path(), &files(), &[edit("models/b.rs", "a\n", "b\n")]).unwrap_err();
    assert!(matches!(err, EditError::MissingFile { .. }), "{err}");
}
