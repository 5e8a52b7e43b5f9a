//! Measures the runner's overhead: median wall time of `run` on `true` against a bare
//! `std::process::Command` spawn-and-wait of `true`. Prints numbers; asserts nothing.
//!
//! `cargo run --release -p swarmlab-runner --example overhead [runs]`

use std::time::{Duration, Instant};

use swarmlab_runner::{run, Cancel, RunSpec};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args().nth(1).map_or(Ok(50), |n| n.parse())?;
    let dir = std::env::temp_dir().join(format!("swarmlab-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let spec = RunSpec::new(
        vec!["true".into()],
        &dir,
        dir.join("log"),
        Duration::from_secs(10),
    );

    let mut bare = Vec::with_capacity(runs);
    let mut runner = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        std::process::Command::new("true").status()?;
        bare.push(t.elapsed());
        let t = Instant::now();
        run(&spec, &Cancel::new(), &mut |_| {})?;
        runner.push(t.elapsed());
    }
    let (bare, runner) = (median(bare), median(runner));
    println!("runs: {runs}");
    println!("bare spawn+wait of `true`: median {bare:?}");
    println!("swarmlab_runner::run of `true`: median {runner:?}");
    println!("overhead: {:?}", runner.saturating_sub(bare));
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
