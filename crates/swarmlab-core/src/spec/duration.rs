//! Humane durations in the track spec: `"90s"`, `"5m"`, `"1h 30m"`, or a bare number of seconds.

use std::time::Duration;

/// Parses a duration as written by a person. A bare number means seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if let Ok(seconds) = trimmed.parse::<f64>() {
        return seconds_to_duration(seconds);
    }
    humantime::parse_duration(trimmed).map_err(|_| {
        format!("`{trimmed}` is not a duration; write e.g. \"90s\", \"5m\" or \"1h 30m\"")
    })
}

/// A non-negative, finite number of seconds as a duration.
pub fn seconds_to_duration(seconds: f64) -> Result<Duration, String> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok(Duration::from_secs_f64(seconds))
    } else {
        Err(format!("{seconds} is not a number of seconds"))
    }
}

/// Shows a duration the way a person would write it in the spec.
pub fn format_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        humantime::format_duration(Duration::from_secs(duration.as_secs())).to_string()
    } else {
        format!("{:.3}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humane_forms_and_bare_seconds() {
        assert_eq!(parse_duration("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(
            parse_duration(" 8h ").unwrap(),
            Duration::from_secs(8 * 3600)
        );
    }

    #[test]
    fn rejects_nonsense_with_an_example() {
        let err = parse_duration("soon").unwrap_err();
        assert!(err.contains("`soon` is not a duration"), "{err}");
        assert!(parse_duration("-3").is_err());
    }

    #[test]
    fn formats_round_durations_humanely() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m 30s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.500s");
    }
}
