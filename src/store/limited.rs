//! Claims that keep endpoints' limits, composed once for both backends: the claim locks the
//! limited endpoints (PostgreSQL), counts what each has in flight and started in its rate's
//! window, takes no more of each than that allows, and counts the starts it takes, all in the
//! transaction that takes the tasks, so that ticks on any number of hosts never exceed a limit
//! together.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::records::{
    Candidate, Claim, Claimed, HeldBack, LimitWait, LimitedEndpoint, Pick, StartWindow,
};
use super::{Store, Tx};
use crate::limits::{self, Bound, Limits, LEAD};
use crate::when;

impl Tx<'_> {
    /// `claim_due` when some endpoints have limits. "now" is read after the limited endpoints
    /// are locked, so that a start is counted at a time no claim that went before has passed.
    pub(super) fn claim_within_limits(
        &self,
        claim: &Claim,
        limited: &[LimitedEndpoint],
        now: DateTime<Utc>,
    ) -> Result<Claimed> {
        let backend = self.backend();
        let counted_at = counted_at(now)?;
        let mut skip = claim.skip.to_vec();
        skip.extend(limited.iter().map(|endpoint| endpoint.name.clone()));
        let pick = Pick {
            now: claim.now,
            remaining_ms: claim.remaining_ms,
            limit: claim.limit,
            skip: &skip,
            only: None,
        };
        // Endpoints limited in flight share the batch with the unlimited; paced ones (with a
        // rate) have the room the tick has to start them at once.
        let mut batch = backend.claim_candidates(&pick)?;
        let mut paced: Vec<Candidate> = Vec::new();
        let mut allowances = Vec::with_capacity(limited.len());
        for endpoint in limited {
            let window = rate_window(&endpoint.limits, counted_at)?;
            if let Some((since, _)) = window {
                backend.forget_starts(&endpoint.name, since)?;
            }
            let allowance = limits::allowance(
                &endpoint.limits,
                &backend.limit_usage(&endpoint.name, window)?,
            );
            let room = match endpoint.limits.rate {
                Some(_) => claim.paced_limit,
                None => claim.limit,
            };
            let want = allowance.now.min(u64::from(room)) as u32;
            if want > 0 {
                let found = backend.claim_candidates(&Pick {
                    limit: want,
                    only: Some(&endpoint.name),
                    ..pick
                })?;
                match endpoint.limits.rate {
                    Some(_) => paced.extend(found),
                    None => batch.extend(found),
                }
            }
            allowances.push(allowance);
        }
        batch.sort_by_key(Candidate::claim_order);
        batch.truncate(claim.limit as usize);
        paced.sort_by_key(Candidate::claim_order);
        paced.truncate(claim.paced_limit as usize);
        batch.extend(paced);
        batch.sort_by_key(Candidate::claim_order);
        batch.truncate(claim.most as usize);
        let ids: Vec<i64> = batch.iter().map(|candidate| candidate.id).collect();
        let mut claimed = Claimed {
            tasks: backend.take_tasks(&ids, claim)?,
            ..Claimed::default()
        };
        for (endpoint, allowance) in limited.iter().zip(allowances) {
            if let Some(rate) = endpoint.limits.rate {
                let starts: Vec<(i64, u32, &str)> = claimed
                    .tasks
                    .iter()
                    .filter(|task| task.endpoint == endpoint.name)
                    .map(|task| (task.id, task.attempts, task.endpoint.as_str()))
                    .collect();
                if !starts.is_empty() {
                    backend.count_starts(&starts, counted_at)?;
                    claimed.paced.push((
                        endpoint.name.clone(),
                        StartWindow {
                            not_before: counted_at,
                            start_by: when::after(counted_at, rate.start_within())?,
                        },
                    ));
                }
            }
            // What could be sent in this tick's time and still waits, waits on the limit (or
            // on room in this tick).
            let fits = endpoint.timeout_ms <= claim.remaining_ms;
            if fits && backend.waiting_count_of(&endpoint.name, claim.now)? > 0 {
                let next_slot = match allowance.bound_by {
                    Some(Bound::Rate { next_slot, .. }) if allowance.now == 0 => next_slot,
                    _ => None,
                };
                claimed.held_back.push(HeldBack {
                    endpoint: endpoint.name.clone(),
                    next_slot,
                });
            }
        }
        Ok(claimed)
    }
}

impl Store {
    /// For each endpoint with a limit: its limits, how many of its tasks are due at `now`, and
    /// what the limits allow now (`status`, `endpoints` and `show` say how many wait on them).
    pub fn limit_waits(&self, now: DateTime<Utc>) -> Result<Vec<LimitWait>> {
        let counted_at = counted_at(now)?;
        let mut waits = Vec::new();
        for endpoint in self.backend.limited_endpoints(false)? {
            let window = rate_window(&endpoint.limits, counted_at)?;
            let usage = self.backend.limit_usage(&endpoint.name, window)?;
            waits.push(LimitWait {
                due: self.backend.waiting_count_of(&endpoint.name, now)?,
                allowance: limits::allowance(&endpoint.limits, &usage),
                usage,
                endpoint: endpoint.name,
                limits: endpoint.limits,
            });
        }
        Ok(waits)
    }
}

/// The moment a claim at `now` counts its requests' starts at: a whole millisecond (as stored),
/// `LEAD` ahead, so that the claim has committed before its requests leave.
fn counted_at(now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    Ok(when::not_before_millis(when::after(now, LEAD)?))
}

/// The window a start counted at `counted_at` is measured in: the starts after the returned
/// time count, up to the rate's N. None without a rate.
fn rate_window(limits: &Limits, counted_at: DateTime<Utc>) -> Result<Option<(DateTime<Utc>, u32)>> {
    limits
        .rate
        .map(|rate| Ok((when::before(counted_at, rate.counted_for())?, rate.count)))
        .transpose()
}
