//! A seeded hub: a hub in a temporary folder with the test track `toy` added from a
//! repository of its own, an admin, a worker and a verifier ([`Seed`] sets it up,
//! [`SeededHub`] holds it), in process or served on loopback ([`Served`]). The hub's tests and
//! benches start from it.
//!
//! It sets up through the hub's own operations and asserts nothing about them; a served hub
//! runs on the caller's tokio runtime, which must be multi-threaded when the test talks to it
//! with the blocking [`crate::http::Client`].

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use swarmlab_hub::{Clock, Hub, HubConfig, HubError, Identity, Server, SystemClock};
use swarmlab_proto::signing::{self, SigningKey};
use swarmlab_proto::{AddTrackRequest, Role};

use crate::git::Repo;

/// The spec of the test track `toy`: `params.txt` and `src/` editable, the metric printed by
/// the trusted `train.sh` (the track opts in as insecure).
pub const TRACK_SPEC: &str = include_str!("../fixtures/hub-track.toml");

/// Writes the test track with `spec` into a new repository at `dir`: the spec, `train.sh`,
/// `params.txt` and `src/model.txt`, committed as `baseline` on `main`.
pub fn track_repo(dir: &Path, spec: &str) -> Repo {
    Repo::init(
        dir,
        &[
            ("swarmlab.toml", spec),
            ("train.sh", "echo loss: 1\n"),
            ("params.txt", "lr = 0.01\nwidth = 64\n"),
            ("src/model.txt", "layers = 2\n"),
        ],
        "baseline",
    )
}

/// The configuration tests run a hub with: data in `data_dir` (and a fresh database of its
/// own on the server of `SWARMLAB_TEST_DATABASE_URL` when that is set), a free loopback port,
/// small files (4 KiB), idea leases of a minute and job leases of ten.
pub fn test_config(data_dir: &Path) -> HubConfig {
    HubConfig {
        data_dir: data_dir.to_path_buf(),
        database_url: crate::database::fresh_url(),
        listen: "127.0.0.1:0".into(),
        max_file_bytes: 4096,
        idea_lease: Duration::from_secs(60),
        job_lease: Duration::from_secs(600),
        ..HubConfig::default()
    }
}

/// An identity of the hub, its token and the key it signs with.
pub struct Member {
    pub identity: Identity,
    pub token: String,
    pub key: SigningKey,
}

/// Creates the identity `name` with `role` on `hub`; its key comes from `seed` (an admin
/// registers none).
pub async fn member(hub: &Hub, name: &str, role: Role, seed: u8) -> Member {
    let key = signing::signing_key(&[seed; 32]);
    let public = (role != Role::Admin).then(|| signing::public_key_hex(&key));
    let token = hub
        .create_identity(name, role, public)
        .await
        .expect("the hub creates the identity")
        .token;
    let identity = hub
        .authenticate(&token)
        .await
        .expect("a new token authenticates");
    Member {
        identity,
        token,
        key,
    }
}

/// How to set a hub up; [`Seed::open`] or [`Seed::serve`] does it.
pub struct Seed {
    tmp: tempfile::TempDir,
    config: HubConfig,
    clock: Arc<dyn Clock>,
    spec: String,
    add_track: bool,
    admin: String,
    worker: (String, u8),
    verifier: (String, u8),
}

impl Default for Seed {
    fn default() -> Self {
        Seed::new()
    }
}

impl Seed {
    /// [`test_config`], the system clock, the track [`TRACK_SPEC`] added; the admin `admin`,
    /// the worker `worker` (key seed 1) and the verifier `verifier` (key seed 3).
    pub fn new() -> Seed {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let config = test_config(&tmp.path().join("hub"));
        Seed {
            tmp,
            config,
            clock: Arc::new(SystemClock),
            spec: TRACK_SPEC.into(),
            add_track: true,
            admin: "admin".into(),
            worker: ("worker".into(), 1),
            verifier: ("verifier".into(), 3),
        }
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Seed {
        self.clock = clock;
        self
    }

    /// Changes the configuration (its data folder is in the seed's temporary folder).
    pub fn config(mut self, adjust: impl FnOnce(&mut HubConfig)) -> Seed {
        adjust(&mut self.config);
        self
    }

    /// The track's `swarmlab.toml`.
    pub fn spec(mut self, spec: &str) -> Seed {
        self.spec = spec.into();
        self
    }

    /// Leaves the track's repository written but not added to the hub.
    pub fn without_track(mut self) -> Seed {
        self.add_track = false;
        self
    }

    pub fn admin(mut self, name: &str) -> Seed {
        self.admin = name.into();
        self
    }

    pub fn worker(mut self, name: &str, seed: u8) -> Seed {
        self.worker = (name.into(), seed);
        self
    }

    pub fn verifier(mut self, name: &str, seed: u8) -> Seed {
        self.verifier = (name.into(), seed);
        self
    }

    /// The hub in process, without a server.
    pub async fn open(self) -> SeededHub {
        let hub = Hub::open(self.config.clone(), self.clock.clone())
            .await
            .expect("the hub opens");
        self.seed(Arc::new(hub)).await
    }

    /// The hub behind a server on loopback, spawned on the current runtime.
    pub async fn serve(self) -> (SeededHub, Served) {
        let server = Server::bind(self.config.clone(), self.clock.clone())
            .await
            .expect("the hub opens and binds");
        let addr = server.local_addr().expect("a bound address");
        let hub = server.hub();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        let seeded = self.seed(hub).await;
        (seeded, Served { addr, stop, task })
    }

    async fn seed(self, hub: Arc<Hub>) -> SeededHub {
        let repo = track_repo(&self.tmp.path().join("src-repo"), &self.spec);
        let baseline = repo.head();
        if self.add_track {
            hub.add_track(&AddTrackRequest {
                repo: repo.root().display().to_string(),
                baseline: "main".into(),
            })
            .await
            .expect("the hub adds the test track");
        }
        let admin = member(&hub, &self.admin, Role::Admin, 0).await;
        let worker = member(&hub, &self.worker.0, Role::Worker, self.worker.1).await;
        let verifier = member(&hub, &self.verifier.0, Role::Verifier, self.verifier.1).await;
        SeededHub {
            tmp: self.tmp,
            hub,
            repo,
            baseline,
            admin,
            worker,
            verifier,
        }
    }
}

/// A hub set up by a [`Seed`].
pub struct SeededHub {
    /// Holds the hub's data (`hub/`) and the track's repository (`src-repo/`).
    pub tmp: tempfile::TempDir,
    pub hub: Arc<Hub>,
    /// The track's source repository.
    pub repo: Repo,
    /// The commit the track started from.
    pub baseline: String,
    pub admin: Member,
    pub worker: Member,
    pub verifier: Member,
}

impl SeededHub {
    /// Another identity; see [`member`].
    pub async fn member(&self, name: &str, role: Role, seed: u8) -> Member {
        member(&self.hub, name, role, seed).await
    }
}

/// A running server; it stops when [`Served::stop`] is called or it is dropped.
pub struct Served {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), HubError>>,
}

impl Served {
    /// Stops the server and waits, at most ten seconds, for it to finish cleanly.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("graceful shutdown")
            .expect("the server task does not panic")
            .expect("the server stops cleanly");
    }
}
