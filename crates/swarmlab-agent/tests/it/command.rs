//! The `command` proposer with fake agents: shell scripts that behave like a good agent, a
//! cheating one, a hanging one and a broken one.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use swarmlab_agent::{CommandProposer, Proposal, ProposeError, Proposer};

use crate::support::{Track, PROGRAM};

/// Writes `script` to a file outside the worktree and returns a proposer running it with the
/// prompt file as `$1`.
fn agent(scripts: &Path, script: &str, timeout: Duration) -> CommandProposer {
    let path = scripts.join("agent.sh");
    fs::write(&path, script).unwrap();
    let argv = vec![
        "sh".to_string(),
        path.to_string_lossy().into_owned(),
        "{prompt_file}".to_string(),
    ];
    CommandProposer::new(argv, ".swarmlab/agent", timeout)
        .unwrap()
        .with_grace(Duration::from_millis(200))
}

fn log_of(track: &Track) -> String {
    track.read(".swarmlab/agent/1.log")
}

#[test]
fn a_good_agent_edits_an_editable_file_and_its_description_is_taken() {
    let track = Track::new();
    let scripts = tempfile::tempdir().unwrap();
    let mut proposer = agent(
        scripts.path(),
        r#"
grep -q 'params.txt' "$1" || { echo "prompt lacks the editable file"; exit 9; }
grep -q 'Make the loss small' "$1" || { echo "prompt lacks program.md"; exit 9; }
sed -i 's/lr = 0.002/lr = 0.003/' params.txt
echo "thinking about the learning rate"
echo "DESCRIPTION: raise lr to 0.003"
echo "done"
"#,
        Duration::from_secs(30),
    );
    let proposal = proposer.propose(&track.context()).unwrap();
    assert_eq!(
        proposal,
        Proposal::Change {
            description: "raise lr to 0.003".into()
        },
        "log: {}",
        log_of(&track)
    );
    assert_eq!(track.read("params.txt"), "lr = 0.003\nwidth = 128\n");
    assert!(log_of(&track).contains("thinking about the learning rate"));
    let prompt = track.read(".swarmlab/agent/1.prompt.md");
    assert!(prompt.contains(PROGRAM));
    assert!(
        prompt.contains("try a larger learning rate"),
        "the idea is in the prompt"
    );
    assert!(prompt.contains("`eval.txt`"), "trusted files are named");
    assert!(prompt.contains("Edit the files in place"));
    assert!(proposer.last_usage().is_none());
}

#[test]
fn an_agent_that_edits_a_trusted_file_still_yields_a_change() {
    // The proposer does not police paths: it returns the change and the harness, which takes
    // the diff, refuses it as invalid because eval.txt is outside files.editable. What matters
    // here is that the edit is left in place for the harness to see.
    let track = Track::new();
    let scripts = tempfile::tempdir().unwrap();
    let mut proposer = agent(
        scripts.path(),
        "echo 'score = 0' > eval.txt\necho 'DESCRIPTION: improve the score'\n",
        Duration::from_secs(30),
    );
    let proposal = proposer.propose(&track.context()).unwrap();
    assert_eq!(
        proposal,
        Proposal::Change {
            description: "improve the score".into()
        }
    );
    assert_eq!(track.read("eval.txt"), "score = 0\n");
}

fn pid_in(file: &Path) -> i32 {
    fs::read_to_string(file).unwrap().trim().parse().unwrap()
}

fn is_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn a_hanging_agent_is_killed_with_its_process_group_at_the_timeout() {
    let track = Track::new();
    let scripts = tempfile::tempdir().unwrap();
    let pids: PathBuf = scripts.path().join("pids");
    fs::create_dir(&pids).unwrap();
    let script = format!(
        r#"
trap '' TERM
sleep 1000 &
echo $! > {pids}/child
echo $$ > {pids}/agent
echo "still thinking"
wait
"#,
        pids = pids.display()
    );
    let mut proposer = agent(scripts.path(), &script, Duration::from_secs(1));
    let proposal = proposer.propose(&track.context()).unwrap();
    let Proposal::Failed { reason } = proposal else {
        panic!("expected a failure, got {proposal:?}");
    };
    assert!(reason.contains("timed out after 1s"), "{reason}");
    assert!(
        reason.contains("still thinking"),
        "the log tail is in the reason: {reason}"
    );
    for who in ["agent", "child"] {
        let pid = pid_in(&pids.join(who));
        assert!(!is_alive(pid), "the {who} ({pid}) survived the timeout");
    }
}

#[test]
fn an_agent_that_fails_yields_nothing_with_its_log_tail() {
    let track = Track::new();
    let scripts = tempfile::tempdir().unwrap();
    let mut proposer = agent(
        scripts.path(),
        "echo '%%garbage%%'\necho 'fatal: the model exploded' >&2\nexit 3\n",
        Duration::from_secs(30),
    );
    let proposal = proposer.propose(&track.context()).unwrap();
    let Proposal::Failed { reason } = proposal else {
        panic!("expected a failure, got {proposal:?}");
    };
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(reason.contains("%%garbage%%"), "{reason}");
    assert!(reason.contains("fatal: the model exploded"), "{reason}");
    assert!(
        reason.contains(".swarmlab/agent/1.log"),
        "the log is named: {reason}"
    );
}

#[test]
fn a_missing_agent_is_an_error_naming_it() {
    let track = Track::new();
    let argv = vec!["swarmlab-no-such-agent".to_string(), "{prompt}".to_string()];
    let mut proposer =
        CommandProposer::new(argv, ".swarmlab/agent", Duration::from_secs(5)).unwrap();
    let err = proposer.propose(&track.context()).unwrap_err();
    assert!(matches!(err, ProposeError::Unusable(_)), "{err}");
    assert!(
        err.to_string()
            .contains("`swarmlab-no-such-agent` not found"),
        "{err}"
    );
}

#[test]
fn an_agent_that_prints_a_known_stall_is_stopped_at_once() {
    const STALLS: &[swarmlab_agent::preset::Known] = &[swarmlab_agent::preset::Known {
        contains: "waiting for network",
        meaning: "the agent cannot reach its model",
    }];
    let track = Track::new();
    let scripts = tempfile::tempdir().unwrap();
    let mut proposer = agent(
        scripts.path(),
        "echo 'Reconnecting... waiting for network'\nsleep 300\n",
        Duration::from_secs(300),
    )
    .with_stalls(STALLS);
    let proposal = proposer.propose(&track.context()).unwrap();
    let Proposal::Failed { reason } = proposal else {
        panic!("expected a failure, got {proposal:?}");
    };
    assert!(
        reason.starts_with("the agent cannot reach its model: the agent printed `waiting for network` and was stopped after"),
        "{reason}"
    );
}

#[test]
fn the_ignore_file_names_what_the_agent_may_see() {
    let track = Track::new();
    let scripts = tempfile::tempdir().unwrap();
    let path = scripts.path().join("agent.sh");
    fs::write(&path, "cat \"$1\"\necho 'lr = 0.003' > params.txt\n").unwrap();
    let argv = vec![
        "sh".to_string(),
        path.to_string_lossy().into_owned(),
        "{ignore_file}".to_string(),
    ];
    let mut proposer = CommandProposer::new(argv, ".swarmlab/agent", Duration::from_secs(30))
        .unwrap()
        .with_grace(Duration::from_millis(200));
    let proposal = proposer.propose(&track.context()).unwrap();
    assert!(matches!(proposal, Proposal::Change { .. }), "{proposal:?}");
    let ignore = track.read(".swarmlab/agent/1.ignore");
    assert!(ignore.contains("\n*\n!/params.txt\n"), "{ignore}");
    assert!(
        log_of(&track).contains("!/params.txt"),
        "the agent got the path"
    );
}
