//! [`Database`]: where the hub keeps its state, named by a URL (`sqlite://PATH`, the default
//! `hub.db` in the data folder, or `postgres://USER@HOST/NAME`), and how the store connects
//! to it. The store runs one code path over both through sqlx's `Any` driver; [`Dialect`]
//! is the handful of places where SQLite and PostgreSQL must be spoken to differently
//! (connection settings, JSON tables, the migration lock).
//!
//! This is the one file that knows which backends exist: nothing outside `store/` names one.
//! It decides nothing about the hub's state and writes none of it.

use std::path::Path;
use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Executor};

use super::StoreError;

/// How long opening a connection may take before the hub says the database is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Which SQL dialect the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A database the hub may open: its URL, checked, and its dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    url: String,
    dialect: Dialect,
}

impl Database {
    /// The database named by `url`, or, without one, `hub.db` in `data_dir`. A URL whose
    /// scheme is neither `sqlite:` nor `postgres:` (or `postgresql:`) is refused here, before
    /// anything connects.
    pub fn resolve(url: Option<&str>, data_dir: &Path) -> Result<Database, StoreError> {
        match url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Database::parse(url),
            None => Ok(Database {
                url: sqlite_url(&data_dir.join("hub.db"))?,
                dialect: Dialect::Sqlite,
            }),
        }
    }

    fn parse(url: &str) -> Result<Database, StoreError> {
        let bad = |why: &str| StoreError::Url(format!("{}: {why}", redacted(url)));
        let (scheme, rest) = url
            .split_once(':')
            .ok_or_else(|| bad("expected sqlite://PATH or postgres://USER@HOST/NAME"))?;
        let dialect = match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Dialect::Sqlite,
            "postgres" | "postgresql" => Dialect::Postgres,
            other => {
                return Err(bad(&format!(
                    "unsupported scheme `{other}` (expected sqlite or postgres)"
                )))
            }
        };
        let body = rest.trim_start_matches('/');
        if body.is_empty() || body.starts_with('?') {
            return Err(bad("names no database"));
        }
        AnyConnectOptions::from_str(url).map_err(|e| bad(&e.to_string()))?;
        Ok(Database {
            url: url.to_string(),
            dialect,
        })
    }

    /// The URL with any password replaced by `***`, fit for logs and error messages.
    pub fn display_url(&self) -> String {
        redacted(&self.url)
    }

    pub(super) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The pool that writes: `writers` connections, migrations not yet applied.
    pub(super) async fn connect_writer(&self, writers: u32) -> Result<AnyPool, StoreError> {
        let url = match self.dialect {
            Dialect::Sqlite => with_param(&self.url, "mode=rwc"),
            Dialect::Postgres => self.url.clone(),
        };
        let dialect = self.dialect;
        let pool = AnyPoolOptions::new()
            .max_connections(writers)
            .acquire_timeout(CONNECT_TIMEOUT)
            // A SQLite connection is a worker thread of ours, not a socket: there is nothing
            // to test before handing it out. A PostgreSQL one may have been dropped by the
            // server (a restart): tested, a dead one is replaced rather than failing a write.
            .test_before_acquire(dialect == Dialect::Postgres)
            .after_connect(move |conn, _| Box::pin(settle(conn, dialect, false)))
            .after_release(|conn, _| Box::pin(sound_after_release(conn)))
            .connect(&url)
            .await
            .map_err(|e| self.unreachable(e))?;
        Ok(pool)
    }

    /// A pool of `readers` connections that may only read, opened on first use.
    pub(super) fn connect_reader(&self, readers: u32) -> Result<AnyPool, StoreError> {
        let dialect = self.dialect;
        let pool = AnyPoolOptions::new()
            .max_connections(readers)
            .acquire_timeout(CONNECT_TIMEOUT)
            .test_before_acquire(dialect == Dialect::Postgres)
            .after_connect(move |conn, _| Box::pin(settle(conn, dialect, true)))
            .connect_lazy(&self.url)
            .map_err(|e| self.unreachable(e))?;
        Ok(pool)
    }

    fn unreachable(&self, source: sqlx::Error) -> StoreError {
        StoreError::Unreachable {
            url: self.display_url(),
            source,
        }
    }
}

/// Whether the writer may be used again once released. A write that fails on a full disk
/// can end SQLite's transaction while sqlx still counts it open (its rollback then fails);
/// reused, that connection would run every later transaction as a savepoint inside one that
/// never commits: acknowledged writes that no reader sees and a restart loses. It is closed
/// instead, and the pool opens a fresh one. A PostgreSQL connection lost mid-transaction is
/// closed the same way.
async fn sound_after_release(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    // Runs the rollback a dropped transaction queued, so that its count is settled.
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

/// The settings each new connection gets. SQLite: WAL (readers beside the writer) with
/// NORMAL syncs at checkpoints rather than every commit (a power cut may lose the last
/// transactions but never corrupts the database or splits one), and waits on a lock rather
/// than failing. Readers of either dialect are refused writes by the database itself.
async fn settle(
    conn: &mut AnyConnection,
    dialect: Dialect,
    read_only: bool,
) -> Result<(), sqlx::Error> {
    let sql = match (dialect, read_only) {
        (Dialect::Sqlite, false) => {
            "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL"
        }
        (Dialect::Sqlite, true) => "PRAGMA busy_timeout = 10000; PRAGMA query_only = ON",
        (Dialect::Postgres, false) => "SET client_min_messages = warning",
        (Dialect::Postgres, true) => {
            "SET client_min_messages = warning; SET default_transaction_read_only = on"
        }
    };
    conn.execute(sql).await?;
    Ok(())
}

/// Makes the `Any` driver know both backends; once per process.
pub(super) fn install_drivers() {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

/// `sqlite://` and `path`, percent-encoded where SQLite's URL parsing would misread it.
fn sqlite_url(path: &Path) -> Result<String, StoreError> {
    let absolute = std::path::absolute(path).map_err(|e| StoreError::Io {
        context: format!("failed to resolve {}", path.display()),
        source: e,
    })?;
    let text = absolute
        .to_str()
        .ok_or_else(|| StoreError::Url(format!("{} is not valid UTF-8", absolute.display())))?;
    let mut url = String::from("sqlite://");
    for c in text.chars() {
        match c {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            ' ' => url.push_str("%20"),
            c => url.push(c),
        }
    }
    Ok(url)
}

fn with_param(url: &str, param: &str) -> String {
    if url.contains('?') {
        format!("{url}&{param}")
    } else {
        format!("{url}?{param}")
    }
}

/// `url` with the password of its user part, if any, replaced by `***`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _password)) => format!("{scheme}://{name}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_url_the_database_is_hub_db_in_the_data_folder() {
        let db = Database::resolve(None, Path::new("/srv/hub data")).unwrap();
        assert_eq!(db.dialect(), Dialect::Sqlite);
        assert_eq!(db.display_url(), "sqlite:///srv/hub%20data/hub.db");
        assert_eq!(
            Database::resolve(Some("  "), Path::new("/d"))
                .unwrap()
                .dialect(),
            Dialect::Sqlite
        );
    }

    #[test]
    fn postgres_urls_are_known_by_either_scheme() {
        for url in [
            "postgres://u@localhost/hub",
            "postgresql://u@localhost:5433/hub",
        ] {
            let db = Database::resolve(Some(url), Path::new("/d")).unwrap();
            assert_eq!(db.dialect(), Dialect::Postgres);
        }
    }

    #[test]
    fn a_wrong_url_is_refused_with_its_password_hidden() {
        let err = Database::resolve(Some("mysql://root:hunter2@db/hub"), Path::new("/d"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported scheme `mysql`"), "{err}");
        assert!(err.contains("root:***@db"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        for url in ["hub.db", "postgres://", "sqlite://"] {
            let err = Database::resolve(Some(url), Path::new("/d")).unwrap_err();
            assert!(matches!(err, StoreError::Url(_)), "{url}: {err}");
        }
    }
}
