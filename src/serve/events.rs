//! `GET /v1/runs/{id}/events`: a run's events as Server-Sent Events — every event so far,
//! then each new one as it happens (`event: event`, data `{"seq", "at_ms", "message"}`),
//! about once a second while the run measures `event: sample` (elapsed, phase, active
//! faults, each probe's recent p99 and error rate; not stored, not replayed), then `event: end` with `{"status", "exit_code"}`, and the stream closes.

use super::api_error::ApiError;
use super::app::App;
use super::live_event::LiveEvent;
use super::store::StoredEvent;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use tokio::sync::broadcast::{self, error::RecvError};

struct Feed {
    app: App,
    id: String,
    backlog: VecDeque<Event>,
    live: Option<broadcast::Receiver<LiveEvent>>,
    last: Option<u64>,
    done: bool,
}

pub async fn stream(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before reading the store, so nothing falls between the two.
    let live = app.runner.subscribe(&id);
    let Some(run) = app.store.run(&id)? else {
        return Err(ApiError::not_found(format!("no run `{id}`")));
    };
    let mut feed = Feed {
        app: app.clone(),
        id: id.clone(),
        backlog: VecDeque::new(),
        live,
        last: None,
        done: false,
    };
    feed.catch_up()?;
    if feed.live.is_none() {
        // Finished before we subscribed: the store has everything.
        feed.backlog
            .push_back(end_event(&run.status, run.exit_code.unwrap_or(1)));
        feed.done = true;
    }
    let events = stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(event) = feed.backlog.pop_front() {
                return Some((Ok(event), feed));
            }
            if feed.done {
                return None;
            }
            let receiver = feed.live.as_mut()?;
            match receiver.recv().await {
                Ok(LiveEvent::Event(event)) => {
                    if feed.last.is_none_or(|last| event.seq > last) {
                        feed.last = Some(event.seq);
                        feed.backlog.push_back(data_event(&event));
                    }
                }
                Ok(LiveEvent::Sample(sample)) => {
                    feed.backlog
                        .push_back(Event::default().event("sample").data(sample.to_string()));
                }
                Ok(LiveEvent::End { status, exit_code }) => {
                    let _ = feed.catch_up();
                    feed.backlog.push_back(end_event(&status, exit_code));
                    feed.done = true;
                }
                Err(RecvError::Lagged(_)) => {
                    let _ = feed.catch_up();
                }
                Err(RecvError::Closed) => {
                    let _ = feed.catch_up();
                    let status = feed
                        .app
                        .store
                        .run(&feed.id)
                        .ok()
                        .flatten()
                        .map(|run| (run.status, run.exit_code.unwrap_or(1)));
                    let (status, code) = status.unwrap_or_else(|| ("unknown".into(), 1));
                    feed.backlog.push_back(end_event(&status, code));
                    feed.done = true;
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

impl Feed {
    /// Queues the stored events after the last one sent.
    fn catch_up(&mut self) -> Result<(), ApiError> {
        for event in self.app.store.events(&self.id, self.last)? {
            self.last = Some(event.seq);
            self.backlog.push_back(data_event(&event));
        }
        Ok(())
    }
}

fn data_event(event: &StoredEvent) -> Event {
    Event::default()
        .event("event")
        .id(event.seq.to_string())
        .data(json!(event).to_string())
}

fn end_event(status: &str, exit_code: i64) -> Event {
    Event::default()
        .event("end")
        .data(json!({ "status": status, "exit_code": exit_code }).to_string())
}
