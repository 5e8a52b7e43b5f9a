//! The hub's database: a URL that names none is refused before anything connects, one that
//! cannot be reached is named in the error (its password hidden), and on PostgreSQL
//! (`SWARMLAB_TEST_DATABASE_URL`) a hub keeps serving once the server has dropped its
//! connections.

use std::sync::Arc;
use std::time::{Duration, Instant};

use swarmlab_hub::{Hub, HubConfig, ManualClock};
use swarmlab_proto::NewIdea;
use swarmlab_testkit::hub::test_config;

async fn open_with(url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = HubConfig {
        database_url: Some(url.to_string()),
        ..test_config(dir.path())
    };
    match Hub::open(config, Arc::new(ManualClock::new(0))).await {
        Ok(_) => panic!("{url} opened"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_url_that_names_no_database_is_refused() {
    let err = open_with("mysql://root:hunter2@db/hub").await;
    assert!(err.contains("unsupported scheme `mysql`"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let err = open_with("postgres://").await;
    assert!(err.contains("names no database"), "{err}");
}

#[tokio::test]
async fn an_unreachable_database_is_named_with_its_password_hidden() {
    let port = swarmlab_testkit::closed_port();
    let started = Instant::now();
    let err = open_with(&format!("postgres://hub:hunter2@127.0.0.1:{port}/hub")).await;
    assert!(
        err.contains(&format!(
            "cannot reach the database at postgres://hub:***@127.0.0.1:{port}/hub"
        )),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hub_serves_again_once_the_database_has_dropped_its_connections() {
    let Ok(server) = std::env::var(swarmlab_testkit::database::ENV) else {
        return; // SQLite has no server to lose.
    };
    let f = crate::support::Fixture::new().await;
    let before = f.hub.ledger_text("toy").await.unwrap();
    let database = f.hub.config().database_url.clone().unwrap();
    let name = database
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap();
    let out = std::process::Command::new("psql")
        .args([server.as_str(), "-q", "-c"])
        .arg(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Reads and writes both find live connections again; nothing was lost.
    assert_eq!(f.hub.ledger_text("toy").await.unwrap(), before);
    let idea = NewIdea {
        text: "a wider model".into(),
        tags: Vec::new(),
        source: None,
    };
    let added = f.hub.add_idea(&f.w1.identity, "toy", &idea).await.unwrap();
    let listed = f.hub.ideas(&f.w1.identity, "toy").await.unwrap();
    assert!(listed
        .iter()
        .any(|i| i.id == added.id && i.text == "a wider model"));
}

#[tokio::test]
async fn without_a_url_the_hub_keeps_hub_db_in_wal_mode_in_its_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let config = HubConfig {
        database_url: None,
        ..test_config(dir.path())
    };
    let hub = Hub::open(config, Arc::new(ManualClock::new(0)))
        .await
        .unwrap();
    let out = std::process::Command::new("sqlite3")
        .arg(dir.path().join("hub.db"))
        .arg("PRAGMA journal_mode")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "wal");
    drop(hub);
}
