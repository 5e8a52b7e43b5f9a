//! [`EmbeddedHub`]: a hub served on loopback from a runtime of its own inside an otherwise
//! synchronous program, as `swarmlab demo` runs one beside the workers and the verifier it
//! starts as child processes. The program reads the hub in process and stops it when done.
//!
//! It holds no state of its own and adds no road around [`Hub`]: seeding a track is the same
//! calls an admin would make.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use swarmlab_core::short;
use swarmlab_proto::{AddTrackRequest, IdentityToken, NewIdea, Role, TrackInfo, VerificationCost};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::server::Server;
use crate::domain::clock::SystemClock;
use crate::{audit, AuditError, AuditReport, Hub, HubConfig, HubError};

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

    /// What the verifiers of `track` are doing, in one line.
    pub fn activity_line(&self, track: &str) -> String {
        let now = self.hub.now();
        match self.block_on(self.hub.activities(track)) {
            Ok(all) if !all.is_empty() => all
                .iter()
                .map(|a| a.line(now))
                .collect::<Vec<_>>()
                .join("; "),
            _ => "the verifier is starting".into(),
        }
    }

    /// The line that says `track` has converged ([`Hub::convergence`]) once at least
    /// `workers` workers have nothing left to propose on its head; `None` before.
    pub fn converged_line(&self, track: &str, workers: usize) -> Result<Option<String>, HubError> {
        let Some(c) = self.block_on(self.hub.convergence(track))? else {
            return Ok(None);
        };
        if c.workers < workers {
            return Ok(None);
        }
        let at = c.value.map_or_else(
            || format!("head {}", short(&c.head)),
            |v| format!("{} {v:.6}", c.metric),
        );
        Ok(Some(format!(
            "the {track} track has converged at {at} (#{}): add an idea on {}/tracks/{track}/ideas or press Ctrl-C",
            c.seq, self.url
        )))
    }

    /// Stops serving, after reading what the hub leaves of `track`.
    pub fn close(self, track: &str) -> Result<Closing, HubError> {
        let info = self.block_on(self.hub.track_info(track))?;
        let cost = self.block_on(self.hub.verification_cost(track))?;
        let ledger = self.block_on(self.hub.ledger_text(track))?;
        let key = self.hub.public_key_hex();
        let audit = audit(&ledger, &self.hub.public_key());
        self.stop();
        Ok(Closing {
            info,
            cost,
            ledger,
            key,
            audit,
        })
    }

    /// Stops serving and waits for in-flight requests.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.runtime.block_on(self.serving);
    }
}

/// What a closed [`EmbeddedHub`] leaves of a track: its chain, what verification cost, its
/// ledger exported and the audit of that ledger against the hub's key.
pub struct Closing {
    pub info: TrackInfo,
    pub cost: VerificationCost,
    pub ledger: String,
    /// The hub's public key (hex), for the reader to audit the ledger again.
    pub key: String,
    pub audit: Result<AuditReport, AuditError>,
}

impl Closing {
    /// The chain in one line: `3 commits after the baseline abc1234 (head def5678) in 95s;
    /// first verified commit after 40s`, from the `baseline` it started at, `elapsed` since
    /// then and when the `first` commit was verified.
    pub fn chain_line(&self, baseline: &str, elapsed: Duration, first: Option<Duration>) -> String {
        format!(
            "{} commits after the baseline {} (head {}) in {:.0}s; first verified commit {}",
            self.info.chain.len().saturating_sub(1),
            short(baseline),
            short(&self.info.head),
            elapsed.as_secs_f64(),
            first.map_or("none".into(), |t| format!("after {:.0}s", t.as_secs_f64()))
        )
    }

    /// Writes the ledger (`ledger-TRACK.jsonl`) and the cost of verification
    /// (`cost-TRACK.json`) into `dir`; returns the ledger's path.
    pub fn save(&self, dir: &Path, track: &str) -> Result<PathBuf, HubError> {
        let write = |path: PathBuf, bytes: &[u8]| {
            std::fs::write(&path, bytes)
                .map_err(|e| HubError::io(format!("failed to write {}", path.display()), e))
                .map(|()| path)
        };
        let cost = serde_json::to_vec_pretty(&self.cost)
            .map_err(|e| HubError::Internal(format!("failed to encode the cost: {e}")))?;
        write(dir.join(format!("cost-{track}.json")), &cost)?;
        write(
            dir.join(format!("ledger-{track}.jsonl")),
            self.ledger.as_bytes(),
        )
    }

    /// What the swarm did, one line each: the `chain`, the verdicts, what they cost, the
    /// ledger saved at `ledger` and its audit, and how to repeat the audit; the audit's error
    /// when the ledger does not audit.
    pub fn summary(self, chain: &str, ledger: &Path) -> Result<String, AuditError> {
        let audit = self.audit?;
        let ledger = ledger.display();
        Ok(format!(
            "chain: {chain}\nverdicts: {}\nverification: {}\nledger: {ledger} audits: {}; {}\n\
             check it yourself: swarmlab audit {ledger} --key {}",
            audit.verdicts_line(),
            self.cost.line(),
            audit.counts(),
            audit.signatures_line(),
            self.key
        ))
    }
}
