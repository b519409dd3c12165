//! Group commit: writes queued from many concurrent requests (the inbox) run in one transaction,
//! so a burst of deliveries does not cost a commit each. If any write in a group fails, the group
//! is rolled back and each write is retried alone, so one bad write never takes others with it.
//!
//! Durability (issue 15): a group commits with redb's `Durability::None`: its pages stay in
//! redb's in-memory write buffer, visible to every later read, but not on disk. Within
//! `FLUSH_DELAY` of the first such commit this thread makes a durable (fsynced) commit, which
//! writes all of them out at once; any `Store::write` (always durable) does the same earlier.
//! Redb's copy-on-write B-tree rewrites a page per table touched per commit, so writing once a
//! second instead of once per group cuts the bytes written per received post by an order of
//! magnitude (SD-card wear). A group that enqueued deliveries commits durably at once: nothing
//! leaves this server on the strength of state a power cut could still take back.
//! So the caller hears "done" (the inbox answers 202) before the write is durable; it is durable
//! at most `FLUSH_DELAY` later. A crash or power cut inside that window loses those deliveries
//! (their senders got 202 and will not retry); after it, nothing.

use super::{Store, Write};
use crate::error::{Error, Result};
use std::any::Any;
use std::sync::mpsc;
use std::sync::{Arc, Weak};

type Output = Box<dyn Any + Send>;
type Job = Box<dyn Fn(&mut Write) -> Result<Output> + Send>;

pub(super) struct Item {
    run: Job,
    reply: tokio::sync::oneshot::Sender<Result<Output>>,
}

/// Most writes folded into one transaction.
const MAX_GROUP: usize = 256;

/// Longest time a non-durable group commit waits for the durable commit that writes it to disk.
pub const FLUSH_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

pub(super) fn start(slot: Weak<super::Slot>, queue_wake: Arc<tokio::sync::Notify>, live: Arc<super::Live>, generation: Arc<std::sync::atomic::AtomicU64>) -> mpsc::Sender<Item> {
    let (tx, rx) = mpsc::channel::<Item>();
    std::thread::Builder::new()
        .name("pipit-group-commit".into())
        .spawn(move || {
            // When the oldest non-durable commit not yet made durable happened.
            let mut unflushed: Option<std::time::Instant> = None;
            // Ends when every Store handle (and so every sender) is gone.
            loop {
                let first = match unflushed {
                    None => match rx.recv() {
                        Ok(i) => i,
                        Err(_) => return,
                    },
                    Some(since) => match rx.recv_timeout((since + FLUSH_DELAY).saturating_duration_since(std::time::Instant::now())) {
                        Ok(i) => i,
                        Err(e) => {
                            // Deadline (or shutdown): one durable commit writes every earlier
                            // non-durable one to disk.
                            if flush(&slot) {
                                unflushed = None;
                            } else if let mpsc::RecvTimeoutError::Timeout = e {
                                // The database is failing; try again shortly.
                                unflushed = Some(std::time::Instant::now() - FLUSH_DELAY + std::time::Duration::from_millis(200));
                            }
                            if let mpsc::RecvTimeoutError::Disconnected = e {
                                return;
                            }
                            continue;
                        }
                    },
                };
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(i) => group.push(i),
                        Err(_) => break,
                    }
                }
                // Only a weak handle is kept between groups, so closing the store is not delayed.
                let Some(slot) = slot.upgrade() else {
                    for i in group {
                        let _ = i.reply.send(Err(Error::Store("the database is closed".into())));
                    }
                    return;
                };
                let db = match slot.get() {
                    Ok(db) => db,
                    Err(e) => {
                        for i in group {
                            let _ = i.reply.send(Err(Error::Unavailable(e.to_string())));
                        }
                        continue;
                    }
                };
                let durable_commits = std::cell::Cell::new(false);
                let run_all = |items: &[&Item]| -> Result<(Vec<Output>, bool, Vec<super::LiveEvent>)> {
                    let mut w = Write { tx: db.begin_write()?, wake_queue: false, live: Vec::new(), reserved: Default::default() };
                    let mut outs = Vec::with_capacity(items.len());
                    for i in items {
                        outs.push((i.run)(&mut w)?);
                    }
                    let (wake, events) = (w.wake_queue, std::mem::take(&mut w.live));
                    if wake {
                        durable_commits.set(true); // deliveries were enqueued: durable now
                    } else {
                        w.tx.set_durability(redb::Durability::None).map_err(|e| Error::Store(e.to_string()))?;
                    }
                    w.tx.commit()?;
                    Ok((outs, wake, events))
                };
                let run_all = |items: &[&Item]| slot.check(run_all(items));
                let refs: Vec<&Item> = group.iter().collect();
                let mut results: Vec<Result<Output>> = Vec::with_capacity(group.len());
                let (mut wake, mut events) = (false, Vec::new());
                match run_all(&refs) {
                    Ok((outs, w, n)) => {
                        slot.write_failed.store(false, std::sync::atomic::Ordering::SeqCst);
                        wake |= w;
                        events.extend(n);
                        results.extend(outs.into_iter().map(Ok));
                    }
                    Err(e) if group.len() == 1 => results.push(Err(e)),
                    Err(_) => {
                        for i in &group {
                            match run_all(&[i]) {
                                Ok((mut outs, w, n)) => {
                                    wake |= w;
                                    events.extend(n);
                                    results.push(Ok(outs.remove(0)));
                                }
                                Err(e) => results.push(Err(e)),
                            }
                        }
                    }
                }
                drop(db);
                if results.iter().any(|r| r.is_ok()) {
                    generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                if durable_commits.get() {
                    unflushed = None; // that commit wrote the earlier ones out too
                } else if unflushed.is_none() && results.iter().any(|r| r.is_ok()) {
                    unflushed = Some(std::time::Instant::now());
                }
                drop(slot);
                if wake {
                    queue_wake.notify_one();
                }
                live.publish(events);
                for (i, r) in group.into_iter().zip(results) {
                    let _ = i.reply.send(r);
                }
            }
        })
        .expect("spawning the group-commit thread");
    tx
}

/// One empty durable commit: writes every earlier non-durable commit to disk and fsyncs.
/// False if the database is gone or failing (the caller tries again later).
fn flush(slot: &Weak<super::Slot>) -> bool {
    let Some(slot) = slot.upgrade() else { return true }; // closed: redb flushed on drop
    let Ok(db) = slot.get() else { return false };
    let r = (|| -> Result<()> {
        let tx = db.begin_write()?;
        tx.commit()?;
        Ok(())
    })();
    match slot.check(r) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("store: the periodic durable commit failed: {e}");
            false
        }
    }
}

impl Store {
    /// Like `write`, but may share its transaction with other concurrent callers, and returns
    /// before the write is durable: it is on disk at most `FLUSH_DELAY` (1 s) later (see the
    /// module doc). For data that may wait that long (inbox deliveries); never for passwords,
    /// keys or settings. `f` may run twice (once in a group that failed, once alone), so it must only write to
    /// the store.
    pub async fn write_grouped<T: Send + 'static>(&self, f: impl Fn(&mut Write) -> Result<T> + Send + 'static) -> Result<T> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let run: Job = Box::new(move |w| f(w).map(|t| Box::new(t) as Output));
        self.group
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Item { run, reply })
            .map_err(|_| Error::Store("the group-commit writer stopped".into()))?;
        let out = rx.await.map_err(|_| Error::Store("the group-commit writer stopped".into()))??;
        out.downcast::<T>().map(|b| *b).map_err(|_| Error::Internal("group commit: wrong output type".into()))
    }
}
