//! `swarmlab ideas`: draw ideas from documents and a track's history with a chat model and
//! post each to the hub's queue with its source (or print them, `--dry-run`). The work is
//! `swarmlab_client::ideas`; this prints what it did.

use std::time::Duration;

use swarmlab_agent::ideas::{IdeaConfig, Library};
use swarmlab_agent::OpenAiConfig;
use swarmlab_client::client::HubClient;
use swarmlab_client::ideas::IdeaRun;

use crate::cli::IdeasArgs;

/// How long an unreachable hub is retried before the command gives up.
const HUB_PATIENCE: Duration = Duration::from_secs(10);

pub fn ideas(args: &IdeasArgs) -> anyhow::Result<()> {
    let library = Library::read(&args.sources)?;
    for skipped in &library.skipped {
        eprintln!("skipped {}: {}", skipped.path.display(), skipped.reason);
    }
    let cancel = crate::interrupt::install();
    let client = HubClient::new(&args.hub, args.token.clone(), cancel).with_patience(HUB_PATIENCE);
    let mut model = OpenAiConfig::new(args.model.clone());
    model.base_url = args.base_url.clone();
    model.api_key_env = args.api_key_env.clone();
    let mut config = IdeaConfig::new(model);
    config.max_ideas = args.max_ideas;
    let report = IdeaRun {
        client: &client,
        track: &args.track,
        library: &library,
        config,
        dry_run: args.dry_run,
    }
    .run()?;
    print!("{}", report.listing());
    eprintln!("{}", report.tally(&library, args.dry_run));
    Ok(())
}
