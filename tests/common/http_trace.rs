//! A recording TCP proxy for diagnosing what replayd and Frigate said to
//! each other: replayd talks to the proxy's port, the proxy to Frigate's,
//! and every chunk each way is appended to a log as text (long bodies cut).
//!
//! Opt-in (the conformance suite starts it when `CONFORMANCE_HTTP_TRACE`
//! is set): with Frigate down, the proxy still accepts and then closes the
//! connection, so replayd sees an early EOF instead of "connection refused".

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of one chunk written to the log.
const SHOWN: usize = 1500;

pub struct HttpTrace {
    port: u16,
    log_path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpTrace {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub fn start(upstream: u16, log_path: &Path) -> HttpTrace {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind trace proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let log = Arc::new(Mutex::new(
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .unwrap_or_else(|e| panic!("open {}: {e}", log_path.display())),
        ));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || accept_loop(listener, upstream, log, stop))
        };
        HttpTrace {
            port,
            log_path: log_path.to_path_buf(),
            stop,
            thread: Some(thread),
        }
    }

    /// The port replayd should use.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
}

impl Drop for HttpTrace {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    upstream: u16,
    log: Arc<Mutex<fs::File>>,
    stop: Arc<AtomicBool>,
) {
    let started = Instant::now();
    let seq = AtomicUsize::new(0);
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let id = seq.fetch_add(1, Ordering::Relaxed) + 1;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, upstream));
        let server = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(s) => s,
            Err(e) => {
                write_log(
                    &log,
                    started,
                    id,
                    "x",
                    format!("upstream {addr}: {e}").as_bytes(),
                );
                let _ = client.shutdown(Shutdown::Both);
                continue;
            }
        };
        for (from, to, dir) in [
            (client.try_clone(), server.try_clone(), "→"),
            (server.try_clone(), client.try_clone(), "←"),
        ] {
            let (Ok(from), Ok(to)) = (from, to) else {
                continue;
            };
            let log = log.clone();
            std::thread::spawn(move || pipe(from, to, &log, started, id, dir));
        }
    }
}

fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    log: &Mutex<fs::File>,
    started: Instant,
    id: usize,
    dir: &str,
) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                write_log(log, started, id, dir, b"<closed>");
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                write_log(log, started, id, dir, &buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

fn write_log(log: &Mutex<fs::File>, started: Instant, id: usize, dir: &str, bytes: &[u8]) {
    let shown = &bytes[..bytes.len().min(SHOWN)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if bytes.len() > SHOWN {
        text.push_str(&format!(" …[{} bytes]", bytes.len()));
    }
    let mut log = log.lock().unwrap();
    let _ = writeln!(
        log,
        "[{:>8.3}s #{id} {dir}] {}",
        started.elapsed().as_secs_f64(),
        text.replace("\r\n", "\n  ")
    );
}
