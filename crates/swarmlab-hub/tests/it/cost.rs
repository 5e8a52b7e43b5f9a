//! What a submission may cost the hub: a bundle's pack is held to its caps before git sees
//! it, git works in a quarantine under a time cap, and a refused submission leaves no
//! object in the track's repository and no file in the scratch folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;

use swarmlab_testkit::git::git;

use crate::support::{Edit, Fixture};

/// Loose and packed objects in the track's repository.
fn objects(f: &Fixture) -> u64 {
    let repo = f.tmp.path().join("hub/tracks/toy");
    git(&repo, &["count-objects", "-v"])
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter(|(k, _)| *k == "count" || *k == "in-pack")
        .map(|(_, v)| v.parse::<u64>().unwrap())
        .sum()
}

fn scratch(f: &Fixture) -> Vec<PathBuf> {
    std::fs::read_dir(f.tmp.path().join("hub/tmp"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// A bundle of `commit` on `parent` whose pack also carries `extra` objects that nothing
/// references, as a hostile worker would build it.
pub fn bundle_with(repo: &Path, commit: &str, parent: &str, extra: &[String]) -> String {
    let mut ids = git(
        repo,
        &["rev-list", "--objects", commit, &format!("^{parent}")],
    );
    for id in extra {
        ids.push('\n');
        ids.push_str(id);
    }
    let ids: String = ids
        .lines()
        .map(|l| format!("{}\n", l.split(' ').next().unwrap()))
        .collect();
    let mut child = Command::new("git")
        .current_dir(repo)
        .args(["pack-objects", "--stdout", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(ids.as_bytes()).unwrap();
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    let mut bytes =
        format!("# v2 git bundle\n-{parent} parent\n{commit} refs/heads/c\n\n").into_bytes();
    bytes.extend(out.stdout);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Writes `content` as an object of `repo` that nothing references.
pub fn loose_blob(repo: &Path, content: &[u8]) -> String {
    let path = repo.join(".git/unreferenced");
    std::fs::write(&path, content).unwrap();
    git(repo, &["hash-object", "-w", path.to_str().unwrap()])
}

#[tokio::test]
async fn hostile_bundles_are_refused_from_their_pack_and_leave_nothing_behind() {
    let f = Fixture::with(|c| {
        c.max_bundle_objects = 40;
        c.max_bundle_inflated_bytes = 1 << 20;
    })
    .await;
    let base = f.baseline.clone();
    let before = objects(&f);

    // A small change that carries a blob of 64 MiB of zeros (64 KiB compressed) that
    // nothing references.
    let (commit, _) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 0.02\n")]);
    let bomb = loose_blob(f.src.root(), &vec![0u8; 64 << 20]);
    let bundle = bundle_with(f.src.root(), &commit, &base, &[bomb]);
    assert!(bundle.len() < 1 << 20, "{}", bundle.len());
    let claim = f.claim(&f.w1, &base, &commit, 0.5, "bomb");
    let info = f.submit_claim(&f.w1, claim, bundle).await;
    assert_eq!(
        (info.status.as_str(), info.reason.as_deref()),
        ("invalid", Some("inflated_too_large"))
    );

    // Many small files.
    let files: Vec<(String, String)> = (0..60)
        .map(|i| (format!("src/f{i}.txt"), format!("{i}\n")))
        .collect();
    let edits: Vec<Edit> = files
        .iter()
        .map(|(p, c)| Edit::Write(p, c.as_bytes()))
        .collect();
    let (commit, bundle) = f.candidate(&base, &edits);
    let claim = f.claim(&f.w1, &base, &commit, 0.5, "many");
    let info = f.submit_claim(&f.w1, claim, bundle).await;
    assert_eq!(
        (info.status.as_str(), info.reason.as_deref()),
        ("invalid", Some("too_many_objects"))
    );

    // Refused by a rule git checks: unpacked into the quarantine, then dropped with it.
    let (commit, bundle) = f.candidate(&base, &[Edit::Write("train.sh", b"echo loss: 0\n")]);
    let claim = f.claim(&f.w1, &base, &commit, 0.5, "outside");
    let info = f.submit_claim(&f.w1, claim, bundle).await;
    assert_eq!(info.reason.as_deref(), Some("outside_editable"));

    assert_eq!(objects(&f), before, "a refused submission left objects");
    assert_eq!(scratch(&f), Vec::<PathBuf>::new());

    // One that passes brings its objects in, and its commit is readable from the track.
    let (commit, bundle) = f.candidate(&base, &[Edit::Write("params.txt", b"lr = 0.03\n")]);
    let claim = f.claim(&f.w1, &base, &commit, 0.5, "good");
    let info = f.submit_claim(&f.w1, claim, bundle).await;
    assert_eq!(info.status, "queued");
    assert!(objects(&f) > before);
    let repo = f.tmp.path().join("hub/tracks/toy");
    assert_eq!(git(&repo, &["cat-file", "-t", &commit]), "commit");
    assert_eq!(scratch(&f), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn git_work_past_the_time_cap_is_refused_as_too_costly() {
    let f = Fixture::with(|c| c.git_timeout = Duration::ZERO).await;
    let before = objects(&f);
    let info = f
        .submit(&f.w1, &f.baseline.clone(), "lr = 0.02\nwidth = 64\n")
        .await;
    assert_eq!(
        (info.status.as_str(), info.reason.as_deref()),
        ("invalid", Some("too_costly"))
    );
    assert_eq!(objects(&f), before);
    assert_eq!(scratch(&f), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn leftovers_in_the_scratch_folder_are_swept_at_start_and_when_old() {
    let f = Fixture::new().await;
    let dir = f.tmp.path().join("hub/tmp");
    let old = dir.join("quarantine-left-by-a-killed-hub");
    std::fs::create_dir_all(old.join("pack")).unwrap();
    let fresh = dir.join("in-flight");
    std::fs::write(&fresh, "x").unwrap();
    let aged = Command::new("touch")
        .args(["-d", "3 hours ago"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(aged.success());
    // The periodic sweep takes what no request can still hold, and leaves the rest.
    f.hub.sweep().await.unwrap();
    assert_eq!(scratch(&f), vec![fresh.clone()]);
    // A hub that starts serving the folder takes everything.
    let mut config = f.hub.config().clone();
    config.listen = "127.0.0.1:0".into();
    let server = swarmlab_hub::Server::bind(config, f.clock.clone())
        .await
        .unwrap();
    assert_eq!(scratch(&f), Vec::<PathBuf>::new());
    drop(server);
}

#[tokio::test]
async fn what_a_killed_git_left_in_a_tracks_repository_is_swept_at_start_and_when_old() {
    let f = Fixture::new().await;
    let git_dir = f.tmp.path().join("hub/tracks/toy/.git");
    std::fs::create_dir_all(git_dir.join("objects/b9")).unwrap();
    let half_object = git_dir.join("objects/b9/tmp_obj_FWZwl9");
    let half_pack = git_dir.join("objects/pack/tmp_pack_q1w2e3");
    let ref_lock = git_dir.join("refs/heads/main.lock");
    for path in [&half_object, &half_pack, &ref_lock] {
        std::fs::write(path, "x").unwrap();
    }
    let aged = Command::new("touch")
        .args(["-d", "3 hours ago"])
        .arg(&half_object)
        .status()
        .unwrap();
    assert!(aged.success());
    let head = git(&git_dir, &["rev-parse", "HEAD"]);
    // The periodic sweep takes what no git run can still be writing, and leaves the rest.
    f.hub.sweep().await.unwrap();
    let present = |p: &Path| p.exists();
    assert!(!present(&half_object));
    assert!(present(&half_pack) && present(&ref_lock));
    // The disk is walked once every quarter of the age, not on every tick.
    let aged_pack = Command::new("touch")
        .args(["-d", "3 hours ago"])
        .arg(&half_pack)
        .status()
        .unwrap();
    assert!(aged_pack.success());
    f.hub.sweep().await.unwrap();
    assert!(present(&half_pack));
    let quarter = f.hub.config().scratch_max_age() / 4;
    f.clock.advance(i64::try_from(quarter.as_millis()).unwrap());
    f.hub.sweep().await.unwrap();
    assert!(!present(&half_pack) && present(&ref_lock));
    // A hub that starts serving the folder takes everything, and the repository is whole.
    std::fs::write(&half_pack, "x").unwrap();
    let mut config = f.hub.config().clone();
    config.listen = "127.0.0.1:0".into();
    let server = swarmlab_hub::Server::bind(config, f.clock.clone())
        .await
        .unwrap();
    assert!(!present(&half_pack) && !present(&ref_lock));
    assert_eq!(git(&git_dir, &["rev-parse", "HEAD"]), head);
    git(&git_dir, &["fsck", "--no-progress"]);
    drop(server);
}
