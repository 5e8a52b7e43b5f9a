//! The last step of every phase of a job: [`Reporter`] signs the measurements so far with the
//! verifier's key and sends them to the hub, which answers with its decision.
//!
//! A detail goes out scrubbed of the verifier's local paths ([`Scrubber`]), and the reports
//! of a verifier without a sandbox say so. It decides nothing itself and never sees the
//! worker's claim.

use swarmlab_proto::{
    signing, JobLease, Measurements, Pairs, ReportRequest, ReportResponse, RunOutcome,
};

use super::scrub::Scrubber;
use super::Me;
use crate::client::HubClient;
use crate::ClientError;

/// Builds, signs and sends the measurements so far.
pub(super) struct Reporter<'a> {
    pub(super) client: &'a HubClient,
    pub(super) me: &'a Me,
    pub(super) lease: &'a JobLease,
    pub(super) hardware_class: &'a str,
    pub(super) candidate: Vec<f64>,
    pub(super) head: Vec<f64>,
    /// Takes the verifier's local paths out of details.
    pub(super) scrubber: Scrubber,
    /// The runs are not sandboxed (`--sandbox off`).
    pub(super) unsandboxed: bool,
    /// How the pairs were made, once the reruns have begun.
    pub(super) pairs: Option<Pairs>,
}

impl Reporter<'_> {
    pub(super) fn send(
        &self,
        outcome: RunOutcome,
        detail: Option<String>,
    ) -> Result<ReportResponse, ClientError> {
        if let (RunOutcome::VerifierFault, Some(why)) = (outcome, &detail) {
            eprintln!("verifier: job #{} fault: {why}", self.lease.job_id);
        }
        let measurements = Measurements {
            job_id: self.lease.job_id,
            verifier_id: self.me.id.clone(),
            hardware_class: self.hardware_class.to_string(),
            outcome,
            candidate: self.candidate.clone(),
            head: self.head.clone(),
            detail: detail.map(|d| self.scrubber.scrub(&d).chars().take(2000).collect()),
            unsandboxed: self.unsandboxed,
            pairs: self.pairs.clone(),
        };
        let request = ReportRequest {
            signature: signing::sign(&self.me.key, &measurements.signed_bytes()),
            measurements,
        };
        Ok(self
            .client
            .post(&format!("jobs/{}/report", self.lease.job_id), &request)?)
    }
}
