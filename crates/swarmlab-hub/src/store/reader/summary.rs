//! A track at a glance: the overview's card and every track page's header, from one
//! statement of counts and the track's verdict series.

use std::collections::HashSet;

use sqlx::Row;

use super::super::views::{thin, TrackSummary, HOUR_MS, ONLINE_WINDOW_MS};
use super::{count, Reader, StoreError, TrackRow};

/// Points in an overview sparkline.
const TREND_POINTS: usize = 48;

impl Reader {
    pub(super) async fn summarize(
        &self,
        track: &TrackRow,
        now: i64,
    ) -> Result<TrackSummary, StoreError> {
        let series = self.series(track).await?;
        let recent = now - ONLINE_WINDOW_MS;
        let row = sqlx::query(
            "SELECT \
             (SELECT COUNT(*) FROM chain WHERE track = $1) AS chain_len, \
             (SELECT COUNT(*) FROM submissions WHERE track = $1 AND received_ms > $2) AS per_hour, \
             (SELECT COUNT(*) FROM submissions WHERE track = $1 \
               AND status IN ('queued', 'verifying', 'reverify')) AS pending, \
             (SELECT COUNT(*) FROM ideas WHERE track = $1 AND (state = 'open' \
               OR (state = 'leased' AND lease_deadline_ms <= $4))) AS open_ideas, \
             (SELECT COUNT(*) FROM (SELECT worker FROM submissions WHERE track = $1 AND received_ms > $3 \
               UNION SELECT lease_holder FROM ideas WHERE track = $1 AND state = 'leased' \
               AND lease_deadline_ms > $4) AS w) AS workers",
        )
        .bind(&track.name)
        .bind(now - HOUR_MS)
        .bind(recent)
        .bind(now)
        .fetch_one(&self.read)
        .await?;
        let mut verifiers: HashSet<String> = sqlx::query(
            "SELECT DISTINCT verifier FROM jobs WHERE track = $1 AND state = 'leased' AND lease_deadline_ms > $2",
        )
        .bind(&track.name)
        .bind(now)
        .fetch_all(&self.read)
        .await?
        .iter()
        .map(|r| r.try_get::<Option<String>, _>("verifier"))
        .filter_map(Result::transpose)
        .collect::<Result<_, _>>()?;
        let mut verifications = 0;
        for m in series.measured.iter().rev() {
            if m.point.at_ms <= now - HOUR_MS {
                break;
            }
            verifications += 1;
            if m.point.at_ms > recent {
                verifiers.insert(m.verifier.clone());
            }
        }
        let mut trend: Vec<f64> = series.baseline_value.into_iter().collect();
        trend.extend(
            series
                .measured
                .iter()
                .filter(|m| m.point.kept)
                .filter_map(|m| m.point.value),
        );
        let head_value = series
            .measured
            .iter()
            .rev()
            .find(|m| m.point.kept)
            .and_then(|m| m.point.value)
            .or(series.baseline_value);
        Ok(TrackSummary {
            name: track.name.clone(),
            metric: track.metric.clone(),
            goal: track.goal,
            baseline: track.baseline.clone(),
            head: track.head.clone(),
            chain_len: count(&row, "chain_len")?,
            baseline_value: series.baseline_value,
            head_value,
            experiments_per_hour: count(&row, "per_hour")?,
            verifications_per_hour: verifications,
            workers_online: count(&row, "workers")?,
            verifiers_online: verifiers.len() as u64,
            pending: count(&row, "pending")?,
            open_ideas: count(&row, "open_ideas")?,
            trend: thin(&trend, TREND_POINTS),
            local: false,
        })
    }
}
