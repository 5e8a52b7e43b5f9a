//! `swarmlab init [DIR] [--track NAME]`: write an embedded track into a new git repository.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::{bail, Context};
use swarmlab_core::GitStore;

use crate::cli::{InitArgs, TrackName};
use crate::tracks;

pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    if args.spec_only {
        return write_spec(dir);
    }
    if dir.exists() {
        let mut entries =
            fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} is not empty; swarmlab init writes a track into a new or empty folder",
                dir.display()
            );
        }
    }
    let files = tracks::files(args.track);
    if files.is_empty() {
        bail!("the {:?} track is not embedded in this build", args.track);
    }
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    for file in files {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        fs::write(&path, file.content)
            .with_context(|| format!("failed to write {}", path.display()))?;
        if file.executable {
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
                .with_context(|| format!("failed to make {} executable", path.display()))?;
        }
    }
    fs::write(dir.join(".gitignore"), tracks::GITIGNORE)
        .with_context(|| format!("failed to write {}", dir.join(".gitignore").display()))?;
    let name = match args.track {
        TrackName::Tinygpt => "tinygpt",
        TrackName::Toy => "toy",
    };
    GitStore::init(dir, &format!("{name}: the track as swarmlab init wrote it"))?;
    let spec = super::load_track(dir)?;
    println!("created the {name} track in {}", dir.display());
    println!(
        "  {} files, metric {} ({})",
        files.len(),
        spec.metric.name,
        spec.metric.goal
    );
    println!("next: swarmlab run {}", dir.display());
    Ok(())
}

/// Writes the commented reference spec into an existing folder, never over an existing one.
fn write_spec(dir: &std::path::Path) -> anyhow::Result<()> {
    let path = dir.join(swarmlab_core::spec::SPEC_FILE);
    if path.exists() {
        bail!(
            "{} already exists; swarmlab init --spec-only never overwrites it",
            path.display()
        );
    }
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    fs::write(&path, swarmlab_core::spec::REFERENCE)
        .with_context(|| format!("failed to write {}", path.display()))?;
    println!(
        "wrote {}: edit it, then check it with `swarmlab track check {}`",
        path.display(),
        dir.display()
    );
    Ok(())
}
