//! Local time as Go's `time.Local` finds it: `TZ` unset, `/etc/localtime`; `TZ=""` or `UTC`,
//! UTC; `TZ=/path` (or `:/path`), that TZif file; `TZ=Area/City`, the system's zoneinfo; and
//! UTC when none of them loads. crictl prints `inspect`'s times and `pods -v`'s `Created:` in
//! it.

use std::sync::OnceLock;

use jiff::tz::TimeZone;

fn load() -> TimeZone {
    let utc = TimeZone::UTC;
    let Some(tz) = std::env::var_os("TZ") else {
        return std::fs::read("/etc/localtime")
            .ok()
            .and_then(|data| TimeZone::tzif("Local", &data).ok())
            .unwrap_or(utc);
    };
    let tz = tz.to_string_lossy();
    let tz = tz.strip_prefix(':').unwrap_or(&tz);
    if tz.is_empty() || tz == "UTC" {
        return utc;
    }
    if tz.starts_with('/') {
        return std::fs::read(tz)
            .ok()
            .and_then(|data| TimeZone::tzif(tz, &data).ok())
            .unwrap_or(utc);
    }
    TimeZone::get(tz).unwrap_or(utc)
}

fn zone() -> &'static TimeZone {
    static ZONE: OnceLock<TimeZone> = OnceLock::new();
    ZONE.get_or_init(load)
}

/// The local offset from UTC in seconds at `nanos` (Unix nanoseconds), and the zone's
/// abbreviation there (`UTC`, `CET`, `-03`).
pub fn offset_at(nanos: i64) -> (i32, String) {
    let Ok(at) = jiff::Timestamp::from_nanosecond(i128::from(nanos)) else {
        return (0, "UTC".into());
    };
    let info = zone().to_offset_info(at);
    let abbreviation = info.abbreviation().to_string();
    let abbreviation = if abbreviation.is_empty() {
        "UTC".to_string()
    } else {
        abbreviation
    };
    (info.offset().seconds(), abbreviation)
}
