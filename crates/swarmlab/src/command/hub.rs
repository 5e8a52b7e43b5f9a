//! `swarmlab hub ...`: serving, and the maintainer's commands on a hub's data folder (they
//! work beside a running hub): thin glue over `swarmlab-hub`.

use std::sync::Arc;

use anyhow::Context;
use swarmlab_hub::{Hub, HubConfig, RegistrationMode, Server, SystemClock};
use tokio::signal::unix::{signal, SignalKind};

use swarmlab_proto::{AddCanaryRequest, AddTrackRequest, Role};

use crate::cli::{HubArgs, HubCommand, RoleName};

pub fn hub(command: HubCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    match command {
        HubCommand::Serve(args) => {
            let config = config(&args)?;
            let data_dir = config.data_dir.clone();
            runtime.block_on(async {
                let server = Server::bind(config, Arc::new(SystemClock)).await?;
                // Listen for Ctrl-C and SIGTERM before saying we serve, so that a signal
                // sent right after that line stops the hub cleanly.
                let mut interrupt =
                    signal(SignalKind::interrupt()).context("failed to listen for Ctrl-C")?;
                let mut terminate =
                    signal(SignalKind::terminate()).context("failed to listen for SIGTERM")?;
                eprintln!(
                    "hub: serving http://{}/api/v1 (data in {}); Ctrl-C stops it",
                    server.local_addr()?,
                    data_dir.display()
                );
                server
                    .run(async move {
                        tokio::select! {
                            _ = interrupt.recv() => {}
                            _ = terminate.recv() => {}
                        }
                    })
                    .await?;
                anyhow::Ok(())
            })?;
            eprintln!("hub: stopped");
        }
        HubCommand::AdminToken { hub, name } => {
            let config = config(&hub)?;
            let token = runtime.block_on(async {
                let hub = Hub::open(config, Arc::new(SystemClock)).await?;
                hub.bootstrap_admin(&name).await
            })?;
            println!("{}", token.token);
            eprintln!(
                "admin `{name}` created ({}); keep the token: it is stored only as a hash",
                token.identity_id
            );
        }
        HubCommand::AddTrack {
            hub,
            repo,
            baseline,
        } => {
            let config = config(&hub)?;
            let repo = std::path::absolute(&repo)
                .with_context(|| format!("failed to resolve {}", repo.display()))?;
            let info = runtime.block_on(async {
                let hub = Hub::open(config, Arc::new(SystemClock)).await?;
                hub.add_track(&AddTrackRequest {
                    repo: repo.display().to_string(),
                    baseline,
                })
                .await
            })?;
            println!("{}", info.name);
            eprintln!(
                "track `{}` added at {} ({} {}, {} reruns)",
                info.name, info.baseline, info.metric, info.goal, info.reruns
            );
        }
        HubCommand::AddIdentity {
            hub,
            role,
            name,
            public_key,
        } => {
            let config = config(&hub)?;
            let role = match role {
                RoleName::Worker => Role::Worker,
                RoleName::Verifier => Role::Verifier,
                RoleName::Admin => Role::Admin,
            };
            let token = runtime.block_on(async {
                let hub = Hub::open(config, Arc::new(SystemClock)).await?;
                hub.create_identity(&name, role, public_key).await
            })?;
            println!("{}", token.token);
            eprintln!(
                "{} `{name}` created ({}); keep the token: it is stored only as a hash",
                role.as_str(),
                token.identity_id
            );
        }
        HubCommand::AddCanary {
            hub,
            submission,
            expect,
            note,
        } => {
            let config = config(&hub)?;
            let req = AddCanaryRequest {
                submission_id: submission,
                expect,
                note,
            };
            let info = runtime.block_on(async {
                let hub = Hub::open(config, Arc::new(SystemClock)).await?;
                hub.add_canary(&req, "hub-cli").await
            })?;
            println!("{}", info.id);
            eprintln!(
                "canary {} added: submission {} of track `{}`, expected to be {}ed",
                info.id, info.submission_id, info.track, info.expect
            );
        }
        HubCommand::Invite {
            hub,
            count,
            expires,
        } => {
            let config = config(&hub)?;
            let mode = config.registration_mode();
            let codes = runtime.block_on(async {
                let hub = Hub::open(config, Arc::new(SystemClock)).await?;
                let expires_ms = expires.map(|after| {
                    let after = i64::try_from(after.as_millis()).unwrap_or(i64::MAX);
                    hub.now().saturating_add(after)
                });
                let mut codes = Vec::new();
                for _ in 0..count {
                    codes.push(hub.create_invite("hub-cli", expires_ms).await?);
                }
                anyhow::Ok(codes)
            })?;
            for invite in &codes {
                println!("{}", invite.code);
            }
            eprintln!(
                "{} invite code{} made; each registers one worker (`swarmlab work --invite CODE`){}",
                codes.len(),
                if codes.len() == 1 { "" } else { "s" },
                if mode == RegistrationMode::Invite {
                    String::new()
                } else {
                    format!(
                        "; this hub's registration is `{}`, not `invite`: set registration.mode = \"invite\" for codes to be asked for",
                        mode.as_str()
                    )
                }
            );
        }
        HubCommand::Reinstate { hub, verifier } => {
            let config = config(&hub)?;
            let who = runtime.block_on(async {
                let hub = Hub::open(config, Arc::new(SystemClock)).await?;
                hub.reinstate(&verifier).await
            })?;
            eprintln!("verifier `{}` ({}) may take jobs again", who.name, who.id);
        }
    }
    Ok(())
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
    Ok(config)
}
