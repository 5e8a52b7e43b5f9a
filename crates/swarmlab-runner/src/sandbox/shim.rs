//! The shim: the first program bubblewrap starts inside the sandbox. It applies the layers
//! that must be set from inside (no_new_privs, the file size limit, Landlock, seccomp), closes inherited
//! descriptors, and execs the real command, or, for the self-test, runs the probes instead.
//!
//! It fails closed: if any layer cannot be applied it prints one line naming the layer on
//! stderr and exits with [`SHIM_FAILED`], never running the command. Only a test build skips a
//! layer on purpose (see [`Layer`]).

use std::ffi::{CString, OsString};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::layer::Layer;
use super::{landlock, probe, rlimit, seccomp};

/// Exit status of the shim when a layer could not be applied (as `env` and container tools
/// use 125 for their own failures).
pub const SHIM_FAILED: i32 = 125;
/// Prefix of the shim's failure line, which the self-test reads from the log.
pub(crate) const FAILURE_PREFIX: &str = "swarmlab sandbox: layer `";

/// What the runner asked the shim to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ShimArgs {
    pub writable: Vec<PathBuf>,
    /// `RLIMIT_FSIZE` to set.
    pub fsize: Option<u64>,
    /// The layer a test build left out (see [`Layer`]); a build without the
    /// `selftest-faults` feature refuses the argument that carries it.
    pub remove: Option<Layer>,
    pub probe: Option<probe::Probes>,
    pub command: Vec<OsString>,
}

impl ShimArgs {
    /// The arguments that make the shim parse back into `self`.
    pub(crate) fn to_args(&self) -> Vec<OsString> {
        let mut args = Vec::new();
        for path in &self.writable {
            args.push("--rw".into());
            args.push(path.into());
        }
        if let Some(n) = self.fsize {
            args.extend(["--fsize".into(), n.to_string().into()]);
        }
        if let Some(layer) = self.remove {
            args.extend(["--selftest-remove-layer".into(), layer.name().into()]);
        }
        if let Some(p) = &self.probe {
            args.push("--probe".into());
            for path in &p.read_only {
                args.push("--probe-read-only".into());
                args.push(path.into());
            }
            let limits: Vec<String> = p.rlimits.iter().map(u64::to_string).collect();
            args.extend(["--probe-rlimits".into(), limits.join(",").into()]);
            if let Some(n) = p.pids {
                args.extend(["--probe-pids".into(), n.to_string().into()]);
            }
            if let Some(n) = p.memory {
                args.extend(["--probe-memory".into(), n.to_string().into()]);
            }
        }
        args.push("--".into());
        args.extend(self.command.iter().cloned());
        args
    }

    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Self, String> {
        let mut parsed = ShimArgs::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg:?} needs a value"));
            match arg.to_str() {
                Some("--") => break,
                Some("--rw") => parsed.writable.push(value()?.into()),
                Some("--fsize") => parsed.fsize = Some(number(&value()?)?),
                #[cfg(feature = "selftest-faults")]
                Some("--selftest-remove-layer") => {
                    let name = value()?;
                    let layer = name.to_str().and_then(Layer::from_name);
                    parsed.remove = Some(layer.ok_or(format!("no layer named {name:?}"))?);
                }
                Some("--probe") => {
                    parsed.probe.get_or_insert_with(Default::default);
                }
                Some("--probe-read-only") => {
                    let path = value()?.into();
                    let probe = parsed.probe.get_or_insert_with(Default::default);
                    probe.read_only.push(path);
                }
                Some("--probe-rlimits") => {
                    let list = value()?;
                    let limits: Result<Vec<u64>, _> = list
                        .to_str()
                        .unwrap_or("")
                        .split(',')
                        .map(str::parse)
                        .collect();
                    let limits = limits.ok().and_then(|l| l.try_into().ok());
                    let probe = parsed.probe.get_or_insert_with(Default::default);
                    probe.rlimits = limits.ok_or(format!("{list:?} is not a list of limits"))?;
                }
                Some("--probe-pids") => {
                    let n = number(&value()?)?;
                    parsed.probe.get_or_insert_with(Default::default).pids = Some(n);
                }
                Some("--probe-memory") => {
                    let n = number(&value()?)?;
                    parsed.probe.get_or_insert_with(Default::default).memory = Some(n);
                }
                _ => return Err(format!("unknown argument {arg:?}")),
            }
        }
        parsed.command = args.collect();
        if parsed.command.is_empty() && parsed.probe.is_none() {
            return Err("no command after `--`".into());
        }
        Ok(parsed)
    }
}

fn number(s: &OsString) -> Result<u64, String> {
    s.to_str()
        .and_then(|s| s.parse().ok())
        .ok_or(format!("{s:?} is not a number"))
}

/// Runs the shim with `args` (those after the program name and any subcommand): applies the
/// layers, then execs the command. Never returns. The swarmlab binary calls this from a
/// hidden subcommand; `swarmlab-sandbox-shim` is a binary that only calls this.
pub fn shim_main(args: impl IntoIterator<Item = OsString>) -> ! {
    let args = match ShimArgs::parse(args) {
        Ok(args) => args,
        Err(detail) => fail("arguments", &detail),
    };
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        fail("no_new_privs", &io::Error::last_os_error().to_string());
    }
    // Nothing the runner or bubblewrap opened may reach the program.
    // SAFETY: closes descriptors from 3 up; the shim holds none it still needs.
    unsafe {
        libc::close_range(3, libc::c_uint::MAX, 0);
    }
    if let Some(bytes) = args.fsize {
        if let Err(e) = rlimit::set_fsize(bytes) {
            fail("rlimits", &format!("failed to set RLIMIT_FSIZE: {e}"));
        }
    }
    let writable: Vec<&Path> = args.writable.iter().map(PathBuf::as_path).collect();
    let abi = if args.remove == Some(Layer::Landlock) {
        landlock::abi().unwrap_or(0)
    } else {
        match landlock::restrict(&writable) {
            Ok(abi) => abi,
            Err(detail) => fail("landlock", &detail),
        }
    };
    if args.remove != Some(Layer::Seccomp) {
        if let Err(detail) = seccomp::install() {
            fail("seccomp", &detail);
        }
    }
    if let Some(probes) = &args.probe {
        let ok = probe::run(probes, &args.writable, abi);
        std::process::exit(if ok { 0 } else { 1 });
    }
    exec(&args.command)
}

fn exec(command: &[OsString]) -> ! {
    let argv: Result<Vec<CString>, _> =
        command.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(argv) = argv else {
        fail("exec", "an argument holds a NUL byte");
    };
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: a NUL-terminated array of valid C strings that outlive the call.
    unsafe {
        libc::execvp(ptrs[0], ptrs.as_ptr());
    }
    let err = io::Error::last_os_error();
    let _ = writeln!(
        io::stderr(),
        "swarmlab sandbox: failed to run `{}`: {err}",
        command[0].to_string_lossy()
    );
    std::process::exit(if err.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    })
}

fn fail(layer: &str, detail: &str) -> ! {
    let _ = writeln!(io::stderr(), "{FAILURE_PREFIX}{layer}` failed: {detail}");
    std::process::exit(SHIM_FAILED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() {
        let args = ShimArgs {
            writable: vec!["/scratch".into(), "/tmp".into()],
            fsize: Some(4096),
            remove: Some(Layer::Seccomp),
            probe: Some(probe::Probes {
                read_only: vec!["/work".into()],
                rlimits: [1, 2, 3, 4],
                pids: Some(16),
                memory: Some(1 << 20),
            }),
            command: vec!["sh".into(), "-c".into(), "--rw".into()],
        };
        assert_eq!(ShimArgs::parse(args.to_args()).unwrap(), args);
        assert!(ShimArgs::parse(["--rw".into()]).is_err());
        assert!(ShimArgs::parse(["--".into()]).is_err());
        assert!(ShimArgs::parse(["--bogus".into()]).is_err());
        let bogus_layer = [
            "--selftest-remove-layer".into(),
            "bogus".into(),
            "--".into(),
        ];
        assert!(ShimArgs::parse(bogus_layer).is_err());
    }
}
