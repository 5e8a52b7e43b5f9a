//! Tracks: an admin adds one from a git repository on the hub's machine, pinned at a
//! baseline commit whose `swarmlab.toml` is loaded with [`TrackSpec`]. The hub keeps the
//! track's code in its own repository (`data_dir/tracks/<name>`), whose `refs/heads/chain`
//! is the verified head. That repository has a work tree only because [`GitStore`] requires
//! one; it is never checked out.

use std::path::{Path, PathBuf};

use swarmlab_core::spec::SPEC_FILE;
use swarmlab_core::{GitStore, TrackSpec};
use swarmlab_proto::{AddTrackRequest, Rule, TrackInfo};

use crate::event::{EventKind, HubEvent};
use crate::hub::{blocking, random_bytes};
use crate::store::TrackRecord;
use crate::{Hub, HubError};

/// The ref of a track's verified head in its repository.
pub const CHAIN_REF: &str = "refs/heads/chain";

/// The ref that keeps a commit the hub received (or made) reachable.
pub fn commit_ref(commit: &str) -> String {
    format!("refs/swarmlab/c/{commit}")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

impl Hub {
    /// Adds a track from `repo` at `baseline`; its head starts at the baseline.
    pub async fn add_track(&self, req: &AddTrackRequest) -> Result<TrackInfo, HubError> {
        let config = self.config.clone();
        let req = req.clone();
        let record = blocking(move || import(&config, &req)).await?;
        self.store.create_track(&record, self.now()).await?;
        self.publish(HubEvent::new(EventKind::Track, &record.name));
        self.track_info(&record.name).await
    }

    /// A track, its rule and its chain.
    pub async fn track_info(&self, name: &str) -> Result<TrackInfo, HubError> {
        let t = self
            .store
            .track(name)
            .await?
            .ok_or_else(|| HubError::NotFound(format!("track `{name}`")))?;
        let chain = self.store.chain(name).await?;
        Ok(TrackInfo {
            name: t.name,
            baseline: t.baseline,
            head: t.head,
            metric: t.metric,
            goal: t.rule.goal.as_str().to_string(),
            reruns: t.rule.reruns,
            alpha: t.rule.alpha,
            min_delta: t.rule.min_delta,
            editable: t.editable,
            chain,
        })
    }

    /// Every track.
    pub async fn list_tracks(&self) -> Result<Vec<TrackInfo>, HubError> {
        let mut out = Vec::new();
        for t in self.store.tracks().await? {
            out.push(self.track_info(&t.name).await?);
        }
        Ok(out)
    }
}

/// Reads the spec at the baseline and copies the repository into the hub's store.
fn import(config: &crate::HubConfig, req: &AddTrackRequest) -> Result<TrackRecord, HubError> {
    let source = GitStore::open(Path::new(&req.repo))?;
    let baseline = source.resolve(&req.baseline)?.ok_or_else(|| {
        HubError::NotFound(format!("revision `{}` in {}", req.baseline, req.repo))
    })?;
    let spec_text = source
        .run(&["show", &format!("{baseline}:{SPEC_FILE}")])
        .map_err(|_| HubError::Spec(format!("no {SPEC_FILE} at {baseline}")))?;
    let scratch = scratch_path(config, "tree")?;
    let spec = load_spec(&source, &baseline, &spec_text, &scratch);
    let _ = std::fs::remove_dir_all(&scratch);
    let spec = spec?;
    if !spec.eval.accepts_untrusted() {
        return Err(HubError::Spec(format!(
            "track `{}` takes its metric from what the run prints ([eval] mode = \"stdout\"), which a hub cannot trust from workers: use mode = \"command\" or \"logits\", or set insecure = true if only trusted code prints it (docs/eval.md)",
            spec.name
        )));
    }
    if !valid_name(&spec.name) {
        return Err(HubError::Spec(format!(
            "track name `{}` must be lowercase letters, digits, `-` or `_`",
            spec.name
        )));
    }
    let dir = config.track_repo(&spec.name);
    if dir.exists() {
        return Err(HubError::Conflict(format!(
            "track `{}` already exists",
            spec.name
        )));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| HubError::io(format!("failed to create {}", dir.display()), e))?;
    let repo = GitStore::init(&dir, "swarmlab hub track store")?;
    let bundle = scratch_path(config, "bundle")?;
    let copied = (|| -> Result<(), HubError> {
        let path = path_str(&bundle)?;
        source.run(&["bundle", "create", "--quiet", path, "--all"])?;
        repo.run(&["bundle", "unbundle", path])?;
        repo.run(&["update-ref", CHAIN_REF, &baseline])?;
        repo.keep_ref(&commit_ref(&baseline), &baseline)?;
        Ok(())
    })();
    let _ = std::fs::remove_file(&bundle);
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    Ok(TrackRecord {
        name: spec.name.clone(),
        baseline: baseline.clone(),
        head: baseline,
        metric: spec.metric.name.clone(),
        rule: Rule {
            goal: spec.metric.goal,
            alpha: spec.verify.alpha,
            min_delta: spec.verify.min_delta,
            reruns: spec.verify.reruns.max(2),
        },
        editable: spec.files.editable.clone(),
        spec_toml: spec_text,
    })
}

/// The spec is validated against the baseline's files: write the tree's text files out.
fn load_spec(
    source: &GitStore,
    baseline: &str,
    spec_text: &str,
    scratch: &Path,
) -> Result<TrackSpec, HubError> {
    let files = source.run(&["ls-tree", "-r", "-z", "--name-only", baseline])?;
    for path in files.split('\0').filter(|p| !p.is_empty()) {
        let content = source.run(&["show", &format!("{baseline}:{path}")])?;
        let target = scratch.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| HubError::io("failed to write the baseline tree", e))?;
        }
        std::fs::write(&target, content)
            .map_err(|e| HubError::io("failed to write the baseline tree", e))?;
    }
    TrackSpec::parse(scratch, spec_text)
        .map(|(spec, _warnings)| spec)
        .map_err(|(line, message)| {
            HubError::Spec(match line {
                Some(l) => format!("{SPEC_FILE} at line {l}: {message}"),
                None => format!("{SPEC_FILE}: {message}"),
            })
        })
}

/// A fresh path in the hub's scratch folder.
pub(crate) fn scratch_path(config: &crate::HubConfig, what: &str) -> Result<PathBuf, HubError> {
    let dir = config.scratch_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| HubError::io(format!("failed to create {}", dir.display()), e))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| HubError::io(format!("failed to resolve {}", dir.display()), e))?;
    Ok(dir.join(format!("{what}-{}", hex::encode(random_bytes::<8>()?))))
}

/// A path as the `&str` git's arguments need.
pub(crate) fn path_str(path: &Path) -> Result<&str, HubError> {
    path.to_str()
        .ok_or_else(|| HubError::Internal(format!("{} is not UTF-8", path.display())))
}
