//! Named IANA time zones (`--tz Europe/Riga`, a recurring schedule's zone) for chrono.
//!
//! The rules come from the tz database bundled in the binary as compact TZif data, read once
//! per zone when it is named. A table of transitions compiled into the binary as Rust data
//! would hold tens of thousands of pointers that the loader must relocate when *every* command
//! starts, whether it names a zone or not; this keeps a `schedule` as cheap as its work.

use std::fmt;

use chrono::{FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, Offset, TimeZone};
use jiff::tz::{AmbiguousOffset, TimeZone as Rules};

/// An IANA zone, usable wherever chrono takes a `TimeZone`.
#[derive(Clone)]
pub struct Zone {
    rules: Rules,
}

impl Zone {
    /// The zone of that IANA name (`Europe/Riga`, `UTC`; links such as `US/Eastern` too), or
    /// `None` when the bundled database has no such zone.
    pub fn named(name: &str) -> Option<Zone> {
        let rules = Rules::get(name).ok()?;
        rules.iana_name()?;
        Some(Zone { rules })
    }

    /// UTC.
    pub fn utc() -> Zone {
        Zone { rules: Rules::UTC }
    }

    /// The zone's name as the database spells it (`Europe/Riga` for `europe/riga`).
    pub fn name(&self) -> &str {
        self.rules.iana_name().unwrap_or("UTC")
    }

    fn offset(&self, seconds: i32) -> ZoneOffset {
        ZoneOffset {
            zone: self.clone(),
            fixed: FixedOffset::east_opt(seconds).unwrap_or(chrono::Utc.fix()),
        }
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The offset in force at one instant of a zone; it keeps its zone, as chrono asks.
#[derive(Clone, Debug)]
pub struct ZoneOffset {
    zone: Zone,
    fixed: FixedOffset,
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fixed, f)
    }
}

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Zone {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        match local.and_hms_opt(0, 0, 0) {
            Some(midnight) => self.offset_from_local_datetime(&midnight),
            None => MappedLocalTime::None,
        }
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let Some(civil) = civil(local) else {
            return MappedLocalTime::None;
        };
        match self.rules.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => {
                MappedLocalTime::Single(self.offset(offset.seconds()))
            }
            AmbiguousOffset::Gap { .. } => MappedLocalTime::None,
            // Before the change the clocks were ahead: that offset gives the earlier instant.
            AmbiguousOffset::Fold { before, after } => MappedLocalTime::Ambiguous(
                self.offset(before.seconds()),
                self.offset(after.seconds()),
            ),
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        match utc.and_hms_opt(0, 0, 0) {
            Some(midnight) => self.offset_from_utc_datetime(&midnight),
            None => self.offset(0),
        }
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        let instant = utc.and_utc();
        let seconds = instant.timestamp().clamp(
            jiff::Timestamp::MIN.as_second(),
            jiff::Timestamp::MAX.as_second(),
        );
        match jiff::Timestamp::from_second(seconds) {
            Ok(at) => self.offset(self.rules.to_offset(at).seconds()),
            Err(_) => self.offset(0),
        }
    }
}

/// chrono's wall time as the zone database's, when it is within the years it covers.
fn civil(local: &NaiveDateTime) -> Option<jiff::civil::DateTime> {
    use chrono::{Datelike, Timelike};
    let year = i16::try_from(local.year()).ok()?;
    // A leap second (nanosecond ≥ 1e9 in chrono) is read as the last nanosecond before it.
    let nanosecond = local.nanosecond().min(999_999_999) as i32;
    jiff::civil::DateTime::new(
        year,
        local.month() as i8,
        local.day() as i8,
        local.hour() as i8,
        local.minute() as i8,
        local.second() as i8,
        nanosecond,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, LocalResult, Utc};

    use super::*;

    fn riga() -> Zone {
        Zone::named("Europe/Riga").unwrap()
    }

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn names_are_looked_up_and_spelled_as_the_database_does() {
        assert_eq!(riga().name(), "Europe/Riga");
        assert_eq!(Zone::named("europe/riga").unwrap().name(), "Europe/Riga");
        assert_eq!(Zone::named("UTC").unwrap().name(), "UTC");
        assert_eq!(Zone::utc().name(), "UTC");
        assert!(Zone::named("US/Eastern").is_some());
        for unknown in [
            "",
            "Mars/Olympus",
            "+02:00",
            "EST5EDT,M3.2.0,M11.1.0",
            "Europe/",
        ] {
            assert!(Zone::named(unknown).is_none(), "{unknown:?}");
        }
    }

    #[test]
    fn an_ordinary_wall_time_has_one_instant() {
        let winter = riga().from_local_datetime(&local("2026-11-25 14:00"));
        assert_eq!(winter.single().unwrap(), utc("2026-11-25T12:00:00Z"));
        let summer = riga().from_local_datetime(&local("2026-07-01 14:00"));
        assert_eq!(summer.single().unwrap(), utc("2026-07-01T11:00:00Z"));
    }

    #[test]
    fn a_wall_time_in_the_spring_gap_does_not_exist() {
        let gap = riga().from_local_datetime(&local("2026-03-29 03:30"));
        assert!(matches!(gap, LocalResult::None));
    }

    #[test]
    fn a_repeated_wall_time_has_two_instants_earlier_first() {
        match riga().from_local_datetime(&local("2026-10-25 03:30")) {
            LocalResult::Ambiguous(first, second) => {
                assert_eq!(first, utc("2026-10-25T00:30:00Z"));
                assert_eq!(second, utc("2026-10-25T01:30:00Z"));
            }
            other => panic!("expected two instants, got {other:?}"),
        }
    }

    #[test]
    fn an_instant_shows_the_offset_in_force() {
        let at = utc("2026-10-25T00:59:59Z").with_timezone(&riga());
        assert_eq!(at.to_rfc3339(), "2026-10-25T03:59:59+03:00");
        let after = utc("2026-10-25T01:00:00Z").with_timezone(&riga());
        assert_eq!(after.to_rfc3339(), "2026-10-25T03:00:00+02:00");
    }

    #[test]
    fn times_beyond_the_database_range_do_not_panic() {
        let far = NaiveDate::from_ymd_opt(200_000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert!(matches!(
            riga().from_local_datetime(&far),
            LocalResult::None
        ));
        let _ = riga().offset_from_utc_datetime(&far);
        let _ = riga().offset_from_utc_datetime(&NaiveDateTime::MIN);
    }
}
