//! What `swarmlab demo` runs beside its hub: its folders, the verifier's folder (where the
//! sandbox's user can reach it), the command lines of its children (this binary, run with the
//! flags of a subcommand) and the wait for the verifier's build that the workers start from.
//!
//! It starts no hub: the binary's `demo` does, and says the rest.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use swarmlab_core::spec::{self, Budget};
use swarmlab_core::{FileError, GitStore};
use swarmlab_runner::{Cancel, SandboxConfig};

use crate::build::{snapshot, Snapshot};
use crate::swarm::Swarm;
use crate::verifier::test_sandbox_in;
use crate::{random_hex, ClientError};

/// The workers run at this lower priority: on a small machine verification, which moves the
/// chain, should not wait for the search it verifies; the search takes what is left.
const WORKER_NICENESS: &str = "10";

/// How often the demo says what the verifier is doing while it builds.
const PROGRESS: Duration = Duration::from_secs(30);

/// Ideas the demo seeds the queue with, so that workers have something to lease.
pub const IDEAS: &[&str] = &[
    "a wider model with a little more regularisation",
    "warm up longer and raise the learning rate",
    "shallower and wider",
];

/// An empty folder for the demo's state, with its `logs`, made absolute (children run
/// elsewhere): `dir`, or a new one in the temporary folder.
pub fn prepare_root(dir: Option<&Path>) -> Result<PathBuf, ClientError> {
    let root = match dir {
        Some(dir) => dir.to_path_buf(),
        None => std::env::temp_dir().join(format!("swarmlab-demo-{}", random_hex::<4>()?)),
    };
    let root = root.as_path();
    if root.exists()
        && std::fs::read_dir(root)
            .map_err(FileError::at("read", root))?
            .next()
            .is_some()
    {
        return Err(ClientError::DemoFolderNotEmpty(root.to_path_buf()));
    }
    std::fs::create_dir_all(root.join("logs")).map_err(FileError::at("create", root))?;
    Ok(std::path::absolute(root).map_err(FileError::at("resolve", root))?)
}

/// Sets the track's `[verify]` settings that have a value (`reruns`, `max_reruns`, as the
/// flags ask), committed on the baseline the hub starts from; nothing when none has one.
pub fn set_verify(repo: &Path, settings: &[(&str, Option<u32>)]) -> Result<(), ClientError> {
    if settings.iter().all(|(_, v)| v.is_none()) {
        return Ok(());
    }
    let path = repo.join(spec::SPEC_FILE);
    let mut text = std::fs::read_to_string(&path).map_err(FileError::at("read", &path))?;
    let mut said = Vec::new();
    for (key, value) in settings {
        if let Some(v) = value {
            text = spec::set_verify(&text, key, &v.to_string());
            said.push(format!("{key} = {v}"));
        }
    }
    std::fs::write(&path, text).map_err(FileError::at("write", &path))?;
    GitStore::open(repo)?.commit_paths(
        &[spec::SPEC_FILE.to_string()],
        &format!("demo: verify with {}", said.join(", ")),
    )?;
    Ok(())
}

/// Where to look, a line each: the API, the dashboard, the admin's token, the demo's folder.
pub fn banner(url: &str, track: &str, admin: &str, root: &Path) -> String {
    let root = root.display();
    format!(
        "  hub       {url}/api/v1/tracks/{track}\n  dashboard {url}/tracks/{track}\n  \
         admin     token {admin}\n  state     {root} (logs in {root}/logs)\nCtrl-C stops the swarm."
    )
}

/// The verifier's folder, its sandbox tested there: `root/verifier`, or where the sandbox's
/// user cannot reach that, a new folder in the temporary folder (then `true`).
pub fn verifier_dir(root: &Path, template: &SandboxConfig) -> Result<(PathBuf, bool), ClientError> {
    let inside = root.join("verifier");
    match test_sandbox_in(&inside, template) {
        Ok(_) => return Ok((inside, false)),
        Err(ClientError::SandboxUnreachable { .. }) => {}
        Err(e) => return Err(e),
    }
    let _ = std::fs::remove_dir(&inside);
    let outside =
        std::env::temp_dir().join(format!("swarmlab-demo-verifier-{}", random_hex::<4>()?));
    std::fs::create_dir(&outside).map_err(FileError::at("create", &outside))?;
    test_sandbox_in(&outside, template)?;
    Ok((outside, true))
}

/// The command lines of the workers and the verifier: `me` (this binary), run with the
/// flags of its subcommand.
pub struct Children<'a> {
    pub me: &'a Path,
    pub url: &'a str,
    pub track: &'a str,
    pub root: &'a Path,
    /// The verifier's folder.
    pub verifier: &'a Path,
    /// Every run's budget, when the demo sets one.
    pub budget: Option<Budget>,
    /// `--sandbox on` or `off` for the verifier.
    pub sandbox: &'a str,
    pub bwrap: &'a Path,
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
    pub fn verifier(&self, warm: bool) -> Command {
        let mut command = self.command("verify", false);
        command.arg("--dir").arg(self.verifier);
        command.args(["--sandbox", self.sandbox]);
        command.arg("--bwrap").arg(self.bwrap);
        if warm {
            command.args(["--warm", self.track]);
        }
        command
    }

    /// Worker `i`; its build folder starts as a copy of the verifier's, when there is one.
    pub fn worker(&self, i: u32, snapshot: Option<&Snapshot>) -> Command {
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

    /// Waits for the verifier's build of the baseline (in `build_dir` of its tree), printing
    /// what the verifier is doing (`activity`) every [`PROGRESS`] meanwhile: one cold build,
    /// the verifier's trusted one in its sandbox, instead of one per child fighting for the
    /// same cores; the workers start from a copy of it. `None` when `cancel`, `over` or the
    /// verifier's end came first.
    pub fn wait_for_build(
        &self,
        swarm: &mut Swarm,
        build_dir: &str,
        (cancel, started): (&Cancel, Instant),
        over: impl Fn() -> bool,
        activity: impl Fn() -> String,
    ) -> Option<Snapshot> {
        println!(
            "the verifier builds {} first (minutes on 2 cores); the workers start from its build",
            self.track
        );
        let at = || started.elapsed().as_secs_f64();
        let ready = || snapshot(self.verifier, self.track, build_dir).is_some() || over();
        let tick = || println!("[{:>6.1}s] {}", at(), activity());
        swarm.wait_until(cancel, PROGRESS, ready, tick);
        let built = snapshot(self.verifier, self.track, build_dir);
        match &built {
            Some(_) => println!(
                "[{:>6.1}s] the verifier's build is ready; starting the workers",
                at()
            ),
            None => println!(
                "the verifier's build is not done; see {}",
                self.root.join("logs").display()
            ),
        }
        built
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    #[test]
    fn the_verify_settings_given_are_committed_and_none_given_touches_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        set_verify(&repo.join("absent"), &[("reruns", None)]).unwrap();
        let missing = set_verify(&repo.join("absent"), &[("reruns", Some(2))]).unwrap_err();
        assert!(matches!(missing, ClientError::Io(_)), "{missing}");
        std::fs::write(repo.join(spec::SPEC_FILE), "[verify]\nreruns = 3\n").unwrap();
        git(repo, &["init", "-q"]);
        git(repo, &["add", "."]);
        git(repo, &["commit", "-qm", "base"]);
        set_verify(repo, &[("reruns", Some(2)), ("max_reruns", None)]).unwrap();
        let text = std::fs::read_to_string(repo.join(spec::SPEC_FILE)).unwrap();
        assert!(
            text.contains("reruns = 2") && !text.contains("reruns = 3"),
            "{text}"
        );
        let log = Command::new("git")
            .args(["log", "-1", "--format=%s"])
            .current_dir(repo)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&log.stdout).trim(),
            "demo: verify with reruns = 2"
        );
    }
}
