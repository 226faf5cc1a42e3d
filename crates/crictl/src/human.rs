//! Human-readable sizes, durations and times, written the way crictl (Go's `go-units`, `fmt`
//! and `time`) writes them.

use cri_log::Timestamp;

/// crictl's truncated length of an ID.
pub const TRUNCATED_ID_LEN: usize = 13;

/// Drops `prefix` and keeps the first 13 characters, like crictl's `getTruncatedID`.
pub fn truncate_id<'a>(id: &'a str, prefix: &str) -> &'a str {
    let id = id.strip_prefix(prefix).unwrap_or(id);
    match id.char_indices().nth(TRUNCATED_ID_LEN) {
        Some((at, _)) if id.len() > TRUNCATED_ID_LEN => &id[..at],
        _ => id,
    }
}

/// go-units' `HumanDuration`: "Less than a second", "3 seconds", "About a minute", ...
pub fn human_duration(nanos: i128) -> String {
    let seconds = nanos as f64 / 1e9;
    let secs = seconds as i64;
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = (seconds / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours_f = seconds / 3600.0;
    let hours = hours_f.round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", hours_f as i64 / 24 / 365)
}

/// "N units ago" relative to `now` (both Unix nanoseconds), as crictl prints CREATED.
pub fn ago(now: i128, then: i64) -> String {
    let mut text = human_duration(now - then as i128);
    text.push_str(" ago");
    text
}

/// go-units' `HumanSizeWithPrecision`: decimal units (kB, MB, ...) and `%.{precision}g`.
pub fn human_size(size: f64, precision: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = size;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    let mut text = format_g(size, precision);
    text.push_str(UNITS[unit]);
    text
}

/// Go's `%.{precision}g` for a finite float.
pub fn format_g(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let precision = precision.max(1);
    // Round to `precision` significant digits, then read the decimal exponent.
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` has an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` has a numeric exponent");
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.abs());
    }
    let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
    trim_fraction(&format!("{value:.decimals$}")).to_string()
}

fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// Go's `time.Unix(0, nanos).Format(time.RFC3339Nano)` in local time (`Z` for a zero offset,
/// else `+01:00`).
pub fn rfc3339_nano(nanos: i64) -> String {
    rfc3339_at(nanos, crate::localtime::offset_at(nanos).0)
}

/// RFC 3339 with nanoseconds at a UTC offset in seconds.
fn rfc3339_at(nanos: i64, offset: i32) -> String {
    let mut text = date_time(nanos.saturating_add(i64::from(offset) * 1_000_000_000), 'T');
    if offset == 0 {
        text.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let minutes = offset.unsigned_abs() / 60;
        text.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
    }
    text
}

/// Go's zero `time.Time` in RFC 3339 (what crictl prints for a time it does not set).
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Go's `time.Time.String()` in local time: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub fn go_time_string(nanos: i64) -> String {
    let (offset, abbreviation) = crate::localtime::offset_at(nanos);
    go_time_string_at(nanos, offset, &abbreviation)
}

/// `time.Time.String()` at a UTC offset in seconds with its zone abbreviation.
fn go_time_string_at(nanos: i64, offset: i32, abbreviation: &str) -> String {
    let mut text = date_time(nanos.saturating_add(i64::from(offset) * 1_000_000_000), ' ');
    let sign = if offset < 0 { '-' } else { '+' };
    let minutes = offset.unsigned_abs() / 60;
    text.push_str(&format!(
        " {sign}{:02}{:02} {abbreviation}",
        minutes / 60,
        minutes % 60
    ));
    text
}

/// `2006-01-02` `separator` `15:04:05.999999999` of a wall clock (no fraction for a whole second, no
/// trailing zeros), with cri-log's calendar.
fn date_time(nanos: i64, separator: char) -> String {
    let utc = Timestamp::from_unix_nanos(i128::from(nanos)).to_utc();
    let mut text = format!(
        "{:04}-{:02}-{:02}{separator}{:02}:{:02}:{:02}",
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second
    );
    if utc.nanosecond != 0 {
        let digits = format!("{:09}", utc.nanosecond);
        text.push('.');
        text.push_str(digits.trim_end_matches('0'));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go_units() {
        let s = 1_000_000_000i128;
        assert_eq!(human_duration(s / 2), "Less than a second");
        assert_eq!(human_duration(s), "1 second");
        assert_eq!(human_duration(3 * s + s / 3), "3 seconds");
        assert_eq!(human_duration(59 * s), "59 seconds");
        assert_eq!(human_duration(60 * s), "About a minute");
        assert_eq!(human_duration(119 * s), "About a minute");
        assert_eq!(human_duration(120 * s), "2 minutes");
        assert_eq!(human_duration(3600 * s), "About an hour");
        assert_eq!(human_duration(5400 * s), "2 hours");
        assert_eq!(human_duration(47 * 3600 * s), "47 hours");
        assert_eq!(human_duration(48 * 3600 * s), "2 days");
        assert_eq!(human_duration(15 * 24 * 3600 * s), "2 weeks");
        assert_eq!(human_duration(70 * 24 * 3600 * s), "2 months");
        assert_eq!(human_duration(800 * 24 * 3600 * s), "2 years");
        assert_eq!(human_duration(-5 * s), "Less than a second");
    }

    #[test]
    fn sizes_read_like_go_units() {
        assert_eq!(human_size(1_997_445.0, 3), "2MB");
        assert_eq!(human_size(438_272.0, 4), "438.3kB");
        assert_eq!(human_size(675_840.0, 4), "675.8kB");
        assert_eq!(human_size(0.0, 4), "0B");
        assert_eq!(human_size(999.0, 4), "999B");
        assert_eq!(human_size(1000.0, 4), "1kB");
        assert_eq!(human_size(999_999.0, 3), "1e+03kB");
        assert_eq!(human_size(1_234_567_890.0, 4), "1.235GB");
        assert_eq!(format_g(0.00001234, 3), "1.23e-05");
        assert_eq!(format_g(123.0, 3), "123");
        assert_eq!(format_g(12.5, 3), "12.5");
    }

    #[test]
    fn times_read_like_go() {
        assert_eq!(
            rfc3339_at(1_795_464_772_662_817_807, 0),
            "2026-11-23T20:12:52.662817807Z"
        );
        assert_eq!(
            rfc3339_at(1_795_464_772_000_000_000, 0),
            "2026-11-23T20:12:52Z"
        );
        assert_eq!(
            rfc3339_at(1_795_464_772_500_000_000, 0),
            "2026-11-23T20:12:52.5Z"
        );
        assert_eq!(rfc3339_at(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            go_time_string_at(1_795_464_771_481_169_953, 0, "UTC"),
            "2026-11-23 20:12:51.481169953 +0000 UTC"
        );
        assert_eq!(
            rfc3339_at(1_795_464_772_500_000_000, 3600),
            "2026-11-23T21:12:52.5+01:00"
        );
        assert_eq!(
            rfc3339_at(1_795_464_772_000_000_000, -3 * 3600 - 1800),
            "2026-11-23T16:42:52-03:30"
        );
        assert_eq!(
            go_time_string_at(1_795_464_771_000_000_000, 3600, "CET"),
            "2026-11-23 21:12:51 +0100 CET"
        );
    }

    #[test]
    fn ids_truncate_to_13() {
        assert_eq!(
            truncate_id("sha256:ff6a47eb455d41507a09", "sha256:"),
            "ff6a47eb455d4"
        );
        assert_eq!(truncate_id("abc", ""), "abc");
    }
}
