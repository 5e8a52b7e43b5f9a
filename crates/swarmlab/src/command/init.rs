//! `swarmlab init [DIR] [--track NAME]`: write an embedded track into a new git repository,
//! or (`--track autoresearch`) put an existing clone of karpathy/autoresearch on a hub.

mod autoresearch;
mod prepare_patch;
mod token_table;

use std::fs;
use std::path::Path;

use anyhow::{bail, Context};
use swarmlab_loop::load_track;

use crate::cli::{InitArgs, TrackName};
use crate::tracks;

pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    if args.spec_only {
        return write_spec(dir, swarmlab_core::spec::REFERENCE);
    }
    if args.track == TrackName::Autoresearch {
        return autoresearch::place_into_clone(dir);
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
    tracks::write(args.track, dir)?;
    let files = tracks::files(args.track);
    let name = args.track.as_str();
    let spec = load_track(dir)?;
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

/// Writes a spec into an existing folder, never over an existing one.
fn write_spec(dir: &Path, text: &str) -> anyhow::Result<()> {
    let path = dir.join(swarmlab_core::spec::SPEC_FILE);
    if path.exists() {
        bail!(
            "{} already exists; swarmlab init never overwrites it",
            path.display()
        );
    }
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))?;
    println!(
        "wrote {}: check it with `swarmlab track check {}`",
        path.display(),
        dir.display()
    );
    Ok(())
}
