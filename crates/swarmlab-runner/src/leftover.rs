//! Processes a dead supervisor left behind. When swarmlab itself is killed (kill -9, power
//! cut of its terminal), the experiment's tree lives on, reparented to init. The caller marks
//! every run with an environment variable of its own; the next start finds the survivors by
//! that mark and kills them.
//!
//! Best effort by nature: a process that cleared its environment cannot be recognised (the
//! sandbox's cgroups close that gap).

use std::fs;

/// SIGKILLs every process whose initial environment holds `name=value`, and its process
/// group. Returns how many processes were found.
pub fn kill_marked(name: &str, value: &str) -> usize {
    let wanted = format!("{name}={value}");
    let me = std::process::id() as i32;
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    let pids: Vec<i32> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == wanted.as_bytes()))
        })
        .collect();
    for pid in &pids {
        // SAFETY: plain syscalls on pids we just found; a vanished pid only yields ESRCH.
        unsafe {
            let group = libc::getpgid(*pid);
            if group > 1 && group != libc::getpgrp() {
                libc::kill(-group, libc::SIGKILL);
            }
            libc::kill(*pid, libc::SIGKILL);
        }
    }
    pids.len()
}

#[cfg(test)]
mod tests {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn kills_the_marked_processes_and_spares_the_rest() {
        let value = format!("test-{}", std::process::id());
        let mut marked = Command::new("sleep")
            .arg("1000")
            .env("SWARMLAB_TEST_MARK", &value)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut other = Command::new("sleep").arg("1000").spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while fs::read(format!("/proc/{}/environ", marked.id())).map_or(true, |e| e.is_empty()) {
            assert!(Instant::now() < deadline, "the child never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(kill_marked("SWARMLAB_TEST_MARK", &value), 1);
        let status = marked.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        assert!(
            other.try_wait().unwrap().is_none(),
            "an unmarked process was killed"
        );
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
