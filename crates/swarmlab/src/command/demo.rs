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
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use swarmlab_client::build::Snapshot;
use swarmlab_client::identity::IdentityFile;
use swarmlab_client::swarm::{Swarm, Watch, Watched};
use swarmlab_client::verifier::test_sandbox_in;
use swarmlab_client::{random_hex, ClientError};
use swarmlab_core::short;
use swarmlab_core::spec::Budget;
use swarmlab_hub::{AuditReport, EmbeddedHub, HubConfig, Seed};
use swarmlab_proto::{Role, TrackInfo};
use swarmlab_runner::{Cancel, SandboxConfig};
use swarmlab_tracks::Embedded;

use crate::cli::{DemoArgs, DemoTrack, SandboxMode};

/// tinygpt's budget in the demo: short runs, the same work however loaded the machine is, so
/// that head and candidate reruns differ by the change alone.
const TINYGPT_BUDGET: Budget = Budget::Steps(300);

/// How often the demo says what the verifier is doing while it builds.
const PROGRESS: Duration = Duration::from_secs(30);

/// The workers run at this lower priority: on a small machine verification, which moves the
/// chain, should not wait for the search it verifies; the search takes what is left.
const WORKER_NICENESS: &str = "10";

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
    let budget = args.budget.or(match track {
        Embedded::Tinygpt => Some(TINYGPT_BUDGET),
        _ => None,
    });
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
    let build_dir = swarmlab_loop::load_track(&repo)?.run.build_dir;
    let admin = seed(&hub, &repo, &verifier)?;
    let url = hub.url();
    println!(
        "swarmlab demo: {} workers and a verifier on the {name} track{}",
        args.workers,
        budget.map_or(String::new(), |b| format!(", {b} per run"))
    );
    println!("  hub       {url}/api/v1/tracks/{name}");
    println!("  dashboard {url}/tracks/{name}");
    println!("  admin     token {admin}");
    println!(
        "  state     {} (logs in {}/logs)",
        root.display(),
        root.display()
    );
    println!("Ctrl-C stops the swarm.");
    let started = Instant::now();
    let me = std::env::current_exe().context("failed to find the swarmlab binary")?;
    let children = Children {
        me: &me,
        args,
        budget,
        url,
        track: name,
        root: &root,
        verifier: &verifier,
    };
    let mut swarm = Swarm::new(&root.join("logs"));
    swarm.spawn("verifier", children.verifier(build_dir.is_some()))?;
    let snapshot = match &build_dir {
        Some(build_dir) => verifier_build(&mut swarm, &hub, &children, build_dir, &cancel, started),
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
    let watched = swarm.watch(&watch, &cancel, track_info)?;
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
    summarize(&Summary {
        info: &info,
        baseline: &baseline,
        audit: &audit,
        ledger_path: &ledger_path,
        key: &key,
        started,
        watched: watched.clone(),
    });
    if let Some(child) = watched.ended {
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

/// Waits for the verifier's build of the baseline, saying what the verifier is doing
/// meanwhile: one cold build, the verifier's trusted one in its sandbox, instead of one per
/// child fighting for the same cores; the workers start from a copy of it. `None` when the
/// demo stops first (Ctrl-C, `--for`, the verifier gone).
fn verifier_build(
    swarm: &mut Swarm,
    hub: &EmbeddedHub,
    children: &Children,
    build_dir: &str,
    cancel: &Cancel,
    started: Instant,
) -> Option<Snapshot> {
    let verifier = children.verifier;
    let over = || children.args.for_.is_some_and(|d| started.elapsed() >= d);
    println!(
        "the verifier builds {} first (minutes on 2 cores); the workers start from its build",
        children.track
    );
    swarm.wait_until(
        cancel,
        PROGRESS,
        || swarmlab_client::build::snapshot(verifier, build_dir).is_some() || over(),
        || {
            println!(
                "[{:>6.1}s] {}",
                started.elapsed().as_secs_f64(),
                activity(hub, children.track)
            )
        },
    );
    let snapshot = swarmlab_client::build::snapshot(verifier, build_dir);
    match &snapshot {
        Some(_) => println!(
            "[{:>6.1}s] the verifier's build is ready; starting the workers",
            started.elapsed().as_secs_f64()
        ),
        None => println!(
            "the verifier's build is not done; see {}",
            children.root.join("logs").display()
        ),
    }
    snapshot
}

/// What the verifiers of `track` are doing, in one line.
fn activity(hub: &EmbeddedHub, track: &str) -> String {
    let now = hub.hub().now();
    match hub.block_on(hub.hub().activities(track)) {
        Ok(all) if !all.is_empty() => all
            .iter()
            .map(|a| {
                let s = ((now - a.since_ms) / 1000).max(0);
                format!("{}: {} for {}m{:02}s", a.name, a.doing, s / 60, s % 60)
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => "the verifier is starting".into(),
    }
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

/// The command lines of the workers and the verifier: this binary, run with the flags of
/// its subcommand.
struct Children<'a> {
    /// This binary.
    me: &'a Path,
    args: &'a DemoArgs,
    budget: Option<Budget>,
    url: &'a str,
    track: &'a str,
    root: &'a Path,
    /// The verifier's folder.
    verifier: &'a Path,
}

impl Children<'_> {
    /// This binary running `subcommand`; `lower` at a lower priority (`nice`, which then
    /// replaces itself with it).
    fn command(&self, subcommand: &str, lower: bool) -> Command {
        let mut command = if lower {
            let mut nice = Command::new("nice");
            nice.args(["-n", WORKER_NICENESS]).arg(self.me);
            nice
        } else {
            Command::new(self.me)
        };
        // Every checkout builds into its own target folder: one shared folder would let one
        // checkout's build replace the binary another is about to run.
        command.env_remove("CARGO_TARGET_DIR");
        command.args([subcommand, "--hub", self.url]);
        if let Some(budget) = self.budget {
            command.arg("--budget").arg(budget.to_string());
        }
        command
    }

    /// The verifier; `warm`: it builds the baseline before its first job.
    fn verifier(&self, warm: bool) -> Command {
        let mut command = self.command("verify", false);
        command.arg("--dir").arg(self.verifier);
        command.args(["--sandbox", sandbox_flag(self.args.sandbox)]);
        command.arg("--bwrap").arg(&self.args.bwrap);
        if warm {
            command.args(["--warm", self.track]);
        }
        command
    }

    /// Worker `i`; its build folder starts as a copy of the verifier's, when there is one.
    fn worker(&self, i: u32, snapshot: Option<&Snapshot>) -> Command {
        let name = format!("worker-{i}");
        let mut command = self.command("work", true);
        command.args(["--track", self.track, "--name", &name]);
        command.arg("--dir").arg(self.root.join(&name));
        command.args(["--seed", &i.to_string()]);
        if let Some(snapshot) = snapshot {
            command.arg("--build-from").arg(&snapshot.build);
            // The crates the verifier fetched for its sandbox, read offline: cargo takes the
            // copied build as fresh only against crates at the same path. The workers' builds
            // compile the track's trusted manifests, which run no code of theirs.
            if let Some(home) = &snapshot.cargo_home {
                command.env("CARGO_HOME", home);
                command.env("CARGO_NET_OFFLINE", "true");
            }
        }
        command
    }
}

/// What the demo's last lines report.
struct Summary<'a> {
    info: &'a TrackInfo,
    baseline: &'a str,
    audit: &'a AuditReport,
    ledger_path: &'a Path,
    key: &'a str,
    started: Instant,
    watched: Watched,
}

/// The chain's length, the verdicts and what they cost, the ledger's audit and how to repeat
/// it.
fn summarize(s: &Summary) {
    let (info, audit) = (s.info, s.audit);
    println!(
        "chain: {} commits after the baseline {} (head {}) in {:.0}s; first verified commit {}",
        info.chain.len().saturating_sub(1),
        short(s.baseline),
        short(&info.head),
        s.started.elapsed().as_secs_f64(),
        s.watched
            .first_commit
            .map_or("none".into(), |t| format!("after {:.0}s", t.as_secs_f64()))
    );
    println!(
        "verdicts: {} accepted, {} rejected; {} reruns of each side in all ({})",
        audit.accepted,
        audit.rejected,
        audit.reruns,
        if audit.verdicts > 0 {
            format!(
                "{:.1} per verdict",
                audit.reruns as f64 / audit.verdicts as f64
            )
        } else {
            "no verdict yet".into()
        }
    );
    println!(
        "ledger: {} audits: {} entries, {} submissions, {} verdicts, {} head moves",
        s.ledger_path.display(),
        audit.entries,
        audit.submissions,
        audit.verdicts,
        audit.head_moves
    );
    println!(
        "check it yourself: swarmlab audit {} --key {}",
        s.ledger_path.display(),
        s.key
    );
}

fn sandbox_flag(mode: SandboxMode) -> &'static str {
    match mode {
        SandboxMode::On => "on",
        SandboxMode::Off => "off",
    }
}
