//! The statistics behind acceptance: sample moments and spreads, Welch's and the paired t
//! statistic, and the Student t and Fisher F distributions through the regularized
//! incomplete beta function. Pure functions, no I/O.

/// Mean and unbiased sample variance; `None` for fewer than two values.
pub fn mean_var(xs: &[f64]) -> Option<(f64, f64)> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, var))
}

/// A sample's sum of squared deviations from its own mean, with its degrees of freedom
/// (values less one): what pooled variances add up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub sum_sq: f64,
    pub df: f64,
}

impl Spread {
    /// No values: nothing to add.
    pub const NONE: Spread = Spread {
        sum_sq: 0.0,
        df: 0.0,
    };

    /// The spread of `xs` around its mean; `None` below two values.
    pub fn of(xs: &[f64]) -> Option<Spread> {
        let (_, var) = mean_var(xs)?;
        let df = (xs.len() - 1) as f64;
        Some(Spread {
            sum_sq: var * df,
            df,
        })
    }

    /// Two independent samples' spreads together, each around its own mean.
    pub fn plus(self, other: Spread) -> Spread {
        Spread {
            sum_sq: self.sum_sq + other.sum_sq,
            df: self.df + other.df,
        }
    }

    /// The pooled variance; `None` without a degree of freedom.
    pub fn variance(self) -> Option<f64> {
        (self.df > 0.0).then(|| self.sum_sq / self.df)
    }
}

/// The one-sided p-value of "the true difference exceeds zero" for an estimated difference
/// `diff` (already less the margin) with squared standard error `se2` on `df` degrees of
/// freedom. No spread at all makes the answer certain either way.
pub fn t_one_sided_p(diff: f64, se2: f64, df: f64) -> f64 {
    if se2 <= 0.0 || !se2.is_finite() {
        return if diff > 0.0 { 0.0 } else { 1.0 };
    }
    1.0 - student_t_cdf(diff / se2.sqrt(), df)
}

/// Welch's test of "mean(a) - mean(b) > delta", one-sided. Returns the p-value of the null
/// hypothesis "mean(a) - mean(b) <= delta"; `None` when a sample has fewer than two values.
pub fn welch_one_sided_p(a: &[f64], b: &[f64], delta: f64) -> Option<f64> {
    let (ma, va) = mean_var(a)?;
    let (mb, vb) = mean_var(b)?;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let diff = ma - mb - delta;
    let se2 = va / na + vb / nb;
    if se2 <= 0.0 || !se2.is_finite() {
        // No spread at all: the answer is certain either way.
        return Some(if diff > 0.0 { 0.0 } else { 1.0 });
    }
    let t = diff / se2.sqrt();
    let df = se2 * se2 / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0));
    Some(1.0 - student_t_cdf(t, df))
}

/// The paired t-test of "mean(a_i - b_i) > delta", one-sided: `a[i]` and `b[i]` were measured
/// together. Returns the p-value of the null hypothesis "mean(a_i - b_i) <= delta"; `None`
/// below two pairs. Values beyond the shorter sample are ignored.
pub fn paired_one_sided_p(a: &[f64], b: &[f64], delta: f64) -> Option<f64> {
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (mean, var) = mean_var(&differences)?;
    let n = differences.len() as f64;
    let diff = mean - delta;
    let se2 = var / n;
    if se2 <= 0.0 || !se2.is_finite() {
        // Every pair differs by the same amount: the answer is certain either way.
        return Some(if diff > 0.0 { 0.0 } else { 1.0 });
    }
    Some(1.0 - student_t_cdf(diff / se2.sqrt(), n - 1.0))
}

/// P(F > f) for Fisher's F with `d1` and `d2` degrees of freedom (both > 0).
pub fn f_upper_tail(f: f64, d1: f64, d2: f64) -> f64 {
    if f.is_nan() || d1 <= 0.0 || d2 <= 0.0 {
        return f64::NAN;
    }
    if f <= 0.0 {
        return 1.0;
    }
    if f.is_infinite() {
        return 0.0;
    }
    regularized_incomplete_beta(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f))
}

/// The cumulative distribution function of Student's t with `df` degrees of freedom
/// (`df` > 0, not necessarily an integer).
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let x = df / (df + t * t);
    let tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, x);
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// I_x(a, b), the regularized incomplete beta function, by Lentz's continued fraction
/// (Numerical Recipes §6.4).
pub fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let nonzero = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - qab * x / qap);
    let mut h = d;
    // One step of the modified Lentz method with the coefficient `aa`: the factor it
    // multiplies the fraction by.
    let mut step = |aa: f64| {
        d = 1.0 / nonzero(1.0 + aa * d);
        c = nonzero(1.0 + aa / c);
        d * c
    };
    for m in 1..=300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)));
        let del = step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine coefficients; ~1e-15 relative).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEF: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEF[0];
    for (i, c) in COEF.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!(close(ln_gamma(1.0), 0.0, 1e-12));
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-12));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-12
        ));
    }

    #[test]
    fn incomplete_beta_matches_closed_forms() {
        // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1-x)^b.
        assert!(close(
            regularized_incomplete_beta(1.0, 1.0, 0.3),
            0.3,
            1e-12
        ));
        assert!(close(
            regularized_incomplete_beta(3.0, 1.0, 0.4),
            0.064,
            1e-12
        ));
        assert!(close(
            regularized_incomplete_beta(1.0, 4.0, 0.2),
            1.0 - 0.8f64.powi(4),
            1e-12
        ));
        assert!(close(
            regularized_incomplete_beta(2.5, 2.5, 0.5),
            0.5,
            1e-12
        ));
    }

    #[test]
    fn student_t_cdf_matches_tables() {
        // Quantiles from standard t tables.
        assert!(close(student_t_cdf(1.812_461, 10.0), 0.95, 1e-6));
        assert!(close(student_t_cdf(2.228_139, 10.0), 0.975, 1e-6));
        assert!(close(student_t_cdf(2.763_262, 28.0), 0.995, 1e-6));
        assert!(close(student_t_cdf(6.313_752, 1.0), 0.95, 1e-6));
        assert!(close(student_t_cdf(-2.015_048, 5.0), 0.05, 1e-6));
        assert!(close(student_t_cdf(0.0, 3.0), 0.5, 1e-12));
        // df = 1 is Cauchy: F(1) = 3/4.
        assert!(close(student_t_cdf(1.0, 1.0), 0.75, 1e-12));
        // df = 2 has a closed form, also for a non-integer check below.
        for t in [-3.0, -0.7, 0.4, 2.5] {
            let exact = 0.5 + t / (2.0 * (2.0f64 + t * t).sqrt());
            assert!(close(student_t_cdf(t, 2.0), exact, 1e-12), "t = {t}");
        }
        // Large df tends to the normal: Φ(1.959964) = 0.975.
        assert!(close(student_t_cdf(1.959_964, 1e7), 0.975, 1e-6));
        // Non-integer df lies between its neighbours.
        let (lo, mid, hi) = (
            student_t_cdf(2.0, 4.0),
            student_t_cdf(2.0, 4.5),
            student_t_cdf(2.0, 5.0),
        );
        assert!(lo < mid && mid < hi);
    }

    #[test]
    fn paired_p_matches_a_t_table_and_sees_through_a_shared_offset() {
        // Differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641 with df 2, whose
        // upper tail is 0.037037 (closed form for df = 2).
        let p = paired_one_sided_p(&[11.0, 22.0, 33.0], &[10.0, 20.0, 30.0], 0.0).unwrap();
        let t: f64 = 12f64.sqrt();
        assert!(
            close(p, 0.5 - t / (2.0 * (2.0 + t * t).sqrt()), 1e-12),
            "{p}"
        );
        // Each pair shares a large offset that Welch counts as noise.
        let a = [1.10, 2.11, 0.61, 3.09];
        let b = [1.0, 2.0, 0.5, 3.0];
        assert!(paired_one_sided_p(&a, &b, 0.05).unwrap() < 0.01);
        assert!(welch_one_sided_p(&a, &b, 0.05).unwrap() > 0.4);
        assert_eq!(paired_one_sided_p(&[1.0], &[0.0], 0.0), None);
        // Zero spread of the differences: certain.
        assert_eq!(paired_one_sided_p(&[2.0, 3.0], &[1.0, 2.0], 0.5), Some(0.0));
        assert_eq!(paired_one_sided_p(&[2.0, 3.0], &[1.0, 2.0], 1.0), Some(1.0));
    }

    #[test]
    fn f_tail_matches_tables() {
        // F(2, 8) upper 5% point 4.459; F(1, d) is t(d) squared; F(4, 4) has median 1.
        assert!(close(f_upper_tail(4.4590, 2.0, 8.0), 0.05, 1e-4));
        let t = 2.228_139;
        assert!(close(f_upper_tail(t * t, 1.0, 10.0), 0.05, 1e-6));
        assert!(close(f_upper_tail(1.0, 4.0, 4.0), 0.5, 1e-12));
        assert_eq!(f_upper_tail(0.0, 3.0, 5.0), 1.0);
    }

    #[test]
    fn spreads_add_up_to_the_pooled_variance() {
        let a = Spread::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((a.sum_sq, a.df), (2.0, 2.0));
        let b = Spread::of(&[10.0, 14.0]).unwrap();
        assert_eq!(a.plus(b).variance(), Some(10.0 / 3.0));
        assert_eq!(Spread::of(&[1.0]), None);
        assert_eq!(Spread::NONE.variance(), None);
        assert_eq!(t_one_sided_p(0.1, 0.0, 3.0), 0.0);
        assert!(close(t_one_sided_p(0.0, 1.0, 3.0), 0.5, 1e-12));
    }

    #[test]
    fn welch_p_is_small_for_a_clear_gap_and_large_for_none() {
        let a = [10.0, 10.1, 9.9, 10.05, 9.95];
        let b = [5.0, 5.1, 4.9, 5.05, 4.95];
        assert!(welch_one_sided_p(&a, &b, 0.0).unwrap() < 1e-6);
        assert!(welch_one_sided_p(&b, &a, 0.0).unwrap() > 0.999);
        assert!(welch_one_sided_p(&a, &a, 0.0).unwrap() > 0.49);
        assert_eq!(welch_one_sided_p(&[1.0], &a, 0.0), None);
        // Zero spread: certain.
        assert_eq!(welch_one_sided_p(&[2.0, 2.0], &[1.0, 1.0], 0.5), Some(0.0));
        assert_eq!(welch_one_sided_p(&[2.0, 2.0], &[1.0, 1.0], 1.0), Some(1.0));
    }
}
