//! A probe's sampling thread: set up once (its clients), then one tick a second until the run's
//! wrap-up asks for what it kept. A thread of its own because the clients' requests block.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Ticker<T> {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<T>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Clone + Send + 'static> Ticker<T> {
    /// Runs `setup` on a new thread named `name`; the tick it returns (none: nothing to sample)
    /// then runs once a second, and what each tick returns is kept.
    pub fn start<S, F>(name: &str, setup: S) -> Self
    where
        S: FnOnce() -> Option<F> + Send + 'static,
        F: FnMut() -> Vec<T>,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let samples: Arc<Mutex<Vec<T>>> = Arc::default();
        let (flag, out) = (stop.clone(), samples.clone());
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let Some(mut tick) = setup() else {
                    return;
                };
                while !flag.load(Ordering::SeqCst) {
                    let t0 = Instant::now();
                    let batch = tick();
                    if let Ok(mut s) = out.lock() {
                        s.extend(batch);
                    }
                    std::thread::sleep(Duration::from_secs(1).saturating_sub(t0.elapsed()));
                }
            })
            .ok();
        Self {
            stop,
            samples,
            thread,
        }
    }

    /// Stops the thread and returns every sample.
    pub async fn finish(mut self) -> Vec<T> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}
