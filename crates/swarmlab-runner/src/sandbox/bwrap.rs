//! The bubblewrap command line of one run: namespaces, the mounts the program sees, its
//! environment, and the shim as the command.
//!
//! It only builds arguments (it reads whether system paths are symlinks); it must not start
//! anything. The order of mounts matters: a later mount covers an earlier one, and
//! bubblewrap's `--size` applies only to the `--tmpfs` right after it.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use super::config::SandboxConfig;
use super::layer::Layer;

/// Where the shim's copy lies inside the sandbox.
pub(crate) const SHIM_PATH: &str = "/.swarmlab/shim";

/// The arguments of bubblewrap for one run. `shim_fd` is a descriptor of the shim binary that
/// bubblewrap inherits and copies into the sandbox; `shim_tail` follows the shim's path.
pub(crate) fn args(
    config: &SandboxConfig,
    env: &[(String, String)],
    cwd: &Path,
    shim_fd: i32,
    shim_tail: &[OsString],
) -> Vec<OsString> {
    // Bound read-only: system paths, further read-only paths and the checkout (writable only
    // in a test build that removed the layer).
    let ro_bind = if config.applies(Layer::Filesystem) {
        "--ro-bind"
    } else {
        "--bind"
    };
    let mut a = Args::default();
    a.push(["--unshare-user", "--unshare-ipc", "--unshare-pid"]);
    if config.applies(Layer::Network) {
        a.push(["--unshare-net"]);
    }
    a.push([
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--clearenv",
    ]);
    for (key, value) in env {
        a.push(["--setenv", key, value]);
    }
    for path in &config.system_paths {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                if let Ok(target) = fs::read_link(path) {
                    a.push(["--symlink"]);
                    a.path(&target);
                    a.path(path);
                }
            }
            Ok(_) => a.bind(ro_bind, path),
            Err(_) => {}
        }
    }
    a.push(["--proc", "/proc", "--dev", "/dev"]);
    a.tmpfs(config.tmp_bytes, Path::new("/tmp"));
    a.tmpfs(config.tmp_bytes, Path::new("/dev/shm"));
    for device in &config.devices {
        a.bind("--dev-bind", device);
    }
    for path in &config.read_only {
        a.bind(ro_bind, path);
    }
    // After /tmp, so a checkout under /tmp on the host is not hidden by the fresh /tmp.
    a.bind(ro_bind, &config.checkout);
    // After the checkout, so that a build folder inside it is writable.
    for path in &config.writable {
        a.bind("--bind", path);
    }
    match &config.scratch_host {
        Some(host) => {
            a.push(["--bind"]);
            a.path(host);
            a.path(&config.scratch);
        }
        None => a.tmpfs(config.scratch_bytes, &config.scratch),
    }
    a.push(["--perms", "0555", "--ro-bind-data"]);
    a.push([shim_fd.to_string().as_str(), SHIM_PATH]);
    if config.applies(Layer::Filesystem) {
        a.push(["--remount-ro", "/"]);
    }
    a.push(["--chdir"]);
    a.path(cwd);
    a.push(["--", SHIM_PATH]);
    a.0.extend(config.shim_args.iter().map(OsString::from));
    a.0.extend(shim_tail.iter().cloned());
    a.0
}

/// The paths the shim lets the program write (Landlock): the scratch, the fresh tmpfs and
/// the writable folders.
pub(crate) fn writable(config: &SandboxConfig) -> Vec<PathBuf> {
    let mut paths = vec![
        config.scratch.clone(),
        PathBuf::from("/tmp"),
        PathBuf::from("/dev/shm"),
    ];
    paths.extend(config.writable.iter().cloned());
    paths
}

#[derive(Default)]
struct Args(Vec<OsString>);

impl Args {
    fn push<const N: usize>(&mut self, args: [&str; N]) {
        self.0.extend(args.iter().map(OsString::from));
    }

    fn path(&mut self, path: &Path) {
        self.0.push(path.as_os_str().to_owned());
    }

    fn bind(&mut self, how: &str, path: &Path) {
        self.push([how]);
        self.path(path);
        self.path(path);
    }

    fn tmpfs(&mut self, bytes: u64, path: &Path) {
        self.push(["--size", bytes.to_string().as_str(), "--tmpfs"]);
        self.path(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn config() -> SandboxConfig {
        let mut config = SandboxConfig::new("/opt/shim", "/work/track");
        config.system_paths = Vec::new();
        config
    }

    /// The index of the `window` in `args`.
    fn find(args: &[String], window: &[&str]) -> Option<usize> {
        args.windows(window.len()).position(|w| w == window)
    }

    #[test]
    fn gpu_devices_are_dev_bound_at_the_same_path() {
        let mut config = config();
        config.devices = vec!["/dev/nvidia0".into(), "/dev/nvidiactl".into()];
        let args = strings(&args(&config, &[], Path::new("/work/track"), 7, &[]));
        let first = find(&args, &["--dev-bind", "/dev/nvidia0", "/dev/nvidia0"]).unwrap();
        let second = find(&args, &["--dev-bind", "/dev/nvidiactl", "/dev/nvidiactl"]).unwrap();
        // After the minimal /dev, which would otherwise cover them.
        assert!(first > find(&args, &["--dev", "/dev"]).unwrap());
        assert!(second > first);
        assert_eq!(args.iter().filter(|a| *a == "--dev-bind").count(), 2);
        let none = strings(&args_without_devices());
        assert!(!none.iter().any(|a| a == "--dev-bind"));
    }

    fn args_without_devices() -> Vec<OsString> {
        args(&config(), &[], Path::new("/"), 7, &[])
    }

    #[test]
    fn sizes_come_right_before_their_tmpfs_and_scratch_after_the_checkout() {
        let mut config = config();
        config.scratch = "/work/track/out".into();
        config.scratch_bytes = 1000;
        config.tmp_bytes = 2000;
        let args = strings(&args(&config, &[], Path::new("/work/track"), 7, &[]));
        let checkout = find(&args, &["--ro-bind", "/work/track", "/work/track"]).unwrap();
        let scratch = find(&args, &["--size", "1000", "--tmpfs", "/work/track/out"]).unwrap();
        let tmp = find(&args, &["--size", "2000", "--tmpfs", "/tmp"]).unwrap();
        assert!(tmp < checkout && checkout < scratch);
        assert!(find(&args, &["--size", "2000", "--tmpfs", "/dev/shm"]).is_some());
    }

    #[test]
    fn a_host_scratch_is_bound_read_write_in_place_of_the_tmpfs() {
        let mut config = config();
        config.scratch = "/scratch".into();
        config.scratch_host = Some("/var/verify/run-1".into());
        let args = strings(&args(&config, &[], Path::new("/work/track"), 7, &[]));
        let checkout = find(&args, &["--ro-bind", "/work/track", "/work/track"]).unwrap();
        let scratch = find(&args, &["--bind", "/var/verify/run-1", "/scratch"]).unwrap();
        assert!(checkout < scratch);
        assert!(find(&args, &["--tmpfs", "/scratch"]).is_none());
    }

    #[test]
    fn a_writable_folder_is_bound_over_the_read_only_checkout_and_landlock_allows_it() {
        let mut config = config();
        config.writable = vec!["/work/track/target".into()];
        let args = strings(&args(&config, &[], Path::new("/work/track"), 7, &[]));
        let checkout = find(&args, &["--ro-bind", "/work/track", "/work/track"]).unwrap();
        let build = find(
            &args,
            &["--bind", "/work/track/target", "/work/track/target"],
        );
        assert!(build.unwrap() > checkout);
        assert!(writable(&config).contains(&PathBuf::from("/work/track/target")));
        let plain = strings(&args_without_devices());
        assert!(!plain.iter().any(|a| a == "--bind"));
        assert_eq!(writable(&super::SandboxConfig::new("/s", "/c")).len(), 3);
    }

    #[test]
    fn environment_is_cleared_then_only_the_spec_env_set_and_the_shim_runs_last() {
        let env = [("A".to_string(), "1".to_string())];
        let tail = [OsString::from("--"), OsString::from("true")];
        let mut config = config();
        config.shim_args = vec!["__shim".into()];
        let args = strings(&args(&config, &env, Path::new("/work/track"), 9, &tail));
        let clear = find(&args, &["--clearenv"]).unwrap();
        assert!(find(&args, &["--setenv", "A", "1"]).unwrap() > clear);
        assert_eq!(args.iter().filter(|a| *a == "--setenv").count(), 1);
        assert!(find(&args, &["--unshare-net"]).is_some());
        assert!(find(&args, &["--ro-bind-data", "9", SHIM_PATH]).is_some());
        assert!(args.ends_with(&[
            "--".into(),
            SHIM_PATH.into(),
            "__shim".into(),
            "--".into(),
            "true".into()
        ]));
    }

    #[test]
    #[cfg(feature = "selftest-faults")]
    fn a_removed_layer_takes_out_its_own_arguments_and_nothing_else() {
        use crate::sandbox::Layer;
        let mut config = config();
        config.system_paths = vec!["/usr".into()];
        config.read_only = vec!["/data".into()];
        let args_without = |layer| {
            let mut config = config.clone();
            config.remove_layer = Some(layer);
            strings(&args(&config, &[], Path::new("/work/track"), 7, &[]))
        };
        let whole = strings(&args(&config, &[], Path::new("/work/track"), 7, &[]));
        let mut shared = whole.clone();
        shared.retain(|a| a != "--unshare-net");
        assert_eq!(shared.len() + 1, whole.len());
        assert_eq!(args_without(Layer::Network), shared);
        let mut writable = whole.clone();
        let remount = find(&writable, &["--remount-ro", "/"]).unwrap();
        writable.drain(remount..remount + 2);
        for a in &mut writable {
            if a == "--ro-bind" {
                *a = "--bind".into();
            }
        }
        assert_eq!(args_without(Layer::Filesystem), writable);
        assert_eq!(whole.iter().filter(|a| *a == "--ro-bind").count(), 3);
        for layer in Layer::ALL {
            if !matches!(layer, Layer::Network | Layer::Filesystem) {
                assert_eq!(args_without(layer), whole, "{layer:?}");
            }
        }
    }
}
