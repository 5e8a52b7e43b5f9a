//! `swarmlab sandbox check`: run the sandbox's self-test, which tries every layer for real
//! and fails closed, naming the first layer missing. With `--dir`, in a verifier's folder,
//! prepared as the verifier prepares it, so that a folder its user cannot reach fails too.

use anyhow::Context;
use swarmlab_client::verifier::test_sandbox_in;
use swarmlab_runner::sandbox::self_test;

use crate::cli::SandboxCheckArgs;

pub fn check(args: &SandboxCheckArgs) -> anyhow::Result<i32> {
    let config = super::sandbox_template(&args.bwrap, args.uid)?;
    let report = match &args.dir {
        Some(dir) => {
            let dir = std::path::absolute(dir)
                .with_context(|| format!("failed to resolve {}", dir.display()))?;
            test_sandbox_in(&dir, &config)?
        }
        None => self_test(&config).context("the sandbox self-test failed")?,
    };
    print!("{report}");
    println!("ok: every layer of the sandbox holds on this machine");
    Ok(0)
}
