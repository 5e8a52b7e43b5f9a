//! What the verifier's sandbox costs a real training run: tinygpt trained for a fixed number
//! of steps (the same work every time), unsandboxed and sandboxed (bubblewrap, cgroups,
//! rlimits, Landlock, seccomp), alternating, in one run; prints each side's median wall time
//! and their ratio. Needs what the sandbox needs (root for cgroups, bubblewrap).
//!
//! ```sh
//! cargo bench -p swarmlab-runner --bench sandbox [-- STEPS]   # default 60
//! ```

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use swarmlab_runner::{run, Cancel, Ending, Exit, RunSpec, SandboxConfig};
use swarmlab_testkit::tinygpt;

const ROUNDS: usize = 3;

fn main() {
    let steps: u32 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.parse().expect("STEPS is a number"))
        .unwrap_or(60);
    let bin = tinygpt::tinygpt();
    let dir = tempfile::tempdir().expect("temp dir");
    let checkout = dir.path().join("checkout");
    std::fs::create_dir(&checkout).expect("checkout");
    for path in [dir.path(), checkout.as_path()] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "2".into());
    let spec = |sandboxed: bool| {
        let checkpoint = if sandboxed {
            "/scratch/checkpoint.safetensors".to_string()
        } else {
            dir.path()
                .join("checkpoint.safetensors")
                .display()
                .to_string()
        };
        let mut spec = RunSpec::new(
            vec![
                bin.display().to_string(),
                "train".into(),
                "--checkpoint".into(),
                checkpoint,
            ],
            &checkout,
            dir.path().join(if sandboxed {
                "sandboxed.log"
            } else {
                "plain.log"
            }),
            Duration::from_secs(600),
        );
        spec.env = vec![
            ("SWARMLAB_BUDGET_STEPS".into(), steps.to_string()),
            ("SWARMLAB_SEED".into(), "1".into()),
            ("RAYON_NUM_THREADS".into(), threads.clone()),
        ];
        if sandboxed {
            let mut config =
                SandboxConfig::new(env!("CARGO_BIN_EXE_swarmlab-sandbox-shim"), &checkout);
            config.read_only.push(bin.clone());
            spec.sandbox = Some(config);
        }
        spec
    };
    let mut walls: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither side always runs on a warmer machine.
        let order = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for sandboxed in order {
            let spec = spec(sandboxed);
            let outcome = run(&spec, &Cancel::new(), &mut |_| {}).expect("tinygpt runs");
            let log = std::fs::read_to_string(&spec.log_path).unwrap_or_default();
            assert_eq!(
                outcome.ending,
                Ending::Exited(Exit::Code(0)),
                "tinygpt failed (sandboxed: {sandboxed}):\n{log}"
            );
            walls[usize::from(sandboxed)].push(outcome.wall.as_secs_f64());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let plain = median(&mut walls[0]);
    let sandboxed = median(&mut walls[1]);
    println!("tinygpt, {steps} steps, {threads} threads, {ROUNDS} runs each (median wall time):");
    println!("  unsandboxed  {plain:.2} s");
    println!("  sandboxed    {sandboxed:.2} s");
    println!("  ratio        {:.3}", sandboxed / plain);
}
