//! Where a verifier keeps its baselines and their builds (docs/security.md, "Builds"): one
//! place per baseline content, so that a verifier serving several tracks builds each baseline
//! once, and a track whose pinned baseline moves gets a new place.
//!
//! - `trees/baseline/<key>/`: the baseline's work tree; a compiled track's snapshot is its
//!   build folder.
//! - `builds/<key>/`: the snapshot's stamp, the baseline's build logs, the fetch's log and
//!   mark.
//! - `builds/served`: the tracks served last, newest first, each with the key it was served
//!   from (`<track> <key>` a line); at most [`KEPT`] of them.
//!
//! The key is the baseline's git tree id: the same files build the same, whatever the commit
//! or the track. A place that no track in `builds/served` names is removed, and so are the
//! single tree and snapshot of the layout before this one (`trees/baseline` as one tree,
//! `builds/snapshot.stamp`). It builds nothing and runs no track code.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::mirror::Mirror;
use crate::ClientError;

/// The most tracks whose baselines a verifier keeps: the least recently served beyond these
/// lose theirs, and build again if they come back.
pub const KEPT: usize = 4;

/// The file naming the tracks served last, in `builds/`.
const SERVED: &str = "served";
/// The stamp of a finished snapshot, in a baseline's `builds/<key>/`.
pub(super) const STAMP: &str = "snapshot.stamp";

/// One baseline's place in the verifier's folder.
pub(crate) struct Baseline {
    /// The baseline's work tree; a compiled track's snapshot is its build folder.
    pub(crate) tree: PathBuf,
    /// Its stamp, its build logs, and its fetched crates' mark.
    pub(crate) builds: PathBuf,
}

/// The baselines of the verifier whose folder is `dir`.
pub(crate) struct Snapshots<'a> {
    pub(crate) dir: &'a Path,
}

impl Snapshots<'_> {
    /// Where the baseline whose content is `key` lives.
    pub(crate) fn baseline(&self, key: &str) -> Baseline {
        Baseline {
            tree: self.trees().join(key),
            builds: self.builds().join(key),
        }
    }

    /// Notes that `track` is served from the baseline `key` now, removes the places that no
    /// track kept in `builds/served` names any more (and the layout before this one), and
    /// returns the baseline's place, its `builds/<key>/` made.
    pub(crate) fn serve(
        &self,
        mirror: &Mirror,
        track: &str,
        key: &str,
    ) -> Result<Baseline, ClientError> {
        check_name(track)?;
        let legacy = self.trees().join(".git");
        if legacy.exists() {
            // The layout before this one: `trees/baseline` was the one baseline's tree.
            mirror.remove_worktree(&self.trees());
        }
        let builds = self.builds();
        std::fs::create_dir_all(&builds).map_err(ClientError::io("create", &builds))?;
        let mut served = self.served();
        served.retain(|(t, _)| t != track);
        served.insert(0, (track.to_string(), key.to_string()));
        served.truncate(KEPT);
        let text: String = served.iter().map(|(t, k)| format!("{t} {k}\n")).collect();
        let path = builds.join(SERVED);
        let next = builds.join(format!("{SERVED}.next"));
        std::fs::write(&next, text).map_err(ClientError::io("write", &next))?;
        std::fs::rename(&next, &path).map_err(ClientError::io("write", &path))?;
        let kept: HashSet<&str> = served.iter().map(|(_, k)| k.as_str()).collect();
        self.prune(mirror, &kept)?;
        let place = self.baseline(key);
        std::fs::create_dir_all(&place.builds).map_err(ClientError::io("create", &place.builds))?;
        Ok(place)
    }

    /// The key `track` was last served from, if it is still kept.
    pub(crate) fn key_of(&self, track: &str) -> Option<String> {
        self.served()
            .into_iter()
            .find(|(t, _)| t == track)
            .map(|(_, k)| k)
    }

    /// `builds/served`, newest first; lines that do not read as `<track> <key>` are dropped.
    fn served(&self) -> Vec<(String, String)> {
        let text = std::fs::read_to_string(self.builds().join(SERVED)).unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let (track, key) = line.split_once(' ')?;
                (check_name(track).is_ok() && is_key(key))
                    .then(|| (track.to_string(), key.to_string()))
            })
            .collect()
    }

    /// Removes every baseline tree and every entry of `builds/` but `served` whose name is not
    /// in `kept`: stale baselines and the files of the layout before this one.
    fn prune(&self, mirror: &Mirror, kept: &HashSet<&str>) -> Result<(), ClientError> {
        for entry in entries(&self.trees())? {
            let stale = entry
                .file_name()
                .to_str()
                .is_none_or(|name| !kept.contains(name));
            if stale {
                mirror.remove_worktree(&entry.path());
            }
        }
        for entry in entries(&self.builds())? {
            let name = entry.file_name();
            let stale = name
                .to_str()
                .is_none_or(|name| name != SERVED && !kept.contains(name));
            if stale {
                let path = entry.path();
                if path.is_dir() && !path.is_symlink() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                }
                .map_err(ClientError::io("remove", &path))?;
            }
        }
        Ok(())
    }

    fn trees(&self) -> PathBuf {
        self.dir.join("trees").join("baseline")
    }

    fn builds(&self) -> PathBuf {
        self.dir.join("builds")
    }
}

/// The entries of `dir`; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<std::fs::DirEntry>, ClientError> {
    match std::fs::read_dir(dir) {
        Ok(list) => list
            .collect::<Result<Vec<_>, _>>()
            .map_err(ClientError::io("list", dir)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ClientError::io("list", dir)(e)),
    }
}

/// A track's name as the hub allows it (lowercase letters, digits, `-`, `_`): it names a line
/// of `builds/served`.
fn check_name(track: &str) -> Result<(), ClientError> {
    let fits = !track.is_empty()
        && track
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if fits {
        Ok(())
    } else {
        Err(ClientError::TrackName(track.to_string()))
    }
}

/// Whether `key` reads as a git tree id.
fn is_key(key: &str) -> bool {
    matches!(key.len(), 40 | 64) && key.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> String {
        format!("{i:02x}").repeat(20)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|list| {
                list.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn fixture() -> (tempfile::TempDir, Mirror) {
        let dir = tempfile::tempdir().unwrap();
        let mirror = Mirror::open_or_init(&dir.path().join("repo")).unwrap();
        (dir, mirror)
    }

    /// Serves `track` from `key` and leaves a file in both of its folders, as a build would.
    fn serve(snapshots: &Snapshots, mirror: &Mirror, track: &str, key: &str) {
        let place = snapshots.serve(mirror, track, key).unwrap();
        std::fs::create_dir_all(&place.tree).unwrap();
        std::fs::write(place.tree.join("built"), "").unwrap();
        std::fs::write(place.builds.join(STAMP), "").unwrap();
    }

    #[test]
    fn each_track_keeps_one_baseline_and_a_moved_baseline_drops_the_old_one() {
        let (dir, mirror) = fixture();
        let snapshots = Snapshots { dir: dir.path() };
        serve(&snapshots, &mirror, "toy", &key(1));
        serve(&snapshots, &mirror, "tinygpt", &key(2));
        serve(&snapshots, &mirror, "toy", &key(1));
        assert_eq!(names(&dir.path().join("trees/baseline")), [key(1), key(2)]);
        assert_eq!(snapshots.key_of("tinygpt"), Some(key(2)));
        assert!(snapshots.baseline(&key(2)).builds.join(STAMP).is_file());

        // toy's pinned baseline moves: its old place goes, tinygpt's stays.
        serve(&snapshots, &mirror, "toy", &key(3));
        assert_eq!(names(&dir.path().join("trees/baseline")), [key(2), key(3)]);
        assert_eq!(
            names(&dir.path().join("builds")),
            [key(2), key(3), SERVED.into()]
        );
        assert_eq!(snapshots.key_of("toy"), Some(key(3)));
    }

    #[test]
    fn two_tracks_on_the_same_files_share_one_baseline() {
        let (dir, mirror) = fixture();
        let snapshots = Snapshots { dir: dir.path() };
        serve(&snapshots, &mirror, "a", &key(1));
        serve(&snapshots, &mirror, "b", &key(1));
        assert_eq!(names(&dir.path().join("trees/baseline")), [key(1)]);
        assert_eq!(snapshots.key_of("a"), snapshots.key_of("b"));
    }

    #[test]
    fn at_most_kept_tracks_keep_their_baselines_the_least_recently_served_lose_theirs() {
        let (dir, mirror) = fixture();
        let snapshots = Snapshots { dir: dir.path() };
        let tracks: Vec<String> = (0..=KEPT).map(|i| format!("t{i}")).collect();
        for (i, track) in tracks.iter().enumerate() {
            serve(&snapshots, &mirror, track, &key(i as u8));
        }
        let kept = names(&dir.path().join("trees/baseline"));
        assert_eq!(kept.len(), KEPT, "{kept:?}");
        assert!(!kept.contains(&key(0)), "{kept:?}");
        assert_eq!(snapshots.key_of("t0"), None);
        assert_eq!(snapshots.key_of(&tracks[KEPT]), Some(key(KEPT as u8)));
    }

    #[test]
    fn the_single_tree_and_snapshot_of_before_are_removed() {
        let (dir, mirror) = fixture();
        // The layout before: trees/baseline is a work tree, builds/ holds its files.
        let repo = mirror.root();
        std::fs::write(repo.join("f"), "x").unwrap();
        mirror.git().run(&["add", "f"]).unwrap();
        mirror
            .git()
            .run(&[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "f",
            ])
            .unwrap();
        let old = dir.path().join("trees/baseline");
        mirror.worktree("HEAD", &old).unwrap();
        std::fs::create_dir_all(old.join("target")).unwrap();
        let builds = dir.path().join("builds");
        std::fs::create_dir_all(&builds).unwrap();
        for file in [
            "snapshot.stamp",
            "baseline.0.log",
            "fetch.log",
            "fetched-abc",
        ] {
            std::fs::write(builds.join(file), "").unwrap();
        }

        let snapshots = Snapshots { dir: dir.path() };
        serve(&snapshots, &mirror, "toy", &key(1));
        assert_eq!(names(&old), [key(1)]);
        assert_eq!(names(&builds), [key(1), SERVED.into()]);
        let worktrees = mirror.git().run(&["worktree", "list"]).unwrap();
        assert_eq!(worktrees.lines().count(), 1, "{worktrees}");
    }

    #[test]
    fn a_track_name_that_could_leave_its_line_is_refused() {
        let (dir, mirror) = fixture();
        let snapshots = Snapshots { dir: dir.path() };
        for bad in ["", "two words", "../x", "a\nb"] {
            let err = snapshots.serve(&mirror, bad, &key(1)).err().unwrap();
            assert!(
                err.to_string().contains("lowercase letters"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn a_damaged_served_file_keeps_only_its_good_lines() {
        let (dir, mirror) = fixture();
        let snapshots = Snapshots { dir: dir.path() };
        serve(&snapshots, &mirror, "toy", &key(1));
        let path = dir.path().join("builds").join(SERVED);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("garbage\nx {}\n{text}", "zz")).unwrap();
        assert_eq!(snapshots.key_of("toy"), Some(key(1)));
        assert_eq!(snapshots.key_of("x"), None);
    }
}
