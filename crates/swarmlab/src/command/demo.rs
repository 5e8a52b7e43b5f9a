//! `swarmlab demo`: a whole swarm on one machine. It starts a hub on loopback with an
//! embedded track, two workers and a verifier as child processes (each in its own process
//! group, logging to a file), relays what they report, and shows the chain growing. Ctrl-C
//! (or `--for`) stops the children with SIGTERM, exports the ledger and audits it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use swarmlab_client::identity::IdentityFile;
use swarmlab_client::process::ClientProcess;
use swarmlab_client::{pause, random_hex};
use swarmlab_hub::{Hub, HubConfig, Server, SystemClock};
use swarmlab_proto::{AddTrackRequest, NewIdea, Role};
use tokio::sync::oneshot;

use crate::cli::{DemoArgs, DemoTrack, SandboxMode, TrackName};
use crate::tracks;

/// Ideas the demo seeds the queue with, so that workers have something to lease.
const IDEAS: &[&str] = &[
    "a wider model with a little more regularisation",
    "warm up longer and raise the learning rate",
    "shallower and wider",
];

pub fn demo(args: &DemoArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let root = match &args.dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("swarmlab-demo-{}", random_hex::<4>()?)),
    };
    let root = prepare_root(&root)?;
    let track = match args.track {
        DemoTrack::Toy => TrackName::Toy,
        DemoTrack::Tinygpt => TrackName::Tinygpt,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let config = HubConfig {
        data_dir: root.join("hub"),
        listen: args.listen.clone(),
        ..HubConfig::default()
    };
    let server = runtime
        .block_on(Server::bind(config, Arc::new(SystemClock)))
        .with_context(|| {
            format!(
                "failed to start the hub on {} (`--listen 127.0.0.1:0` picks a free port)",
                args.listen
            )
        })?;
    let addr = server.local_addr()?;
    let url = format!("http://{addr}");
    let hub = server.hub();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let serving = runtime.spawn(server.run(async {
        let _ = stop_rx.await;
    }));

    let repo = root.join("tracks").join(track.as_str());
    tracks::write(track, &repo)?;
    let admin = runtime.block_on(setup_hub(&hub, &url, &repo, &root))?;
    let name = track.as_str();

    let me = std::env::current_exe().context("failed to find the swarmlab binary")?;
    // Every checkout builds into its own target folder: one shared folder would let one
    // checkout's build replace the binary another is about to run.
    let child = || {
        let mut command = Command::new(&me);
        command.env_remove("CARGO_TARGET_DIR");
        command
    };
    if track == TrackName::Tinygpt {
        println!(
            "note: each worker and the verifier build tinygpt once first (minutes on 2 cores)"
        );
    }
    let sandbox = args.sandbox;
    let logs = root.join("logs");
    let mut children = Vec::new();
    for i in 1..=args.workers {
        let mut command = child();
        command.args(["work", "--hub", &url, "--track", name, "--name"]);
        command.arg(format!("worker-{i}"));
        command.arg("--dir").arg(root.join(format!("worker-{i}")));
        command.args(["--seed", &i.to_string()]);
        if let Some(budget) = args.budget {
            command
                .arg("--budget")
                .arg(humantime::format_duration(budget).to_string());
        }
        children.push(ClientProcess::spawn(
            &format!("worker-{i}"),
            command,
            &logs,
        )?);
    }
    let mut command = child();
    command.args(["verify", "--hub", &url]);
    command.arg("--dir").arg(root.join("verifier"));
    command.args(["--sandbox", sandbox_flag(sandbox)]);
    if let Some(budget) = args.budget {
        command
            .arg("--budget")
            .arg(humantime::format_duration(budget).to_string());
    }
    children.push(ClientProcess::spawn("verifier", command, &logs)?);

    println!(
        "swarmlab demo: {} workers and a verifier on the {name} track",
        args.workers
    );
    println!("  hub       {url}/api/v1/tracks/{name}");
    println!("  dashboard {url}/");
    println!("  admin     token {admin}");
    println!(
        "  state     {} (logs in {}/logs)",
        root.display(),
        root.display()
    );
    println!("Ctrl-C stops the swarm.");

    let started = Instant::now();
    let mut seen = 0usize;
    let baseline = runtime.block_on(hub.track_info(name))?.baseline;
    loop {
        if pause(&cancel, Duration::from_millis(500)) {
            break;
        }
        if args.for_.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let info = runtime.block_on(hub.track_info(name))?;
        if args.commits.is_some_and(|n| info.chain.len() > n as usize) {
            break;
        }
        for entry in info.chain.iter().skip(seen.max(1)) {
            println!(
                "[{:>5.1}s] chain #{}: head {} (submission #{})",
                started.elapsed().as_secs_f64(),
                entry.seq,
                swarmlab_core::short(&entry.commit),
                entry.submission_id.unwrap_or_default()
            );
        }
        seen = info.chain.len();
        if args.commits.is_some_and(|n| seen > n as usize) {
            break;
        }
        if children.iter_mut().all(ClientProcess::has_ended) {
            eprintln!("every child stopped; see {}/logs", root.display());
            break;
        }
    }

    println!("stopping the workers and the verifier...");
    children.iter_mut().for_each(ClientProcess::stop);
    let info = runtime.block_on(hub.track_info(name))?;
    let ledger = runtime.block_on(hub.ledger_text(name))?;
    let _ = stop_tx.send(());
    let _ = runtime.block_on(serving);
    let ledger_path = root.join(format!("ledger-{name}.jsonl"));
    std::fs::write(&ledger_path, &ledger)
        .with_context(|| format!("failed to write {}", ledger_path.display()))?;
    let key = hub.public_key_hex();
    let report = swarmlab_hub::audit(&ledger, &hub.public_key())
        .context("the demo's own ledger does not audit")?;
    println!(
        "chain: {} commits after the baseline {} (head {}) in {:.0}s",
        info.chain.len().saturating_sub(1),
        swarmlab_core::short(&baseline),
        swarmlab_core::short(&info.head),
        started.elapsed().as_secs_f64()
    );
    println!(
        "ledger: {} audits: {} entries, {} submissions, {} verdicts, {} head moves",
        ledger_path.display(),
        report.entries,
        report.submissions,
        report.verdicts,
        report.head_moves
    );
    println!(
        "check it yourself: swarmlab audit {} --key {key}",
        ledger_path.display()
    );
    Ok(if cancel.is_cancelled() {
        crate::exit::INTERRUPTED
    } else {
        0
    })
}

/// An empty folder for the demo's state, absolute (children run elsewhere).
fn prepare_root(root: &Path) -> anyhow::Result<PathBuf> {
    if root.exists()
        && std::fs::read_dir(root)
            .with_context(|| format!("failed to read {}", root.display()))?
            .next()
            .is_some()
    {
        anyhow::bail!(
            "{} is not empty; the demo starts from a new or empty folder",
            root.display()
        );
    }
    std::fs::create_dir_all(root.join("logs"))
        .with_context(|| format!("failed to create {}", root.display()))?;
    std::path::absolute(root).with_context(|| format!("failed to resolve {}", root.display()))
}

/// Adds the track and its first ideas, enrolls the verifier; returns the admin's token.
async fn setup_hub(hub: &Hub, url: &str, repo: &Path, root: &Path) -> anyhow::Result<String> {
    let admin = hub.bootstrap_admin("demo-admin").await?;
    let info = hub
        .add_track(&AddTrackRequest {
            repo: repo.display().to_string(),
            baseline: "HEAD".into(),
        })
        .await?;
    let caller = hub.authenticate(&admin.token).await?;
    for text in IDEAS {
        hub.add_idea(
            &caller,
            &info.name,
            &NewIdea {
                text: text.to_string(),
                tags: vec!["demo".into()],
            },
        )
        .await?;
    }
    let mut verifier = IdentityFile::generate(url, Role::Verifier)?;
    let token = hub
        .create_identity(
            "verifier-1",
            Role::Verifier,
            Some(verifier.public_key_hex()?),
        )
        .await?;
    verifier.identity_id = Some(token.identity_id);
    verifier.token = Some(token.token);
    verifier.save(&root.join("verifier"))?;
    Ok(admin.token)
}

fn sandbox_flag(mode: SandboxMode) -> &'static str {
    match mode {
        SandboxMode::On => "on",
        SandboxMode::Auto => "auto",
        SandboxMode::Off => "off",
    }
}
