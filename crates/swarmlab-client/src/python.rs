//! The Python environment of a track with `run.toolchain = "python"` on a verifier
//! (docs/security.md, "Python environments").
//!
//! Outside the sandbox, where no track code runs, the verifier makes a venv from its own
//! interpreter and installs exactly what the baseline's trusted lock pins: wheels only
//! (`--only-binary :all:`, so no package's build code runs), nothing the lock does not name
//! (`--no-deps`, then `pip check`, which starts the new environment and so runs in the
//! sandbox), every file checked against its hash when the lock gives hashes. The environment is keyed by the lock's bytes and the interpreter and kept for
//! later jobs, so a lock seen before costs nothing. Inside the sandbox every build and run
//! sees it read-only and offline, its `python3` first on `PATH`.
//!
//! It must never run a package's or a track's code outside the sandbox, and never change an
//! environment once it is ready: what one job's code does cannot reach what another job
//! sees.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use swarmlab_core::TrackSpec;
use swarmlab_runner::{Cancel, Ending, Exit, RunSpec, SandboxConfig};

use crate::ClientError;

/// A ready environment: a venv that holds exactly what a lock pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonEnv {
    /// The venv's folder; `bin/python3` is its interpreter.
    pub root: PathBuf,
    /// How long making it took; `None`: it was ready from an earlier job.
    pub made_in: Option<Duration>,
}

/// Where environments are made, and from which interpreter.
pub struct PythonEnvs<'a> {
    /// The folder of environments: `<key>/` is a venv, `<key>.ready` says it is complete,
    /// `<key>.log` is how it was made.
    pub store: &'a Path,
    /// The interpreter environments are made from. Sandboxed runs must see it, so it must
    /// lie under the sandbox's system paths.
    pub interpreter: &'a Path,
    /// The sandbox the environment is for; `None`: unsandboxed runs.
    pub sandbox: Option<&'a SandboxConfig>,
    /// The longest each step (venv, install, check) may take.
    pub timeout: Duration,
}

impl PythonEnvs<'_> {
    /// The environment `lock` pins, made now unless a ready one is in the store. Every
    /// failure is the track's lock or the verifier's own, never a candidate's.
    pub fn prepare(&self, lock: &Path, cancel: &Cancel) -> Result<PythonEnv, ClientError> {
        let text = std::fs::read(lock).map_err(ClientError::io("read", lock))?;
        let shown = lock.display().to_string();
        let hashed = check_lock(&String::from_utf8_lossy(&text))
            .map_err(|why| ClientError::Lock(format!("{shown}: {why}")))?;
        let (interpreter, version, base) = self.interpreter()?;
        let key = key(&text, &interpreter, &version);
        let root = self.store.join(&key);
        let ready = self.store.join(format!("{key}.ready"));
        if ready.is_file() && root.is_dir() {
            return Ok(PythonEnv {
                root,
                made_in: None,
            });
        }
        let started = std::time::Instant::now();
        let _ = std::fs::remove_file(&ready);
        remove(&root)?;
        std::fs::create_dir_all(self.store).map_err(ClientError::io("create", self.store))?;
        let log = self.store.join(format!("{key}.log"));
        let _ = std::fs::remove_file(&log);
        let python = root.join("bin").join("python3");
        let venv = [
            interpreter.display().to_string(),
            "-m".into(),
            "venv".into(),
            root.display().to_string(),
        ];
        let mut install: Vec<String> = [
            python.display().to_string().as_str(),
            "-m",
            "pip",
            "install",
            "--no-input",
            "--disable-pip-version-check",
            "--no-cache-dir",
            "--no-deps",
            "--only-binary",
            ":all:",
        ]
        .map(String::from)
        .to_vec();
        if hashed {
            install.push("--require-hashes".into());
        }
        install.extend(["-r".into(), lock.display().to_string()]);
        let check = [
            python.display().to_string(),
            "-m".into(),
            "pip".into(),
            "check".into(),
        ];
        // Installing runs pip alone; checking starts the environment's interpreter, which
        // runs what the installed packages put in `.pth` files: in the sandbox, when there is
        // one.
        let steps: [(&[String], &str, bool); 3] = [
            (&venv, "making the venv", false),
            (&install, "installing the lock", false),
            (&check, "checking that the lock is complete", true),
        ];
        for (argv, what, confined) in steps {
            // pip keeps the umask's modes: the sandbox's uid must be able to read everything.
            if confined {
                crate::build::make_readable(&root)?;
            }
            let sandbox = self.sandbox.filter(|_| confined).map(|template| {
                let mut config = template.clone();
                config.checkout = root.clone();
                config
            });
            if let Err(e) = self.step(argv, sandbox, &log, cancel) {
                remove(&root)?;
                return Err(match e {
                    Step::Failed(ending) => ClientError::Lock(format!(
                        "{shown} did not install with {} (python {version}, {base}): {what} ended with {ending:?}; the log {} ends with:\n{}",
                        interpreter.display(),
                        log.display(),
                        swarmlab_runner::tail(&log, 1500).unwrap_or_default().trim_end()
                    )),
                    Step::Error(e) => e,
                });
            }
        }
        std::fs::write(&ready, &text).map_err(ClientError::io("write", &ready))?;
        Ok(PythonEnv {
            root,
            made_in: Some(started.elapsed()),
        })
    }

    /// The interpreter's real path, its version and its prefix; in a sandbox, both must be
    /// where the sandbox shows the system.
    fn interpreter(&self) -> Result<(PathBuf, String, String), ClientError> {
        let out = std::process::Command::new(self.interpreter)
            .args([
                "-c",
                "import sys; print(sys.version.split()[0]); print(sys.base_prefix)",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| ClientError::Spawn {
                program: self.interpreter.display().to_string(),
                source,
            })?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        let (Some(version), Some(base), true) = (lines.next(), lines.next(), out.status.success())
        else {
            return Err(ClientError::Helper {
                program: self.interpreter.display().to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        };
        let real = std::fs::canonicalize(self.interpreter)
            .map_err(ClientError::io("resolve", self.interpreter))?;
        if let Some(sandbox) = self.sandbox {
            let visible = |p: &Path| sandbox.system_paths.iter().any(|s| p.starts_with(s));
            if !visible(&real) || !visible(Path::new(base)) {
                return Err(ClientError::Toolchain(format!(
                    "the Python at {} (prefix {base}) lies outside what the sandbox shows ({}): give the verifier an interpreter installed there, e.g. --python /usr/bin/python3",
                    real.display(),
                    sandbox
                        .system_paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok((real, version.trim().to_string(), base.trim().to_string()))
    }

    /// One step of making an environment, never a track's code, its output appended to
    /// `log`.
    fn step(
        &self,
        argv: &[String],
        sandbox: Option<SandboxConfig>,
        log: &Path,
        cancel: &Cancel,
    ) -> Result<(), Step> {
        let cwd = match &sandbox {
            Some(config) => config.checkout.clone(),
            None => self.store.to_path_buf(),
        };
        let mut run = RunSpec::new(argv.to_vec(), cwd, log, self.timeout);
        run.env = vec![("PYTHONNOUSERSITE".into(), "1".into())];
        run.sandbox = sandbox;
        let outcome =
            swarmlab_runner::run(&run, cancel, &mut |_| {}).map_err(|e| Step::Error(e.into()))?;
        match outcome.ending {
            Ending::Exited(Exit::Code(0)) => Ok(()),
            Ending::Interrupted => Err(Step::Error(ClientError::LeaseLost)),
            ending => Err(Step::Failed(ending)),
        }
    }
}

/// How a step of making an environment failed.
enum Step {
    /// It ran and did not succeed: the lock's fault (or the network's).
    Failed(Ending),
    Error(ClientError),
}

impl PythonEnv {
    /// What every build and run of the track gets: this environment's `python3` first on
    /// `PATH`, no user site, no bytecode written, no package index.
    pub fn env(&self, sandboxed: bool) -> Vec<(String, String)> {
        let bin = self.root.join("bin").display().to_string();
        // In the sandbox the environment is cleared: the system's folders follow. Outside it,
        // the verifier's own PATH does.
        let rest = if sandboxed {
            "/usr/bin:/bin".to_string()
        } else {
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
        };
        vec![
            ("PATH".into(), format!("{bin}:{rest}")),
            ("VIRTUAL_ENV".into(), self.root.display().to_string()),
            ("PYTHONNOUSERSITE".into(), "1".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
            ("PIP_NO_INDEX".into(), "1".into()),
        ]
    }

    /// Makes every build and run of `spec` use this environment.
    pub fn apply(&self, spec: &mut TrackSpec, sandboxed: bool) {
        spec.run.env.extend(self.env(sandboxed));
    }

    /// Shows this environment read-only in `sandbox`.
    pub fn bind(&self, sandbox: &mut SandboxConfig) {
        if !sandbox.read_only.contains(&self.root) {
            sandbox.read_only.push(self.root.clone());
        }
    }
}

/// The name of the environment of `lock` made by `interpreter` at `version`.
fn key(lock: &[u8], interpreter: &Path, version: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(lock);
    hash.update([0]);
    hash.update(interpreter.as_os_str().as_encoded_bytes());
    hash.update([0]);
    hash.update(version.as_bytes());
    hex::encode(&hash.finalize()[..8])
}

/// Checks that a lock only pins: `name==version` lines (with extras, an environment marker
/// after `;` and `--hash=sha256:...` options), `--index-url`/`--extra-index-url` lines,
/// comments and blank lines; a `\` joins a line to the next. Anything else (a range, a URL,
/// `-e`, `-r`, other options) would let pip fetch or build what the lock does not pin.
/// Returns whether the lock gives hashes, which then every pin must.
fn check_lock(text: &str) -> Result<bool, String> {
    let mut pins = 0;
    let mut hashed = 0;
    let mut number = 0;
    let mut joined = String::new();
    let mut first = 0;
    for line in text.lines() {
        number += 1;
        if joined.is_empty() {
            first = number;
        }
        let line = strip_comment(line);
        if let Some(head) = line.strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            continue;
        }
        joined.push_str(line);
        let entry = std::mem::take(&mut joined);
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        match lock_entry(entry) {
            Ok(None) => {}
            Ok(Some(hashes)) => {
                pins += 1;
                hashed += usize::from(hashes > 0);
            }
            Err(why) => return Err(format!("line {first}: `{entry}` {why}")),
        }
    }
    if hashed > 0 && hashed < pins {
        return Err(format!(
            "{hashed} of {pins} pins give a --hash; with hashes, every pin must"
        ));
    }
    Ok(hashed > 0)
}

/// `line` without a comment: `#` at its start or after whitespace, as pip reads it.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let cut = (0..bytes.len())
        .find(|&i| bytes[i] == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()));
    line[..cut.unwrap_or(line.len())].trim_end()
}

/// One entry of a lock: `None` for an index option, the number of hashes for a pin.
fn lock_entry(entry: &str) -> Result<Option<usize>, String> {
    let words: Vec<&str> = entry.split_whitespace().collect();
    match words.as_slice() {
        [option, _url] if ["--index-url", "-i", "--extra-index-url"].contains(option) => {
            return Ok(None)
        }
        [option]
            if option.starts_with("--index-url=") || option.starts_with("--extra-index-url=") =>
        {
            return Ok(None)
        }
        _ => {}
    }
    if entry.starts_with('-') {
        return Err(
            "is an option a lock may not give (only --index-url, --extra-index-url and --hash)"
                .into(),
        );
    }
    // The pin and its marker, then the options.
    let (requirement, options) = match entry.find(" --") {
        Some(at) => (&entry[..at], &entry[at..]),
        None => (entry, ""),
    };
    let mut hashes = 0;
    for option in options.split_whitespace() {
        let hex = option
            .strip_prefix("--hash=sha256:")
            .ok_or("gives an option other than --hash=sha256:…")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("gives a hash that is not 64 hex digits".into());
        }
        hashes += 1;
    }
    let pin = requirement.split(';').next().unwrap_or_default().trim();
    let (name, version) = pin
        .split_once("==")
        .ok_or("does not pin an exact version (`name==version`)")?;
    let name = name.trim();
    let bare = name.split('[').next().unwrap_or_default();
    let name_ok = !bare.is_empty()
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && (bare.len() == name.len() || name.ends_with(']'));
    let version = version.trim();
    let version_ok = !version.is_empty()
        && !version.starts_with('=')
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+!_-".contains(&b));
    if !name_ok || !version_ok {
        return Err("does not pin an exact version (`name==version`)".into());
    }
    Ok(Some(hashes))
}

fn remove(path: &Path) -> Result<(), ClientError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(ClientError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_lock_pins_exact_versions_with_markers_hashes_and_indexes() {
        let lock = format!(
            "# made by pip freeze\n--index-url https://download.pytorch.org/whl/cpu\n\
             numpy==2.4.6 \\\n    --hash=sha256:{HASH}\n\
             triton==3.5.1 ; platform_system == \"Linux\" --hash=sha256:{HASH} --hash=sha256:{HASH}\n\
             torch[opt]==2.9.1+cpu --hash=sha256:{HASH}  # the CPU build\n"
        );
        assert_eq!(check_lock(&lock), Ok(true));
        let pygpt = include_str!("../../../tracks/pygpt/requirements.lock");
        assert_eq!(check_lock(pygpt), Ok(false));
    }

    #[test]
    fn a_lock_that_does_not_pin_is_refused_with_its_line() {
        for (lock, why) in [
            (
                "numpy>=2\n",
                "line 1: `numpy>=2` does not pin an exact version",
            ),
            ("# c\n\nnumpy===2\n", "line 3: `numpy===2` does not pin"),
            ("-e .\n", "line 1: `-e .` is an option a lock may not give"),
            ("-r other.txt\n", "is an option a lock may not give"),
            (
                "git+https://example.com/x.git\n",
                "does not pin an exact version",
            ),
            (
                "numpy==2 --no-binary numpy\n",
                "gives an option other than --hash",
            ),
            ("numpy==2 --hash=sha256:abc\n", "not 64 hex digits"),
            ("numpy==2.*\n", "does not pin an exact version"),
        ] {
            let err = check_lock(lock).unwrap_err();
            assert!(err.contains(why), "{lock:?} → {err}");
        }
        let half = format!("numpy==2 --hash=sha256:{HASH}\ntorch==2\n");
        assert!(check_lock(&half)
            .unwrap_err()
            .contains("1 of 2 pins give a --hash; with hashes, every pin must"));
    }

    #[test]
    fn the_key_follows_the_lock_and_the_interpreter() {
        let python = Path::new("/usr/bin/python3.11");
        let a = key(b"numpy==2\n", python, "3.11.2");
        assert_eq!(a.len(), 16);
        assert_eq!(a, key(b"numpy==2\n", python, "3.11.2"));
        assert_ne!(a, key(b"numpy==3\n", python, "3.11.2"));
        assert_ne!(a, key(b"numpy==2\n", python, "3.11.3"));
        assert_ne!(
            a,
            key(b"numpy==2\n", Path::new("/usr/bin/python3.12"), "3.11.2")
        );
    }

    /// The system's interpreter, which a sandbox shows.
    const PYTHON: &str = "/usr/bin/python3";

    fn envs(store: &Path) -> PythonEnvs<'_> {
        PythonEnvs {
            store,
            interpreter: Path::new(PYTHON),
            sandbox: None,
            timeout: Duration::from_secs(300),
        }
    }

    #[test]
    fn an_environment_is_made_once_per_lock_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("requirements.lock");
        std::fs::write(&lock, "# nothing beyond the standard library\n").unwrap();
        let store = dir.path().join("python");
        let env = envs(&store).prepare(&lock, &Cancel::new()).unwrap();
        assert!(env.made_in.is_some());
        assert!(env.root.starts_with(&store));
        assert!(env.root.join("bin/python3").exists());
        let ready = store.join(format!(
            "{}.ready",
            env.root.file_name().unwrap().to_string_lossy()
        ));
        let made = std::fs::metadata(&ready).unwrap().modified().unwrap();
        // Seen before: nothing runs, the same folder comes back.
        let again = envs(&store).prepare(&lock, &Cancel::new()).unwrap();
        assert_eq!((&again.root, again.made_in), (&env.root, None));
        assert_eq!(std::fs::metadata(&ready).unwrap().modified().unwrap(), made);
        // Another lock, another environment.
        std::fs::write(&lock, "# another lock\n").unwrap();
        assert_ne!(
            envs(&store).prepare(&lock, &Cancel::new()).unwrap().root,
            env.root
        );
        let (_, path) = env
            .env(false)
            .into_iter()
            .find(|(k, _)| k == "PATH")
            .unwrap();
        assert!(
            path.starts_with(&format!("{}/bin:", env.root.display())),
            "{path}"
        );
    }

    #[test]
    fn a_lock_that_does_not_resolve_is_a_clear_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("index");
        std::fs::create_dir(&index).unwrap();
        let lock = dir.path().join("requirements.lock");
        std::fs::write(
            &lock,
            format!(
                "--index-url file://{}\nswarmlab-no-such-package==1.0\n",
                index.display()
            ),
        )
        .unwrap();
        let store = dir.path().join("python");
        let err = envs(&store).prepare(&lock, &Cancel::new()).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, ClientError::Lock(_)), "{message}");
        assert!(message.contains("did not install with"), "{message}");
        assert!(
            message.contains("installing the lock ended with Exited(Code(1))"),
            "{message}"
        );
        assert!(
            message.contains("swarmlab-no-such-package==1.0"),
            "{message}"
        );
        let left: Vec<_> = std::fs::read_dir(&store)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(left.iter().all(|name| name.ends_with(".log")), "{left:?}");
    }

    #[test]
    fn a_lock_that_does_not_pin_or_an_unseen_interpreter_fail_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("requirements.lock");
        std::fs::write(&lock, "numpy\n").unwrap();
        let store = dir.path().join("python");
        let err = envs(&store).prepare(&lock, &Cancel::new()).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "requirements.lock: line 1: `numpy` does not pin an exact version (`name==version`)"
            ),
            "{err}"
        );
        assert!(!store.exists());

        std::fs::write(&lock, "numpy==2.4.6\n").unwrap();
        let mut sandbox = SandboxConfig::new("/bin/true", dir.path());
        sandbox.system_paths = vec![PathBuf::from("/nowhere")];
        let envs = PythonEnvs {
            sandbox: Some(&sandbox),
            ..envs(&store)
        };
        let err = envs.prepare(&lock, &Cancel::new()).unwrap_err();
        assert!(
            err.to_string()
                .contains("lies outside what the sandbox shows (/nowhere)"),
            "{err}"
        );
        assert!(!store.exists());
    }
}
