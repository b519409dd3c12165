//! The connection cap (config `max_connections`): every open client connection is registered
//! with the time it was last active and whether a request is being answered on it. At the cap,
//! a new connection sheds the one idle longest (keep-alive connections between requests, and
//! clients still dribbling their headers); busy connections are never cut.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

struct Entry {
    /// Last time a request started or finished (or the connection opened).
    last: Instant,
    /// Requests being answered right now.
    busy: u32,
    close: Arc<Notify>,
}

#[derive(Clone)]
pub struct Conns(Arc<Inner>);

struct Inner {
    cap: usize,
    next: Mutex<(u64, HashMap<u64, Entry>)>,
}

/// One admitted connection; unregisters itself when the last clone is dropped.
#[derive(Clone)]
pub struct Conn(Arc<Handle>);

struct Handle {
    id: u64,
    conns: Conns,
    close: Arc<Notify>,
}

/// Marks its connection busy while alive.
pub struct Busy(Conn);

impl Conns {
    pub fn new(cap: usize) -> Conns {
        Conns(Arc::new(Inner { cap: cap.max(1), next: Mutex::new((0, HashMap::new())) }))
    }

    /// Registers a new connection, shedding the idlest one first when at the cap. None when
    /// every open connection is busy.
    pub fn admit(&self) -> Option<Conn> {
        let mut g = self.0.next.lock().unwrap_or_else(|e| e.into_inner());
        let (next, map) = &mut *g;
        if map.len() >= self.0.cap {
            let idlest = map.iter().filter(|(_, e)| e.busy == 0).min_by_key(|(_, e)| e.last).map(|(id, _)| *id)?;
            if let Some(e) = map.remove(&idlest) {
                e.close.notify_one();
            }
        }
        *next += 1;
        let close = Arc::new(Notify::new());
        map.insert(*next, Entry { last: Instant::now(), busy: 0, close: close.clone() });
        Some(Conn(Arc::new(Handle { id: *next, conns: self.clone(), close })))
    }

    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.0.next.lock().unwrap_or_else(|e| e.into_inner()).1.len()
    }

    fn touch(&self, id: u64, delta: i32) {
        let mut g = self.0.next.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = g.1.get_mut(&id) {
            e.busy = e.busy.saturating_add_signed(delta);
            e.last = Instant::now();
        }
    }
}

impl Conn {
    /// Resolves when the connection was shed to make room.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + 'static {
        let close = self.0.close.clone();
        async move { close.notified().await }
    }

    /// Marks the connection busy until the returned guard is dropped.
    pub fn busy(&self) -> Busy {
        self.0.conns.touch(self.0.id, 1);
        Busy(self.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0 .0.conns.touch(self.0 .0.id, -1);
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.conns.0.next.lock().unwrap_or_else(|e| e.into_inner()).1.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sheds_the_idlest_never_the_busy() {
        let c = Conns::new(2);
        let a = c.admit().unwrap();
        let b = c.admit().unwrap();
        let _busy = a.busy();
        let shed_b = b.closed();
        let _c = c.admit().expect("b is idle: it makes room");
        assert_eq!(c.open(), 2);
        drop(b); // its task ends after the close notice
        // Now a (busy) and _c (idle, newest) are open: the next one sheds _c, never a.
        let _d = c.admit().unwrap();
        drop(_busy);
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        rt.block_on(async { tokio::time::timeout(std::time::Duration::from_secs(1), shed_b).await.expect("b was told to close") });
        let _ = a;
    }
}
