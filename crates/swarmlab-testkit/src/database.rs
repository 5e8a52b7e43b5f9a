//! Which database a test hub keeps its state in. Without `SWARMLAB_TEST_DATABASE_URL` each
//! test hub has its SQLite file in its data folder; with it (a PostgreSQL URL whose user may
//! create databases), each gets a database of its own on that server, made with `psql`,
//! so that the hub's whole suite runs on either backend unchanged.
//!
//! It creates databases and never drops them: the server is a throwaway one
//! ([`crate::postgres::Cluster`], in a temporary folder). A server that cannot be reached fails the test; it
//! never falls back to SQLite.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The PostgreSQL server the hub's tests run on, when set.
pub const ENV: &str = "SWARMLAB_TEST_DATABASE_URL";

/// A fresh database's URL on the server of `SWARMLAB_TEST_DATABASE_URL`, or `None` (the
/// hub's default SQLite file) when the variable is unset or empty.
pub fn fresh_url() -> Option<String> {
    let server = std::env::var(ENV).ok().filter(|u| !u.trim().is_empty())?;
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "swarmlab_test_{}_{}_{nanos}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let out = Command::new("psql")
        .args([server.as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .output()
        .unwrap_or_else(|e| panic!("{ENV} is set but psql could not run: {e}"));
    assert!(
        out.status.success(),
        "{ENV} is set but creating database {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(with_database(&server, &name))
}

/// `url` naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u:p@127.0.0.1:5433/postgres", "t1"),
            "postgres://u:p@127.0.0.1:5433/t1"
        );
        assert_eq!(
            with_database("postgres://u@localhost?host=/tmp/pg", "t2"),
            "postgres://u@localhost/t2?host=/tmp/pg"
        );
    }
}
