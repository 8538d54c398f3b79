//! Times as people write them (`--at`, `--in`, `--tz`) and as tables show them ("in 35h 12m").

use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Local, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};

use crate::error::usage;
use crate::zone::Zone;

/// The furthest ahead a time may be: far enough for any cool-down, near enough to never overflow.
const MAX_AHEAD: Duration = Duration::from_secs(100 * 366 * 86_400);

/// Parses a DURATION: `36h`, `1d 12h`, `90m`, `1500ms`.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let duration = humantime::parse_duration(text.trim()).map_err(|e| {
        usage(format!(
            "\"{text}\" is not a duration ({e}): try 36h, 1d 12h or 90m"
        ))
    })?;
    if duration > MAX_AHEAD {
        return Err(usage(format!("duration \"{text}\" is more than 100 years")));
    }
    Ok(duration)
}

/// `at` to the millisecond, rounded up: a time something must not happen before, as stored.
pub fn not_before_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = at
        .with_nanosecond(at.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(at);
    if floor == at {
        at
    } else {
        floor + chrono::Duration::milliseconds(1)
    }
}

/// `now + duration`, refusing what chrono cannot represent.
pub fn after(now: DateTime<Utc>, duration: Duration) -> Result<DateTime<Utc>> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| usage("that time is too far ahead"))
}

/// `now - duration`, refusing what chrono cannot represent.
pub fn before(now: DateTime<Utc>, duration: Duration) -> Result<DateTime<Utc>> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| usage("that time is too far back"))
}

/// Parses an IANA zone name such as `Europe/Riga`.
pub fn parse_zone(name: &str) -> Result<Zone> {
    Zone::named(name).ok_or_else(|| {
        usage(format!(
            "unknown time zone \"{name}\": use an IANA name such as Europe/Riga or UTC"
        ))
    })
}

/// Parses a TIME: RFC 3339 with offset; `YYYY-MM-DD HH:MM[:SS]` in `zone` (else the local zone);
/// `now`; `+DURATION`.
pub fn parse_time(text: &str, now: DateTime<Utc>, zone: Option<Zone>) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(duration) = text.strip_prefix('+') {
        return after(now, parse_duration(duration)?);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return check_range(text, at.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .ok_or_else(|| {
        usage(format!(
            "\"{text}\" is not a time: use RFC 3339 (2026-11-27T08:00:00+02:00), \
                 'YYYY-MM-DD HH:MM[:SS]', now, or +36h"
        ))
    })?;
    let at = match zone {
        Some(zone) => in_zone(text, &zone, naive, zone.name())?,
        None => in_zone(text, &Local, naive, "the local zone")?,
    };
    check_range(text, at)
}

/// A wall time in a zone: one that does not exist (a DST gap) is an error; an ambiguous one
/// (a DST repeat) takes the later instant.
fn in_zone<Z: TimeZone>(
    text: &str,
    zone: &Z,
    naive: NaiveDateTime,
    zone_name: &str,
) -> Result<DateTime<Utc>> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(at) => Ok(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => {
            Ok(first.with_timezone(&Utc).max(second.with_timezone(&Utc)))
        }
        LocalResult::None => Err(usage(format!(
            "\"{text}\" does not exist in {zone_name} (the clocks skip it): pick another time"
        ))),
    }
}

fn check_range(text: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>> {
    use chrono::Datelike;
    if (1970..=9999).contains(&at.year()) {
        Ok(at)
    } else {
        Err(usage(format!(
            "\"{text}\" is outside the years 1970 to 9999"
        )))
    }
}

/// "in 35h 12m", "3m ago", "now": how far `at` is from `now`, to the minute (seconds below one).
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let millis = (at - now).num_milliseconds();
    let seconds = millis.unsigned_abs() / 1000;
    if seconds == 0 {
        return "now".to_string();
    }
    let span = span(seconds);
    if millis > 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn span(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{minutes}m"),
        3600..259_200 => match seconds / 3600 {
            h if minutes == 0 => format!("{h}h"),
            h => format!("{h}h {minutes}m"),
        },
        _ if hours == 0 => format!("{days}d"),
        _ => format!("{days}d {hours}h"),
    }
}

/// A time as tables show it: local (or UTC with `--utc`), to the second.
pub fn display(at: DateTime<Utc>, utc: bool) -> String {
    if utc {
        at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    } else {
        at.with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string()
    }
}

/// A duration as a person writes it: `30s`, `1m 30s`, `250ms`.
pub fn display_duration(duration: Duration) -> String {
    humantime::format_duration(duration).to_string()
}

/// A time as `rfc3339` wrote it, back (None if it is not one).
pub fn parse_stored(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// RFC 3339 UTC with milliseconds, for JSON and logs.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn riga() -> Option<Zone> {
        Some(parse_zone("Europe/Riga").unwrap())
    }

    #[test]
    fn times_parse() {
        let at = |text| parse_time(text, now(), riga()).unwrap();
        assert_eq!(at("now"), now());
        assert_eq!(at("+36h"), now() + chrono::Duration::hours(36));
        assert_eq!(
            at("2026-11-27T08:00:00+02:00"),
            Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).unwrap()
        );
        assert_eq!(
            at("2026-11-27 08:00"),
            Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).unwrap()
        );
        assert_eq!(
            at("2026-07-01 08:00:30"),
            Utc.with_ymd_and_hms(2026, 7, 1, 5, 0, 30).unwrap()
        );
    }

    #[test]
    fn dst_gaps_are_refused_and_repeats_take_the_later_instant() {
        assert!(parse_time("2026-03-29 03:30", now(), riga()).is_err());
        // 03:30 happens twice on 2026-10-25 in Riga: first at +03:00, then at +02:00.
        let repeated = parse_time("2026-10-25 03:30", now(), riga()).unwrap();
        assert_eq!(
            repeated,
            Utc.with_ymd_and_hms(2026, 10, 25, 1, 30, 0).unwrap()
        );
    }

    #[test]
    fn bad_times_and_durations_are_refused() {
        for bad in [
            "tomorrow-ish",
            "2026-13-01 00:00",
            "+",
            "+36 parsecs",
            "0000-01-01T00:00:00Z",
        ] {
            assert!(parse_time(bad, now(), None).is_err(), "{bad}");
        }
        for bad in ["36 parsecs", "", "-1h", "1000000000d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("1d 12h").unwrap(),
            Duration::from_secs(36 * 3600)
        );
    }

    #[test]
    fn relative_times_read_naturally() {
        let at = |secs: i64| relative(now() + chrono::Duration::seconds(secs), now());
        assert_eq!(at(36 * 3600 - 48 * 60), "in 35h 12m");
        assert_eq!(at(-180), "3m ago");
        assert_eq!(at(0), "now");
        assert_eq!(at(12), "in 12s");
        assert_eq!(at(5 * 86_400 + 3 * 3600), "in 5d 3h");
        assert_eq!(at(2 * 3600), "in 2h");
    }
}
