//! `swarmlab demo`: a whole swarm on one machine. It starts a hub on loopback with an
//! embedded track ([`EmbeddedHub`]), a verifier and two workers as child processes (each in
//! its own process group, logging to a file: [`Swarm`]), relays what they report, and shows
//! the chain growing. On a compiled track (tinygpt) the verifier builds the baseline first, in
//! its sandbox, and the workers start from a copy of that trusted build; meanwhile the demo
//! says what the verifier is doing. Ctrl-C (or `--for`, `--commits`) stops the children with
//! SIGTERM, exports the ledger, audits it and sums up the verdicts and what they cost. Thin
//! glue: the flags become the children's command lines and the summary.
//!
//! Unless `--sandbox off`, the verifier's sandbox is tested before anything starts, in the
//! verifier's folder; where the sandbox's user cannot reach the demo's folder (a private one
//! such as `/root`), the verifier works in a new folder in the temporary folder instead.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use swarmlab_client::demo::{self, Children};
use swarmlab_client::identity::IdentityFile;
use swarmlab_client::swarm::{Swarm, Watch, Watched};
use swarmlab_hub::{EmbeddedHub, HubConfig, Seed};
use swarmlab_proto::Role;
use swarmlab_runner::SandboxConfig;

use crate::cli::{DemoArgs, SandboxMode};

pub fn demo(args: &DemoArgs) -> anyhow::Result<i32> {
    let cancel = crate::interrupt::install();
    let root = demo::prepare_root(args.dir.as_deref())?;
    let verifier = match args.sandbox {
        SandboxMode::On => verifier_dir(&root, &args.bwrap)?,
        SandboxMode::Off => root.join("verifier"),
    };
    let track = args.track;
    let budget = args.budget.or(track.demo_budget());
    let hub = start_hub(&root, &args.listen, args.database_url.clone())?;
    let name = track.name();
    let repo = root.join("tracks").join(name);
    track.write(&repo)?;
    let settings = [("reruns", args.reruns), ("max_reruns", args.max_reruns)];
    demo::set_verify(&repo, &settings)?;
    let build_dir = swarmlab_loop::load_track(&repo)?.run.build_dir;
    let admin = seed(&hub, &repo, &verifier)?;
    let url = hub.url();
    let per_run = budget.map_or(String::new(), |b| format!(", {b} per run"));
    println!(
        "swarmlab demo: {} workers and a verifier on the {name} track{per_run}",
        args.workers
    );
    println!("{}", demo::banner(url, name, &admin, &root));
    let started = Instant::now();
    let me = std::env::current_exe().context("failed to find the swarmlab binary")?;
    let children = Children {
        me: &me,
        url,
        track: name,
        root: &root,
        verifier: &verifier,
        budget,
        sandbox: match args.sandbox {
            SandboxMode::On => "on",
            SandboxMode::Off => "off",
        },
        bwrap: &args.bwrap,
    };
    let mut swarm = Swarm::new(&root.join("logs"));
    swarm.spawn("verifier", children.verifier(build_dir.is_some()))?;
    let snapshot = match &build_dir {
        Some(build_dir) => {
            let over = || args.for_.is_some_and(|d| started.elapsed() >= d);
            let activity = || hub.activity_line(name);
            children.wait_for_build(&mut swarm, build_dir, (&cancel, started), over, activity)
        }
        None => None,
    };
    if build_dir.is_none() || snapshot.is_some() {
        for i in 1..=args.workers {
            let worker = format!("worker-{i}");
            swarm.spawn(&worker, children.worker(i, snapshot.as_ref()))?;
        }
    }

    let watch = Watch {
        started,
        for_: args.for_,
        commits: args.commits,
    };
    let track_info = || hub.block_on(hub.hub().track_info(name));
    let baseline = track_info()?.baseline;
    let converged = || hub.converged_line(name, args.workers as usize);
    let watched = swarm.watch(&watch, &cancel, track_info, converged)?;
    println!("stopping the workers and the verifier...");
    swarm.stop();
    finish(hub, name, &root, (&baseline, started), watched)?;
    Ok(if cancel.is_cancelled() {
        crate::exit::INTERRUPTED
    } else {
        0
    })
}

/// A hub on `listen` whose data lives under `root`.
fn start_hub(
    root: &Path,
    listen: &str,
    database_url: Option<String>,
) -> anyhow::Result<EmbeddedHub> {
    let config = HubConfig {
        data_dir: root.join("hub"),
        database_url,
        listen: listen.to_string(),
        ..HubConfig::default()
    };
    EmbeddedHub::start(config).with_context(|| {
        format!("failed to start the hub on {listen} (`--listen 127.0.0.1:0` picks a free port)")
    })
}

/// The verifier's folder, its sandbox tested there ([`demo::verifier_dir`]).
fn verifier_dir(root: &Path, bwrap: &Path) -> anyhow::Result<PathBuf> {
    let template = super::sandbox_template(bwrap, SandboxConfig::DEFAULT_ID)?;
    let (dir, moved) = demo::verifier_dir(root, &template).context(
        "the demo's verifier runs its workers' candidates in the sandbox, and it does not work \
         here; `swarmlab demo --sandbox off` runs them unsandboxed (they come from the embedded \
         track and the demo's own workers), and every report says so",
    )?;
    if moved {
        println!(
            "note: the sandbox's user cannot reach {}; the verifier works in {}",
            root.display(),
            dir.display()
        );
    }
    Ok(dir)
}

/// Adds the track and its first ideas, enrolls the verifier in its folder; returns the
/// admin's token.
fn seed(hub: &EmbeddedHub, repo: &Path, verifier_dir: &Path) -> anyhow::Result<String> {
    let mut verifier = IdentityFile::generate(hub.url(), Role::Verifier)?;
    let seeded = hub.seed(&Seed {
        repo,
        ideas: demo::IDEAS,
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

/// Exports the ledger and audits it, then says what the swarm did: the chain, the verdicts
/// and what they cost, the audit and how to repeat it; an error when a child stopped on its
/// own.
fn finish(
    hub: EmbeddedHub,
    name: &str,
    root: &Path,
    (baseline, started): (&str, Instant),
    watched: Watched,
) -> anyhow::Result<()> {
    let closing = hub.close(name)?;
    let ledger = closing.save(root, name)?;
    let chain = closing.chain_line(baseline, started.elapsed(), watched.first_commit);
    let summary = closing.summary(&chain, &ledger);
    println!(
        "{}",
        summary.context("the demo's own ledger does not audit")?
    );
    if let Some(child) = watched.ended {
        let log = root.join("logs").join(format!("{child}.log"));
        anyhow::bail!(
            "the {child} stopped on its own, so the swarm could not go on; its log: {}",
            log.display()
        );
    }
    Ok(())
}
