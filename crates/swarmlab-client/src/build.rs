//! How a verifier builds the trees of a compiled track (docs/security.md, "Builds"), and
//! gives a Python track its environment.
//!
//! Outside the sandbox, where no track code runs: the toolchain is found and mirrored into
//! the verifier's folder, and the dependencies that the baseline's trusted manifests pin are
//! fetched (`cargo fetch --locked`, the only step with a network), or the Python environment
//! the baseline's lock pins is made (`crate::python`). Inside the sandbox, with
//! both read-only and no network: the baseline is built once into its build folder, the
//! snapshot, kept per baseline content so that a verifier serving several tracks keeps one
//! for each ([`snapshots`]); each job's head and candidate start from a fresh copy of the snapshot, and only
//! their setup and build may write that copy. Runs see it read-only, and the next job gets a
//! new copy, so nothing a job's code writes there reaches another job.
//!
//! It must never run the head's or a candidate's code outside the sandbox (when there is one),
//! and never let a build write outside its own build folder.

mod snapshots;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swarmlab_core::spec::{Toolchain, SPEC_FILE};
use swarmlab_core::TrackSpec;
use swarmlab_runner::{Cancel, Ending, Exit, RunSpec, SandboxConfig};

use self::snapshots::{Snapshots, STAMP};
use crate::mirror::Mirror;
use crate::python::{PythonEnv, PythonEnvs};
use crate::ClientError;

/// The verifier's builds: its folder and sandbox.
pub struct Builds<'a> {
    /// The verifier's folder: `trees/baseline/`, `builds/` (both per baseline:
    /// [`snapshots`]), `toolchains/`, `cargo/` and `python/` live here.
    pub dir: &'a Path,
    /// The sandbox template; `None`: builds run unconfined.
    pub sandbox: Option<&'a SandboxConfig>,
    /// The interpreter a Python track's environment is made from.
    pub python: &'a Path,
}

/// What every build of one job uses, ready.
#[derive(Default)]
pub struct Ready {
    /// The baseline's own tree, which no run sees (a holdout pool is read from it).
    pub baseline: PathBuf,
    /// How long building the baseline's snapshot took, when this preparation built it.
    pub built: Option<Duration>,
    /// The baseline's build folder, copied into each tree before its build.
    snapshot: Option<PathBuf>,
    cargo: Option<CargoTools>,
    /// A Python track's environment, for its builds and its runs.
    pub python: Option<PythonEnv>,
}

/// The Rust toolchain and the fetched crates, as the sandbox sees them.
struct CargoTools {
    /// A toolchain's sysroot the sandbox uid can read (`bin/cargo`, `bin/rustc`, `lib/`).
    sysroot: PathBuf,
    /// `rustc -vV`: a new toolchain makes a new snapshot.
    version: String,
    /// `CARGO_HOME`, holding the crates the baseline's `Cargo.lock` pins.
    home: PathBuf,
}

impl Builds<'_> {
    /// Gets the toolchain and the dependencies for `baseline`, the pinned baseline of
    /// `track`, and builds it into its snapshot unless that is already there: one per
    /// baseline content ([`snapshots`]), so that switching tracks rebuilds nothing. Any
    /// failure here is the verifier's.
    pub fn prepare(
        &self,
        mirror: &Mirror,
        track: &str,
        baseline: &str,
        cancel: &Cancel,
    ) -> Result<Ready, ClientError> {
        // Trees and builds are keyed by the baseline's content, not its commit or its track:
        // the same files build the same.
        let content = mirror
            .git()
            .run(&["rev-parse", &format!("{baseline}^{{tree}}")])?
            .trim()
            .to_string();
        let place = Snapshots { dir: self.dir }.serve(mirror, track, &content)?;
        let tree = place.tree;
        mirror.worktree(baseline, &tree)?;
        let text = mirror.show(baseline, SPEC_FILE)?;
        let (spec, _) = TrackSpec::parse(&tree, &text)
            .map_err(|(_, message)| ClientError::BaselineSpec(message))?;
        let python = match (spec.run.toolchain, &spec.run.lock) {
            (Some(Toolchain::Python), Some(lock)) => Some(
                PythonEnvs {
                    store: &self.dir.join("python"),
                    interpreter: self.python,
                    sandbox: self.sandbox,
                    timeout: spec.run.setup_timeout,
                }
                .prepare(&tree.join(lock), cancel)?,
            ),
            _ => None,
        };
        let mut ready = Ready {
            baseline: tree.clone(),
            python,
            ..Ready::default()
        };
        let Some(build_dir) = spec.run.build_dir.clone() else {
            return Ok(ready);
        };
        // Cleaning a tree for the next job keeps ignored files: the build folder must be one,
        // whether or not the track's own .gitignore says so.
        mirror.git().exclude(&[&format!("/{build_dir}/")])?;
        let logs = place.builds;
        ready.cargo = match spec.run.toolchain {
            Some(Toolchain::Cargo) => self.cargo(&spec, &logs, cancel)?,
            _ => None,
        };
        // The snapshot is good for this baseline built with this toolchain or environment.
        let stamp_path = logs.join(STAMP);
        let stamp = format!(
            "{content}\n{}\n{}",
            ready
                .cargo
                .as_ref()
                .map(|c| c.version.as_str())
                .unwrap_or_default(),
            ready
                .python
                .as_ref()
                .map(|p| format!("{}\n", p.root.display()))
                .unwrap_or_default()
        );
        let snapshot = tree.join(&build_dir);
        if std::fs::read_to_string(&stamp_path).ok().as_deref() != Some(stamp.as_str())
            || !snapshot.is_dir()
        {
            let started = Instant::now();
            let _ = std::fs::remove_file(&stamp_path);
            std::fs::create_dir_all(&snapshot).map_err(ClientError::io("create", &snapshot))?;
            self.own(&snapshot)?;
            self.run_steps(&ready, &spec, &logs.join("baseline.log"), cancel)?
                .map_err(ClientError::BaselineBuild)?;
            std::fs::write(&stamp_path, &stamp).map_err(ClientError::io("write", &stamp_path))?;
            ready.built = Some(started.elapsed());
        }
        ready.snapshot = Some(snapshot);
        Ok(ready)
    }

    /// Builds one tree: a fresh copy of the snapshot as its build folder, then its setup and
    /// build steps in the sandbox. The outer error is the verifier's (the copy, a sandbox
    /// that could not start); the inner one is the steps' failure, a short reason, with the
    /// log at `log`.
    pub fn build(
        &self,
        ready: &Ready,
        spec: &TrackSpec,
        log: &Path,
        cancel: &Cancel,
    ) -> Result<Result<(), String>, ClientError> {
        if let (Some(snapshot), Some(dir)) = (&ready.snapshot, &spec.run.build_dir) {
            let target = spec.root.join(dir);
            fresh_copy(snapshot, &target)
                .and_then(|()| self.own(&target))
                .and_then(|()| touch_sources(&spec.root, &target))
                .map_err(|e| ClientError::CopyBuild(Box::new(e)))?;
        }
        self.run_steps(ready, spec, log, cancel)
    }

    /// Runs `setup` then `build` in the tree of `spec`, the build folder writable. The outer
    /// error is the runner's (ours); the inner one a step that failed.
    fn run_steps(
        &self,
        ready: &Ready,
        spec: &TrackSpec,
        log: &Path,
        cancel: &Cancel,
    ) -> Result<Result<(), String>, ClientError> {
        let steps = [&spec.run.setup, &spec.run.build];
        for (i, command) in steps.into_iter().flatten().enumerate() {
            let log = log.with_extension(format!("{i}.log"));
            let mut run = RunSpec::new(command.clone(), &spec.root, &log, spec.run.setup_timeout);
            run.env = spec.build_env(0);
            if let Some(python) = &ready.python {
                run.env.extend(python.env(self.sandbox.is_some()));
            }
            if let Some(template) = self.sandbox {
                let mut config = template.clone();
                config.checkout = spec.root.clone();
                if let Some(dir) = &spec.run.build_dir {
                    config.writable = vec![spec.root.join(dir)];
                }
                if let Some(cargo) = &ready.cargo {
                    config.read_only.push(cargo.sysroot.clone());
                    config.read_only.push(cargo.home.clone());
                    run.env.extend(cargo.env());
                }
                if let Some(python) = &ready.python {
                    python.bind(&mut config);
                }
                run.sandbox = Some(config);
            }
            let outcome = swarmlab_runner::run(&run, cancel, &mut |_| {})?;
            match outcome.ending {
                Ending::Exited(Exit::Code(0)) => {}
                ending => {
                    return Ok(Err(format!(
                        "`{}` ended with {ending:?}",
                        command.join(" ")
                    )))
                }
            }
        }
        Ok(Ok(()))
    }

    /// The toolchain the baseline's tree asks for and its locked crates, ready for the
    /// sandbox. `None` unsandboxed: there cargo uses its own home and network as usual.
    fn cargo(
        &self,
        spec: &TrackSpec,
        logs: &Path,
        cancel: &Cancel,
    ) -> Result<Option<CargoTools>, ClientError> {
        let Some(sandbox) = self.sandbox else {
            return Ok(None);
        };
        // In the baseline's tree, so that a trusted rust-toolchain file is honoured.
        let sysroot = PathBuf::from(output(
            Command::new("rustc")
                .args(["--print", "sysroot"])
                .current_dir(&spec.root),
        )?);
        if !sysroot.join("bin").join("cargo").is_file() {
            return Err(ClientError::Toolchain(format!(
                "the toolchain at {} has no cargo",
                sysroot.display()
            )));
        }
        let home = self.dir.join("cargo");
        let version = output(Command::new(sysroot.join("bin/rustc")).arg("-vV"))?;
        let sysroot = if sandbox.system_paths.iter().any(|p| sysroot.starts_with(p)) {
            sysroot
        } else {
            self.mirror_toolchain(&sysroot, &version)?
        };
        let fetched = logs.join("fetched");
        if !fetched.exists() {
            let mut fetch = RunSpec::new(
                vec![
                    sysroot.join("bin/cargo").display().to_string(),
                    "fetch".into(),
                    "--locked".into(),
                ],
                &spec.root,
                logs.join("fetch.log"),
                spec.run.setup_timeout,
            );
            fetch.env = vec![("CARGO_HOME".into(), home.display().to_string())];
            let outcome = swarmlab_runner::run(&fetch, cancel, &mut |_| {})?;
            if outcome.ending != Ending::Exited(Exit::Code(0)) {
                return Err(ClientError::Fetch {
                    ending: outcome.ending,
                    log: logs.join("fetch.log"),
                });
            }
            // Crates keep their archives' modes, often unreadable to others.
            make_readable(&home)?;
            std::fs::write(&fetched, "").map_err(ClientError::io("write", &fetched))?;
        }
        Ok(Some(CargoTools {
            sysroot,
            version,
            home,
        }))
    }

    /// A copy of the toolchain at `sysroot` under the verifier's folder, where the sandbox
    /// uid can reach it (rustup keeps toolchains in a home the sandbox cannot enter). Files
    /// are hard links where the file system allows, so it costs little; it is redone when
    /// the toolchain's version changes.
    fn mirror_toolchain(&self, sysroot: &Path, version: &str) -> Result<PathBuf, ClientError> {
        let name = sysroot
            .file_name()
            .ok_or_else(|| ClientError::Toolchain("the toolchain's sysroot has no name".into()))?;
        let dest = self.dir.join("toolchains").join(name);
        let stamp = self
            .dir
            .join("toolchains")
            .join(format!("{}.stamp", name.to_string_lossy()));
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(version) && dest.is_dir() {
            return Ok(dest);
        }
        let _ = std::fs::remove_file(&stamp);
        remove(&dest)?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(ClientError::io("create", parent))?;
        }
        let linked = Command::new("cp")
            .arg("-al")
            .arg(sysroot)
            .arg(&dest)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !linked {
            remove(&dest)?;
            copy_tree(sysroot, &dest)?;
        }
        std::fs::write(&stamp, version).map_err(ClientError::io("write", &stamp))?;
        Ok(dest)
    }

    /// Gives the sandbox uid everything under `dir` (when the verifier is root), so that a
    /// build can write its folder.
    fn own(&self, dir: &Path) -> Result<(), ClientError> {
        let Some(sandbox) = self.sandbox else {
            return Ok(());
        };
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(());
        }
        walk(dir, &mut |path, meta| {
            if meta.uid() != sandbox.uid || meta.gid() != sandbox.gid {
                std::os::unix::fs::lchown(path, Some(sandbox.uid), Some(sandbox.gid))
                    .map_err(ClientError::io("chown", path))?;
            }
            Ok(())
        })
    }
}

impl CargoTools {
    /// The environment of a build in the sandbox: this toolchain first on the path, the
    /// fetched crates, and no network.
    fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "PATH".into(),
                format!("{}:/usr/bin:/bin", self.sysroot.join("bin").display()),
            ),
            ("CARGO_HOME".into(), self.home.display().to_string()),
            ("CARGO_NET_OFFLINE".into(), "true".into()),
        ]
    }
}

/// A verifier's finished build of a track's baseline, as others on its machine may start
/// from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The build folder.
    pub build: PathBuf,
    /// The crates it was built against, when the verifier fetched them itself (sandboxed):
    /// cargo finds the build fresh only with its crates at the same path.
    pub cargo_home: Option<PathBuf>,
}

/// The build of `track`'s baseline in the verifier folder `dir`, once it is complete: the
/// trusted build a demo seeds its workers' build folders from (`build_dir` is the track's
/// `run.build_dir`). `None` until the verifier has prepared that track and built it.
pub fn snapshot(dir: &Path, track: &str, build_dir: &str) -> Option<Snapshot> {
    let snapshots = Snapshots { dir };
    let place = snapshots.baseline(&snapshots.key_of(track)?);
    let build = place.tree.join(build_dir);
    let done = place.builds.join(STAMP).is_file() && build.is_dir();
    let cargo_home = Some(dir.join("cargo")).filter(|home| home.is_dir());
    done.then_some(Snapshot { build, cargo_home })
}

/// The tree the verifier folder `dir` keeps of the baseline whose content (git tree id) is
/// `content`, whether or not it is there yet.
pub fn baseline_tree(dir: &Path, content: &str) -> PathBuf {
    Snapshots { dir }.baseline(content).tree
}

/// Replaces `dest` with a copy of `source` that keeps modes, owners, times and links.
fn fresh_copy(source: &Path, dest: &Path) -> Result<(), ClientError> {
    remove(dest)?;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(ClientError::io("create", parent))?;
    }
    copy_tree(source, dest)
}

/// Makes every file of the tree but the build folder newer than the copied build. cargo
/// judges a path package fresh by comparing times, and the copy keeps the snapshot's: a
/// source checked out before the snapshot was built would look older than its output, and
/// the baseline's program would run in the candidate's place.
fn touch_sources(root: &Path, build: &Path) -> Result<(), ClientError> {
    let now = std::time::SystemTime::now();
    let git = root.join(".git");
    walk_skipping(root, &[build, &git], &mut |path, meta| {
        if meta.is_file() {
            std::fs::File::options()
                .write(true)
                .open(path)
                .and_then(|f| f.set_modified(now))
                .map_err(ClientError::io("touch", path))?;
        }
        Ok(())
    })
}

/// `cp` of a whole tree: coreutils keeps times and ownership exactly and uses reflinks where
/// the file system has them.
pub(crate) fn copy_tree(source: &Path, dest: &Path) -> Result<(), ClientError> {
    let out = Command::new("cp")
        .args(["-a", "--reflink=auto", "--no-target-directory"])
        .arg(source)
        .arg(dest)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ClientError::Spawn {
            program: "cp".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(ClientError::Copy {
            from: source.to_path_buf(),
            to: dest.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

fn remove(path: &Path) -> Result<(), ClientError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(ClientError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

/// Lets everyone read what is under `dir` (and enter its folders, and run what its owner
/// may run); changes nothing else.
pub(crate) fn make_readable(dir: &Path) -> Result<(), ClientError> {
    use std::os::unix::fs::PermissionsExt;
    walk(dir, &mut |path, meta| {
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        let mode = meta.mode() & 0o7777;
        let mut wanted = mode | 0o044;
        if meta.is_dir() || mode & 0o100 != 0 {
            wanted |= 0o011;
        }
        if wanted != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))
                .map_err(ClientError::io("chmod", path))?;
        }
        Ok(())
    })
}

/// Calls `visit` on `dir` and everything under it, without following links.
fn walk(
    dir: &Path,
    visit: &mut dyn FnMut(&Path, &std::fs::Metadata) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    walk_skipping(dir, &[], visit)
}

/// [`walk`], leaving out the paths in `skip` and what is under them.
fn walk_skipping(
    dir: &Path,
    skip: &[&Path],
    visit: &mut dyn FnMut(&Path, &std::fs::Metadata) -> Result<(), ClientError>,
) -> Result<(), ClientError> {
    if skip.contains(&dir) {
        return Ok(());
    }
    let meta = std::fs::symlink_metadata(dir).map_err(ClientError::io("read", dir))?;
    visit(dir, &meta)?;
    if meta.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(ClientError::io("list", dir))? {
            let entry = entry.map_err(ClientError::io("list", dir))?;
            walk_skipping(&entry.path(), skip, visit)?;
        }
    }
    Ok(())
}

/// The trimmed standard output of a trusted helper (rustc), or why it failed.
fn output(command: &mut Command) -> Result<String, ClientError> {
    let program = format!("{:?}", command.get_program());
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ClientError::Spawn {
            program: program.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(ClientError::Helper {
            program,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
