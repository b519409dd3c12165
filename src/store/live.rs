//! The live-event bus: what a committed write transaction changed, published AFTER the commit
//! (never for a transaction that aborted). One producer (the store's commit paths), many readers:
//! the deck's `/deck/events` and the Mastodon streaming API (`handlers::api::streaming`) both
//! subscribe here. Events carry ids only; readers load what they show from the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One change a transaction made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveEvent {
    /// A post was stored for the first time (post id).
    PostNew(u64),
    /// A stored post was edited (`edited_ms` changed): Mastodon's `status.update`.
    PostEdited(u64),
    /// A stored post changed otherwise (counts, poll results): pages may refresh, no API event.
    PostTouched(u64),
    /// A post was deleted: its id and what the streams need to know about it, since it is gone.
    PostDeleted { id: u64, public: bool, local: bool, direct: bool },
    /// A home timeline entry was added (home entry id).
    Home(u64),
    /// A notification was added (notification id).
    Notification(u64),
    /// A keyword filter was added, changed or removed.
    FiltersChanged,
    /// The server is stopping (`Live::shut_down`): live streams end, so their connections close
    /// and their `App` handles go.
    ShuttingDown,
}

/// The events of one commit, in the order the transaction made them, numbered.
#[derive(Debug)]
pub struct Change {
    /// Increases by one per published change (the deck's SSE sends it as `data`).
    pub seq: u64,
    pub events: Vec<LiveEvent>,
}

/// Commits kept for a slow reader before it sees `Lagged` (the deck then reloads everything; a
/// streaming socket that far behind is closed: its client is not reading).
const CAPACITY: usize = 256;

/// The bus: a broadcast channel of `Arc<Change>`.
pub struct Live {
    tx: tokio::sync::broadcast::Sender<Arc<Change>>,
    seq: AtomicU64,
}

impl Default for Live {
    fn default() -> Live {
        Live { tx: tokio::sync::broadcast::channel(CAPACITY).0, seq: AtomicU64::new(0) }
    }
}

impl Live {
    /// A new reader, seeing every change published after this call.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// Tells every reader the server is stopping (server::run, after it stops accepting).
    pub fn shut_down(&self) {
        self.publish(vec![LiveEvent::ShuttingDown]);
    }

    /// Publishes one commit's events (nothing if there are none). Without readers this costs
    /// only the counter.
    pub(super) fn publish(&self, events: Vec<LiveEvent>) {
        if events.is_empty() {
            return;
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(Arc::new(Change { seq, events }));
        }
    }
}
