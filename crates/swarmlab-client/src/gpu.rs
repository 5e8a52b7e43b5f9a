//! [`Gpu`]: the NVIDIA GPU a worker or verifier hands its runs (`--gpu N`), found as the
//! driver lists it: its device node, the environment that makes CUDA use it and nothing
//! else, and the hardware class a verifier reports.
//!
//! It reads the driver's `/proc/driver/nvidia/gpus/*/information` files, and asks
//! `nvidia-smi` only when those are absent. It must not open a device, load a driver library
//! or change anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the driver lists its GPUs, one folder (named by PCI address) per GPU.
const PROC_GPUS: &str = "/proc/driver/nvidia/gpus";
/// The driver's nodes every CUDA program opens besides its GPU's, bound when present.
const SHARED_NODES: &[&str] = &["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools"];

/// One NVIDIA GPU of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpu {
    /// The device minor: the GPU's node is `/dev/nvidia{minor}`.
    pub minor: u32,
    /// The model as the driver names it, e.g. `NVIDIA H100 80GB HBM3`.
    pub model: String,
    /// `GPU-…`, when the driver says it: what CUDA_VISIBLE_DEVICES names it by.
    pub uuid: Option<String>,
}

/// Why `--gpu N` names no GPU this machine has.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no NVIDIA GPU {minor} on this machine: {why}")]
    NotFound { minor: u32, why: String },
    #[error("GPU {minor} ({model}) has no device node {}", node.display())]
    NoNode {
        minor: u32,
        model: String,
        node: PathBuf,
    },
}

impl Gpu {
    /// The GPU whose node is `/dev/nvidia{minor}`, from the driver's `/proc` files or, when
    /// those are absent, `nvidia-smi` (whose index is then taken as the minor).
    pub fn find(minor: u32) -> Result<Gpu, GpuError> {
        if Path::new(PROC_GPUS).is_dir() {
            return Gpu::find_in(Path::new(PROC_GPUS), minor);
        }
        let output = Command::new("nvidia-smi")
            .args(["--query-gpu=index,name,uuid", "--format=csv,noheader"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        match output {
            Ok(out) if out.status.success() => {
                Gpu::from_smi(&String::from_utf8_lossy(&out.stdout), minor)
            }
            _ => Err(GpuError::NotFound {
                minor,
                why: format!("{PROC_GPUS} is absent and nvidia-smi does not answer"),
            }),
        }
    }

    /// The GPU of device minor `minor` among the driver's folders under `dir`.
    pub fn find_in(dir: &Path, minor: u32) -> Result<Gpu, GpuError> {
        let not_found = |why: String| GpuError::NotFound { minor, why };
        let entries = std::fs::read_dir(dir)
            .map_err(|e| not_found(format!("cannot read {}: {e}", dir.display())))?;
        let mut seen = Vec::new();
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(entry.path().join("information")) else {
                continue;
            };
            if let Some(gpu) = Gpu::from_information(&text) {
                if gpu.minor == minor {
                    return Ok(gpu);
                }
                seen.push(gpu.minor.to_string());
            }
        }
        seen.sort();
        Err(not_found(if seen.is_empty() {
            format!("{} lists no GPU", dir.display())
        } else {
            format!("the driver lists GPUs {}", seen.join(", "))
        }))
    }

    /// A GPU from the driver's `information` file (`Model:`, `GPU UUID:`, `Device Minor:`).
    fn from_information(text: &str) -> Option<Gpu> {
        let field = |key: &str| {
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim() == key)
                .map(|(_, v)| v.trim().to_string())
        };
        Some(Gpu {
            minor: field("Device Minor")?.parse().ok()?,
            model: field("Model")?,
            uuid: field("GPU UUID").filter(|u| u.starts_with("GPU-")),
        })
    }

    /// The GPU of index `minor` in `nvidia-smi --query-gpu=index,name,uuid` output.
    fn from_smi(csv: &str, minor: u32) -> Result<Gpu, GpuError> {
        csv.lines()
            .filter_map(|line| {
                let mut fields = line.split(',').map(str::trim);
                let index = fields.next()?.parse::<u32>().ok()?;
                let model = fields.next()?.to_string();
                let uuid = fields
                    .next()
                    .filter(|u| u.starts_with("GPU-"))
                    .map(String::from);
                Some(Gpu {
                    minor: index,
                    model,
                    uuid,
                })
            })
            .find(|gpu| gpu.minor == minor)
            .ok_or_else(|| GpuError::NotFound {
                minor,
                why: "nvidia-smi lists no GPU of that index".into(),
            })
    }

    /// The device nodes a sandboxed run of this GPU needs, under `dev` (`/dev`): the GPU's
    /// own, and the driver's shared ones that exist.
    pub fn nodes(&self, dev: &Path) -> Result<Vec<PathBuf>, GpuError> {
        let own = dev.join(format!("nvidia{}", self.minor));
        if !own.exists() {
            return Err(GpuError::NoNode {
                minor: self.minor,
                model: self.model.clone(),
                node: own,
            });
        }
        let mut nodes = vec![own];
        nodes.extend(
            SHARED_NODES
                .iter()
                .map(|name| dev.join(name))
                .filter(|path| path.exists()),
        );
        Ok(nodes)
    }

    /// What a run's environment gets so that CUDA uses this GPU alone: its UUID, which no
    /// ordering can confuse, or else its index in PCI bus order.
    pub fn env(&self) -> Vec<(String, String)> {
        let visible = self.uuid.clone().unwrap_or_else(|| self.minor.to_string());
        vec![
            ("CUDA_DEVICE_ORDER".into(), "PCI_BUS_ID".into()),
            ("CUDA_VISIBLE_DEVICES".into(), visible),
        ]
    }

    /// The hardware class a verifier reports for runs on this GPU: its model, e.g.
    /// `gpu-NVIDIA-H100-80GB-HBM3` (a model name that holds the memory size says it).
    pub fn hardware_class(&self) -> String {
        format!("gpu-{}", class_word(&self.model))
    }
}

/// A name reduced to letters, digits and single dashes.
pub(crate) fn class_word(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H100: &str = "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 0\nGPU UUID: \t GPU-4d1e6c1f-0f0e-2b1b-6f3a-9d1c5a6e7b8c\nVideo BIOS: \t 96.00.74.00.01\nBus Type: \t PCIe\nBus Location: \t 0000:18:00.0\nDevice Minor: \t 1\nGPU Excluded:\t No\n";

    fn driver(gpus: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (bus, information) in gpus {
            std::fs::create_dir(dir.path().join(bus)).unwrap();
            std::fs::write(dir.path().join(bus).join("information"), information).unwrap();
        }
        dir
    }

    #[test]
    fn the_driver_names_the_gpu_of_a_minor() {
        let other = H100
            .replace("Device Minor: \t 1", "Device Minor: \t 0")
            .replace("GPU-4d1e", "GPU-0000");
        let dir = driver(&[("0000:18:00.0", H100), ("0000:2a:00.0", &other)]);
        let gpu = Gpu::find_in(dir.path(), 1).unwrap();
        assert_eq!(
            gpu,
            Gpu {
                minor: 1,
                model: "NVIDIA H100 80GB HBM3".into(),
                uuid: Some("GPU-4d1e6c1f-0f0e-2b1b-6f3a-9d1c5a6e7b8c".into()),
            }
        );
        assert_eq!(gpu.hardware_class(), "gpu-NVIDIA-H100-80GB-HBM3");
        assert_eq!(
            gpu.env(),
            vec![
                ("CUDA_DEVICE_ORDER".to_string(), "PCI_BUS_ID".to_string()),
                (
                    "CUDA_VISIBLE_DEVICES".to_string(),
                    "GPU-4d1e6c1f-0f0e-2b1b-6f3a-9d1c5a6e7b8c".to_string()
                ),
            ]
        );
        let missing = Gpu::find_in(dir.path(), 3).unwrap_err().to_string();
        assert_eq!(
            missing,
            "no NVIDIA GPU 3 on this machine: the driver lists GPUs 0, 1"
        );
    }

    #[test]
    fn nvidia_smi_names_it_when_the_driver_files_are_absent() {
        let csv = "0, NVIDIA A100-SXM4-40GB, GPU-aaaa\n1, NVIDIA A100-SXM4-40GB, [N/A]\n";
        let gpu = Gpu::from_smi(csv, 1).unwrap();
        assert_eq!(gpu.model, "NVIDIA A100-SXM4-40GB");
        assert_eq!(gpu.uuid, None);
        assert_eq!(gpu.hardware_class(), "gpu-NVIDIA-A100-SXM4-40GB");
        assert_eq!(gpu.env()[1], ("CUDA_VISIBLE_DEVICES".into(), "1".into()));
        assert!(Gpu::from_smi(csv, 2).is_err());
    }

    #[test]
    fn a_sandboxed_run_gets_its_gpus_node_and_the_shared_ones_present() {
        let dev = tempfile::tempdir().unwrap();
        let gpu = Gpu {
            minor: 1,
            model: "NVIDIA H100 80GB HBM3".into(),
            uuid: None,
        };
        let error = gpu.nodes(dev.path()).unwrap_err().to_string();
        assert!(error.contains("has no device node"), "{error}");
        for node in ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"] {
            std::fs::write(dev.path().join(node), "").unwrap();
        }
        let nodes = gpu.nodes(dev.path()).unwrap();
        let names: Vec<_> = nodes
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["nvidia1", "nvidiactl", "nvidia-uvm"]);
    }
}
