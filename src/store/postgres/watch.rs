//! What `tick --follow` waits on, in PostgreSQL: the waiting index for the next due time, and
//! the notifications the schema's triggers send when tasks are made or fall due again.

use std::time::Duration;

use anyhow::{Context as _, Result};
use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator as _;

use super::Postgres;
use crate::store::backend::Watch;

impl Watch for Postgres {
    fn next_due_at(&self, skip: &[String]) -> Result<Option<DateTime<Utc>>> {
        let row = self.query_opt(
            "SELECT next_attempt_at FROM tasks \
             WHERE outcome IS NULL AND tick_id IS NULL AND endpoint <> ALL ($1) \
             ORDER BY next_attempt_at LIMIT 1",
            &[&skip],
        )?;
        row.map(|row| Ok(row.try_get(0)?)).transpose()
    }

    fn watch_changes(&self) -> Result<()> {
        self.batch("LISTEN httpat_tasks")
            .context("cannot listen for new tasks")
    }

    fn wait_for_change(&self, timeout: Duration) -> Result<bool> {
        let mut client = self.client.borrow_mut();
        let mut notifications = client.notifications();
        let heard = notifications.timeout_iter(timeout).next()?.is_some();
        // Several commits may have notified: one wake is enough.
        while notifications.iter().next()?.is_some() {}
        Ok(heard)
    }
}
