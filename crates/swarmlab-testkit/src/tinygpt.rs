//! Builds the tinygpt track, and a variant of it with one edit to an editable file, for the
//! tests and benches that need a real model (swarmlab-eval's logits tests and bench,
//! swarmlab-runner's sandbox bench).
//!
//! The build goes to `$SWARMLAB_TINYGPT_TARGET`, or `target/tinygpt` of this workspace, the
//! folder the workspace's other tinygpt tests share (`.ci/run`). A variant is a copy of the
//! track under `variants/NAME` of that folder, renamed so that its binary does not replace
//! tinygpt's; the dependencies are built once for both.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The track's source.
const TRACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tracks/tinygpt");

/// The attention of the variant `maskoff`: the model's own, without the causal mask.
pub const FULL_ATTENTION: &str = r#"
/// Attention without the causal mask: every position sees the whole window.
fn full_attention(qkv: &Tensor, b: usize, t: usize, h: usize) -> Result<Tensor> {
    let c = qkv.dim(1)? / 3;
    let d = c / h;
    let heads = |i: usize| -> Result<Tensor> {
        qkv.narrow(1, i * c, c)?.reshape((b, t, h, d))?.transpose(1, 2)?.contiguous()
    };
    let (q, k, v) = (heads(0)?, heads(1)?, heads(2)?);
    let scores = (q.matmul(&k.transpose(2, 3)?.contiguous()?)? / (d as f64).sqrt())?;
    let e = scores.broadcast_sub(&scores.max_keepdim(3)?)?.exp()?;
    let p = e.broadcast_div(&e.sum_keepdim(3)?)?;
    p.matmul(&v)?.transpose(1, 2)?.reshape((b * t, c))
}
"#;

fn target() -> PathBuf {
    std::env::var_os("SWARMLAB_TINYGPT_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/tinygpt"))
        })
}

/// One build at a time in this process (cargo also locks the folder across processes).
static BUILD: Mutex<()> = Mutex::new(());

fn build(manifest_dir: &Path, bin: &str) -> PathBuf {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let target = target();
    // Quiet unless it fails: a variant that leaves code unused warns about it.
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--quiet", "--offline", "--target-dir"])
        .arg(&target)
        .current_dir(manifest_dir)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building {} failed:\n{}",
        manifest_dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("release").join(bin)
}

/// The tinygpt binary, built from the track. It is a copy named `tinygpt-reference`: the
/// end-to-end test of the loop builds edited copies of the track, whose binaries are also
/// `tinygpt`, into the same folder, and the last build's would be the one found.
pub fn tinygpt() -> PathBuf {
    variant("reference", "", "", "")
}

/// A tinygpt whose `src/model.rs` has `from` replaced by `to` and `append` added at its end,
/// as a proposal might edit it; its binary is `tinygpt-NAME`.
pub fn variant(name: &str, from: &str, to: &str, append: &str) -> PathBuf {
    variant_of(name, "src/model.rs", from, to, append)
}

/// A tinygpt whose editable `file` (`src/model.rs`, `src/train.rs`) has `from` replaced by
/// `to` and `append` added at its end; its binary is `tinygpt-NAME`.
pub fn variant_of(name: &str, file: &str, from: &str, to: &str, append: &str) -> PathBuf {
    let dir = target().join("variants").join(name);
    let package = format!("tinygpt-{name}");
    for sub in ["src", ".cargo"] {
        copy_tree(&Path::new(TRACK).join(sub), &dir.join(sub));
    }
    for file in ["Cargo.toml", "Cargo.lock"] {
        let text = std::fs::read_to_string(Path::new(TRACK).join(file)).unwrap();
        write_if_changed(
            &dir.join(file),
            &text.replace("name = \"tinygpt\"", &format!("name = \"{package}\"")),
        );
    }
    let source = std::fs::read_to_string(Path::new(TRACK).join(file)).unwrap();
    assert!(source.contains(from), "{file} no longer contains {from:?}");
    write_if_changed(
        &dir.join(file),
        &format!("{}{append}", source.replace(from, to)),
    );
    build(&dir, &package)
}

/// Copies the folder `from` to `to`, subfolders included (`src/model/`), with
/// [`write_if_changed`].
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            write_if_changed(&target, &std::fs::read_to_string(entry.path()).unwrap());
        }
    }
}

/// Keeps the modification time of unchanged files, so that cargo rebuilds only what changed.
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap();
    }
}
