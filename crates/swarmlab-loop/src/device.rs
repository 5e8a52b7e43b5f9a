//! [`Device`]: where one slot of a parallel run (`swarmlab run --parallel N --devices LIST`),
//! or one worker or verifier of `--devices`, runs its experiments. An accelerator is named by
//! its id and handed to the program through the environment (the track's `[devices] env`,
//! by default `CUDA_VISIBLE_DEVICES={device}`); a set of CPU cores gets the thread count to
//! match (`[devices] cpu_env`), and the thread that starts the runs is pinned to them, so
//! that every process it starts is too.
//!
//! It parses lists, fills in templates and pins threads; it never checks that an accelerator
//! exists (`swarmlab-client`'s `gpu` does that for workers and verifiers), and it never runs
//! anything.

use std::fmt;

use swarmlab_core::spec::DeviceSpec;

/// One place experiments run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// An accelerator: its kind (`cuda`) and its id (`3`).
    Accelerator { kind: String, id: String },
    /// A set of CPU cores, by their numbers.
    Cores(Vec<usize>),
}

/// The kind of an accelerator named by a bare id (`--devices 0,1`).
const DEFAULT_KIND: &str = "cuda";

impl Device {
    /// Parses `--devices`: entries separated by commas, each one of
    /// - `N` or `N-M`: accelerators by id (CUDA),
    /// - `KIND:N` or `KIND:N-M` (`cuda:0-7`, `rocm:0`): accelerators of that kind,
    /// - `cpu:N-M`: one slot per core from N to M, or `cpu:N-M/G`: one per G cores,
    /// - `cpu`: the cores this process may use, split into `slots` groups (one group when
    ///   `slots` is not given), or `cpu/G`: groups of G cores.
    pub fn parse_list(text: &str, slots: Option<usize>) -> Result<Vec<Device>, String> {
        let mut devices = Vec::new();
        for entry in text.split(',').map(str::trim) {
            if entry.is_empty() {
                return Err(format!("`{text}` has an empty entry"));
            }
            let (kind, rest) = match entry.split_once(':') {
                Some((kind, rest)) => (kind, Some(rest)),
                None if entry == "cpu" || entry.starts_with("cpu/") => ("cpu", None),
                None => (DEFAULT_KIND, Some(entry)),
            };
            if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "`{entry}`: the kind of a device is a word, like `cuda` or `cpu`"
                ));
            }
            if kind == "cpu" {
                devices.extend(cores(entry, rest, slots)?);
            } else {
                let ids = range(rest.unwrap_or_default()).ok_or_else(|| {
                    format!("`{entry}`: expected an id or a range, like {kind}:0-7")
                })?;
                devices.extend(ids.map(|id| Device::Accelerator {
                    kind: kind.to_string(),
                    id: id.to_string(),
                }));
            }
        }
        let mut seen = Vec::new();
        for device in &devices {
            if seen.contains(&device) {
                return Err(format!("`{text}` names {device} twice"));
            }
            seen.push(device);
        }
        Ok(devices)
    }

    /// What a run on this device gets in its environment, from the track's templates.
    pub fn env(&self, spec: &DeviceSpec) -> Vec<(String, String)> {
        match self {
            Device::Accelerator { id, .. } => spec
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.replace("{device}", id)))
                .collect(),
            Device::Cores(cores) => spec
                .cpu_env
                .iter()
                .map(|(k, v)| {
                    let v = v
                        .replace("{threads}", &cores.len().to_string())
                        .replace("{cores}", &cpu_list(cores, ","));
                    (k.clone(), v)
                })
                .collect(),
        }
    }

    /// Pins the calling thread to this device's cores, so that every process it starts
    /// from now on runs there too; nothing for an accelerator.
    pub fn pin_this_thread(&self) -> std::io::Result<()> {
        match self {
            Device::Accelerator { .. } => Ok(()),
            Device::Cores(cores) => affinity::set(cores),
        }
    }
}

/// `cuda:3`, `cpu:0-3`, `cpu:0+2`.
impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Accelerator { kind, id } => write!(f, "{kind}:{id}"),
            Device::Cores(cores) => write!(f, "cpu:{}", cpu_list(cores, "+")),
        }
    }
}

/// The device of each of `slots` slots: the devices in turn (several slots may share one),
/// or none at all when no device was given.
pub fn assign(devices: &[Device], slots: usize) -> Vec<Option<Device>> {
    (0..slots)
        .map(|k| match devices.len() {
            0 => None,
            n => Some(devices[k % n].clone()),
        })
        .collect()
}

/// The CPU slots of one `cpu...` entry.
fn cores(entry: &str, rest: Option<&str>, slots: Option<usize>) -> Result<Vec<Device>, String> {
    let (list, group) = match rest.unwrap_or(entry).split_once('/') {
        Some((list, group)) => {
            let group = group
                .parse::<usize>()
                .ok()
                .filter(|g| *g > 0)
                .ok_or_else(|| format!("`{entry}`: the group after `/` is a number of cores"))?;
            (list, Some(group))
        }
        None => (rest.unwrap_or(entry), None),
    };
    let all: Vec<usize> = if rest.is_none() {
        affinity::allowed()
    } else {
        range(list)
            .ok_or_else(|| format!("`{entry}`: expected cores like cpu:0-7 or cpu:0-7/2"))?
            .collect()
    };
    let size = match (rest, group, slots) {
        (_, Some(group), _) => group,
        (Some(_), None, _) => 1,
        (None, None, Some(slots)) if slots > 0 => {
            if slots > all.len() {
                return Err(format!(
                    "`cpu`: {} cores cannot be split into {slots} slots; give fewer slots, or cpu:0-{}/1 to share them",
                    all.len(),
                    all.len().saturating_sub(1)
                ));
            }
            all.len() / slots
        }
        (None, None, _) => all.len(),
    };
    if size > all.len() {
        return Err(format!(
            "`{entry}`: groups of {size} cores, but only {} are named",
            all.len()
        ));
    }
    Ok(all
        .chunks(size)
        .filter(|chunk| chunk.len() == size)
        .map(|chunk| Device::Cores(chunk.to_vec()))
        .collect())
}

/// `N` or `N-M` (inclusive), as numbers.
fn range(text: &str) -> Option<std::ops::RangeInclusive<usize>> {
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (low.trim().parse().ok()?, high.trim().parse().ok()?),
        None => {
            let n = text.trim().parse().ok()?;
            (n, n)
        }
    };
    (low <= high).then_some(low..=high)
}

/// Cores as Linux writes a CPU list, runs of consecutive ones as ranges: `0-3`, `0,2`
/// (with `+` instead of `,` where a comma would separate devices).
fn cpu_list(cores: &[usize], separator: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cores.len() {
        let mut j = i;
        while j + 1 < cores.len() && cores[j + 1] == cores[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            cores[i].to_string()
        } else {
            format!("{}-{}", cores[i], cores[j])
        });
        i = j + 1;
    }
    parts.join(separator)
}

#[cfg(target_os = "linux")]
mod affinity {
    /// The cores this process may run on.
    pub fn allowed() -> Vec<usize> {
        // SAFETY: sched_getaffinity fills a cpu_set_t we own and size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return super::every_core();
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        }
    }

    /// Pins the calling thread to `cores`.
    pub fn set(cores: &[usize]) -> std::io::Result<()> {
        // SAFETY: CPU_SET writes into a cpu_set_t we own; sched_setaffinity(0) is this thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for &core in cores {
                if core >= libc::CPU_SETSIZE as usize {
                    return Err(std::io::Error::other(format!(
                        "core {core} is beyond the cores this system can name"
                    )));
                }
                libc::CPU_SET(core, &mut set);
            }
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod affinity {
    pub fn allowed() -> Vec<usize> {
        super::every_core()
    }

    pub fn set(_cores: &[usize]) -> std::io::Result<()> {
        Err(std::io::Error::other(
            "pinning runs to CPU cores needs Linux; give no cpu devices here",
        ))
    }
}

fn every_core() -> Vec<usize> {
    (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, slots: Option<usize>) -> Vec<String> {
        Device::parse_list(text, slots)
            .unwrap()
            .iter()
            .map(Device::to_string)
            .collect()
    }

    #[test]
    fn lists_name_accelerators_by_id_and_range() {
        assert_eq!(
            names("0,1,2,3", None),
            ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]
        );
        assert_eq!(names("cuda:0-7", None).len(), 8);
        assert_eq!(names("rocm:2, 5", None), ["rocm:2", "cuda:5"]);
        for bad in ["", "0,,1", "cuda:", "cuda:3-1", "cu da:1", "x:1-y"] {
            assert!(Device::parse_list(bad, None).is_err(), "{bad}");
        }
        let twice = Device::parse_list("0,cuda:0", None).unwrap_err();
        assert_eq!(twice, "`0,cuda:0` names cuda:0 twice");
    }

    #[test]
    fn cpu_entries_split_cores_into_slots() {
        assert_eq!(names("cpu:0-3", None), ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]);
        assert_eq!(names("cpu:0-7/4", None), ["cpu:0-3", "cpu:4-7"]);
        let all = affinity::allowed();
        let one = Device::parse_list("cpu", None).unwrap();
        assert_eq!(one, [Device::Cores(all.clone())]);
        if all.len() >= 2 {
            assert_eq!(Device::parse_list("cpu", Some(2)).unwrap().len(), 2);
        }
        let e = Device::parse_list("cpu", Some(all.len() + 1)).unwrap_err();
        assert!(e.contains("cannot be split"), "{e}");
        assert!(Device::parse_list("cpu:0-1/3", None).is_err());
        assert!(Device::parse_list("cpu:0-3/0", None).is_err());
    }

    #[test]
    fn the_environment_fills_in_the_tracks_templates() {
        let spec = DeviceSpec::default();
        let gpu = Device::parse_list("cuda:3", None).unwrap().remove(0);
        assert!(gpu
            .env(&spec)
            .contains(&("CUDA_VISIBLE_DEVICES".into(), "3".into())));
        let cores = Device::Cores(vec![0, 1, 2, 5]);
        assert_eq!(cores.to_string(), "cpu:0-2+5");
        let mut spec = spec;
        spec.cpu_env
            .insert("TASKSET".into(), "{cores} of {threads}".into());
        let env = cores.env(&spec);
        assert!(env.contains(&("SWARMLAB_THREADS".into(), "4".into())));
        assert!(env.contains(&("TASKSET".into(), "0-2,5 of 4".into())));
    }

    #[test]
    fn slots_take_the_devices_in_turn() {
        let devices = Device::parse_list("0,1", None).unwrap();
        let slots = assign(&devices, 3);
        assert_eq!(slots[2], Some(devices[0].clone()));
        assert_eq!(assign(&[], 2), [None, None]);
    }
}
