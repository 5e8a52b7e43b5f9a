//! Finds the process tree of one run by scanning `/proc`, and sums its resident memory.
//!
//! A process belongs to the tree when it is the program itself, is in the program's process
//! group, was seen in the tree before (same pid and start time, so a reused pid is not
//! mistaken for it), is a child of ours carrying this run's marker variable (an orphan that
//! was reparented to us, the subreaper, before we saw it), or descends from any of those.
//! This module only observes; it must not signal or reap (see `kill`).

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::Read;

/// Name of the environment variable that marks every process of a run.
pub(crate) const MARKER_VAR: &str = "SWARMLAB_RUN_ID";

/// The fields of `/proc/<pid>/stat` the runner needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    /// Exited but not yet reaped (state `Z` or `X`).
    pub zombie: bool,
    /// Start time in clock ticks since boot; with the pid it names one process.
    pub start: u64,
    pub rss_pages: u64,
}

/// Parses one `/proc/<pid>/stat` line. The command name may hold spaces and parentheses, so
/// fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let pid = text[..open].trim().parse().ok()?;
    let close = text.rfind(')')?;
    let mut fields = text[close + 1..].split_ascii_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgid = fields.next()?.parse().ok()?;
    // Fields 3..=5 are read; starttime is field 22, vsize 23, rss 24.
    let start = fields.nth(16)?.parse().ok()?;
    let rss_pages = fields.nth(1)?.parse::<i64>().ok()?.max(0) as u64;
    Some(ProcStat {
        pid,
        ppid,
        pgid,
        zombie: matches!(state, "Z" | "X"),
        start,
        rss_pages,
    })
}

/// One look at the tree.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub members: Vec<ProcStat>,
    pub rss_bytes: u64,
}

impl Snapshot {
    /// Members that have not exited.
    pub(crate) fn alive(&self) -> impl Iterator<Item = &ProcStat> {
        self.members.iter().filter(|p| !p.zombie)
    }
}

/// The tree of one run, remembered across scans.
pub(crate) struct ProcessTree {
    root: i32,
    root_start: Option<u64>,
    me: i32,
    marker: String,
    known: HashMap<i32, u64>,
    foreign: HashSet<(i32, u64)>,
    page_bytes: u64,
}

impl ProcessTree {
    /// The tree rooted at `root`, the program's pid (also its process group id), whose
    /// processes carry `MARKER_VAR=marker` in their environment.
    pub(crate) fn new(root: i32, marker: String) -> Self {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let mut tree = ProcessTree {
            root,
            root_start: None,
            me: std::process::id() as i32,
            marker: format!("{MARKER_VAR}={marker}"),
            known: HashMap::new(),
            foreign: HashSet::new(),
            page_bytes: u64::try_from(page).unwrap_or(4096),
        };
        // The root cannot be reaped yet (the waiter starts after this), so its start time is
        // readable and pins its identity for later scans.
        tree.root_start = read_stat(root, &mut String::new()).map(|s| s.start);
        tree
    }

    /// The program's pid, which is also its process group id.
    pub(crate) fn root(&self) -> i32 {
        self.root
    }

    /// Scans `/proc` and returns the current members of the tree.
    pub(crate) fn scan(&mut self) -> Snapshot {
        let procs = read_all();
        let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
        for (i, p) in procs.iter().enumerate() {
            children.entry(p.ppid).or_default().push(i);
        }
        let mut queue = Vec::new();
        for (i, p) in procs.iter().enumerate() {
            let is_root = p.pid == self.root && self.root_start.is_none_or(|s| s == p.start);
            let is_known = self.known.get(&p.pid) == Some(&p.start);
            let in_group = p.pgid == self.root;
            if is_root || is_known || in_group || (p.ppid == self.me && self.is_marked(p)) {
                queue.push(i);
            }
        }
        let mut seen = HashSet::new();
        let mut snapshot = Snapshot::default();
        while let Some(i) = queue.pop() {
            if !seen.insert(i) {
                continue;
            }
            let p = procs[i];
            if !p.zombie {
                snapshot.rss_bytes += p.rss_pages * self.page_bytes;
            }
            snapshot.members.push(p);
            if let Some(kids) = children.get(&p.pid) {
                queue.extend(kids.iter().copied());
            }
        }
        self.known = snapshot.members.iter().map(|p| (p.pid, p.start)).collect();
        snapshot
    }

    /// Whether a child of ours carries this run's marker. Negative answers are remembered: a
    /// process's initial environment never changes.
    fn is_marked(&mut self, p: &ProcStat) -> bool {
        if self.foreign.contains(&(p.pid, p.start)) {
            return false;
        }
        let Ok(environ) = fs::read(format!("/proc/{}/environ", p.pid)) else {
            return false;
        };
        let marked = environ
            .split(|&b| b == 0)
            .any(|var| var == self.marker.as_bytes());
        // An empty read is no answer: a process in the middle of exec (or exiting) shows no
        // environment for a moment, and remembering that would lose it for good.
        if !marked && !environ.is_empty() {
            self.foreign.insert((p.pid, p.start));
        }
        marked
    }
}

fn read_stat(pid: i32, buf: &mut String) -> Option<ProcStat> {
    buf.clear();
    File::open(format!("/proc/{pid}/stat"))
        .and_then(|mut f| f.read_to_string(buf))
        .ok()?;
    parse_stat(buf)
}

/// Every process on the machine; ones that vanish while we read are skipped.
fn read_all() -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut buf = String::with_capacity(512);
    dir.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| read_stat(pid, &mut buf))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_nasty_command_name() {
        let line = "4242 (a) b (c) R 17 4242 4242 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 10485760 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            s,
            ProcStat {
                pid: 4242,
                ppid: 17,
                pgid: 4242,
                zombie: false,
                start: 987654,
                rss_pages: 2560,
            }
        );
        let zombie = line.replace(") R ", ") Z ");
        assert!(parse_stat(&zombie).unwrap().zombie);
        assert_eq!(parse_stat("12 (truncated) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_our_own_stat() {
        let me = std::process::id() as i32;
        let s = read_stat(me, &mut String::new()).unwrap();
        assert_eq!(s.pid, me);
        assert!(s.rss_pages > 0);
        assert!(read_all().iter().any(|p| p.pid == me));
    }
}
