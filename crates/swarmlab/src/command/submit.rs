//! `swarmlab submit`: send one hand-made commit to a hub as a signed candidate, and with
//! `--wait` follow it to its verdict. The commit's parent must be on the track's chain.

use std::collections::BTreeMap;

use anyhow::Context;
use swarmlab_client::client::HubClient;
use swarmlab_client::identity::IdentityFile;
use swarmlab_client::mirror::Mirror;
use swarmlab_client::submission::{await_verdict, Candidate};
use swarmlab_proto::{SubmissionInfo, TrackInfo};

use crate::cli::SubmitArgs;

pub fn submit(args: &SubmitArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let anonymous = HubClient::new(&args.hub, None, cancel.clone());
    let invite = args.invite.as_deref();
    let identity = IdentityFile::worker(&args.dir, &args.hub, &args.name, invite, &anonymous)?;
    let (token, worker_id) = identity.credentials()?;
    let client = anonymous.with_token(token);
    let mirror = Mirror::open_or_init(&args.repo)?;
    let commit = mirror
        .git()
        .resolve(&format!("{}^{{commit}}", args.rev))?
        .with_context(|| format!("`{}` is not a commit in {}", args.rev, args.repo.display()))?;
    let parent = mirror
        .git()
        .parent_of(&commit)?
        .with_context(|| format!("{commit} has no parent to submit it on"))?;
    let track: TrackInfo = client.get(&format!("tracks/{}", args.track))?;
    let metrics = args
        .claim
        .map(|v| BTreeMap::from([(track.metric.clone(), v)]))
        .unwrap_or_default();
    let log = match &args.log {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?
        }
        None => Vec::new(),
    };
    let candidate = Candidate {
        track: &args.track,
        parent: &parent,
        commit: &commit,
        metrics,
        idea_id: args.idea,
        log: &log,
        // A hand-made submission has no count of the search behind it.
        spent_s: None,
    };
    let info = candidate.submit(&client, &mirror, &identity.key()?, &worker_id)?;
    print(&info);
    if args.wait {
        match await_verdict(&client, info, &cancel)? {
            Some(info) => print(&info),
            None => return Ok(crate::exit::INTERRUPTED),
        }
    }
    Ok(0)
}

fn print(info: &SubmissionInfo) {
    println!(
        "submission #{} {}{}",
        info.id,
        info.status,
        info.reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
}
