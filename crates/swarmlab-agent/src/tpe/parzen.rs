//! The densities a Tree-structured Parzen Estimator compares, one knob at a time, over the
//! knob's normalised space:
//!
//! - [`Parzen`], for numbers on `[0, 1]`: a mixture of Gaussians truncated to the interval,
//!   one at each observed value with a bandwidth as wide as the larger gap to its neighbours
//!   (dense regions get sharp peaks, lonely points broad ones), and one broad prior component
//!   at the centre so that no region ever has zero density.
//! - [`Categorical`], for choices: each choice's share of the observations, smoothed by the
//!   same prior weight spread evenly over the choices.
//!
//! Only densities live here; which observations they are fitted to is the proposer's choice.

use crate::Rng;

/// The weight of the prior component against one observation's.
const PRIOR_WEIGHT: f64 = 1.0;
/// The prior component's centre and width on `[0, 1]`: nearly flat over the interval.
const PRIOR_MEAN: f64 = 0.5;
const PRIOR_SIGMA: f64 = 1.0;
/// The narrowest bandwidth is this share of the interval, divided by the observations (up to
/// 100 of them), so that more data allows sharper peaks.
const MIN_SIGMA_SHARE: f64 = 1.0;
/// Tries of rejection sampling before a draw is clamped into the interval.
const REJECTION_TRIES: usize = 64;

/// A density on `[0, 1]`: a truncated Gaussian mixture.
#[derive(Debug, Clone)]
pub(super) struct Parzen {
    /// `(mean, sigma, weight, mass inside [0, 1])` per component.
    components: Vec<(f64, f64, f64, f64)>,
    total_weight: f64,
}

impl Parzen {
    /// The estimator fitted to `points`, each in `[0, 1]`.
    pub(super) fn fit(points: &[f64]) -> Parzen {
        let mut sorted = points.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let min_sigma = MIN_SIGMA_SHARE / (n + 1).min(100) as f64;
        let mut components = Vec::with_capacity(n + 1);
        for (i, &mu) in sorted.iter().enumerate() {
            let left = if i == 0 { mu } else { mu - sorted[i - 1] };
            let right = if i + 1 == n {
                1.0 - mu
            } else {
                sorted[i + 1] - mu
            };
            let sigma = left.max(right).clamp(min_sigma, PRIOR_SIGMA);
            components.push(component(mu, sigma, 1.0));
        }
        components.push(component(PRIOR_MEAN, PRIOR_SIGMA, PRIOR_WEIGHT));
        let total_weight = components.iter().map(|c| c.2).sum();
        Parzen {
            components,
            total_weight,
        }
    }

    /// A draw from the density.
    pub(super) fn sample(&self, rng: &mut Rng) -> f64 {
        let mut pick = rng.uniform() * self.total_weight;
        let mut chosen = self.components[self.components.len() - 1];
        for c in &self.components {
            if pick < c.2 {
                chosen = *c;
                break;
            }
            pick -= c.2;
        }
        let (mu, sigma, _, _) = chosen;
        let mut x = mu;
        for _ in 0..REJECTION_TRIES {
            x = mu + sigma * rng.normal();
            if (0.0..=1.0).contains(&x) {
                return x;
            }
        }
        x.clamp(0.0, 1.0)
    }

    /// The log of the density at `x`.
    pub(super) fn ln_pdf(&self, x: f64) -> f64 {
        let density: f64 = self
            .components
            .iter()
            .map(|&(mu, sigma, weight, mass)| {
                let z = (x - mu) / sigma;
                weight * (-0.5 * z * z).exp() / (sigma * (std::f64::consts::TAU).sqrt() * mass)
            })
            .sum::<f64>()
            / self.total_weight;
        density.max(f64::MIN_POSITIVE).ln()
    }
}

fn component(mu: f64, sigma: f64, weight: f64) -> (f64, f64, f64, f64) {
    let mass = (normal_cdf((1.0 - mu) / sigma) - normal_cdf(-mu / sigma)).max(f64::MIN_POSITIVE);
    (mu, sigma, weight, mass)
}

/// The standard normal distribution function.
fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function, by a Chebyshev fit (relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// A density over `k` choices.
#[derive(Debug, Clone)]
pub(super) struct Categorical {
    weights: Vec<f64>,
}

impl Categorical {
    /// The density fitted to observed choice indices, each below `k`.
    pub(super) fn fit(k: usize, observed: &[usize]) -> Categorical {
        let mut weights = vec![PRIOR_WEIGHT / k as f64; k];
        for &i in observed {
            weights[i] += 1.0;
        }
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        Categorical { weights }
    }

    pub(super) fn sample(&self, rng: &mut Rng) -> usize {
        let mut pick = rng.uniform();
        for (i, w) in self.weights.iter().enumerate() {
            if pick < *w {
                return i;
            }
            pick -= w;
        }
        self.weights.len() - 1
    }

    pub(super) fn ln_pmf(&self, i: usize) -> f64 {
        self.weights[i].ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_distribution_function_is_accurate() {
        for (z, p) in [(0.0, 0.5), (1.0, 0.841_344_746), (-1.96, 0.024_997_895)] {
            assert!((normal_cdf(z) - p).abs() < 1e-7, "{z}: {}", normal_cdf(z));
        }
    }

    #[test]
    fn a_parzen_density_integrates_to_one_and_peaks_at_its_points() {
        let mut points: Vec<f64> = (0..20).map(|i| 0.15 + 0.005 * i as f64).collect();
        points.push(0.9);
        let parzen = Parzen::fit(&points);
        let steps = 10_000;
        let integral: f64 = (0..steps)
            .map(|i| parzen.ln_pdf((i as f64 + 0.5) / steps as f64).exp() / steps as f64)
            .sum();
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
        assert!(parzen.ln_pdf(0.22) > parzen.ln_pdf(0.6));
        let mut rng = Rng::new(3);
        let draws: Vec<f64> = (0..2000).map(|_| parzen.sample(&mut rng)).collect();
        assert!(draws.iter().all(|x| (0.0..=1.0).contains(x)));
        let near = draws.iter().filter(|x| (0.1..0.35).contains(*x)).count();
        assert!(near > 1400, "{near} of 2000 draws near the cluster");
    }

    #[test]
    fn a_categorical_density_follows_its_counts_and_never_rules_a_choice_out() {
        let categorical = Categorical::fit(3, &[2, 2, 2, 0]);
        let total: f64 = (0..3).map(|i| categorical.ln_pmf(i).exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(categorical.ln_pmf(2) > categorical.ln_pmf(0));
        assert!(categorical.ln_pmf(1).is_finite());
    }
}
