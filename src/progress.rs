//! Progress of long command-line work (issue 12): `pipit export`, `pipit import-archive`.
//!
//! The work (export.rs, import.rs) calls a [`Reporter`]; the running server turns each report
//! into a `{"progress":{…}}` line on the control socket before its final reply (control.rs),
//! and the command line shows them on one [`Bar`]. With no server running, the command line
//! runs the work itself and the same reporter drives the same bar. Bars and spinners are drawn
//! on standard error when it is a terminal and hidden otherwise (logs, pipes, tests): that rule
//! lives here, in [`bar`] and [`spinner`], for every bar pipit draws. Off a terminal, work
//! that can wait a long time with nothing to show (`pipit import` retrying a dead server)
//! prints plain, throttled [`Lines`] instead.

use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// At most this often a report goes out (the last of a phase always does): ~10 lines a second.
const EVERY: Duration = Duration::from_millis(100);

/// One progress report: `done` of `total` things called `what` (`"posts"`, `"items checked"`…).
/// `total` is None when it is not known up front (a spinner with a count is shown). The last
/// report of a phase has `total == Some(done)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
    pub what: String,
}

/// What the work calls as it goes: cheap to clone, `Send`, and a no-op when nobody listens.
/// Reports are throttled to ~10 a second, except that a new phase and a phase's end
/// ([`Reporter::finish`]) always go out.
#[derive(Clone, Default)]
pub struct Reporter(Option<Arc<Inner>>);

struct Inner {
    sink: Box<dyn Fn(Progress) + Send + Sync>,
    /// The throttle: [`EVERY`] (tests make it long, so that they do not depend on speed).
    every: Duration,
    /// When the last report went out, and its phase.
    last: Mutex<Option<(Instant, String)>>,
}

impl Reporter {
    /// Reports to nobody.
    pub fn none() -> Reporter {
        Reporter(None)
    }

    /// Reports to `sink` (called on the working thread: it must not block for long).
    pub fn new(sink: impl Fn(Progress) + Send + Sync + 'static) -> Reporter {
        Reporter::every(EVERY, sink)
    }

    fn every(every: Duration, sink: impl Fn(Progress) + Send + Sync + 'static) -> Reporter {
        Reporter(Some(Arc::new(Inner { sink: Box::new(sink), every, last: Mutex::new(None) })))
    }

    /// `done` of `total` (None: not known) `what` so far; dropped if one went out less than
    /// 100 ms ago in the same phase.
    pub fn report(&self, what: &str, done: u64, total: Option<u64>) {
        self.send(what, done, total, false);
    }

    /// The end of a phase: `done` of `done`, always sent.
    pub fn finish(&self, what: &str, done: u64) {
        self.send(what, done, Some(done), true);
    }

    fn send(&self, what: &str, done: u64, total: Option<u64>, always: bool) {
        let Some(inner) = &self.0 else { return };
        if !due(&inner.last, inner.every, what, always) {
            return;
        }
        // A count can pass a total read earlier (posts written meanwhile): never done > total.
        let total = total.map(|t| t.max(done));
        (inner.sink)(Progress { done, total, what: what.to_string() });
    }
}

/// The throttle of [`Reporter`] and [`Lines`]: true (and `last` set to now and `what`) when
/// `always`, when the phase `what` differs from the last one, or when `every` has passed.
fn due(last: &Mutex<Option<(Instant, String)>>, every: Duration, what: &str, always: bool) -> bool {
    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let due = match &*last {
        Some((at, phase)) => always || phase != what || now.duration_since(*at) >= every,
        None => true,
    };
    if due {
        *last = Some((now, what.to_string()));
    }
    due
}

/// At most this often a plain progress line goes out within one phase: a log stays readable.
const LINE_EVERY: Duration = Duration::from_secs(5);

/// Plain progress lines on standard error when it is not a terminal (a pipe, a log file, a
/// service's journal), where bars are hidden: `pipit VERB: PHASE: DETAIL`. The first line of
/// a phase always goes out, then at most one every 5 s. On a terminal it prints nothing: the
/// bar shows the same.
pub struct Lines {
    /// `pipit import`: what starts each line.
    prefix: String,
    /// False on a terminal.
    on: bool,
    every: Duration,
    last: Mutex<Option<(Instant, String)>>,
}

impl Lines {
    /// Lines starting with `prefix` (`"pipit import"`), printed only when standard error is
    /// not a terminal.
    pub fn new(prefix: &str) -> Lines {
        use std::io::IsTerminal;
        Lines { prefix: prefix.to_string(), on: !std::io::stderr().is_terminal(), every: LINE_EVERY, last: Mutex::new(None) }
    }

    /// Prints `PREFIX: PHASE: DETAIL` unless a line of the same phase went out less than 5 s ago.
    pub fn show(&self, phase: &str, detail: &str) {
        if let Some(line) = self.line(phase, detail) {
            eprintln!("{line}");
        }
    }

    /// The line [`Lines::show`] prints, if one is due.
    fn line(&self, phase: &str, detail: &str) -> Option<String> {
        (self.on && due(&self.last, self.every, phase, false)).then(|| format!("{}: {phase}: {detail}", self.prefix))
    }
}

/// A bar on standard error when it is a terminal, hidden otherwise. `template` is indicatif's
/// (`{msg}`, `{bar:30}`, `{pos}`, `{len}`, `{bytes}`, `{eta}`…).
pub fn bar(len: u64, what: &str, template: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

/// A spinner on standard error while long work runs (hidden off a terminal).
pub fn spinner(what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(what.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// The command line's view of [`Progress`] reports: a spinner until the first one, then a bar
/// (`posts [=====>   ] 120/400`) when the total is known, or a spinner with a count when not.
#[derive(Clone)]
pub struct Bar {
    pb: indicatif::ProgressBar,
    /// The phase and kind (bar or count) the style is set for.
    style: Arc<Mutex<Option<(String, bool)>>>,
}

impl Bar {
    /// Starts as a spinner saying `what`.
    pub fn new(what: &str) -> Bar {
        Bar { pb: spinner(what), style: Arc::new(Mutex::new(None)) }
    }

    /// Shows one report.
    pub fn show(&self, p: &Progress) {
        if self.pb.is_hidden() {
            return;
        }
        let mut style = self.style.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = (p.what.clone(), p.total.is_some());
        if style.as_ref() != Some(&wanted) {
            // The phase's name is part of the template, so that the new name, count and total
            // are drawn together (set_style does not draw; `update` below does, once).
            let what = format!("{:16}", p.what).replace('{', "{{").replace('}', "}}");
            let template = if wanted.1 { format!("{what} [{{bar:30}}] {{pos}}/{{len}} {{eta}}") } else { format!("{{spinner}} {what} {{pos}}") };
            if let Ok(s) = indicatif::ProgressStyle::with_template(&template) {
                self.pb.set_style(s.progress_chars("=> "));
            }
            *style = Some(wanted);
        }
        self.pb.update(|s| {
            if let Some(total) = p.total {
                s.set_len(total);
            }
            s.set_pos(p.done);
        });
    }

    /// Clears it from the terminal (before the result is printed).
    pub fn finish(&self) {
        self.pb.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_within_a_phase_but_never_drops_a_new_phase_or_an_end() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        // An hour between reports: what goes out does not depend on how fast this runs.
        let r = Reporter::every(Duration::from_secs(3600), move |p| s.lock().unwrap().push(p));
        // A thousand reports in a row: the first goes out, the rest wait.
        for i in 0..1000 {
            r.report("posts", i, Some(1000));
        }
        r.report("media", 0, None); // a new phase
        r.report("media", 1, None); // throttled
        r.finish("media", 7);
        r.finish("media", 7); // an end always goes out
        // Bad input: a count past its total (posts written meanwhile) is capped to done.
        r.finish("late", 3);
        r.report("late2", 12, Some(10));
        let seen = seen.lock().unwrap();
        let got: Vec<(u64, Option<u64>, &str)> = seen.iter().map(|p| (p.done, p.total, p.what.as_str())).collect();
        assert_eq!(got, vec![(0, Some(1000), "posts"), (0, None, "media"), (7, Some(7), "media"), (7, Some(7), "media"), (3, Some(3), "late"), (12, Some(12), "late2")]);
        Reporter::none().report("nothing", 1, None); // no sink, no panic
    }

    #[test]
    fn plain_lines_go_out_per_phase_then_throttled_and_never_on_a_terminal() {
        let l = Lines { prefix: "pipit import".into(), on: true, every: Duration::from_secs(3600), last: Mutex::new(None) };
        assert_eq!(l.line("looking up accounts", "a.csv: 0 of 3").as_deref(), Some("pipit import: looking up accounts: a.csv: 0 of 3"));
        // Bad input: a burst of polls in the same phase: throttled.
        for _ in 0..100 {
            assert_eq!(l.line("looking up accounts", "a.csv: 1 of 3"), None);
        }
        // A new phase (a server stopped answering) always goes out, then waits too.
        assert_eq!(l.line("retrying", "line 4").as_deref(), Some("pipit import: retrying: line 4"));
        assert_eq!(l.line("retrying", "line 4"), None);
        let tty = Lines { prefix: "pipit import".into(), on: false, every: Duration::ZERO, last: Mutex::new(None) };
        assert_eq!(tty.line("retrying", "line 4"), None, "a terminal has the bar instead");
    }
}
