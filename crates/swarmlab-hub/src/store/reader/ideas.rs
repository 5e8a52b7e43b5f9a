//! A page of a track's idea queue, with counts by state and how each idea fared.

use sqlx::Row;

use super::super::views::{IdeaCounts, IdeaRow, Paged, Paging};
use super::{corrupt, count, limit, party, Reader, StoreError};

impl Reader {
    /// A page of a track's ideas, newest first, optionally of one state.
    pub(super) async fn idea_rows(
        &self,
        track: &str,
        state: Option<&str>,
        paging: Paging,
    ) -> Result<(Paged<IdeaRow>, IdeaCounts), StoreError> {
        let mut counts = IdeaCounts::default();
        for row in
            sqlx::query("SELECT state, COUNT(*) AS n FROM ideas WHERE track = $1 GROUP BY state")
                .bind(track)
                .fetch_all(&self.read)
                .await?
        {
            let n = count(&row, "n")?;
            match row.try_get::<String, _>("state")?.as_str() {
                "open" => counts.open = n,
                "leased" => counts.leased = n,
                _ => counts.done += n,
            }
        }
        let total = match state {
            Some("open") => counts.open,
            Some("leased") => counts.leased,
            Some("done") => counts.done,
            _ => counts.open + counts.leased + counts.done,
        };
        let (per_page, offset) = limit(paging);
        let rows = sqlx::query(
            "SELECT i.id, i.text, i.tags, i.author, ai.name AS author_name, i.state, \
             i.lease_holder, li.name AS holder_name, i.duplicate_of, i.similarity, i.created_ms, i.source, \
             (SELECT COUNT(*) FROM submissions s WHERE s.idea_id = i.id) AS tried, \
             (SELECT COUNT(*) FROM submissions s WHERE s.idea_id = i.id AND s.status = 'accepted') AS accepted \
             FROM ideas i \
             LEFT JOIN identities ai ON ai.id = i.author \
             LEFT JOIN identities li ON li.id = i.lease_holder \
             WHERE i.track = $1 AND ($2 IS NULL OR i.state = $2) \
             ORDER BY i.id DESC LIMIT $3 OFFSET $4",
        )
        .bind(track)
        .bind(state)
        .bind(per_page)
        .bind(offset)
        .fetch_all(&self.read)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(IdeaRow {
                    id: r.try_get("id")?,
                    text: r.try_get("text")?,
                    tags: serde_json::from_str(&r.try_get::<String, _>("tags")?)
                        .map_err(corrupt)?,
                    author: party(r, "author", "author_name")?.unwrap_or_default(),
                    state: r.try_get("state")?,
                    lease_holder: party(r, "lease_holder", "holder_name")?,
                    duplicate_of: r.try_get("duplicate_of")?,
                    similarity: r.try_get("similarity")?,
                    tried: count(r, "tried")?,
                    accepted: count(r, "accepted")?,
                    created_ms: r.try_get("created_ms")?,
                    source: r
                        .try_get::<Option<String>, _>("source")?
                        .map(|json| serde_json::from_str(&json).map_err(corrupt))
                        .transpose()?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((
            Paged {
                items,
                paging,
                total,
            },
            counts,
        ))
    }
}
