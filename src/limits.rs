//! What an endpoint may ask of its sender: at most N requests in flight at once, at most N
//! started in any second, minute or hour, counted across every tick on every host. This module
//! is the arithmetic (what a limit allows now, when the next slot comes); the store counts, and
//! the claim applies it in the transaction that takes the tasks.

use std::fmt;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::usage;

/// A paced request's start is counted this long before its worker may start it, so that the
/// claim's commit is over by then: the request starts at its counted time, not a commit later.
pub const LEAD: Duration = Duration::from_millis(50);

/// An endpoint's limits; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub max_in_flight: Option<u32>,
    pub rate: Option<Rate>,
}

impl Limits {
    pub fn is_none(&self) -> bool {
        self.max_in_flight.is_none() && self.rate.is_none()
    }

    /// How the limits read in a table: `2 in flight, 10/s`; empty when none.
    pub fn describe(&self) -> String {
        let in_flight = self.max_in_flight.map(|n| format!("{n} in flight"));
        let rate = self.rate.map(|rate| rate.to_string());
        [in_flight, rate]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The window a rate is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    Second,
    Minute,
    Hour,
}

/// `--rate N/s|N/m|N/h`: at most `count` requests started in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Per,
}

impl Rate {
    pub fn parse(text: &str) -> Result<Rate> {
        let invalid = |why: &str| {
            usage(format!(
                "invalid rate {text:?}: {why}; give N/s, N/m or N/h (at most N requests started \
                 in any second, minute or hour), or none"
            ))
        };
        let (count, per) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| invalid("no '/'"))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| invalid("N is not a whole number"))?;
        if count == 0 {
            return Err(invalid("N must be at least 1 (none lifts the limit)"));
        }
        let per = match per.trim() {
            "s" => Per::Second,
            "m" => Per::Minute,
            "h" => Per::Hour,
            _ => return Err(invalid("the window is not s, m or h")),
        };
        Ok(Rate { count, per })
    }

    pub fn window(&self) -> Duration {
        Duration::from_secs(match self.per {
            Per::Second => 1,
            Per::Minute => 60,
            Per::Hour => 3600,
        })
    }

    /// How long a start is counted: the window and a fortieth of it more. The extra covers the
    /// time between a start's counted moment and the moment the request leaves (its worker
    /// starts it within half of that, or not at all) and the way to the receiver, so that the
    /// receiver, counting arrivals, never sees more than N in a window; the pace stays above
    /// 97% of the limit.
    pub fn counted_for(&self) -> Duration {
        self.window() + self.margin()
    }

    /// A paced request not started this long after its counted moment is not started at all.
    pub fn start_within(&self) -> Duration {
        self.margin() / 2
    }

    fn margin(&self) -> Duration {
        self.window() / 40
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let per = match self.per {
            Per::Second => "s",
            Per::Minute => "m",
            Per::Hour => "h",
        };
        write!(f, "{}/{per}", self.count)
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Rate, D::Error> {
        let text = String::deserialize(deserializer)?;
        Rate::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `--max-in-flight N|none`.
pub fn parse_max_in_flight(text: &str) -> Result<Option<u32>> {
    if text.trim() == "none" {
        return Ok(None);
    }
    match text.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err(usage(format!(
            "invalid --max-in-flight {text:?}: give a whole number of at least 1, or none"
        ))),
        Ok(n) => Ok(Some(n)),
    }
}

/// `--rate N/s|N/m|N/h|none`.
pub fn parse_rate(text: &str) -> Result<Option<Rate>> {
    if text.trim() == "none" {
        return Ok(None);
    }
    Rate::parse(text).map(Some)
}

/// How much of an endpoint's limits is in use, as the store counts it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Its tasks held by a tick (claimed, in flight, or held by a tick that died and is not yet
    /// recovered).
    pub in_flight: u64,
    /// Starts counted in the rate's window, up to the rate's N.
    pub started: u64,
    /// When the rate's window is full: the start whose expiry frees the next slot (the N-th
    /// newest).
    pub nth_newest_start: Option<DateTime<Utc>>,
}

/// What an endpoint's limits allow at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// How many more of its requests may start now (`u64::MAX`: no limit).
    pub now: u64,
    /// The limit that allows the fewest (None: no limit).
    pub bound_by: Option<Bound>,
}

/// A limit and how much of it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Requests in flight: a slot frees when one ends.
    InFlight { in_flight: u64, max: u32 },
    /// Requests started in the window; when it is full, the time the next slot comes.
    Rate {
        started: u64,
        rate: Rate,
        next_slot: Option<DateTime<Utc>>,
    },
}

impl Bound {
    /// The limit alone, for a table cell: `max 2 in flight`, `rate 10/s`.
    pub fn brief(&self) -> String {
        match self {
            Bound::InFlight { max, .. } => format!("max {max} in flight"),
            Bound::Rate { rate, .. } => format!("rate {rate}"),
        }
    }

    /// The limit's use in words: `2 of 2 in flight (--max-in-flight 2)`, `10 of 10 started in
    /// the last 1s (--rate 10/s); next slot in 350ms`.
    pub fn describe(&self, now: DateTime<Utc>) -> String {
        match self {
            Bound::InFlight { in_flight, max } => {
                format!("{in_flight} of {max} in flight (--max-in-flight {max})")
            }
            Bound::Rate {
                started,
                rate,
                next_slot,
            } => {
                let window = crate::when::display_duration(rate.window());
                let mut words = format!(
                    "{started} of {} started in the last {window} (--rate {rate})",
                    rate.count
                );
                if let Some(slot) = next_slot {
                    let wait = (*slot - now).num_milliseconds().max(0) as u64;
                    words.push_str(&format!(
                        "; next slot in {}",
                        crate::when::display_duration(Duration::from_millis(wait))
                    ));
                }
                words
            }
        }
    }
}

/// What `limits` allow given `usage` (counted for a start now).
pub fn allowance(limits: &Limits, usage: &Usage) -> Allowance {
    let in_flight = limits.max_in_flight.map(|max| {
        let free = u64::from(max).saturating_sub(usage.in_flight);
        let bound = Bound::InFlight {
            in_flight: usage.in_flight,
            max,
        };
        (free, bound)
    });
    let rate = limits.rate.map(|rate| {
        let free = u64::from(rate.count).saturating_sub(usage.started);
        let counted_for = chrono::Duration::from_std(rate.counted_for()).unwrap_or_default();
        let next_slot = usage
            .nth_newest_start
            .filter(|_| free == 0)
            .and_then(|nth| nth.checked_add_signed(counted_for));
        let bound = Bound::Rate {
            started: usage.started,
            rate,
            next_slot,
        };
        (free, bound)
    });
    // The tighter decides; on a tie the rate, whose next slot has a known time.
    let tightest = match (in_flight, rate) {
        (Some(a), Some(b)) if a.0 < b.0 => Some(a),
        (_, Some(b)) => Some(b),
        (a, None) => a,
    };
    match tightest {
        Some((now, bound)) => Allowance {
            now,
            bound_by: Some(bound),
        },
        None => Allowance {
            now: u64::MAX,
            bound_by: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rates_and_maxima_parse_or_say_why_not() {
        assert_eq!(
            parse_rate("10/s").unwrap(),
            Some(Rate {
                count: 10,
                per: Per::Second
            })
        );
        assert_eq!(parse_rate("600/h").unwrap().unwrap().to_string(), "600/h");
        assert_eq!(parse_rate("none").unwrap(), None);
        for bad in ["10", "0/s", "-1/s", "10/d", "ten/s", "10/sec", ""] {
            let error = parse_rate(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&error), 2, "{bad}");
            assert!(error.to_string().contains("N/s"), "{error}");
        }
        assert_eq!(parse_max_in_flight("2").unwrap(), Some(2));
        assert_eq!(parse_max_in_flight("none").unwrap(), None);
        assert!(parse_max_in_flight("0").is_err());
        assert!(parse_max_in_flight("-3").is_err());
    }

    #[test]
    fn a_start_is_counted_a_little_longer_than_its_window() {
        let rate = Rate::parse("10/s").unwrap();
        assert_eq!(rate.counted_for(), Duration::from_millis(1025));
        assert_eq!(rate.start_within(), Duration::from_micros(12_500));
        assert_eq!(
            Rate::parse("1/h").unwrap().counted_for(),
            Duration::from_secs(3690)
        );
    }

    #[test]
    fn the_tighter_limit_decides_and_names_itself() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        let limits = Limits {
            max_in_flight: Some(2),
            rate: Some(Rate::parse("10/s").unwrap()),
        };
        let free = allowance(&limits, &Usage::default());
        assert_eq!(free.now, 2);
        assert_eq!(
            free.bound_by.unwrap().describe(at),
            "0 of 2 in flight (--max-in-flight 2)"
        );
        let full = Usage {
            in_flight: 1,
            started: 10,
            nth_newest_start: Some(at),
        };
        let held = allowance(&limits, &full);
        assert_eq!(held.now, 0);
        let Some(Bound::Rate { next_slot, .. }) = held.bound_by else {
            panic!("{held:?}")
        };
        assert_eq!(next_slot, Some(at + chrono::Duration::milliseconds(1025)));
        assert_eq!(
            held.bound_by.unwrap().describe(at),
            "10 of 10 started in the last 1s (--rate 10/s); next slot in 1s 25ms"
        );
        assert_eq!(allowance(&Limits::default(), &full).now, u64::MAX);
        assert_eq!(allowance(&Limits::default(), &full).bound_by, None);
    }
}
