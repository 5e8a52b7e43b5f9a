//! `swarmlab init [DIR] [--track NAME]`: write an embedded track into a new git repository,
//! or (`--track autoresearch`) put an existing clone of karpathy/autoresearch on a hub.

use std::path::Path;

use swarmlab_loop::load_track;
use swarmlab_tracks::{autoresearch, Embedded};

use crate::cli::InitArgs;

pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    if args.spec_only {
        return write_spec(dir);
    }
    let track = args.track;
    if track == Embedded::Autoresearch {
        return place_autoresearch(dir);
    }
    track.write_new(dir)?;
    let files = track.files();
    let name = track.name();
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

/// `swarmlab init --track autoresearch DIR`, and what it committed.
fn place_autoresearch(dir: &Path) -> anyhow::Result<()> {
    let placed = autoresearch::place_into_clone(dir)?;
    println!(
        "put {} on a hub in one commit, {}:",
        dir.display(),
        swarmlab_core::short(&placed.commit)
    );
    for (path, what) in &placed.files {
        println!("  {path:<20}{what}");
    }
    println!(
        "see it with `git show`; next: swarmlab track check {0}, swarmlab run {0}",
        dir.display()
    );
    Ok(())
}

/// Writes the reference spec into a folder, never over an existing one.
fn write_spec(dir: &Path) -> anyhow::Result<()> {
    let path = swarmlab_tracks::write_reference_spec(dir)?;
    println!(
        "wrote {}: check it with `swarmlab track check {}`",
        path.display(),
        dir.display()
    );
    Ok(())
}
