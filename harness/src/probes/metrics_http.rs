//! A minimal HTTP/1.1 endpoint on 127.0.0.1 that serves `GET /metrics` (Prometheus text) for as long
//! as a run lasts. One request per connection; the body is rendered afresh for every request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Renders the exposition for one scrape.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// A request head larger than this is refused: scrapers send a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

pub struct MetricsServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MetricsServer {
    /// Listens on 127.0.0.1:`port` (0: a port the system picks).
    pub async fn start(port: u16, render: Render) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            tokio::spawn(serve(stream, render.clone()));
                        }
                    }
                }
            }
        });
        Ok(Self { addr, stop, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Stops listening; the port is free once this returns.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn serve(mut stream: TcpStream, render: Render) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0_u8; 1024];
    let complete = tokio::time::timeout(READ_TIMEOUT, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                return true;
            }
            if head.len() > MAX_HEAD {
                return false;
            }
        }
    })
    .await
    .unwrap_or(false);
    let response = if complete {
        respond(&head, &*render)
    } else {
        reply(
            "400 Bad Request",
            "text/plain",
            "incomplete request\n".into(),
            false,
        )
    };
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

fn respond(head: &[u8], render: &(dyn Fn() -> String + Send + Sync)) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut parts = text.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let head_only = method == "HEAD";
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => reply("200 OK", CONTENT_TYPE, render(), head_only),
        ("GET" | "HEAD", "/") => reply(
            "200 OK",
            "text/plain",
            "kafka-harness canary: GET /metrics\n".into(),
            head_only,
        ),
        ("GET" | "HEAD", _) => reply(
            "404 Not Found",
            "text/plain",
            "not found\n".into(),
            head_only,
        ),
        _ => reply(
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".into(),
            false,
        ),
    }
}

fn reply(status: &str, content_type: &str, body: String, head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn request(addr: SocketAddr, raw: &str) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connects");
        s.write_all(raw.as_bytes()).await.expect("writes");
        let mut out = String::new();
        s.read_to_string(&mut out).await.expect("reads");
        out
    }

    #[tokio::test]
    async fn serves_metrics_until_stopped() {
        let scrapes = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counter = scrapes.clone();
        let render: Render = Arc::new(move || {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            format!("m_total {n}\n")
        });
        let server = MetricsServer::start(0, render).await.expect("binds");
        let addr = server.addr;
        assert!(server.url().starts_with("http://127.0.0.1:"));
        assert!(server.url().ends_with("/metrics"));

        let ok = request(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains("Content-Type: text/plain; version=0.0.4"),
            "{ok}"
        );
        assert!(ok.contains("Content-Length: 10\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nm_total 1\n"), "{ok}");
        // rendered afresh for every scrape
        let again = request(addr, "GET /metrics?x=1 HTTP/1.0\r\n\r\n").await;
        assert!(again.ends_with("m_total 2\n"), "{again}");

        let missing = request(addr, "GET /nope HTTP/1.1\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
        let post = request(addr, "POST /metrics HTTP/1.1\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");

        server.stop().await;
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the port is closed once the run is over"
        );
    }
}
