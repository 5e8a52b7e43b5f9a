//! `GET /events?track=NAME`: the hub's events as server-sent events, for the pages' live
//! updates. An event names what changed and where, never content; the page then reloads
//! its live parts with the viewer's own permissions. The stream ends when the server stops.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::session::{Params, Viewer};
use super::{PageError, Web};
use crate::domain::event::EventKind;

pub async fn events(
    State(web): State<Arc<Web>>,
    viewer: Viewer,
    Params(q): Params,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    if viewer.reader("/").is_err() {
        return Err(PageError::new(
            StatusCode::UNAUTHORIZED,
            "sign in to follow events",
        ));
    }
    let topic = match q.get("track") {
        "" | "*" => None,
        t => Some(t.to_string()),
    };
    let stream = futures_util::stream::unfold(web.events.subscribe(), move |mut rx| {
        let topic = topic.clone();
        async move {
            loop {
                let event = match rx.recv().await {
                    Ok(e) if e.kind == EventKind::Closing => return None,
                    Ok(e) => e,
                    Err(RecvError::Lagged(_)) => {
                        return Some((Ok(Event::default().event("lagged").data("{}")), rx));
                    }
                    Err(RecvError::Closed) => return None,
                };
                let wanted = match &topic {
                    None => true,
                    Some(t) => event.track.is_empty() || event.track == *t,
                };
                if wanted {
                    let data = serde_json::to_string(&event).unwrap_or_else(|_| "{}".into());
                    let sse = Event::default().event(event.kind.as_str()).data(data);
                    return Some((Ok(sse), rx));
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
