//! The verifier's sandbox at start: the self-test runs in the verifier's own folder, where
//! its trees will be, so that a folder the sandbox's uid cannot enter (a private parent such
//! as `/root`, or a `mktemp -d` folder) stops the verifier at once with that folder named,
//! instead of passing the self-test and then failing every job.
//!
//! It prepares the verifier's own folder (others may enter it, not list it) and never changes
//! a folder above it.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use swarmlab_runner::sandbox::{self_test_in, Report};
use swarmlab_runner::SandboxConfig;

use crate::ClientError;

/// Makes `dir`, lets the sandbox's uid pass through it, and runs the sandbox's self-test of
/// `template` in it: what held, or why not.
pub fn test_sandbox_in(dir: &Path, template: &SandboxConfig) -> Result<Report, ClientError> {
    std::fs::create_dir_all(dir).map_err(ClientError::io("create", dir))?;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        // Only a root verifier runs the sandbox as another uid, which must pass through
        // the folder to reach the trees in it. Entering is enough: the key stays 0600.
        let meta = std::fs::metadata(dir).map_err(ClientError::io("read", dir))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o011 != 0o011 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o011))
                .map_err(ClientError::io("chmod", dir))?;
        }
    }
    match self_test_in(template, dir) {
        Ok(report) => Ok(report),
        Err(source) => match root
            .then(|| blocked(dir, template.uid, template.gid))
            .flatten()
        {
            Some((folder, mode)) => Err(ClientError::SandboxUnreachable {
                dir: dir.to_path_buf(),
                folder,
                mode,
                uid: template.uid,
            }),
            None => Err(ClientError::SandboxSelfTest {
                dir: dir.to_path_buf(),
                source,
            }),
        },
    }
}

/// The first folder on the way to `dir` that `uid`/`gid` may not pass through, by its mode
/// bits, with its mode.
fn blocked(dir: &Path, uid: u32, gid: u32) -> Option<(PathBuf, u32)> {
    let dir = dir.canonicalize().ok()?;
    let mut folders: Vec<&Path> = dir.ancestors().collect();
    folders.reverse();
    folders.into_iter().find_map(|folder| {
        let meta = std::fs::metadata(folder).ok()?;
        let search = if meta.uid() == uid {
            0o100
        } else if meta.gid() == gid {
            0o010
        } else {
            0o001
        };
        let mode = meta.mode() & 0o7777;
        (mode & search == 0).then(|| (folder.to_path_buf(), mode))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_folder_others_cannot_enter_is_named() {
        let top = std::env::temp_dir().join(format!("swarmlab-reach-{}", std::process::id()));
        let private = top.join("private");
        let inner = private.join("verifier");
        std::fs::create_dir_all(&inner).unwrap();
        let set = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        set(&top, 0o755);
        set(&private, 0o700);
        set(&inner, 0o755);
        let private = private.canonicalize().unwrap();
        let nobody = SandboxConfig::DEFAULT_ID;
        let found = blocked(&inner, nobody, nobody);
        set(&private, 0o711);
        let open = blocked(&inner, nobody, nobody);
        std::fs::remove_dir_all(&top).unwrap();
        assert_eq!(found, Some((private, 0o700)));
        assert_eq!(open, None);
    }
}
