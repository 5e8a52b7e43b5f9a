//! The pieces every page is written with: HTML escaping (everything that did not come from
//! this module's own string literals goes through [`esc`]), and numbers and times as the
//! pages print them (commit ids are `swarmlab_core::short`).

use std::fmt::{self, Display, Write};

/// Text made safe for HTML content and attribute values.
pub struct Esc<'a>(pub &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// `text`, escaped for HTML.
pub fn esc(text: &str) -> Esc<'_> {
    Esc(text)
}

/// Percent-encodes `text` for a URL query value or path segment.
pub fn url(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A metric value: four decimals in the usual range, scientific notation outside it.
pub fn value(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        "0".to_string()
    } else if (1e-3..1e6).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// A signed difference, in the style of [`value`].
pub fn delta(d: f64) -> String {
    if d == 0.0 {
        return "±0".to_string();
    }
    let sign = if d > 0.0 { "+" } else { "−" };
    format!("{sign}{}", value(d.abs()))
}

/// `to` relative to `from`, as a signed percentage.
pub fn percent(from: f64, to: f64) -> Option<String> {
    if from == 0.0 || !from.is_finite() || !to.is_finite() {
        return None;
    }
    let p = (to - from) / from.abs() * 100.0;
    let sign = if p > 0.0 {
        "+"
    } else if p < 0.0 {
        "−"
    } else {
        "±"
    };
    Some(format!("{sign}{:.1}%", p.abs()))
}

/// A p-value as people read it.
pub fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// Days since 1970-01-01 as (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A moment as `2025-11-27 15:58 UTC`.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02} UTC",
        s / 3600,
        s % 3600 / 60
    )
}

/// A moment as ISO 8601, for `<time datetime>`.
pub fn iso(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// How long before `now` a moment was: `just now`, `5 min ago`, `3 h ago`, `2 days ago`.
pub fn ago(now: i64, ms: i64) -> String {
    let s = (now - ms).max(0) / 1000;
    match s {
        0..=44 => "just now".to_string(),
        45..=5_399 => format!("{} min ago", (s + 30) / 60),
        5_400..=172_799 => format!("{} h ago", (s + 1800) / 3600),
        _ => format!("{} days ago", s / 86_400),
    }
}

/// A span of seconds as a person reads it: `45s`, `2m10s`, `1h05m`. The page's script
/// counts on in the same form (`data-elapsed`).
pub fn elapsed(seconds: i64) -> String {
    match seconds.max(0) {
        s @ 0..=59 => format!("{s}s"),
        s @ 60..=3_599 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// `<time>` with the exact moment in its attribute and title and the relative one shown.
pub fn when(now: i64, ms: i64) -> String {
    format!(
        "<time datetime=\"{}\" title=\"{}\">{}</time>",
        iso(ms),
        time(ms),
        ago(now, ms)
    )
}

/// A status badge: the class says how it went, the text what it is.
pub fn badge(status: &str) -> String {
    let tone = match status {
        "accepted" | "accept" | "keep" | "done" | "promoted" => "good",
        "rejected" | "reject" | "invalid" | "crash" | "timeout" => "bad",
        "verifying" | "leased" | "reverify" => "busy",
        _ => "neutral",
    };
    format!("<span class=\"badge {tone}\">{}</span>", esc(status))
}

/// Appends formatted text to a page; writing to a `String` cannot fail.
pub fn put(out: &mut String, args: fmt::Arguments<'_>) {
    out.write_fmt(args)
        .expect("writing to a String never fails");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_time_reads_as_app_js_counts_it() {
        assert_eq!(elapsed(0), "0s");
        assert_eq!(elapsed(59), "59s");
        assert_eq!(elapsed(130), "2m10s");
        assert_eq!(elapsed(3_900), "1h05m");
        assert_eq!(elapsed(-5), "0s");
    }

    #[test]
    fn escaping_leaves_no_markup() {
        let evil = "<script>alert('x')</script> & \"q\"";
        assert_eq!(
            esc(evil).to_string(),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(esc("plain").to_string(), "plain");
        assert_eq!(url("a b/c?d"), "a+b%2Fc%3Fd");
    }

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(value(0.812345), "0.8123");
        assert_eq!(value(2.5e-7), "2.500e-7");
        assert_eq!(delta(-0.25), "−0.2500");
        assert_eq!(percent(1.0, 0.75).as_deref(), Some("−25.0%"));
        assert_eq!(percent(0.0, 1.0), None);
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
        assert_eq!(time(1_764_258_000_000), "2025-11-27 15:40 UTC");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(ago(100_000, 99_000), "just now");
        assert_eq!(ago(10 * 60_000, 0), "10 min ago");
        assert_eq!(ago(3 * 86_400_000, 0), "3 days ago");
    }
}
