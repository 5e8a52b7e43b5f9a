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
use swarmlab_client::random_hex;
use swarmlab_client::swarm::{Swarm, Watch, Watched};
use swarmlab_core::short;
use swarmlab_core::spec::Budget;
use swarmlab_hub::{EmbeddedHub, HubConfig, Seed};
use swarmlab_proto::Role;
use swarmlab_runner::SandboxConfig;
use swarmlab_tracks::Embedded;

use crate::cli::{DemoArgs, DemoTrack, SandboxMode};

/// tinygpt's budget in the demo: short runs, the same work however loaded the machine is, so
/// that head and candidate reruns differ by the change alone.
const TINYGPT_BUDGET: Budget = Budget::Steps(300);

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
    let root = demo::prepare_root(&root)?;
    let verifier = match args.sandbox {
        SandboxMode::On => verifier_dir(&root, &args.bwrap)?,
        SandboxMode::Off => root.join("verifier"),
    };
    let track = match args.track {
        DemoTrack::Toy => Embedded::Toy,
        DemoTrack::Tinygpt => Embedded::Tinygpt,
    };
    let budget = args.budget.or(match track {
        Embedded::Tinygpt => Some(TINYGPT_BUDGET),
        _ => None,
    });
    let hub = start_hub(&root, &args.listen, args.database_url.clone())?;
    let name = track.name();
    let repo = root.join("tracks").join(name);
    track.write(&repo)?;
    verify_rule(&repo, args)?;
    let build_dir = swarmlab_loop::load_track(&repo)?.run.build_dir;
    let admin = seed(&hub, &repo, &verifier)?;
    let url = hub.url();
    let per_run = budget.map_or(String::new(), |b| format!(", {b} per run"));
    println!(
        "swarmlab demo: {} workers and a verifier on the {name} track{per_run}",
        args.workers
    );
    banner(url, name, &admin, &root);
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
            let activity = || activity(&hub, name);
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
    let converged = || converged(&hub, name, args.workers);
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

/// Sets the track's `[verify]` reruns as `--reruns` and `--max-reruns` ask, committed on
/// the baseline the hub starts from.
fn verify_rule(repo: &Path, args: &DemoArgs) -> anyhow::Result<()> {
    let settings = [("reruns", args.reruns), ("max_reruns", args.max_reruns)];
    if settings.iter().all(|(_, v)| v.is_none()) {
        return Ok(());
    }
    let path = repo.join(swarmlab_core::spec::SPEC_FILE);
    let mut text = std::fs::read_to_string(&path)
        .with_context(|| format!("failed to read {}", path.display()))?;
    let mut said = Vec::new();
    for (key, value) in settings {
        if let Some(v) = value {
            text = swarmlab_core::spec::set_verify(&text, key, &v.to_string());
            said.push(format!("{key} = {v}"));
        }
    }
    std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))?;
    swarmlab_core::GitStore::open(repo)?.commit_paths(
        &[swarmlab_core::spec::SPEC_FILE.to_string()],
        &format!("demo: verify with {}", said.join(", ")),
    )?;
    Ok(())
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

/// Where to look: the API, the dashboard, the admin's token, the demo's folder.
fn banner(url: &str, name: &str, admin: &str, root: &Path) {
    println!("  hub       {url}/api/v1/tracks/{name}");
    println!("  dashboard {url}/tracks/{name}");
    println!("  admin     token {admin}");
    let root = root.display();
    println!("  state     {root} (logs in {root}/logs)");
    println!("Ctrl-C stops the swarm.");
}

/// What the verifiers of `track` are doing, in one line.
fn activity(hub: &EmbeddedHub, track: &str) -> String {
    let now = hub.hub().now();
    match hub.block_on(hub.hub().activities(track)) {
        Ok(all) if !all.is_empty() => all
            .iter()
            .map(|a| a.line(now))
            .collect::<Vec<_>>()
            .join("; "),
        _ => "the verifier is starting".into(),
    }
}

/// The line that says the swarm has converged: every one of the demo's `workers` has
/// nothing left to propose on the head and nothing waits (the hub's `convergence`).
fn converged(
    hub: &EmbeddedHub,
    track: &str,
    workers: u32,
) -> Result<Option<String>, swarmlab_hub::HubError> {
    let Some(c) = hub.block_on(hub.hub().convergence(track))? else {
        return Ok(None);
    };
    if c.workers < workers as usize {
        return Ok(None);
    }
    let at = c.value.map_or_else(
        || format!("head {}", short(&c.head)),
        |v| format!("{} {v:.6}", c.metric),
    );
    Ok(Some(format!(
        "the {track} track has converged at {at} (#{}): add an idea on {}/tracks/{track}/ideas or press Ctrl-C",
        c.seq,
        hub.url()
    )))
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
    let info = hub.block_on(hub.hub().track_info(name))?;
    let cost = hub.block_on(hub.hub().verification_cost(name))?;
    let ledger = hub.block_on(hub.hub().ledger_text(name))?;
    let key = hub.hub().public_key_hex();
    let audit = swarmlab_hub::audit(&ledger, &hub.hub().public_key());
    hub.stop();
    let path = root.join(format!("ledger-{name}.jsonl"));
    std::fs::write(&path, &ledger)
        .with_context(|| format!("failed to write {}", path.display()))?;
    let audit = audit.context("the demo's own ledger does not audit")?;
    let first = watched.first_commit;
    println!(
        "chain: {} commits after the baseline {} (head {}) in {:.0}s; first verified commit {}",
        info.chain.len().saturating_sub(1),
        short(baseline),
        short(&info.head),
        started.elapsed().as_secs_f64(),
        first.map_or("none".into(), |t| format!("after {:.0}s", t.as_secs_f64()))
    );
    println!("verdicts: {}", audit.verdicts_line());
    println!("verification: {}", cost_line(&cost));
    let cost_path = root.join(format!("cost-{name}.json"));
    std::fs::write(&cost_path, serde_json::to_vec_pretty(&cost)?)
        .with_context(|| format!("failed to write {}", cost_path.display()))?;
    println!(
        "ledger: {} audits: {}; {}",
        path.display(),
        audit.counts(),
        audit.signatures_line()
    );
    println!(
        "check it yourself: swarmlab audit {} --key {key}",
        path.display()
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

/// `7.5 device-seconds per accepted commit (30.0 s over 6 verdicts); 8.1% of all
/// device-seconds (340.0 s of search reported)`.
fn cost_line(c: &swarmlab_proto::VerificationCost) -> String {
    let per = c.verifier_s_per_accepted.map_or_else(
        || "no accepted commit".to_string(),
        |s| format!("{s:.1} device-seconds per accepted commit"),
    );
    let share = c.verifier_share.map_or_else(
        || "no worker said what its search cost".to_string(),
        |s| {
            format!(
                "{:.1}% of all device-seconds ({:.1} s of search reported)",
                s * 100.0,
                c.worker_s
            )
        },
    );
    format!(
        "{per} ({:.1} s over {} verdicts); {share}",
        c.verifier_s, c.verdicts
    )
}
