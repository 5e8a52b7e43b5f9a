//! `swarmlab init [DIR] [--track NAME]`: write an embedded track into a new git repository.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context};
use swarmlab_core::GitStore;

use crate::cli::{InitArgs, TrackName};
use crate::tracks;

pub fn init(args: &InitArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    if args.spec_only {
        return write_spec(dir, swarmlab_core::spec::REFERENCE);
    }
    if args.track == TrackName::Autoresearch {
        return place_into_clone(dir);
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
    write_track(args.track, dir)?;
    let files = tracks::files(args.track);
    let name = args.track.as_str();
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

/// Writes an embedded track into `dir` (new or empty) and commits it as a new repository.
pub fn write_track(track: TrackName, dir: &Path) -> anyhow::Result<()> {
    let files = tracks::files(track);
    if files.is_empty() {
        bail!("the {:?} track is not embedded in this build", track);
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
    let name = track.as_str();
    GitStore::init(dir, &format!("{name}: the track as swarmlab init wrote it"))?;
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

/// Places the autoresearch spec into an existing clone of karpathy/autoresearch.
fn place_into_clone(dir: &Path) -> anyhow::Result<()> {
    for file in ["train.py", "prepare.py"] {
        if !dir.join(file).is_file() {
            bail!(
                "{} has no {file}; --track autoresearch goes into a clone of karpathy/autoresearch (git clone https://github.com/karpathy/autoresearch)",
                dir.display()
            );
        }
    }
    GitStore::open(dir)?;
    let [spec] = tracks::files(TrackName::Autoresearch) else {
        bail!("the autoresearch track is embedded as one swarmlab.toml");
    };
    write_spec(dir, spec.content)?;
    super::load_track(dir)?;
    println!(
        "next: git add swarmlab.toml && git commit -m 'swarmlab track', then swarmlab run {}",
        dir.display()
    );
    Ok(())
}
