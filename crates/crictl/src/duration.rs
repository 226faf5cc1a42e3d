//! Go durations, as crictl reads them (`--timeout 2s`, `logs --since 42m`) and prints them.

use std::time::Duration;

/// The longest duration Go represents (`time.Duration` is an `i64` of nanoseconds: about
/// 292 years); anything longer is refused, as Go refuses it, rather than overflowing.
pub const MAX_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// Parses a Go duration ("2s", "1m30s", "500ms") or a number of seconds, up to
/// [`MAX_DURATION`]; the error says what was wrong with `text`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid duration {text:?}: use a number of seconds or a duration such as 2s, 500ms, 1m"
        )
    };
    let too_long = || format!("duration {text:?} is out of range (at most about 292 years)");
    let text = text.trim();
    let seconds = match text.parse::<f64>() {
        Ok(seconds) if seconds.is_nan() || seconds < 0.0 => return Err(bad()),
        Ok(seconds) => seconds,
        Err(_) => {
            if text.is_empty() {
                return Err(bad());
            }
            let mut total = 0f64;
            let mut rest = text;
            while !rest.is_empty() {
                let digits = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .ok_or_else(bad)?;
                if digits == 0 {
                    return Err(bad());
                }
                let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
                rest = &rest[digits..];
                let unit_len = rest
                    .find(|c: char| c.is_ascii_digit() || c == '.')
                    .unwrap_or(rest.len());
                let scale = match &rest[..unit_len] {
                    "ns" => 1e-9,
                    "us" | "µs" => 1e-6,
                    "ms" => 1e-3,
                    "s" => 1.0,
                    "m" => 60.0,
                    "h" => 3600.0,
                    _ => return Err(bad()),
                };
                total += number * scale;
                rest = &rest[unit_len..];
            }
            total
        }
    };
    match Duration::try_from_secs_f64(seconds) {
        Ok(duration) if duration <= MAX_DURATION => Ok(duration),
        _ => Err(too_long()),
    }
}

/// A duration as Go prints it for whole seconds or milliseconds.
pub fn format_duration(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn out_of_range_durations_are_errors() {
        for text in [
            "1e20",
            "18446744073709551615",
            "inf",
            "99999999999999999999s",
            "9999999999h",
        ] {
            let error = parse_duration(text).unwrap_err();
            assert!(error.contains("out of range"), "{text}: {error}");
        }
        for text in ["-1", "NaN", "-5s"] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
        assert!(parse_duration("2562047h").is_ok());
    }
}
