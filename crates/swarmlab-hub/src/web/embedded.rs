//! [`EmbeddedHub`]: a hub served on loopback from a runtime of its own inside an otherwise
//! synchronous program, as `swarmlab demo` runs one beside the workers and the verifier it
//! starts as child processes. The program reads the hub in process and stops it when done.
//!
//! It holds no state of its own and adds no road around [`Hub`]: seeding a track is the same
//! calls an admin would make.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use swarmlab_proto::{AddTrackRequest, IdentityToken, NewIdea, Role};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::server::Server;
use crate::domain::clock::SystemClock;
use crate::{Hub, HubConfig, HubError};

/// A hub serving from a runtime of its own until [`EmbeddedHub::stop`].
pub struct EmbeddedHub {
    runtime: Runtime,
    hub: Arc<Hub>,
    url: String,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<Result<(), HubError>>,
}

/// What [`EmbeddedHub::seed`] puts in a fresh hub.
pub struct Seed<'a> {
    /// The track's repository; its `HEAD` is the baseline.
    pub repo: &'a Path,
    /// Ideas for the queue, each tagged `tag`.
    pub ideas: &'a [&'a str],
    pub tag: &'a str,
    /// The admin's name.
    pub admin: &'a str,
    /// A verifier enrolled up front: its name and its public key (hex).
    pub verifier_name: &'a str,
    pub verifier_key: String,
}

/// The track a seed added and the tokens it issued.
pub struct Seeded {
    pub track: String,
    pub admin: IdentityToken,
    pub verifier: IdentityToken,
}

impl EmbeddedHub {
    /// Opens the hub in `config.data_dir`, binds `config.listen` and serves.
    pub fn start(config: HubConfig) -> Result<EmbeddedHub, HubError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| HubError::io("failed to start the async runtime", e))?;
        let server = runtime.block_on(Server::bind(config, Arc::new(SystemClock)))?;
        let url = format!("http://{}", server.local_addr()?);
        let hub = server.hub();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = runtime.spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(EmbeddedHub {
            runtime,
            hub,
            url,
            stop,
            serving,
        })
    }

    /// `http://ADDRESS`, with the port actually bound.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Runs one of the hub's operations to its end.
    pub fn block_on<F: Future>(&self, operation: F) -> F::Output {
        self.runtime.block_on(operation)
    }

    /// An admin, the track with its ideas, and the verifier, as an admin would add them.
    pub fn seed(&self, seed: &Seed) -> Result<Seeded, HubError> {
        self.block_on(async {
            let admin = self.hub.bootstrap_admin(seed.admin).await?;
            let info = self
                .hub
                .add_track(&AddTrackRequest {
                    repo: seed.repo.display().to_string(),
                    baseline: "HEAD".into(),
                })
                .await?;
            let caller = self.hub.authenticate(&admin.token).await?;
            for text in seed.ideas {
                let idea = NewIdea {
                    text: text.to_string(),
                    tags: vec![seed.tag.into()],
                    source: None,
                };
                self.hub.add_idea(&caller, &info.name, &idea).await?;
            }
            let verifier = self
                .hub
                .create_identity(
                    seed.verifier_name,
                    Role::Verifier,
                    Some(seed.verifier_key.clone()),
                )
                .await?;
            Ok(Seeded {
                track: info.name,
                admin,
                verifier,
            })
        })
    }

    /// Stops serving and waits for in-flight requests.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.runtime.block_on(self.serving);
    }
}
