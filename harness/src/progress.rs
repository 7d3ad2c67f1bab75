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

    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("[{:7.1}s] {}", self.elapsed_secs(), msg.as_ref());
        }
    }
}
