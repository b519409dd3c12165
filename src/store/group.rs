//! Group commit: writes queued from many concurrent requests (the inbox) run in one transaction
//! and share one fsync, so a burst of deliveries does not cost a disk flush each. Every write
//! is still durable before its caller hears "done". If any write in a group fails, the group is
//! rolled back and each write is retried alone, so one bad write never takes others with it.

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

pub(super) fn start(slot: Weak<super::Slot>, queue_wake: Arc<tokio::sync::Notify>, live: Arc<super::Live>) -> mpsc::Sender<Item> {
    let (tx, rx) = mpsc::channel::<Item>();
    std::thread::Builder::new()
        .name("pipit-group-commit".into())
        .spawn(move || {
            // Ends when every Store handle (and so every sender) is gone.
            while let Ok(first) = rx.recv() {
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
                let run_all = |items: &[&Item]| -> Result<(Vec<Output>, bool, Vec<super::LiveEvent>)> {
                    let mut w = Write { tx: db.begin_write()?, wake_queue: false, live: Vec::new(), reserved: Default::default() };
                    let mut outs = Vec::with_capacity(items.len());
                    for i in items {
                        outs.push((i.run)(&mut w)?);
                    }
                    let (wake, events) = (w.wake_queue, std::mem::take(&mut w.live));
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

impl Store {
    /// Like `write`, but may share its transaction (and fsync) with other concurrent callers.
    /// `f` may run twice (once in a group that failed, once alone), so it must only write to
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
