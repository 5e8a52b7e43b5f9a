//! `[devices]`: how a run is handed its device when several experiments run at once
//! (`swarmlab run --parallel N --devices LIST`), and how results from different devices are
//! compared and merged into one search.
//!
//! This module only describes; the loop fills in the templates and decides.

use std::collections::BTreeMap;

use super::Budget;

/// The `[devices]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// Set in the environment of a run on an accelerator; `{device}` is replaced by its id
    /// (`3` for `cuda:3`). Default: `CUDA_DEVICE_ORDER = "PCI_BUS_ID"`,
    /// `CUDA_VISIBLE_DEVICES = "{device}"`.
    pub env: BTreeMap<String, String>,
    /// Set in the environment of a run on a set of CPU cores; `{threads}` is the number of
    /// cores and `{cores}` their list (`0-3`). Default: `SWARMLAB_THREADS`,
    /// `OMP_NUM_THREADS` and `RAYON_NUM_THREADS` = `"{threads}"`.
    pub cpu_env: BTreeMap<String, String>,
    /// How results from different devices are compared; `None`: by the budget (see
    /// [`DeviceSpec::compare`]).
    pub compare: Option<Compare>,
    pub remeasure: Remeasure,
}

/// How a result is set against the best when runs happen on several devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// The metric as printed: right when it does not depend on the device's speed (a budget
    /// in steps or tokens).
    Metric,
    /// Each device measures the baseline once; a result counts by how far it moved from its
    /// own device's baseline. Right when a time budget makes the metric depend on speed.
    Device,
}

/// When a kept result whose best moved on meanwhile is measured again on the new best.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remeasure {
    /// Only when git's 3-way merge onto the new best conflicts (the conflict is resolved
    /// toward the result's change, and that tree is what runs); a clean merge is kept as is.
    Conflicts,
    /// Every time the result is merged onto a best other than the one it was measured on.
    Merges,
}

impl Default for DeviceSpec {
    fn default() -> DeviceSpec {
        let pairs = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        DeviceSpec {
            env: pairs(&[
                ("CUDA_DEVICE_ORDER", "PCI_BUS_ID"),
                ("CUDA_VISIBLE_DEVICES", "{device}"),
            ]),
            cpu_env: pairs(&[
                ("OMP_NUM_THREADS", "{threads}"),
                ("RAYON_NUM_THREADS", "{threads}"),
                ("SWARMLAB_THREADS", "{threads}"),
            ]),
            compare: None,
            remeasure: Remeasure::Conflicts,
        }
    }
}

impl DeviceSpec {
    /// How results are compared under `budget`: as the spec says, else by device when the
    /// budget is a time budget (the metric then depends on the device's speed).
    pub fn compare(&self, budget: &Budget) -> Compare {
        self.compare.unwrap_or(match budget {
            Budget::Time(_) => Compare::Device,
            Budget::Steps(_) | Budget::Tokens(_) => Compare::Metric,
        })
    }
}

impl Compare {
    pub fn as_str(self) -> &'static str {
        match self {
            Compare::Metric => "metric",
            Compare::Device => "device",
        }
    }
}

impl Remeasure {
    pub fn as_str(self) -> &'static str {
        match self {
            Remeasure::Conflicts => "conflicts",
            Remeasure::Merges => "merges",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_time_budget_compares_by_device_unless_the_spec_says() {
        let spec = DeviceSpec::default();
        let time = Budget::Time(Duration::from_secs(60));
        assert_eq!(spec.compare(&time), Compare::Device);
        assert_eq!(spec.compare(&Budget::Steps(100)), Compare::Metric);
        let fixed = DeviceSpec {
            compare: Some(Compare::Metric),
            ..DeviceSpec::default()
        };
        assert_eq!(fixed.compare(&time), Compare::Metric);
    }
}
