//! What verification costs, in device-seconds (wall seconds of runs): [`tally`] sums the run
//! times of every verdict's report (head and candidate, as the verifier signed them in its
//! pairs' load) against the accepted commits they bought and the search the workers said
//! they spent, and [`Price`] is what verifying one more submission on a track is expected
//! to cost, which the quota charges (`quota.rs`). Pure: the store gathers the reports and
//! the counts, and [`Hub::verification_cost`] shows them.
//!
//! A report of a verifier that predates the pairs' load says nothing of its runs' time: it is
//! counted as a verdict but not as a measured one, and adds nothing to the seconds.

use std::time::Duration;

use swarmlab_proto::{Measurements, Rule, VerificationCost};

use super::acceptance::reruns_asked;
use super::error::HubError;
use super::hub::Hub;

/// What the store gathers of a track for [`tally`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CostInputs {
    /// The measurements of every verdict on the track.
    pub reports: Vec<Measurements>,
    /// Commits the chain gained after the baseline.
    pub accepted: u64,
    /// The `spent_s` of every claim on the track that gave one.
    pub spent: Vec<f64>,
}

/// Wall seconds of a report's runs, head and candidate; `None` when it does not say.
pub fn run_seconds(m: &Measurements) -> Option<f64> {
    let load = &m.pairs.as_ref()?.load;
    if load.is_empty() {
        return None;
    }
    Some(
        load.iter()
            .map(|pair| pair.candidate.wall_s + pair.head.wall_s)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .sum(),
    )
}

/// What verification has cost `track`, from what the store gathered.
pub fn tally(track: &str, inputs: &CostInputs) -> VerificationCost {
    let measured: Vec<f64> = inputs.reports.iter().filter_map(run_seconds).collect();
    let verifier_s: f64 = measured.iter().sum();
    let worker_s: f64 = inputs
        .spent
        .iter()
        .filter(|s| s.is_finite() && **s >= 0.0)
        .sum();
    let per = |n: u64| (n > 0).then(|| verifier_s / n as f64);
    let reported = inputs.spent.len() as u64;
    VerificationCost {
        track: track.to_string(),
        verdicts: inputs.reports.len() as u64,
        measured_verdicts: measured.len() as u64,
        verifier_s,
        accepted: inputs.accepted,
        verifier_s_per_accepted: per(inputs.accepted),
        verifier_s_per_verdict: per(measured.len() as u64),
        reported_submissions: reported,
        worker_s,
        verifier_share: (reported > 0 && verifier_s + worker_s > 0.0)
            .then(|| verifier_s / (verifier_s + worker_s)),
    }
}

/// What verifying one submission on a track is expected to cost, and how that was reckoned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// Device-seconds.
    pub seconds: f64,
    pub basis: Basis,
}

/// Where a [`Price`] comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Basis {
    /// The mean of this many measured verdicts on the track.
    Measured { verdicts: u64 },
    /// No verdict measured yet: the reruns asked of each side, head and candidate, at
    /// `run_s` each (the track's time budget, or its timeout when the budget counts steps
    /// or tokens).
    Budget { reruns: u32, run_s: f64 },
}

/// Seconds a run is charged when the track's spec names no duration at all: a hub keeps the
/// spec it imported, so this only meets a spec it could not read back.
const UNKNOWN_RUN_S: f64 = 60.0;

impl Price {
    /// The measured mean cost of a verdict on the track when there is one, else what the
    /// rule's reruns of each side cost at `run`'s duration.
    pub fn of(cost: &VerificationCost, rule: &Rule, run: Option<Duration>) -> Price {
        match cost.verifier_s_per_verdict {
            Some(seconds) if seconds > 0.0 => Price {
                seconds,
                basis: Basis::Measured {
                    verdicts: cost.measured_verdicts,
                },
            },
            _ => {
                let reruns = reruns_asked(rule);
                let run_s = run.map_or(UNKNOWN_RUN_S, |d| d.as_secs_f64()).max(0.001);
                Price {
                    seconds: 2.0 * f64::from(reruns) * run_s,
                    basis: Basis::Budget { reruns, run_s },
                }
            }
        }
    }

    /// How the price was reckoned, for the quota's message.
    pub fn explain(&self) -> String {
        match self.basis {
            Basis::Measured { verdicts } => format!(
                "the mean of {verdicts} measured verdict{} on the track",
                if verdicts == 1 { "" } else { "s" }
            ),
            Basis::Budget { reruns, run_s } => format!(
                "{reruns} reruns of the head and of the candidate at {run_s:.1} s each, \
                 until a verdict on the track is measured"
            ),
        }
    }
}

/// The duration of one run by a track's spec text: its time budget, else its timeout (a
/// budget of steps or tokens says nothing of time; the timeout bounds it). `None` when the
/// text names neither.
pub fn run_duration(spec_toml: &str) -> Option<Duration> {
    let doc: toml::Table = spec_toml.parse().ok()?;
    let run = doc.get("run")?.as_table()?;
    let parse = |key: &str| {
        run.get(key)
            .and_then(|v| v.as_str())
            .and_then(|t| swarmlab_core::spec::parse_duration(t).ok())
    };
    parse("budget").or_else(|| parse("timeout"))
}

impl Hub {
    /// What verification has cost `track`: device-seconds of the verifiers' runs, per
    /// accepted commit, and their share of all device-seconds the workers said they spent.
    pub async fn verification_cost(&self, track: &str) -> Result<VerificationCost, HubError> {
        self.track(track).await?;
        let inputs = self.store.cost_inputs(track).await?;
        Ok(tally(track, &inputs))
    }
}

#[cfg(test)]
mod tests {
    use swarmlab_core::Goal;
    use swarmlab_proto::{BudgetKind, PairLoad, Pairs, RunLoad, RunOutcome};

    use super::*;

    fn report(walls: &[(f64, f64)]) -> Measurements {
        let run = |wall_s| RunLoad {
            wall_s,
            cpu_s: wall_s,
            load_avg: 1.0,
        };
        Measurements {
            job_id: 1,
            verifier_id: "v".into(),
            hardware_class: "cpu".into(),
            outcome: RunOutcome::Ok,
            candidate: vec![1.0; walls.len()],
            head: vec![1.0; walls.len()],
            detail: None,
            unsandboxed: false,
            pairs: Some(Pairs {
                seeds: (0..walls.len() as u64).collect(),
                budget: BudgetKind::Steps,
                load: walls
                    .iter()
                    .map(|&(c, h)| PairLoad {
                        candidate: run(c),
                        head: run(h),
                    })
                    .collect(),
            }),
        }
    }

    fn rule() -> Rule {
        Rule {
            goal: Goal::Minimize,
            alpha: 0.01,
            min_delta: 0.002,
            reruns: 3,
            max_reruns: Some(8),
        }
    }

    #[test]
    fn the_cost_sums_head_and_candidate_runs_and_divides_by_what_it_bought() {
        let mut unmeasured = report(&[]);
        unmeasured.pairs = None;
        let inputs = CostInputs {
            reports: vec![
                report(&[(2.0, 1.5), (2.5, 1.0)]),
                unmeasured,
                report(&[(4.0, 4.0)]),
            ],
            accepted: 2,
            spent: vec![30.0, 45.0],
        };
        let cost = tally("toy", &inputs);
        assert_eq!(cost.verdicts, 3);
        assert_eq!(cost.measured_verdicts, 2);
        assert_eq!(cost.verifier_s, 15.0);
        assert_eq!(cost.verifier_s_per_accepted, Some(7.5));
        assert_eq!(cost.verifier_s_per_verdict, Some(7.5));
        assert_eq!(cost.worker_s, 75.0);
        assert_eq!(cost.verifier_share, Some(15.0 / 90.0));
        let none = tally("toy", &CostInputs::default());
        assert_eq!(
            (none.verifier_s_per_accepted, none.verifier_share),
            (None, None)
        );
    }

    #[test]
    fn the_price_is_the_measured_mean_else_the_reruns_at_the_budget() {
        let mut cost = tally("toy", &CostInputs::default());
        let budget = Price::of(&cost, &rule(), Some(Duration::from_secs(5)));
        assert_eq!(budget.seconds, 30.0);
        assert!(
            budget.explain().contains("3 reruns"),
            "{}",
            budget.explain()
        );
        cost = tally(
            "toy",
            &CostInputs {
                reports: vec![report(&[(2.0, 2.0)]), report(&[(1.0, 1.0)])],
                ..CostInputs::default()
            },
        );
        let measured = Price::of(&cost, &rule(), Some(Duration::from_secs(5)));
        assert_eq!(measured.seconds, 3.0);
        assert!(measured.explain().contains("mean of 2 measured verdicts"));
    }

    #[test]
    fn a_run_lasts_the_time_budget_else_the_timeout() {
        let time = "[run]\nbudget = \"20s\"\ntimeout = \"1m\"\n";
        assert_eq!(run_duration(time), Some(Duration::from_secs(20)));
        let steps = "[run]\nbudget = { steps = 300 }\ntimeout = \"3m\"\n";
        assert_eq!(run_duration(steps), Some(Duration::from_secs(180)));
        assert_eq!(run_duration("[run]\n"), None);
    }
}
