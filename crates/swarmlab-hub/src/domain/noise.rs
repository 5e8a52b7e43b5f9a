//! The noise of a track's head: each decisive report keeps the head's reruns with the
//! hardware class they were measured on, and [`Hub::noise`] tells how the current head's
//! metric spreads between reruns, per class: the σ a worker can expect from a verifier.
//! What acceptance pools is gathered apart, from the verdicts themselves (`prior.rs`), so
//! that an audit can gather it again from the ledger; this view only shows.

use swarmlab_proto::HeadNoise;

use super::error::HubError;
use super::hub::Hub;
use super::stats::mean_var;

/// The head reruns measured on one hardware class.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadRuns {
    pub hardware_class: String,
    /// In the order they were reported.
    pub values: Vec<f64>,
}

impl Hub {
    /// How the current head's metric spreads between reruns, per hardware class, from the
    /// head reruns of every decisive report against it.
    pub async fn noise(&self, track: &str) -> Result<Vec<HeadNoise>, HubError> {
        let head = self.track(track).await?.head;
        let runs = self.store.head_runs(track, &head).await?;
        Ok(runs
            .into_iter()
            .filter(|r| !r.values.is_empty())
            .map(|r| {
                let n = r.values.len();
                let (mean, sd) = match mean_var(&r.values) {
                    Some((mean, var)) => (mean, Some(var.sqrt())),
                    None => (r.values[0], None),
                };
                HeadNoise {
                    hardware_class: r.hardware_class,
                    commit: head.clone(),
                    n: u32::try_from(n).unwrap_or(u32::MAX),
                    mean,
                    sd,
                }
            })
            .collect())
    }
}
