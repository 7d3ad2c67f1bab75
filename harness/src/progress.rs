//! Progress lines on stderr, each stamped with the time since the run started.

use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Progress {
    start: Instant,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        Self {
            start: Instant::now(),
            quiet,
        }
    }

    /// The run's time origin: every time in a report counts from here.
    pub fn epoch(&self) -> Instant {
        self.start
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("[{:7.1}s] {}", self.elapsed_secs(), msg.as_ref());
        }
    }
}
