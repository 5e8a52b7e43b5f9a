//! A verifier's hold on its job: the heartbeat that keeps the lease while the runs go on (and
//! stops them when the hub says the lease is gone), and the note on disk that lets a verifier
//! killed mid-job resume it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use swarmlab_proto::{JobLease, LeaseDeadline};
use swarmlab_runner::Cancel;

use crate::client::{HubClient, HubError};
use crate::ClientError;

/// Where the job in hand is remembered, so that a verifier killed mid-job resumes it.
fn lease_path(dir: &Path) -> PathBuf {
    dir.join("lease.json")
}

/// Notes the job in hand in `dir` (or, with `None`, that there is none).
pub fn remember(dir: &Path, lease: Option<&JobLease>) -> Result<(), ClientError> {
    let path = lease_path(dir);
    match lease {
        Some(lease) => std::fs::write(
            &path,
            serde_json::to_vec(lease).expect("a lease serialises to JSON"),
        ),
        None => std::fs::remove_file(&path).or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Ok(()),
            _ => Err(e),
        }),
    }
    .map_err(ClientError::io("update", &path))
}

/// The job a previous run of this verifier held, if its lease still stands.
pub fn resumed(dir: &Path, client: &HubClient) -> Option<JobLease> {
    let text = std::fs::read(lease_path(dir)).ok()?;
    let lease: JobLease = serde_json::from_slice(&text).ok()?;
    let beat: Result<LeaseDeadline, _> = client.post(
        &format!("jobs/{}/heartbeat", lease.job_id),
        &serde_json::json!({}),
    );
    match beat {
        Ok(_) => {
            eprintln!("verifier: resuming job #{}", lease.job_id);
            Some(lease)
        }
        Err(e) => {
            eprintln!("verifier: the lease on job #{} is gone ({e})", lease.job_id);
            let _ = remember(dir, None);
            None
        }
    }
}

/// Keeps a job's lease alive while it runs; when the hub says the lease is gone (or the
/// verifier is stopping) it cancels the job's runs.
pub struct Heartbeat {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    pub fn start(client: &HubClient, lease: &JobLease, cancel: &Cancel, job: &Cancel) -> Heartbeat {
        let stop = Arc::new(AtomicBool::new(false));
        let left = lease.deadline_ms - now_ms();
        let every = Duration::from_millis((left / 3).clamp(200, 60_000) as u64);
        let (client, cancel, job, flag) =
            (client.clone(), cancel.clone(), job.clone(), stop.clone());
        let id = lease.job_id;
        let thread = std::thread::spawn(move || {
            let mut next = std::time::Instant::now() + every;
            while !flag.load(Ordering::SeqCst) {
                if cancel.is_cancelled() {
                    job.cancel();
                    return;
                }
                if std::time::Instant::now() >= next {
                    next += every;
                    let beat: Result<LeaseDeadline, _> =
                        client.post(&format!("jobs/{id}/heartbeat"), &serde_json::json!({}));
                    if let Err(HubError::Refused { message, .. }) = beat {
                        eprintln!("verifier: job #{id} lease lost: {message}");
                        job.cancel();
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Heartbeat {
            stop,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
