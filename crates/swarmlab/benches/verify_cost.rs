//! What verification costs in a real swarm: `swarmlab demo` (a hub, two workers, a
//! verifier, all real processes) runs once per verification setting on the same track until
//! the chain has gained `--commits` commits or `--for` has passed, and the hub's own
//! account of it (`GET tracks/{track}/cost`, written by the demo as `cost-<track>.json`)
//! gives verifier device-seconds per accepted commit and the verifiers' share of all
//! device-seconds, the workers' search included. Settings, side by side in one run:
//!
//! - `default`: the track's rule (toy: 3 pairs of reruns, at most 3; tinygpt: 3, at most 9);
//! - `max_reruns=3` (tinygpt only): no more pairs for promising candidates;
//! - `reruns=2`: 2 pairs of reruns to start and at most 2, the least a t-test needs.
//!
//! Workers submit only gains above `min_delta` as measured by themselves, in every setting
//! (that is how `swarmlab work` works). The verifier runs with `--sandbox off` (the demo's own
//! candidates from the embedded track), so its runs pay no sandbox start-up.
//!
//! `cargo bench -p swarmlab --bench verify_cost [-- --track tinygpt] [--commits N] [--for 5m]`

use std::process::Command;
use std::time::Instant;

const SWARMLAB: &str = env!("CARGO_BIN_EXE_swarmlab");

/// One verification setting: its name and the demo flags that make it.
struct Setting {
    name: &'static str,
    flags: &'static [&'static str],
}

const TOY: &[Setting] = &[
    Setting {
        name: "default",
        flags: &[],
    },
    Setting {
        name: "reruns=2",
        flags: &["--reruns", "2", "--max-reruns", "2"],
    },
];

const TINYGPT: &[Setting] = &[
    Setting {
        name: "default",
        flags: &[],
    },
    Setting {
        name: "max_reruns=3",
        flags: &["--max-reruns", "3"],
    },
    Setting {
        name: "reruns=2",
        flags: &["--reruns", "2", "--max-reruns", "2"],
    },
];

struct Args {
    track: String,
    commits: u32,
    for_: String,
}

fn args() -> Args {
    let mut out = Args {
        track: "toy".into(),
        commits: 0,
        for_: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--track" => out.track = it.next().expect("--track toy|tinygpt"),
            "--commits" => {
                out.commits = it.next().and_then(|n| n.parse().ok()).expect("--commits N")
            }
            "--for" => out.for_ = it.next().expect("--for DURATION"),
            // cargo bench passes `--bench`.
            _ => {}
        }
    }
    let (commits, for_) = match out.track.as_str() {
        "toy" => (6, "3m"),
        "tinygpt" => (2, "6m"),
        other => panic!("unknown track `{other}`: toy or tinygpt"),
    };
    if out.commits == 0 {
        out.commits = commits;
    }
    if out.for_.is_empty() {
        out.for_ = for_.into();
    }
    out
}

/// What the hub said verification cost in one demo.
struct Measured {
    seconds: f64,
    verdicts: u64,
    accepted: u64,
    verifier_s: f64,
    per_accepted: Option<f64>,
    worker_s: f64,
    share: Option<f64>,
}

fn run(track: &str, setting: &Setting, args: &Args) -> Measured {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path().join("demo");
    let commits = args.commits.to_string();
    let started = Instant::now();
    let mut command = Command::new(SWARMLAB);
    command.args([
        "demo",
        "--track",
        track,
        "--sandbox",
        "off",
        "--listen",
        "127.0.0.1:0",
        "--commits",
        &commits,
        "--for",
        &args.for_,
        "--dir",
    ]);
    command.arg(&root).args(setting.flags);
    let out = command.output().expect("swarmlab demo runs");
    let seconds = started.elapsed().as_secs_f64();
    let cost_path = root.join(format!("cost-{track}.json"));
    let text = std::fs::read_to_string(&cost_path).unwrap_or_else(|e| {
        panic!(
            "the demo ({}) wrote no {}: {e}\n{}\n{}",
            out.status,
            cost_path.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let cost: serde_json::Value = serde_json::from_str(&text).expect("the cost is JSON");
    Measured {
        seconds,
        verdicts: cost["verdicts"].as_u64().unwrap_or(0),
        accepted: cost["accepted"].as_u64().unwrap_or(0),
        verifier_s: cost["verifier_s"].as_f64().unwrap_or(0.0),
        per_accepted: cost["verifier_s_per_accepted"].as_f64(),
        worker_s: cost["worker_s"].as_f64().unwrap_or(0.0),
        share: cost["verifier_share"].as_f64(),
    }
}

fn main() {
    let args = args();
    let settings = match args.track.as_str() {
        "tinygpt" => TINYGPT,
        _ => TOY,
    };
    println!(
        "verify_cost: {} track, until {} accepted commits or {} per setting, 2 workers, 1 verifier (--sandbox off)",
        args.track, args.commits, args.for_
    );
    let results: Vec<(&Setting, Measured)> = settings
        .iter()
        .map(|s| {
            let m = run(&args.track, s, &args);
            eprintln!("  {} done in {:.0}s", s.name, m.seconds);
            (s, m)
        })
        .collect();
    println!(
        "{:<14} {:>7} {:>9} {:>8} {:>12} {:>12} {:>14} {:>10}",
        "setting",
        "wall s",
        "verdicts",
        "accepted",
        "verifier s",
        "worker s",
        "verifier s/acc",
        "share"
    );
    for (s, m) in &results {
        println!(
            "{:<14} {:>7.0} {:>9} {:>8} {:>12.1} {:>12.1} {:>14} {:>10}",
            s.name,
            m.seconds,
            m.verdicts,
            m.accepted,
            m.verifier_s,
            m.worker_s,
            m.per_accepted.map_or("—".into(), |v| format!("{v:.1}")),
            m.share.map_or("—".into(), |v| format!("{:.1}%", v * 100.0)),
        );
    }
    println!("goal: the verifiers' share under 10%");
    for (s, m) in &results {
        let verdict = match m.share {
            Some(v) if v < 0.10 => "meets it",
            Some(_) => "does not",
            None => "not measured",
        };
        println!("  {}: {verdict}", s.name);
    }
}
