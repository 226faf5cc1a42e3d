//! RFC 3339 timestamps with nanoseconds, as the CRI log format writes them.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An instant, to the nanosecond, as written at the start of each CRI log line.
///
/// Parsed from RFC 3339 with any number of fraction digits (up to 9) and any UTC offset
/// (`Z`, `+02:00`), as Go's `time.RFC3339Nano` writes it; shown in UTC with exactly nine
/// fraction digits (`2016-10-06T00:17:09.669794202Z`), the fixed-width form the kubelet
/// prints, which sorts as text.
///
/// ```
/// use cri_log::Timestamp;
///
/// let t: Timestamp = "2016-10-06T02:17:09.6697942+02:00".parse().unwrap();
/// assert_eq!(t.to_string(), "2016-10-06T00:17:09.669794200Z");
/// assert_eq!(t.unix_nanos(), 1_475_713_029_669_794_200);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

/// Why a timestamp did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {text:?}: {reason}")]
pub struct TimestampError {
    text: String,
    reason: &'static str,
}

/// A [`Timestamp`] as a UTC calendar date and time of day (proleptic Gregorian calendar), for
/// tools that lay a time out in another form than the log format's (Go's `time.Time.String()`,
/// RFC 3339 with the fraction's trailing zeros dropped, ...).
///
/// ```
/// use cri_log::{Timestamp, UtcDateTime};
///
/// let t = Timestamp::from_unix_nanos(951_782_400_000_000_007);
/// assert_eq!(
///     t.to_utc(),
///     UtcDateTime { year: 2000, month: 2, day: 29, hour: 0, minute: 0, second: 0, nanosecond: 7 }
/// );
/// assert_eq!(Timestamp::from_unix_nanos(-1).to_utc().year, 1969);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UtcDateTime {
    /// The year, numbered astronomically (year 0 is 1 BC).
    pub year: i64,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, 1 to 31.
    pub day: u32,
    /// The hour, 0 to 23.
    pub hour: u32,
    /// The minute, 0 to 59.
    pub minute: u32,
    /// The second, 0 to 59.
    pub second: u32,
    /// The nanoseconds within the second, 0 to 999,999,999.
    pub nanosecond: u32,
}

impl Timestamp {
    /// The Unix epoch.
    pub const UNIX_EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// The current time.
    pub fn now() -> Self {
        SystemTime::now().into()
    }

    /// From seconds and nanoseconds since the Unix epoch (`nanos` beyond a second carry).
    pub const fn from_unix(secs: i64, nanos: u32) -> Self {
        Timestamp {
            secs: secs + (nanos / 1_000_000_000) as i64,
            nanos: nanos % 1_000_000_000,
        }
    }

    /// From nanoseconds since the Unix epoch (the unit of CRI timestamps).
    pub const fn from_unix_nanos(nanos: i128) -> Self {
        Timestamp {
            secs: nanos.div_euclid(1_000_000_000) as i64,
            nanos: nanos.rem_euclid(1_000_000_000) as u32,
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub const fn unix_nanos(self) -> i128 {
        self.secs as i128 * 1_000_000_000 + self.nanos as i128
    }

    /// Whole seconds since the Unix epoch.
    pub const fn unix_secs(self) -> i64 {
        self.secs
    }

    /// The nanoseconds within the second.
    pub const fn subsec_nanos(self) -> u32 {
        self.nanos
    }

    /// This instant moved back by `by` (for `--since 5m`-like options).
    pub fn saturating_sub(self, by: Duration) -> Self {
        let nanos = self.unix_nanos().saturating_sub(by.as_nanos() as i128);
        Self::from_unix_nanos(nanos)
    }

    /// This instant's UTC date and time of day.
    pub const fn to_utc(self) -> UtcDateTime {
        let days = self.secs.div_euclid(86_400);
        let secs_of_day = self.secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        UtcDateTime {
            year,
            month: month as u32,
            day: day as u32,
            hour: secs_of_day / 3600,
            minute: secs_of_day / 60 % 60,
            second: secs_of_day % 60,
            nanosecond: self.nanos,
        }
    }

    /// Writes the fixed-width UTC form to `out` (what [`Display`](fmt::Display) shows).
    pub fn write_to(self, out: &mut Vec<u8>) {
        let utc = self.to_utc();
        fn digits(out: &mut Vec<u8>, n: i64, width: usize) {
            let mut buf = [b'0'; 12];
            let mut n = n.unsigned_abs();
            for slot in buf[..width].iter_mut().rev() {
                *slot = b'0' + (n % 10) as u8;
                n /= 10;
            }
            out.extend_from_slice(&buf[..width]);
        }
        digits(out, utc.year, 4);
        out.push(b'-');
        digits(out, i64::from(utc.month), 2);
        out.push(b'-');
        digits(out, i64::from(utc.day), 2);
        out.push(b'T');
        digits(out, i64::from(utc.hour), 2);
        out.push(b':');
        digits(out, i64::from(utc.minute), 2);
        out.push(b':');
        digits(out, i64::from(utc.second), 2);
        out.push(b'.');
        digits(out, i64::from(utc.nanosecond), 9);
        out.push(b'Z');
    }

    /// Parses an RFC 3339 timestamp (see the type's docs for the accepted forms).
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        parse(text.as_bytes()).map_err(|reason| TimestampError {
            text: text.chars().take(64).collect(),
            reason,
        })
    }

    pub(crate) fn parse_bytes(text: &[u8]) -> Result<Self, TimestampError> {
        parse(text).map_err(|reason| TimestampError {
            text: String::from_utf8_lossy(&text[..text.len().min(64)]).into_owned(),
            reason,
        })
    }
}

fn parse(b: &[u8]) -> Result<Timestamp, &'static str> {
    fn num(b: &[u8], at: usize, width: usize) -> Result<i64, &'static str> {
        let digits = b.get(at..at + width).ok_or("too short")?;
        digits.iter().try_fold(0i64, |n, d| {
            if d.is_ascii_digit() {
                Ok(n * 10 + i64::from(d - b'0'))
            } else {
                Err("expected a digit")
            }
        })
    }
    fn expect(b: &[u8], at: usize, what: &[u8]) -> Result<(), &'static str> {
        if b.get(at).is_some_and(|c| what.contains(c)) {
            Ok(())
        } else {
            Err("expected the form YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM)")
        }
    }
    let year = num(b, 0, 4)?;
    expect(b, 4, b"-")?;
    let month = num(b, 5, 2)?;
    expect(b, 7, b"-")?;
    let day = num(b, 8, 2)?;
    expect(b, 10, b"Tt")?;
    let hour = num(b, 11, 2)?;
    expect(b, 13, b":")?;
    let minute = num(b, 14, 2)?;
    expect(b, 16, b":")?;
    let second = num(b, 17, 2)?;
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    let mut at = 19;
    let mut nanos = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let digits = at - start;
        if digits == 0 {
            return Err("empty fraction of a second");
        }
        if digits > 9 {
            return Err("more than 9 fraction digits");
        }
        nanos = num(b, start, digits)? as u32 * 10u32.pow(9 - digits as u32);
    }
    let offset = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let sign = if *sign == b'+' { 1 } else { -1 };
            let oh = num(b, at + 1, 2)?;
            expect(b, at + 3, b":")?;
            let om = num(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err("UTC offset out of range");
            }
            at += 6;
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err("missing the UTC offset (Z or +HH:MM)"),
    };
    if at != b.len() {
        return Err("unexpected characters after the timestamp");
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Ok(Timestamp { secs, nanos })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    (year, month, day)
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(30);
        self.write_to(&mut out);
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp::from_unix_nanos(d.as_nanos() as i128),
            Err(e) => Timestamp::from_unix_nanos(-(e.duration().as_nanos() as i128)),
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        let nanos = t.unix_nanos();
        let abs = nanos.unsigned_abs();
        let span = Duration::new((abs / 1_000_000_000) as u64, (abs % 1_000_000_000) as u32);
        if nanos >= 0 {
            UNIX_EPOCH + span
        } else {
            UNIX_EPOCH - span
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_runtimes_write() {
        for (text, nanos) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2016-10-06T00:17:09.669794202Z", 1_475_713_029_669_794_202),
            ("2016-10-06T00:17:09.6Z", 1_475_713_029_600_000_000),
            (
                "2016-10-06T01:17:09.669794202+01:00",
                1_475_713_029_669_794_202,
            ),
            (
                "2016-10-05T23:47:09.669794202-00:30",
                1_475_713_029_669_794_202,
            ),
            ("1969-12-31T23:59:59.5Z", -500_000_000),
            ("2000-02-29T00:00:00Z", 951_782_400_000_000_000),
        ] {
            assert_eq!(
                Timestamp::parse(text).unwrap().unix_nanos(),
                nanos,
                "{text}"
            );
        }
    }

    #[test]
    fn formats_fixed_width_utc() {
        let t = Timestamp::from_unix_nanos(1_475_713_029_000_000_002);
        assert_eq!(t.to_string(), "2016-10-06T00:17:09.000000002Z");
        assert_eq!(
            Timestamp::UNIX_EPOCH.to_string(),
            "1970-01-01T00:00:00.000000000Z"
        );
    }

    #[test]
    fn rejects_with_a_reason() {
        for (text, reason) in [
            ("", "too short"),
            (
                "2016-10-06",
                "expected the form YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM)",
            ),
            ("2016-13-06T00:17:09Z", "month out of range"),
            ("2015-02-29T00:17:09Z", "day out of range"),
            ("2016-10-06T24:17:09Z", "time of day out of range"),
            ("2016-10-06T00:17:09.Z", "empty fraction of a second"),
            (
                "2016-10-06T00:17:09.1234567890Z",
                "more than 9 fraction digits",
            ),
            (
                "2016-10-06T00:17:09",
                "missing the UTC offset (Z or +HH:MM)",
            ),
            (
                "2016-10-06T00:17:09Zx",
                "unexpected characters after the timestamp",
            ),
            ("2016-1x-06T00:17:09Z", "expected a digit"),
        ] {
            let err = Timestamp::parse(text).unwrap_err();
            assert_eq!(err.reason, reason, "{text}");
            assert!(err.to_string().contains(reason));
        }
    }

    #[test]
    fn utc_fields_match_the_parsed_text() {
        for text in [
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.5Z",
            "2000-02-29T12:34:56.000000007Z",
            "2026-11-23T20:12:52.662817807Z",
            "0001-01-01T00:00:00Z",
        ] {
            let utc = Timestamp::parse(text).unwrap().to_utc();
            let shown = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second
            );
            assert!(text.starts_with(&shown), "{text}: {utc:?}");
            let fraction = text[19..].trim_start_matches('.').trim_end_matches('Z');
            let nanos: u32 = format!("{fraction:0<9}").parse().unwrap();
            assert_eq!(utc.nanosecond, nanos, "{text}");
        }
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(97) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
