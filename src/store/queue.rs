//! The delivery queue: `jobid_job` + `due_jobid` (due order) + `fanout_inbox` (dedupe) +
//! `deadid_job`. Jobs are written in the same transaction as the change that causes them, so a
//! post and its deliveries exist together or not at all; a crash loses nothing.

use super::{alloc::IdSpace, from_json, tables::*, to_json, Read, Write};
use crate::error::Result;
use crate::model::{Follower, Job, JobKind};
use redb::{ReadableTable, ReadableTableMetadata};

#[derive(Debug, Default, serde::Serialize)]
pub struct QueueStats {
    pub pending: u64,
    pub dead: u64,
}

impl Read {
    /// Up to `limit` jobs due at `now`, earliest first, skipping ids in `skip` (already running).
    pub fn due_jobs(&self, now_ms: u64, limit: usize, skip: &dyn Fn(u64) -> bool) -> Result<Vec<Job>> {
        let due = self.tx.open_table(DUE_JOBID)?;
        let jobs = self.tx.open_table(JOBID_JOB)?;
        let mut out = Vec::new();
        for entry in due.range((0u64, 0u64)..=(now_ms, u64::MAX))? {
            let (k, _) = entry?;
            let id = k.value().1;
            if skip(id) {
                continue;
            }
            if let Some(v) = jobs.get(id)? {
                out.push(from_json(v.value(), "job")?);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` due jobs, earliest first, that `pick` accepts (it sees each candidate once and
    /// may count what it took, e.g. per host); at most `scan` candidates are looked at, so a long
    /// backlog of jobs nobody can take now costs a bounded read.
    pub fn due_jobs_picked(&self, now_ms: u64, limit: usize, scan: usize, pick: &mut dyn FnMut(&Job) -> bool) -> Result<Vec<Job>> {
        let due = self.tx.open_table(DUE_JOBID)?;
        let jobs = self.tx.open_table(JOBID_JOB)?;
        let mut out = Vec::new();
        for entry in due.range((0u64, 0u64)..=(now_ms, u64::MAX))?.take(scan) {
            let (k, _) = entry?;
            if let Some(v) = jobs.get(k.value().1)? {
                let job: Job = from_json(v.value(), "job")?;
                if pick(&job) {
                    out.push(job);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// When the earliest job is due (None: queue empty).
    pub fn next_due(&self) -> Result<Option<u64>> {
        let due = self.tx.open_table(DUE_JOBID)?;
        let first = due.first()?;
        Ok(first.map(|(k, _)| k.value().0))
    }

    pub fn queue_stats(&self) -> Result<QueueStats> {
        Ok(QueueStats { pending: self.tx.open_table(JOBID_JOB)?.len()?, dead: self.tx.open_table(DEADID_JOB)?.len()? })
    }

    /// Pending jobs in due order, at most `limit`.
    pub fn pending_jobs(&self, limit: usize) -> Result<Vec<Job>> {
        self.due_jobs(u64::MAX - 1, limit, &|_| false)
    }

    /// Dead letters, newest first, at most `limit`.
    pub fn dead_jobs(&self, limit: usize) -> Result<Vec<Job>> {
        let t = self.tx.open_table(DEADID_JOB)?;
        let mut out = Vec::new();
        for e in t.iter()?.rev().take(limit) {
            out.push(from_json(e?.1.value(), "job")?);
        }
        Ok(out)
    }

    pub fn activity(&self, id: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.tx.open_table(ACTIVITYID_ACTIVITY)?.get(id)?.map(|v| v.value().to_vec()))
    }
}

impl Write {
    /// Adds a job; the delivery worker is woken when this transaction commits.
    pub fn enqueue(&mut self, what: JobKind, due_ms: u64) -> Result<u64> {
        let now = crate::time::now_ms();
        let id = self.new_id(IdSpace::Jobs, now)?;
        let job = Job { id, what, attempts: 0, due_ms, created_ms: now, last_error: None };
        self.put_job(&job)?;
        self.wake_queue = true;
        Ok(id)
    }

    /// Writes a job that is not in `jobid_job`: a new one, or one `take_job` just removed to
    /// change it. An existing job at that id is a conflict, never replaced.
    fn put_job(&mut self, job: &Job) -> Result<()> {
        self.insert_new(JOBID_JOB, job.id, to_json(job)?.as_slice())?;
        self.tx.open_table(DUE_JOBID)?.insert((job.due_ms, job.id), ())?;
        Ok(())
    }

    fn take_job(&mut self, id: u64) -> Result<Option<Job>> {
        let job: Option<Job> = {
            let t = self.tx.open_table(JOBID_JOB)?;
            let v = t.get(id)?;
            v.map(|v| from_json(v.value(), "job")).transpose()?
        };
        if let Some(j) = &job {
            self.tx.open_table(JOBID_JOB)?.remove(id)?;
            self.tx.open_table(DUE_JOBID)?.remove((j.due_ms, id))?;
        }
        Ok(job)
    }

    /// Moves a job to `due_ms` without counting an attempt or noting an error: a job that works
    /// in steps (an import waiting for its next due row) goes on then.
    pub fn reschedule_job(&mut self, id: u64, due_ms: u64) -> Result<()> {
        if let Some(mut j) = self.take_job(id)? {
            j.due_ms = due_ms;
            self.put_job(&j)?;
            self.wake_queue = true;
        }
        Ok(())
    }

    /// Done: remove it.
    pub fn finish_job(&mut self, id: u64) -> Result<()> {
        self.take_job(id)?;
        Ok(())
    }

    /// Try again at `due_ms`. `count_attempt` is false when we skipped it (host circuit open).
    pub fn retry_job(&mut self, id: u64, due_ms: u64, error: &str, count_attempt: bool) -> Result<()> {
        if let Some(mut j) = self.take_job(id)? {
            if count_attempt {
                j.attempts += 1;
            }
            j.due_ms = due_ms;
            j.last_error = Some(error.chars().take(300).collect());
            self.put_job(&j)?;
        }
        Ok(())
    }

    /// Gave up: keep it as a dead letter with the reason.
    pub fn kill_job(&mut self, id: u64, error: &str) -> Result<()> {
        if let Some(mut j) = self.take_job(id)? {
            j.attempts += 1;
            j.last_error = Some(error.chars().take(300).collect());
            // Job ids are allocated against both tables (IdSpace::Jobs), so the key is free.
            self.insert_new(DEADID_JOB, id, to_json(&j)?.as_slice())?;
            if let JobKind::Fanout { .. } = j.what {
                self.fanout_clear(id)?;
            }
        }
        Ok(())
    }

    /// Saves a fan-out's progress.
    pub fn update_fanout_cursor(&mut self, id: u64, cursor: Option<String>) -> Result<()> {
        if let Some(mut j) = self.take_job(id)? {
            if let JobKind::Fanout { cursor: c, .. } = &mut j.what {
                *c = cursor;
            }
            self.put_job(&j)?;
        }
        Ok(())
    }

    /// True the first time an inbox is claimed for a fan-out.
    pub fn fanout_claim(&mut self, fanout: u64, inbox: &str) -> Result<bool> {
        let mut t = self.tx.open_table(FANOUT_INBOX)?;
        let existed = t.insert((fanout, inbox), ())?.is_some();
        Ok(!existed)
    }

    pub fn fanout_clear(&mut self, fanout: u64) -> Result<()> {
        let mut t = self.tx.open_table(FANOUT_INBOX)?;
        t.retain_in((fanout, "")..(fanout + 1, ""), |_, _| false)?;
        Ok(())
    }

    /// Followers after `cursor` (exclusive), at most `limit`, in actor-id order.
    pub fn followers_batch(&self, cursor: Option<&str>, limit: usize) -> Result<Vec<(String, Follower)>> {
        let t = self.tx.open_table(FOLLOWERURI_FOLLOWER)?;
        let mut out = Vec::new();
        let range = match cursor {
            Some(c) => t.range::<&str>((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))?,
            None => t.range::<&str>(..)?,
        };
        for e in range.take(limit) {
            let (k, v) = e?;
            out.push((k.value().to_string(), from_json(v.value(), "follower")?));
        }
        Ok(out)
    }

    /// Stores an activity the owner sent under `id` (from `new_id(IdSpace::Activities, …)`).
    /// An activity already stored there is a conflict error, never replaced.
    pub fn put_activity(&mut self, id: u64, json: &serde_json::Value) -> Result<()> {
        self.insert_new(ACTIVITYID_ACTIVITY, id, to_json(json)?.as_slice())
    }

    pub fn activity(&self, id: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.tx.open_table(ACTIVITYID_ACTIVITY)?.get(id)?.map(|v| v.value().to_vec()))
    }
}
