//! A throwaway PostgreSQL server for the tests that need one: a cluster made with Debian's
//! `initdb` in a temporary folder, on a free loopback port, trusting local connections,
//! stopped and removed when the [`Cluster`] is dropped. As root it runs as the `postgres`
//! user (the server refuses root). Where no PostgreSQL is installed there is none, and the
//! tests that need one skip, unless `SWARMLAB_TEST_POSTGRES=required` (as `.ci/run` sets),
//! which makes a missing or broken PostgreSQL fail them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Set to `required` to fail, not skip, where PostgreSQL is missing.
pub const REQUIRED_ENV: &str = "SWARMLAB_TEST_POSTGRES";

/// A running throwaway server.
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    /// The server's URL, database `postgres`, user `postgres`, no password.
    pub url: String,
    as_postgres: bool,
}

impl Cluster {
    /// Starts a fresh cluster, or `None` where PostgreSQL is not installed and not required.
    pub fn start() -> Option<Cluster> {
        let Some(bin) = installed_bin() else {
            let required = std::env::var(REQUIRED_ENV).is_ok_and(|v| v == "required");
            assert!(
                !required,
                "{REQUIRED_ENV}=required but no /usr/lib/postgresql/*/bin/initdb is installed"
            );
            eprintln!("skipped: PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        };
        let dir = std::env::temp_dir().join(format!(
            "swarmlab-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("the temporary folder is writable");
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            let chown = Command::new("chown").arg("postgres").arg(&dir).status();
            assert!(
                chown.is_ok_and(|s| s.success()),
                "failed to chown {}",
                dir.display()
            );
        }
        let port = free_port();
        let cluster = Cluster {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            dir,
            as_postgres,
        };
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &["-D", path(&data), "-A", "trust", "-U", "postgres"],
        );
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            path(&cluster.dir)
        );
        let log = cluster.dir.join("log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                path(&data),
                "-l",
                path(&log),
                "-w",
                "start",
                "-o",
                &options,
            ],
        );
        Some(cluster)
    }

    /// One of the server's programs, to run as `postgres` when this is root.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.current_dir(&self.dir);
        command
    }

    /// Runs one of the server's programs; panics with its output when it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("failed to run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let stop = ["-D", path(&data), "-m", "immediate", "stop"];
        let _ = self.command("pg_ctl").args(stop).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest installed server's `bin` folder.
fn installed_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback binds");
    listener
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}
