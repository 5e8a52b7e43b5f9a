//! `swarmlab track check [DIR]`: validate a track and print what was understood.

use std::path::Path;

pub fn check(dir: &Path) -> anyhow::Result<()> {
    let spec = swarmlab_loop::load_track(dir)?;
    print!("{}", spec.describe());
    println!("ok: {} is a valid track", dir.display());
    Ok(())
}
