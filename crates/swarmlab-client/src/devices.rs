//! `swarmlab work --devices` and `swarmlab verify --devices`: one worker (or verifier) per
//! device, from one process. Each runs in a thread of its own: a GPU is handed over as
//! `--gpu` hands it ([`crate::gpu::Gpu`]: its UUID in `CUDA_VISIBLE_DEVICES`, its device
//! nodes for the sandbox, its model as the hardware class); a set of CPU cores pins the
//! thread, so every run it starts (sandbox included) stays on them, with the thread count
//! in the environment.
//!
//! It only places and fans out; what each worker or verifier does is theirs.

use std::path::{Path, PathBuf};

use swarmlab_core::spec::DeviceSpec;
use swarmlab_loop::{Device, Stop};
use swarmlab_proto::Role;

use crate::gpu::{Gpu, GpuError};
use crate::identity::IdentityFile;
use crate::verifier::hardware_class;
use crate::ClientError;

/// Where one worker or verifier runs, and what its runs are handed.
#[derive(Debug, Clone)]
pub struct Placement {
    pub device: Device,
    /// The device as a word for names and folders: `cuda-0`, `cpu-0-3`.
    pub slug: String,
    /// Set in every run's environment.
    pub env: Vec<(String, String)>,
    /// The device nodes a sandboxed run needs (a GPU's).
    pub nodes: Vec<PathBuf>,
    /// The hardware class a verifier reports, when the device names one (a GPU's model).
    pub hardware_class: Option<String>,
}

impl Placement {
    /// Places one piece of work on each device of `list` (`--devices`, see
    /// [`Device::parse_list`]), as [`Placement::of`] does.
    pub fn list(list: &str) -> Result<Vec<Placement>, ClientError> {
        let devices = Device::parse_list(list, None).map_err(ClientError::Devices)?;
        Ok(devices
            .iter()
            .map(Placement::of)
            .collect::<Result<_, _>>()?)
    }

    /// Places work on `device`: a CUDA device must be a GPU the driver lists.
    pub fn of(device: &Device) -> Result<Placement, GpuError> {
        let slug: String = device
            .to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let cuda = match device {
            Device::Accelerator { kind, id } if kind == "cuda" => id.parse::<u32>().ok(),
            _ => None,
        };
        let (env, nodes, hardware_class) = match cuda {
            Some(minor) => {
                let gpu = Gpu::find(minor)?;
                let nodes = gpu.nodes(Path::new("/dev"))?;
                (gpu.env(), nodes, Some(gpu.hardware_class()))
            }
            None => {
                let class = match device {
                    Device::Cores(cores) => Some(with_cores(&hardware_class(), cores.len())),
                    Device::Accelerator { .. } => None,
                };
                (device.env(&DeviceSpec::default()), Vec::new(), class)
            }
        };
        Ok(Placement {
            device: device.clone(),
            slug,
            env,
            nodes,
            hardware_class,
        })
    }
}

/// A CPU hardware class (`cpu-MODEL-x64`) for `cores` of the machine's cores.
fn with_cores(class: &str, cores: usize) -> String {
    let model = class.rsplit_once("-x").map_or(class, |(model, _)| model);
    format!("{model}-x{cores}")
}

/// Gives every folder of `dirs` the verifier identity kept in `base` (made there on first
/// start), so that the verifiers of one process are one verifier to the hub, enrolled once.
pub fn share_identity(base: &Path, hub: &str, dirs: &[PathBuf]) -> Result<(), ClientError> {
    let identity = match IdentityFile::load(base)? {
        Some(identity) => identity,
        None => {
            let identity = IdentityFile::generate(hub, Role::Verifier)?;
            identity.save(base)?;
            identity
        }
    };
    for dir in dirs {
        if IdentityFile::load(dir)?.is_none() {
            identity.save(dir)?;
        }
    }
    Ok(())
}

/// The invite code each folder of `dirs` registers its worker with, from `codes` (comma
/// separated): one code each, in order, to the folders that hold no identity yet (a worker
/// registered on an earlier start needs none). More codes than such folders is an error,
/// so that no code is silently wasted; fewer leaves the last ones without, for a hub that
/// registers openly.
pub fn hand_out_invites(
    dirs: &[PathBuf],
    codes: Option<&str>,
) -> Result<Vec<Option<String>>, ClientError> {
    let mut codes = codes
        .into_iter()
        .flat_map(|codes| codes.split(','))
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(str::to_string);
    let mut invites = Vec::with_capacity(dirs.len());
    for dir in dirs {
        invites.push(match IdentityFile::load(dir)? {
            Some(_) => None,
            None => codes.next(),
        });
    }
    let left = codes.count();
    if left > 0 {
        return Err(ClientError::Invites { left });
    }
    Ok(invites)
}

/// Runs `work` once per placement, each in its own thread (pinned to its cores when it has
/// some), and waits for all. The outcome: the first error, else `Interrupted` if any was
/// stopped, else what the first one ended with.
pub fn each<F>(placements: Vec<Placement>, work: F) -> Result<Stop, ClientError>
where
    F: Fn(Placement) -> Result<Stop, ClientError> + Sync,
{
    let results: Vec<Result<Stop, ClientError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = placements
            .into_iter()
            .map(|placement| {
                let work = &work;
                scope.spawn(move || {
                    placement
                        .device
                        .pin_this_thread()
                        .map_err(|source| ClientError::Start {
                            name: placement.slug.clone(),
                            source,
                        })?;
                    work(placement)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Ok(Stop::Interrupted)))
            .collect()
    });
    let mut stops = Vec::new();
    for result in results {
        stops.push(result?);
    }
    Ok(if stops.contains(&Stop::Interrupted) {
        Stop::Interrupted
    } else {
        stops.first().copied().unwrap_or(Stop::Limit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_places_each_device_and_one_that_does_not_read_is_refused() {
        let placements = Placement::list("cpu:0-1/1").unwrap();
        let slugs: Vec<&str> = placements.iter().map(|p| p.slug.as_str()).collect();
        assert_eq!(slugs, ["cpu-0", "cpu-1"]);
        assert!(matches!(
            Placement::list("cpu:3-1"),
            Err(ClientError::Devices(_))
        ));
    }

    #[test]
    fn cpu_cores_are_placed_with_a_thread_count_and_no_nodes() {
        let device = Device::Cores(vec![0]);
        let placement = Placement::of(&device).unwrap();
        assert_eq!(placement.slug, "cpu-0");
        assert!(placement
            .env
            .contains(&("SWARMLAB_THREADS".to_string(), "1".to_string())));
        assert!(placement.nodes.is_empty());
        assert!(placement
            .hardware_class
            .is_some_and(|c| c.starts_with("cpu-") && c.ends_with("-x1")));
        assert_eq!(with_cores("cpu-AMD-EPYC-x64", 8), "cpu-AMD-EPYC-x8");
        let rocm = Device::Accelerator {
            kind: "rocm".into(),
            id: "2".into(),
        };
        assert_eq!(Placement::of(&rocm).unwrap().slug, "rocm-2");
    }

    #[test]
    fn each_unregistered_folder_gets_the_next_invite_code() {
        let base = tempfile::tempdir().unwrap();
        let dirs: Vec<PathBuf> = (0..3).map(|i| base.path().join(format!("d{i}"))).collect();
        IdentityFile::generate("http://hub", Role::Worker)
            .unwrap()
            .save(&dirs[1])
            .unwrap();
        let invites = hand_out_invites(&dirs, Some("sli_a, sli_b")).unwrap();
        assert_eq!(
            invites,
            [Some("sli_a".to_string()), None, Some("sli_b".to_string())]
        );
        assert_eq!(
            hand_out_invites(&dirs, Some("sli_a")).unwrap(),
            [Some("sli_a".to_string()), None, None]
        );
        assert_eq!(hand_out_invites(&dirs, None).unwrap(), [None, None, None]);
        let e = hand_out_invites(&dirs, Some("a,b,c")).unwrap_err();
        assert!(e.to_string().contains("1 invite code(s) left over"), "{e}");
    }

    #[test]
    fn every_placement_runs_in_its_own_thread_and_an_error_wins() {
        let cores = Device::parse_list("cpu", None).unwrap().remove(0);
        let placements = vec![Placement::of(&cores).unwrap(); 2];
        let threads = std::sync::Mutex::new(Vec::new());
        let stop = each(placements.clone(), |_| {
            threads.lock().unwrap().push(std::thread::current().id());
            Ok(Stop::Limit)
        })
        .unwrap();
        assert_eq!(stop, Stop::Limit);
        let threads = threads.into_inner().unwrap();
        assert_eq!(threads.len(), 2);
        assert_ne!(threads[0], threads[1]);
        let first = std::sync::atomic::AtomicBool::new(true);
        let stopped = each(placements.clone(), |_| {
            Ok(if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
                Stop::Interrupted
            } else {
                Stop::Limit
            })
        });
        assert_eq!(stopped.unwrap(), Stop::Interrupted);
        assert!(each(placements, |_| Err(ClientError::NoToken)).is_err());
    }
}
