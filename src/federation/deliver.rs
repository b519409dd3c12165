//! The delivery worker: drains the redb queue. A Fanout job expands, in batches, into one Deliver
//! job per unique inbox (shared inboxes preferred, deduplicated in the store); a Deliver job signs
//! and POSTs one activity to one inbox. Global and per-host concurrency are bounded (the host slot
//! is taken first, hosts are interleaved, unanswered deliveries move to a slow lane); failures back
//! off like Mastodon (attempt⁴ + 15 s + jitter, ~2–3 days over 16 attempts); a host that keeps
//! failing opens a circuit breaker. Jobs are only removed after the outcome is known, so a
//! crash re-delivers (at least once), never loses.

use crate::app::App;
use crate::federation::signer::Format;
use crate::model::{Job, JobKind};
use crate::time::now_ms;
use hyper::body::Bytes;
use hyper::{Method, StatusCode};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Followers handled per fan-out transaction.
const FANOUT_BATCH: usize = 200;
/// Consecutive failures that open a host's circuit, and for how long.
const BREAKER_FAILURES: u32 = 10;
const BREAKER_OPEN_MS: u64 = 60_000;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again later (network error, 401/408/429, 5xx); Some(ms) = the server's Retry-After.
    Retry(String, Option<u64>),
    /// Will never work (other 4xx, bad URL): keep as a dead letter.
    Drop(String),
}

#[derive(Default)]
struct Hosts {
    limits: HashMap<String, Arc<Semaphore>>,
    /// host → (consecutive failures, circuit open until)
    breaker: HashMap<String, (u32, u64)>,
}

/// Tasks waiting for or holding a global slot, at most this many times `delivery_concurrency`.
const WAITING_FACTOR: usize = 4;
/// A delivery still unanswered after this long hands its global slot on and waits in the slow
/// lane (at most SLOW_FACTOR × `delivery_concurrency` there), so hosts that accept and never
/// answer cannot hold every slot while healthy hosts wait.
const SLOW_AFTER: Duration = Duration::from_secs(1);
const SLOW_FACTOR: usize = 8;
/// Due jobs looked at per round when picking (bounds the read when a backlog is blocked).
const SCAN: usize = 4096;

/// The worker's shared limits: global slots, the slow lane, and the tasks it has started.
struct Slots {
    global: Arc<Semaphore>,
    slow: Arc<Semaphore>,
    /// Started tasks not (yet) in the slow lane.
    active: std::sync::atomic::AtomicUsize,
}

/// Runs until the process ends (the task is aborted on shutdown; jobs in flight are retried
/// after restart because they are still in the queue).
///
/// Fairness: a job is only started once its host has a free per-host slot (taken here, before
/// the global one), and each round picks due jobs across hosts, so one host's backlog or a
/// crowd of slow hosts never keeps a healthy host waiting.
pub async fn run(app: App) {
    let concurrency = app.config.delivery_concurrency.max(1) as usize;
    let slots = Arc::new(Slots { global: Arc::new(Semaphore::new(concurrency)), slow: Arc::new(Semaphore::new(concurrency * SLOW_FACTOR)), active: Default::default() });
    let running: Arc<Mutex<HashSet<u64>>> = Default::default();
    let hosts: Arc<Mutex<Hosts>> = Default::default();
    let per_host = app.config.delivery_per_host.max(1) as usize;
    loop {
        let now = now_ms();
        let room = (concurrency * WAITING_FACTOR).saturating_sub(slots.active.load(std::sync::atomic::Ordering::SeqCst));
        let mut taken: Vec<(Job, Option<tokio::sync::OwnedSemaphorePermit>)> = Vec::new();
        if room > 0 {
            let running_now = running.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let mut per_batch: HashMap<String, usize> = HashMap::new();
            let picked = app.store.read(|r| {
                r.due_jobs_picked(now, room, SCAN, &mut |job| {
                    if running_now.contains(&job.id) {
                        return false;
                    }
                    let JobKind::Deliver { inbox, .. } = &job.what else { return true };
                    // Only as many of one host's jobs as it has free slots: the rest stay queued
                    // and the next host's job is picked instead.
                    let host = crate::federation::vocab::host_of(inbox).unwrap_or_default();
                    let free = {
                        let mut h = hosts.lock().unwrap_or_else(|e| e.into_inner());
                        h.limits.entry(host.clone()).or_insert_with(|| Arc::new(Semaphore::new(per_host))).available_permits()
                    };
                    let n = per_batch.entry(host).or_default();
                    *n += 1;
                    *n <= free
                })
            });
            match picked {
                Ok(jobs) => {
                    for job in jobs {
                        let permit = match &job.what {
                            JobKind::Deliver { inbox, .. } => {
                                let host = crate::federation::vocab::host_of(inbox).unwrap_or_default();
                                let limit = hosts.lock().unwrap_or_else(|e| e.into_inner()).limits.get(&host).cloned();
                                match limit.map(|l| l.try_acquire_owned()) {
                                    Some(Ok(p)) => Some(p),
                                    _ => continue, // taken meanwhile: a later round
                                }
                            }
                            JobKind::Fanout { .. } | JobKind::Import { .. } | JobKind::Publish { .. } | JobKind::PublishScheduled { .. } | JobKind::Webmention { .. } | JobKind::WebSub { .. } | JobKind::PollUpdate { .. } | JobKind::Crosspost { .. } => None,
                        };
                        taken.push((job, permit));
                    }
                }
                Err(e) => {
                    tracing::warn!("delivery queue: {e}");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                }
            }
        }
        if taken.is_empty() {
            let next = app.store.read(|r| r.next_due()).ok().flatten();
            let wait = match next {
                Some(due) if due > now => Duration::from_millis((due - now).min(60_000)),
                // Due but running, or waiting for a host's or the worker's slots: a finishing
                // job wakes us.
                Some(_) => Duration::from_millis(1000),
                None => Duration::from_secs(60),
            };
            tokio::select! {
                _ = app.store.queue_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        for (job, host_permit) in taken {
            running.lock().unwrap_or_else(|e| e.into_inner()).insert(job.id);
            slots.active.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (app, running, hosts, slots) = (app.clone(), running.clone(), hosts.clone(), slots.clone());
            tokio::spawn(async move {
                let id = job.id;
                let mut in_slow_lane = false;
                if let Ok(global) = slots.global.clone().acquire_owned().await {
                    let work = process(&app, job, &hosts);
                    tokio::pin!(work);
                    tokio::select! {
                        _ = &mut work => drop(global),
                        _ = tokio::time::sleep(SLOW_AFTER) => {
                            // Unanswered for a while: give the global slot to the next host if
                            // the slow lane has room, and keep waiting for this one.
                            match slots.slow.clone().try_acquire_owned() {
                                Ok(slow) => {
                                    drop(global);
                                    in_slow_lane = true;
                                    slots.active.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                                    app.store.queue_wake.notify_one();
                                    work.await;
                                    drop(slow);
                                }
                                Err(_) => {
                                    work.await;
                                    drop(global);
                                }
                            }
                        }
                    }
                }
                drop(host_permit);
                if !in_slow_lane {
                    slots.active.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
                running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                app.store.queue_wake.notify_one();
            });
        }
    }
}

async fn process(app: &App, job: Job, hosts: &Mutex<Hosts>) {
    let result = match &job.what {
        JobKind::Fanout { activity, audience, cursor } => fanout(app, job.id, job.created_ms, *activity, audience, cursor.clone()),
        JobKind::Deliver { activity, inbox } => {
            deliver_job(app, &job, *activity, inbox, hosts).await;
            Ok(())
        }
        // CSV imports look accounts up through this queue: restarts and backoff come with it.
        JobKind::Import { import } => crate::import::run_job(app, job.id, *import).await,
        // Timers of issue 14 (undo window, scheduled posts): each ends its job itself.
        JobKind::Publish { post } => {
            let (app2, id, post) = (app.clone(), job.id, *post);
            tokio::task::spawn_blocking(move || crate::domain::posts::release(&app2, id, post)).await.unwrap_or_else(|e| Err(crate::error::Error::Internal(e.to_string())))
        }
        JobKind::PublishScheduled { scheduled } => crate::actions::publish_scheduled_due(app, job.id, *scheduled).await,
        JobKind::Webmention { source, target } => {
            crate::federation::webmention::send_job(app, &job, source, target).await;
            Ok(())
        }
        JobKind::WebSub { topics } => {
            crate::federation::websub::ping_job(app, &job, topics).await;
            Ok(())
        }
        JobKind::PollUpdate { post } => {
            let (app2, id, post) = (app.clone(), job.id, *post);
            tokio::task::spawn_blocking(move || crate::domain::polls::send_update(&app2, id, post)).await.unwrap_or_else(|e| Err(crate::error::Error::Internal(e.to_string())))
        }
        JobKind::Crosspost { post, account, op } => {
            crate::federation::crosspost::run_job(app, &job, *post, account, op).await;
            Ok(())
        }
    };
    if let Err(e) = result {
        tracing::warn!("job {}: {e}", job.id);
        let _ = app.store.write(|w| w.retry_job(job.id, now_ms() + 60_000, &e.to_string(), true));
    }
}

/// One batch of a fan-out: claims each follower's (shared) inbox and enqueues a Deliver for the
/// new ones, all in one transaction with the cursor, so a crash resumes where it stopped.
/// Followers who arrived after the activity was created are skipped: a followers-only post goes
/// to those who were followers when it was written, not to whoever is approved later.
fn fanout(app: &App, id: u64, created_ms: u64, activity: u64, audience: &crate::model::Audience, cursor: Option<String>) -> crate::error::Result<()> {
    app.store.write(|w| {
        let now = now_ms();
        let mut next_cursor = None;
        if audience.followers {
            let batch = w.followers_batch(cursor.as_deref(), FANOUT_BATCH)?;
            let full = batch.len() == FANOUT_BATCH;
            for (uri, f) in &batch {
                let blocked_host = crate::federation::vocab::host_of(&f.inbox).map(|h| w.is_domain_blocked(&h)).transpose()?.unwrap_or(false);
                if f.since_ms < created_ms && !blocked_host && w.fanout_claim(id, &f.inbox)? {
                    w.enqueue(JobKind::Deliver { activity, inbox: f.inbox.clone() }, now)?;
                }
                next_cursor = Some(uri.clone());
            }
            if full {
                w.update_fanout_cursor(id, next_cursor)?;
                return Ok(());
            }
        }
        for inbox in &audience.inboxes {
            // A follower's server with a shared inbox already gets it there.
            let shared = w.actor_by_inbox_shared(inbox)?;
            let target = shared.unwrap_or_else(|| inbox.clone());
            if w.fanout_claim(id, &target)? {
                w.enqueue(JobKind::Deliver { activity, inbox: target }, now)?;
            }
        }
        w.fanout_clear(id)?;
        w.finish_job(id)
    })
}

/// An Undo or Reject of a Follow: what a domain block itself sends to end the relationships
/// there (domain::follows::end_relationships_on), so it is delivered despite the block.
fn is_farewell(app: &App, activity: u64) -> bool {
    let Ok(Some(bytes)) = app.store.read(|r| r.activity(activity)) else { return false };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return false };
    use crate::federation::vocab::has_type;
    (has_type(&v, "Undo") || has_type(&v, "Reject")) && v.get("object").map(|o| has_type(o, "Follow")).unwrap_or(false)
}

async fn deliver_job(app: &App, job: &Job, activity: u64, inbox: &str, hosts: &Mutex<Hosts>) {
    let host = crate::federation::vocab::host_of(inbox).unwrap_or_default();
    let now = now_ms();
    if app.store.read(|r| r.is_domain_blocked(&host)).unwrap_or(false) && !is_farewell(app, activity) {
        let _ = app.store.write(|w| w.kill_job(job.id, "domain blocked"));
        return;
    }
    let open_until = {
        let h = hosts.lock().unwrap_or_else(|e| e.into_inner());
        h.breaker.get(&host).filter(|(n, _)| *n >= BREAKER_FAILURES).map(|(_, until)| *until).filter(|&u| u > now)
    };
    if let Some(until) = open_until {
        let _ = app.store.write(|w| w.retry_job(job.id, until, "host circuit open: too many failures", false));
        return;
    }
    let body = match app.store.read(|r| r.activity(activity)) {
        Ok(Some(b)) => Bytes::from(b),
        Ok(None) => {
            let _ = app.store.write(|w| w.kill_job(job.id, "activity no longer stored"));
            return;
        }
        Err(e) => {
            tracing::warn!("delivery {}: {e}", job.id);
            return;
        }
    };
    let outcome = post(app, inbox, body).await;
    let mut h = hosts.lock().unwrap_or_else(|e| e.into_inner());
    let result = match &outcome {
        Outcome::Delivered => {
            h.breaker.remove(&host);
            drop(h);
            app.store.write(|w| w.finish_job(job.id))
        }
        Outcome::Retry(why, retry_after) => {
            let e = h.breaker.entry(host.clone()).or_insert((0, 0));
            e.0 += 1;
            if e.0 >= BREAKER_FAILURES {
                e.1 = now_ms() + BREAKER_OPEN_MS;
            }
            drop(h);
            if job.attempts + 1 >= app.config.delivery_max_attempts {
                app.store.write(|w| w.kill_job(job.id, &format!("gave up after {} attempts: {why}", job.attempts + 1)))
            } else {
                let delay = retry_after.unwrap_or_else(|| backoff_ms(app, job.attempts + 1));
                app.store.write(|w| w.retry_job(job.id, now_ms() + delay, why, true))
            }
        }
        Outcome::Drop(why) => {
            drop(h);
            app.store.write(|w| w.kill_job(job.id, why))
        }
    };
    if let Err(e) = result {
        tracing::warn!("delivery {}: recording outcome: {e}", job.id);
    }
    tracing::debug!(inbox, attempts = job.attempts + 1, ?outcome, "delivery");
}

/// Mastodon's schedule: attempt⁴ + 15 s, plus up to half of attempt⁴ again as jitter. The unit
/// is configurable so tests can run the real schedule in milliseconds.
pub fn backoff_ms(app: &App, attempt: u32) -> u64 {
    let base = (attempt as u64).pow(4) + 15;
    let mut r = [0u8; 4];
    crate::secret::fill(&mut r);
    let jitter = (u32::from_le_bytes(r) as u64) % ((attempt as u64).pow(4) / 2 + 1);
    (base + jitter) * app.config.delivery_backoff_unit_ms
}

/// Is `body` (an activity we serialised) the instance actor's (relay Follow/Undo)? Then it is
/// signed with the instance key. Our JSON is compact, so the top-level pair reads exactly so.
fn is_instance_activity(app: &App, body: &[u8]) -> bool {
    let needle = format!("\"actor\":\"{}/actor\"", app.urls.base);
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Signs and POSTs one activity. On 401 it knocks again with the other signature format
/// (servers differ in which they accept); the format that worked is not remembered yet.
pub async fn post(app: &App, inbox: &str, body: Bytes) -> Outcome {
    let signer = if is_instance_activity(app, &body) { app.instance_signer() } else { app.owner_signer() };
    let mut last = Outcome::Retry("not sent".into(), None);
    for format in [Format::Cavage, Format::Rfc9421] {
        let b = body.clone();
        let r = app
            .http
            .send(Method::POST, inbox, &[("content-type", "application/activity+json".to_string()), ("accept", "application/activity+json".to_string())], Some(b.clone()), &|req| signer.sign(req, Some(&b), format))
            .await;
        last = classify(r);
        match &last {
            Outcome::Retry(why, _) if why.starts_with("HTTP 401") => continue,
            _ => return last,
        }
    }
    last
}

fn classify(r: crate::error::Result<crate::federation::client::Fetched>) -> Outcome {
    match r {
        Err(e) => {
            let msg = e.to_string();
            // A URL we refuse to reach (private address, bad scheme) will never work.
            if msg.contains("private or loopback") || msg.contains("only http and https") || msg.contains("not a URL") {
                Outcome::Drop(msg)
            } else {
                Outcome::Retry(msg, None)
            }
        }
        Ok(f) => {
            let s = f.status;
            let retry_after = f.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok()).map(|secs| secs.min(86_400) * 1000);
            if s.is_success() {
                Outcome::Delivered
            } else if s == StatusCode::UNAUTHORIZED || s == StatusCode::REQUEST_TIMEOUT || s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() {
                Outcome::Retry(format!("HTTP {}", s.as_u16()), retry_after)
            } else {
                Outcome::Drop(format!("HTTP {}", s.as_u16()))
            }
        }
    }
}
