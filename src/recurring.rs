//! Recurring schedules: a cron expression evaluated in a named zone. Parsing and the arithmetic
//! of firings (next, latest missed, how many were skipped) live here, with no I/O.

use anyhow::Result;
use chrono::{DateTime, LocalResult, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use crate::error::usage;
use crate::zone::Zone;

/// Counting missed firings stops here: an every-minute schedule down for two years is "more than
/// a million" skipped, not a long wait.
pub const SKIP_COUNT_CAP: u64 = 1_000_000;

/// A parsed cron expression and the zone it is read in.
#[derive(Debug, Clone)]
pub struct CronRule {
    cron: Cron,
    zone: Zone,
    /// `*` in the hour field: the rule follows real time through a DST change (as Vixie cron
    /// does) instead of firing once per wall time.
    follows_real_time: bool,
}

impl CronRule {
    /// Parses a 5-field expression (minute resolution) or `@hourly`, `@daily`, `@weekly`,
    /// `@monthly`, `@yearly`; a bad one is a usage error with the parser's reason.
    pub fn parse(expression: &str, zone: Zone) -> Result<CronRule> {
        let trimmed = expression.trim();
        const NICKNAMES: [&str; 6] = [
            "@hourly",
            "@daily",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
        ];
        if trimmed.starts_with('@') && !NICKNAMES.iter().any(|n| n.eq_ignore_ascii_case(trimmed)) {
            return Err(usage(format!(
                "cron expression \"{expression}\" is not a known name: use @hourly, @daily, \
                 @weekly, @monthly or @yearly, or 5 fields"
            )));
        }
        if !trimmed.starts_with('@') && trimmed.split_whitespace().count() != 5 {
            return Err(usage(format!(
                "cron expression \"{expression}\" must have 5 fields (minute hour day-of-month \
                 month day-of-week), or be @hourly, @daily, @weekly, @monthly or @yearly"
            )));
        }
        if !trimmed.starts_with('@') {
            check_ranges(trimmed)
                .map_err(|e| usage(format!("cron expression \"{expression}\": {e}")))?;
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(trimmed)
            .map_err(|e| {
                usage(format!(
                    "cron expression \"{expression}\" is not valid: {e}"
                ))
            })?;
        let follows_real_time = cron.pattern.hours.from_wildcard && cron.pattern.hours.step == 1;
        Ok(CronRule {
            cron,
            zone,
            follows_real_time,
        })
    }

    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Result<DateTime<Utc>> {
        let mut cursor = after.with_timezone(&self.zone);
        for _ in 0..4 {
            let next = self
                .cron
                .find_next_occurrence(&cursor, false)
                .map_err(|e| {
                    anyhow::anyhow!("no next firing for \"{}\": {e}", self.cron.pattern)
                })?;
            if !self.is_second_of_a_repeat(&next) {
                return Ok(next.with_timezone(&Utc));
            }
            cursor = next;
        }
        Err(anyhow::anyhow!(
            "no next firing for \"{}\"",
            self.cron.pattern
        ))
    }

    /// The latest firing at or before `at`, if it is not before `since`.
    pub fn latest_between(
        &self,
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>> {
        let mut cursor = at.with_timezone(&self.zone);
        let mut inclusive = true;
        for _ in 0..4 {
            let Ok(previous) = self.cron.find_previous_occurrence(&cursor, inclusive) else {
                return Ok(None);
            };
            if previous.with_timezone(&Utc) < since {
                return Ok(None);
            }
            if !self.is_second_of_a_repeat(&previous) {
                return Ok(Some(previous.with_timezone(&Utc)));
            }
            cursor = previous;
            inclusive = false;
        }
        Ok(None)
    }

    /// How many firings fall in `[from, to]`, counted up to `SKIP_COUNT_CAP`.
    pub fn count_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<u64> {
        let mut count = 0;
        let mut cursor = from - chrono::Duration::milliseconds(1);
        while count < SKIP_COUNT_CAP {
            let next = self.next_after(cursor)?;
            if next > to {
                break;
            }
            count += 1;
            cursor = next;
        }
        Ok(count)
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// A wall time that happens twice (a DST fall-back) fires once, at its first instant, unless
    /// the rule follows real time.
    fn is_second_of_a_repeat(&self, at: &DateTime<Zone>) -> bool {
        if self.follows_real_time {
            return false;
        }
        match self.zone.from_local_datetime(&at.naive_local()) {
            LocalResult::Ambiguous(first, _) => first != *at,
            _ => false,
        }
    }
}

/// The zone a schedule uses when none is named: `TZ` if it names a zone, else the system's,
/// else UTC.
pub fn local_zone() -> Zone {
    std::env::var("TZ")
        .ok()
        .and_then(|tz| Zone::named(tz.trim_start_matches(':')))
        .or_else(|| {
            iana_time_zone::get_timezone()
                .ok()
                .and_then(|tz| Zone::named(&tz))
        })
        .unwrap_or_else(Zone::utc)
}

/// The five fields: name in messages, what its values are called, and their range.
const FIELDS: [(&str, &str, u32, u32); 5] = [
    ("minute", "minutes are", 0, 59),
    ("hour", "hours are", 0, 23),
    ("day of month", "days of the month are", 1, 31),
    ("month", "months are", 1, 12),
    ("day of week", "days of the week are", 0, 7),
];

/// Checks every number of a 5-field expression against its field's range, so that an error
/// names the field and the range (`hour 25: hours are 0-23`) instead of the parser's words.
/// Names (`jan`, `mon`) and the parser's other syntax are left to the parser.
fn check_ranges(expression: &str) -> Result<(), String> {
    for (text, (field, values_are, low, high)) in expression.split_whitespace().zip(FIELDS) {
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (part, None),
            };
            if let Some(step) = step.and_then(|s| s.parse::<u32>().ok()) {
                if step == 0 || step > high {
                    return Err(format!(
                        "{field} step /{step}: a step is 1 to {high} in that field"
                    ));
                }
            }
            for value in range.split('-') {
                let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
                let Ok(number) = digits.parse::<u32>() else {
                    continue;
                };
                if !(low..=high).contains(&number) {
                    let sunday = if field == "day of week" {
                        " (0 and 7 are Sunday)"
                    } else {
                        ""
                    };
                    return Err(format!(
                        "{field} {number}: {values_are} {low}-{high}{sunday}"
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn riga(expression: &str) -> CronRule {
        CronRule::parse(expression, Zone::named("Europe/Riga").unwrap()).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_daily_time_skipped_by_spring_forward_fires_at_the_next_existing_minute() {
        // 2026-03-29: Riga jumps from 03:00 EET to 04:00 EEST; 03:30 does not exist.
        let rule = riga("30 3 * * *");
        assert_eq!(
            rule.next_after(utc("2026-03-28T02:00:00Z")).unwrap(),
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            rule.next_after(utc("2026-03-29T01:00:00Z")).unwrap(),
            utc("2026-03-30T00:30:00Z")
        );
    }

    #[test]
    fn a_daily_time_repeated_by_fall_back_fires_once() {
        // 2026-10-25: Riga goes from 04:00 EEST back to 03:00 EET; 03:30 happens twice.
        let rule = riga("30 3 * * *");
        let first = rule.next_after(utc("2026-10-24T12:00:00Z")).unwrap();
        assert_eq!(first, utc("2026-10-25T00:30:00Z"));
        assert_eq!(rule.next_after(first).unwrap(), utc("2026-10-26T01:30:00Z"));
    }

    #[test]
    fn hourly_follows_real_time_through_both_changes() {
        let rule = riga("@hourly");
        let mut at = utc("2026-10-24T23:30:00Z");
        let mut seen = Vec::new();
        for _ in 0..4 {
            at = rule.next_after(at).unwrap();
            seen.push(at);
        }
        let expected = [
            "2026-10-25T00:00:00Z",
            "2026-10-25T01:00:00Z",
            "2026-10-25T02:00:00Z",
            "2026-10-25T03:00:00Z",
        ];
        assert_eq!(seen, expected.map(utc));
        let spring = rule.next_after(utc("2026-03-29T00:30:00Z")).unwrap();
        assert_eq!(spring, utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn missed_firings_are_counted_and_the_latest_found() {
        let rule = riga("@hourly");
        let from = utc("2026-11-25T09:00:00Z");
        let now = utc("2026-11-25T11:30:00Z");
        assert_eq!(
            rule.latest_between(from, now).unwrap(),
            Some(utc("2026-11-25T11:00:00Z"))
        );
        assert_eq!(
            rule.count_between(from, utc("2026-11-25T11:00:00Z"))
                .unwrap(),
            3
        );
        assert_eq!(rule.latest_between(now, now).unwrap(), None);
    }

    #[test]
    fn bad_expressions_are_refused() {
        let zone = Zone::named("UTC").unwrap();
        for bad in [
            "",
            "* * * *",
            "61 * * * *",
            "* * * * * *",
            "@sometimes",
            "0 25 * * *",
        ] {
            assert!(CronRule::parse(bad, zone.clone()).is_err(), "{bad}");
        }
        for good in [
            "*/15 * * * *",
            "0 6 * * 1-5",
            "@daily",
            "@weekly",
            "@monthly",
            "@hourly",
            "@yearly",
            "@annually",
            "0 6 L * *",
            "0 6 * * 5#2",
            "0 6 * jan-mar mon-fri",
            "*/59 23 31 12 7",
        ] {
            assert!(CronRule::parse(good, zone.clone()).is_ok(), "{good}");
        }
    }
}
