//! Importing a track: its `swarmlab.toml` at the baseline is loaded with [`TrackSpec`]
//! (validated against the baseline's own files), refused when its metric could be forged by
//! a worker, and the source repository is copied into the hub's own, whose chain ref starts
//! at the baseline. Nothing is recorded in the store here: the caller does that.

use std::path::Path;

use swarmlab_core::spec::SPEC_FILE;
use swarmlab_core::{GitStore, TrackSpec};
use swarmlab_proto::{AddTrackRequest, Rule};

use super::config::HubConfig;
use super::error::HubError;
use super::scratch::Scratch;
use super::track::{commit_ref, TrackRecord, CHAIN_REF};

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Reads the spec at the baseline and copies the repository into the hub's store.
pub(crate) fn import(config: &HubConfig, req: &AddTrackRequest) -> Result<TrackRecord, HubError> {
    let source = GitStore::open(Path::new(&req.repo))?;
    let baseline = source.resolve(&req.baseline)?.ok_or_else(|| {
        HubError::NotFound(format!("revision `{}` in {}", req.baseline, req.repo))
    })?;
    let spec_text = source
        .run(&["show", &format!("{baseline}:{SPEC_FILE}")])
        .map_err(|_| HubError::Spec(format!("no {SPEC_FILE} at {baseline}")))?;
    let scratch = Scratch::path(config, "tree")?;
    let spec = load_spec(&source, &baseline, &spec_text, scratch.as_path())?;
    drop(scratch);
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
    let bundle = Scratch::path(config, "bundle")?;
    let copied = (|| -> Result<(), HubError> {
        let path = bundle.as_str()?;
        source.run(&["bundle", "create", "--quiet", path, "--all"])?;
        repo.run(&["bundle", "unbundle", path])?;
        repo.run(&["update-ref", CHAIN_REF, &baseline])?;
        repo.keep_ref(&commit_ref(&baseline), &baseline)?;
        Ok(())
    })();
    drop(bundle);
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
            max_reruns: Some(spec.verify.max_reruns.max(spec.verify.reruns.max(2))),
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
