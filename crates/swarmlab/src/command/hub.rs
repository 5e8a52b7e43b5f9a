//! `swarmlab hub ...`: serving, and the maintainer's commands on a hub's data folder (they
//! work beside a running hub): thin glue over `swarmlab-hub`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use swarmlab_hub::{Hub, HubConfig, HubError, Server, SystemClock};
use tokio::runtime::Runtime;

use swarmlab_proto::{AddCanaryRequest, AddTrackRequest, IdentityToken, Role};

use crate::cli::{HubArgs, HubCommand};

pub fn hub(command: HubCommand) -> anyhow::Result<()> {
    let runtime = super::runtime()?;
    match command {
        HubCommand::Serve(args) => serve(&runtime, &args),
        HubCommand::AdminToken { hub, name } => admin_token(&runtime, &hub, &name),
        HubCommand::AddTrack {
            hub,
            repo,
            baseline,
        } => add_track(&runtime, &hub, &repo, baseline),
        HubCommand::AddIdentity {
            hub,
            role,
            name,
            public_key,
        } => add_identity(&runtime, &hub, role, &name, public_key),
        HubCommand::AddCanary {
            hub,
            submission,
            expect,
            note,
        } => {
            let request = AddCanaryRequest {
                submission_id: submission,
                expect,
                note,
            };
            add_canary(&runtime, &hub, &request)
        }
        HubCommand::Invite {
            hub,
            count,
            expires,
        } => invite(&runtime, &hub, count, expires),
        HubCommand::Reinstate { hub, verifier } => reinstate(&runtime, &hub, &verifier),
    }
}

/// Serves until Ctrl-C or SIGTERM.
fn serve(runtime: &Runtime, args: &HubArgs) -> anyhow::Result<()> {
    let config = config(args)?;
    let data_dir = config.data_dir.clone();
    runtime.block_on(async {
        let server = Server::bind(config, Arc::new(SystemClock)).await?;
        // Listen for Ctrl-C and SIGTERM before saying we serve, so that a signal
        // sent right after that line stops the hub cleanly.
        let stopped = crate::interrupt::signalled()?;
        eprintln!(
            "hub: serving http://{}/api/v1 (data in {}); Ctrl-C stops it",
            server.local_addr()?,
            data_dir.display()
        );
        server.run(stopped).await?;
        anyhow::Ok(())
    })?;
    eprintln!("hub: stopped");
    Ok(())
}

fn admin_token(runtime: &Runtime, args: &HubArgs, name: &str) -> anyhow::Result<()> {
    let token = with_hub(runtime, config(args)?, async |hub| {
        hub.bootstrap_admin(name).await
    })?;
    print_token(Role::Admin, name, &token);
    Ok(())
}

/// Prints a new identity's token (on stdout, for scripts) and what it is.
fn print_token(role: Role, name: &str, token: &IdentityToken) {
    println!("{}", token.token);
    eprintln!(
        "{} `{name}` created ({}); keep the token: it is stored only as a hash",
        role.as_str(),
        token.identity_id
    );
}

fn add_track(
    runtime: &Runtime,
    args: &HubArgs,
    repo: &Path,
    baseline: String,
) -> anyhow::Result<()> {
    let config = config(args)?;
    let repo = std::path::absolute(repo)
        .with_context(|| format!("failed to resolve {}", repo.display()))?;
    let request = AddTrackRequest {
        repo: repo.display().to_string(),
        baseline,
    };
    let info = with_hub(runtime, config, async |hub| hub.add_track(&request).await)?;
    println!("{}", info.name);
    eprintln!(
        "track `{}` added at {} ({} {}, {} reruns)",
        info.name, info.baseline, info.metric, info.goal, info.reruns
    );
    Ok(())
}

fn add_identity(
    runtime: &Runtime,
    args: &HubArgs,
    role: Role,
    name: &str,
    public_key: Option<String>,
) -> anyhow::Result<()> {
    let config = config(args)?;
    let token = with_hub(runtime, config, async |hub| {
        hub.create_identity(name, role, public_key).await
    })?;
    print_token(role, name, &token);
    Ok(())
}

fn add_canary(runtime: &Runtime, args: &HubArgs, request: &AddCanaryRequest) -> anyhow::Result<()> {
    let info = with_hub(runtime, config(args)?, async |hub| {
        hub.add_canary(request, "hub-cli").await
    })?;
    println!("{}", info.id);
    eprintln!(
        "canary {} added: submission {} of track `{}`, expected to be {}ed",
        info.id, info.submission_id, info.track, info.expect
    );
    Ok(())
}

/// Makes `count` invite codes, each good for one worker's registration.
fn invite(
    runtime: &Runtime,
    args: &HubArgs,
    count: u32,
    expires: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    let config = config(args)?;
    let unasked = config.registration_mode().unasked_invites();
    let codes = with_hub(runtime, config, async |hub| {
        hub.create_invites("hub-cli", count, expires).await
    })?;
    for invite in &codes {
        println!("{}", invite.code);
    }
    eprintln!(
        "{} invite code{} made; each registers one worker (`swarmlab work --invite CODE`){}",
        codes.len(),
        if codes.len() == 1 { "" } else { "s" },
        unasked.map_or(String::new(), |why| format!("; {why}")),
    );
    Ok(())
}

fn reinstate(runtime: &Runtime, args: &HubArgs, verifier: &str) -> anyhow::Result<()> {
    let who = with_hub(runtime, config(args)?, async |hub| {
        hub.reinstate(verifier).await
    })?;
    eprintln!("verifier `{}` ({}) may take jobs again", who.name, who.id);
    Ok(())
}

/// Opens the hub's data folder (beside a running hub, if any) and runs `operation` on it.
fn with_hub<T>(
    runtime: &Runtime,
    config: HubConfig,
    operation: impl AsyncFnOnce(&Hub) -> Result<T, HubError>,
) -> anyhow::Result<T> {
    Ok(runtime.block_on(async {
        let hub = Hub::open(config, Arc::new(SystemClock)).await?;
        operation(&hub).await
    })?)
}

/// The configuration from the file and environment, then the flags.
fn config(args: &HubArgs) -> anyhow::Result<HubConfig> {
    let mut config = HubConfig::from_file_and_env(args.config.as_deref())?;
    if let Some(dir) = &args.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(listen) = &args.listen {
        config.listen = listen.clone();
    }
    if let Some(url) = &args.database_url {
        config.database_url = Some(url.clone());
    }
    Ok(config)
}
