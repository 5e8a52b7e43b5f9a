//! `swarmlab demo`: a whole swarm on one machine. It starts a hub on loopback with an
//! embedded track ([`EmbeddedHub`]), two workers and a verifier as child processes (each in
//! its own process group, logging to a file: [`Swarm`]), relays what they report, and shows
//! the chain growing. Ctrl-C (or `--for`) stops the children with SIGTERM, exports the ledger
//! and audits it. Thin glue: the flags become the children's command lines and the summary.
//!
//! Unless `--sandbox off`, the verifier's sandbox is tested before anything starts, in the
//! verifier's folder; where the sandbox's user cannot reach the demo's folder (a private one
//! such as `/root`), the verifier works in a new folder in the temporary folder instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use swarmlab_client::identity::IdentityFile;
use swarmlab_client::swarm::{Swarm, Watch};
use swarmlab_client::verifier::test_sandbox_in;
use swarmlab_client::{random_hex, ClientError};
use swarmlab_core::short;
use swarmlab_hub::{AuditReport, EmbeddedHub, HubConfig, Seed};
use swarmlab_proto::{Role, TrackInfo};
use swarmlab_runner::SandboxConfig;
use swarmlab_tracks::Embedded;

use crate::cli::{DemoArgs, DemoTrack, SandboxMode};

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
    let verifier = match args.sandbox {
        SandboxMode::On => verifier_dir(&root, &args.bwrap)?,
        SandboxMode::Off => root.join("verifier"),
    };
    let track = match args.track {
        DemoTrack::Toy => Embedded::Toy,
        DemoTrack::Tinygpt => Embedded::Tinygpt,
    };
    let config = HubConfig {
        data_dir: root.join("hub"),
        listen: args.listen.clone(),
        ..HubConfig::default()
    };
    let hub = EmbeddedHub::start(config).with_context(|| {
        format!(
            "failed to start the hub on {} (`--listen 127.0.0.1:0` picks a free port)",
            args.listen
        )
    })?;
    let name = track.name();
    let repo = root.join("tracks").join(name);
    track.write(&repo)?;
    let admin = seed(&hub, &repo, &verifier)?;
    if track == Embedded::Tinygpt {
        println!(
            "note: each worker and the verifier build tinygpt once first (minutes on 2 cores)"
        );
    }
    let mut swarm = spawn(args, hub.url(), name, &root, &verifier)?;
    let url = hub.url();
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

    let watch = Watch {
        started: Instant::now(),
        for_: args.for_,
        commits: args.commits,
    };
    let track_info = || hub.block_on(hub.hub().track_info(name));
    let baseline = track_info()?.baseline;
    let stopped = swarm.watch(&watch, &cancel, track_info)?;
    println!("stopping the workers and the verifier...");
    swarm.stop();
    let info = track_info()?;
    let ledger = hub.block_on(hub.hub().ledger_text(name))?;
    let key = hub.hub().public_key_hex();
    let audit = swarmlab_hub::audit(&ledger, &hub.hub().public_key());
    hub.stop();
    let ledger_path = root.join(format!("ledger-{name}.jsonl"));
    std::fs::write(&ledger_path, &ledger)
        .with_context(|| format!("failed to write {}", ledger_path.display()))?;
    let audit = audit.context("the demo's own ledger does not audit")?;
    summarize(&info, &baseline, &audit, &ledger_path, &key, watch.started);
    if let Some(child) = stopped {
        anyhow::bail!(
            "the {child} stopped on its own, so the swarm could not go on; its log: {}",
            root.join("logs").join(format!("{child}.log")).display()
        );
    }
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

/// The verifier's folder, its sandbox tested there: in the demo's folder, or where the
/// sandbox's user cannot reach that, a new folder in the temporary folder.
fn verifier_dir(root: &Path, bwrap: &Path) -> anyhow::Result<PathBuf> {
    const NO_SANDBOX: &str = "the demo's verifier runs its workers' candidates in the sandbox, \
        and it does not work here; `swarmlab demo --sandbox off` runs them unsandboxed (they \
        come from the embedded track and the demo's own workers), and every report says so";
    let template = super::sandbox_template(bwrap, SandboxConfig::DEFAULT_ID)?;
    let inside = root.join("verifier");
    match test_sandbox_in(&inside, &template) {
        Ok(_) => return Ok(inside),
        Err(ClientError::SandboxUnreachable { .. }) => {}
        Err(e) => return Err(anyhow::Error::new(e).context(NO_SANDBOX)),
    }
    let _ = std::fs::remove_dir(&inside);
    let outside =
        std::env::temp_dir().join(format!("swarmlab-demo-verifier-{}", random_hex::<4>()?));
    std::fs::create_dir(&outside)
        .with_context(|| format!("failed to create {}", outside.display()))?;
    test_sandbox_in(&outside, &template).context(NO_SANDBOX)?;
    println!(
        "note: the sandbox's user cannot reach {}; the verifier works in {}",
        root.display(),
        outside.display()
    );
    Ok(outside)
}

/// Adds the track and its first ideas, enrolls the verifier in its folder; returns the
/// admin's token.
fn seed(hub: &EmbeddedHub, repo: &Path, verifier_dir: &Path) -> anyhow::Result<String> {
    let mut verifier = IdentityFile::generate(hub.url(), Role::Verifier)?;
    let seeded = hub.seed(&Seed {
        repo,
        ideas: IDEAS,
        tag: "demo",
        admin: "demo-admin",
        verifier_name: "verifier-1",
        verifier_key: verifier.public_key_hex()?,
    })?;
    verifier.identity_id = Some(seeded.verifier.identity_id);
    verifier.token = Some(seeded.verifier.token);
    verifier.save(verifier_dir)?;
    Ok(seeded.admin.token)
}

/// The workers and the verifier, each this binary run with the flags of its subcommand.
fn spawn(
    args: &DemoArgs,
    url: &str,
    track: &str,
    root: &Path,
    verifier: &Path,
) -> anyhow::Result<Swarm> {
    let me = std::env::current_exe().context("failed to find the swarmlab binary")?;
    // Every checkout builds into its own target folder: one shared folder would let one
    // checkout's build replace the binary another is about to run.
    let child = |subcommand: &str| {
        let mut command = Command::new(&me);
        command.env_remove("CARGO_TARGET_DIR");
        command.args([subcommand, "--hub", url]);
        if let Some(budget) = args.budget {
            command
                .arg("--budget")
                .arg(humantime::format_duration(budget).to_string());
        }
        command
    };
    let mut swarm = Swarm::new(&root.join("logs"));
    for i in 1..=args.workers {
        let name = format!("worker-{i}");
        let mut command = child("work");
        command.args(["--track", track, "--name", &name]);
        command.arg("--dir").arg(root.join(&name));
        command.args(["--seed", &i.to_string()]);
        swarm.spawn(&name, command)?;
    }
    let mut command = child("verify");
    command.arg("--dir").arg(verifier);
    command.args(["--sandbox", sandbox_flag(args.sandbox)]);
    command.arg("--bwrap").arg(&args.bwrap);
    swarm.spawn("verifier", command)?;
    Ok(swarm)
}

/// The chain's length, the ledger's audit and how to repeat it.
fn summarize(
    info: &TrackInfo,
    baseline: &str,
    audit: &AuditReport,
    ledger_path: &Path,
    key: &str,
    started: Instant,
) {
    println!(
        "chain: {} commits after the baseline {} (head {}) in {:.0}s",
        info.chain.len().saturating_sub(1),
        short(baseline),
        short(&info.head),
        started.elapsed().as_secs_f64()
    );
    println!(
        "ledger: {} audits: {} entries, {} submissions, {} verdicts, {} head moves",
        ledger_path.display(),
        audit.entries,
        audit.submissions,
        audit.verdicts,
        audit.head_moves
    );
    println!(
        "check it yourself: swarmlab audit {} --key {key}",
        ledger_path.display()
    );
}

fn sandbox_flag(mode: SandboxMode) -> &'static str {
    match mode {
        SandboxMode::On => "on",
        SandboxMode::Off => "off",
    }
}
