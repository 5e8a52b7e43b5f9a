use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn repo() -> (tempfile::TempDir, GitStore) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("model.py"), "lr = 0.1\n").unwrap();
    fs::write(dir.path().join("eval.py"), "print(1)\n").unwrap();
    let store = GitStore::init(dir.path(), "baseline").unwrap();
    (dir, store)
}

fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn commit_reset_and_clean_round_trip() {
    let (dir, git) = repo();
    let base = git.resolve("HEAD").unwrap().unwrap();
    fs::write(dir.path().join("model.py"), "lr = 0.2\n").unwrap();
    fs::write(dir.path().join("new.py"), "x\n").unwrap();
    let mut changed = git.changed_paths().unwrap();
    changed.sort();
    assert_eq!(changed, vec!["model.py", "new.py"]);
    assert_eq!(git.dirty_tracked().unwrap(), vec!["model.py"]);

    let commit = git
        .commit_paths(&["model.py".into()], "lr 0.1 -> 0.2")
        .unwrap();
    assert_eq!(
        git.parent_of(&commit).unwrap().as_deref(),
        Some(base.as_str())
    );
    let stat = git.diff_stat(&base, &commit).unwrap();
    assert_eq!((stat.files, stat.insertions, stat.deletions), (1, 1, 1));

    git.reset_hard(&base).unwrap();
    git.clean(&["new.py".into()]).unwrap();
    assert_eq!(
        fs::read_to_string(dir.path().join("model.py")).unwrap(),
        "lr = 0.1\n"
    );
    assert!(!dir.path().join("new.py").exists());
    assert!(git.changed_paths().unwrap().is_empty());
}

#[test]
fn hooks_in_the_repository_never_run() {
    let (dir, git) = repo();
    let marker = dir.path().join("hook-ran");
    let hooks = dir.path().join(".git/hooks");
    for hook in ["pre-commit", "commit-msg", "post-commit", "post-checkout"] {
        script(&hooks.join(hook), &format!("touch {}", marker.display()));
    }
    let custom = dir.path().join("myhooks");
    fs::create_dir(&custom).unwrap();
    script(
        &custom.join("pre-commit"),
        &format!("touch {}", marker.display()),
    );
    git.run(&["config", "core.hooksPath", custom.to_str().unwrap()])
        .unwrap();

    fs::write(dir.path().join("model.py"), "lr = 0.3\n").unwrap();
    git.commit_paths(&["model.py".into()], "change").unwrap();
    git.switch_to("swarmlab/test").unwrap();
    git.reset_hard("HEAD~1").unwrap();
    assert!(!marker.exists(), "a repository hook ran");
}

#[test]
fn filters_named_by_gitattributes_never_run() {
    let (dir, git) = repo();
    let marker = dir.path().join("filter-ran");
    fs::write(
        dir.path().join(".gitattributes"),
        "*.py filter=evil diff=evil\n",
    )
    .unwrap();
    git.commit_paths(&[".gitattributes".into()], "attributes")
        .unwrap();
    let evil = format!("sh -c 'touch {}; cat'", marker.display());
    git.run(&["config", "filter.evil.clean", &evil]).unwrap();
    git.run(&["config", "filter.evil.smudge", &evil]).unwrap();
    git.run(&["config", "diff.evil.textconv", &evil]).unwrap();
    // Only a test reaches around the store to check that plain git would have run it.
    fs::write(dir.path().join("model.py"), "lr = 0.4\n").unwrap();
    let head = git.resolve("HEAD").unwrap().unwrap();
    let commit = git.commit_paths(&["model.py".into()], "change").unwrap();
    git.diff(&head, &commit).unwrap();
    git.reset_hard(&head).unwrap();
    assert!(!marker.exists(), "a filter or diff driver ran");
}

#[test]
fn fsmonitor_in_the_repository_never_runs() {
    let (dir, git) = repo();
    let marker = dir.path().join("fsmonitor-ran");
    let monitor = dir.path().join("monitor.sh");
    script(&monitor, &format!("touch {}", marker.display()));
    git.run(&["config", "core.fsmonitor", monitor.to_str().unwrap()])
        .unwrap();
    git.changed_paths().unwrap();
    git.dirty_tracked().unwrap();
    assert!(!marker.exists(), "fsmonitor ran");
}

#[test]
fn risky_info_attributes_are_refused() {
    let (dir, _git) = repo();
    fs::write(dir.path().join(".git/info/attributes"), "* filter=lfs\n").unwrap();
    let message = GitStore::open(dir.path()).unwrap_err().to_string();
    assert!(
        message.contains("names a filter or diff driver"),
        "{message}"
    );
}

#[test]
fn a_subfolder_is_not_a_repository_root() {
    let (dir, _git) = repo();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let message = GitStore::open(&sub).unwrap_err().to_string();
    assert!(
        message.contains("is not the root of a git repository"),
        "{message}"
    );
    let plain = tempfile::tempdir().unwrap();
    assert!(GitStore::open(plain.path()).is_err());
}

#[test]
fn exclude_adds_each_pattern_once() {
    let (dir, git) = repo();
    git.exclude(&["results.tsv", ".swarmlab/"]).unwrap();
    git.exclude(&["results.tsv"]).unwrap();
    let text = fs::read_to_string(dir.path().join(".git/info/exclude")).unwrap();
    assert_eq!(text.lines().filter(|l| *l == "results.tsv").count(), 1);
    fs::write(dir.path().join("results.tsv"), "x").unwrap();
    assert!(git.changed_paths().unwrap().is_empty());
}

#[test]
fn a_quarantine_takes_the_new_objects_and_leaves_the_repository_alone() {
    let (dir, git) = repo();
    let quarantine = tempfile::tempdir().unwrap();
    let view = git.quarantined(quarantine.path()).unwrap();
    let blob = view
        .run_with_input(&["hash-object", "-w", "--stdin"], b"quarantined\n")
        .unwrap();
    let blob = String::from_utf8(blob).unwrap().trim().to_string();
    // Written to the quarantine, readable through it, not in the repository.
    assert!(fs::read_dir(quarantine.path()).unwrap().count() > 0);
    assert_eq!(
        view.run(&["cat-file", "-p", &blob]).unwrap(),
        "quarantined\n"
    );
    assert!(git.run(&["cat-file", "-e", &blob]).is_err());
    // The repository's own objects are readable through it, and refs cannot move.
    assert!(view.run(&["cat-file", "-e", "HEAD"]).is_ok());
    let head = git.resolve("HEAD").unwrap().unwrap();
    assert!(view.run(&["update-ref", "refs/heads/q", &head]).is_err());
    drop(dir);
}

#[test]
fn a_run_past_its_deadline_is_killed() {
    let (_dir, git) = repo();
    let late = git.with_deadline(std::time::Instant::now());
    assert!(matches!(
        late.run(&["rev-parse", "HEAD"]),
        Err(GitError::TimedOut { .. })
    ));
    let started = std::time::Instant::now();
    let slow = git.with_deadline(started + std::time::Duration::from_millis(200));
    assert!(matches!(
        slow.run(&["-c", "alias.slow=!sleep 5", "slow"]),
        Err(GitError::TimedOut { .. })
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    let soon = git.with_deadline(std::time::Instant::now() + std::time::Duration::from_secs(30));
    assert!(soon.run(&["rev-parse", "HEAD"]).is_ok());
}
