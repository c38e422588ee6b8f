//! Part 3 of the bench, control latency and throughput: `status` round
//! trips over the Unix socket against a minimal Python status endpoint (the
//! standard library's `ThreadingHTTPServer`, HTTP/1.1 keep-alive, on
//! 127.0.0.1) serving the same JSON to the same client pattern. Two
//! patterns, one thread and one connection per client:
//!
//! - closed loop ([`replayd`], [`python`]): 1 and 64 clients, each sends its
//!   next request as soon as the previous answer is in. With 64 clients this
//!   measures throughput (Little's law), not the latency of a request;
//! - open loop ([`replayd_open`], [`python_open`]): 64 clients, each sends
//!   on its own fixed schedule (one request every `period`, random phase),
//!   and latency runs from the *scheduled* send time to the reply, so a
//!   client that is late (the previous answer came late, or its thread woke
//!   late) counts its lateness (no coordinated omission).

use crate::stats::percentile;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Whatever goes wrong, no client waits longer than this for an answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Load {
    pub clients: usize,
    pub requests: usize,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    pub per_sec: f64,
    /// Server CPU (user, system) per request, µs, warm-up included.
    pub server_cpu_us: (f64, f64),
    /// CPU of the bench's client threads per request, µs.
    pub client_cpu_us: f64,
}

/// User and system CPU time of a process (all its threads, also those
/// that have exited), ns, from /proc/PID/stat (clock-tick resolution).
pub fn process_cpu_ns(pid: u32) -> (u64, u64) {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return (0, 0);
    };
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return (0, 0);
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // SAFETY: sysconf has no memory effects.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    (
        ticks(11) * 1_000_000_000 / tick,
        ticks(12) * 1_000_000_000 / tick,
    )
}

/// CPU time of this process (every thread, ended ones included), ns.
fn self_cpu_ns() -> u64 {
    // SAFETY: getrusage writes one struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// One request/response connection.
trait Conn: Send {
    fn round_trip(&mut self);
}

struct UnixConn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: String,
}

impl UnixConn {
    fn connect(path: &Path) -> UnixConn {
        let stream = UnixStream::connect(path).expect("connect control socket");
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        UnixConn {
            writer: stream.try_clone().expect("clone stream"),
            reader: BufReader::new(stream),
            line: String::new(),
        }
    }
}

impl Conn for UnixConn {
    fn round_trip(&mut self) {
        self.writer
            .write_all(b"{\"cmd\":\"status\"}\n")
            .expect("send status");
        self.line.clear();
        self.reader.read_line(&mut self.line).expect("read status");
        assert!(
            self.line.contains("\"ok\":true"),
            "bad status reply: {:?}",
            self.line
        );
    }
}

struct HttpConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
    body: Vec<u8>,
}

impl HttpConn {
    fn connect(port: u16) -> HttpConn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect python");
        stream.set_nodelay(true).expect("nodelay");
        stream.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(IO_TIMEOUT)).expect("timeout");
        HttpConn {
            writer: stream.try_clone().expect("clone stream"),
            reader: BufReader::new(stream),
            line: String::new(),
            body: Vec::new(),
        }
    }
}

impl Conn for HttpConn {
    fn round_trip(&mut self) {
        self.writer
            .write_all(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("send GET");
        let mut length = None;
        let mut first = true;
        // A response head has a handful of lines; 64 bounds a broken one.
        for _ in 0..64 {
            self.line.clear();
            let n = self.reader.read_line(&mut self.line).expect("read head");
            assert!(n > 0, "python closed the connection");
            if first {
                assert!(
                    self.line.starts_with("HTTP/1.1 200"),
                    "bad status line {:?}",
                    self.line
                );
                first = false;
                continue;
            }
            let line = self.line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse::<usize>().ok();
                }
            }
        }
        let length = length.expect("no Content-Length");
        self.body.resize(length, 0);
        self.reader.read_exact(&mut self.body).expect("read body");
    }
}

/// `clients` threads, each with its own connection, `per_client` round
/// trips each after `warmup` unmeasured ones; all start together.
fn drive<C: Conn + 'static>(
    server_pid: u32,
    clients: usize,
    per_client: usize,
    warmup: usize,
    connect: impl Fn() -> C,
) -> Load {
    let conns: Vec<C> = (0..clients).map(|_| connect()).collect();
    let server_before = process_cpu_ns(server_pid);
    let client_before = self_cpu_ns();
    let barrier = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                for _ in 0..warmup {
                    conn.round_trip();
                }
                barrier.wait();
                let mut lat = Vec::with_capacity(per_client);
                let begin = Instant::now();
                for _ in 0..per_client {
                    let t = Instant::now();
                    conn.round_trip();
                    lat.push(t.elapsed().as_nanos() as u64);
                }
                (begin, Instant::now(), lat)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(clients * per_client);
    let mut first: Option<Instant> = None;
    let mut last: Option<Instant> = None;
    for t in threads {
        let (b, e, lat) = t.join().expect("client thread");
        first = Some(first.map_or(b, |f| f.min(b)));
        last = Some(last.map_or(e, |l| l.max(e)));
        all.extend(lat);
    }
    let server_after = process_cpu_ns(server_pid);
    let client_after = self_cpu_ns();
    let total = (clients * (warmup + per_client)) as f64;
    let per_req = |before: u64, after: u64| after.saturating_sub(before) as f64 / 1e3 / total;
    all.sort_unstable();
    let wall = match (first, last) {
        (Some(f), Some(l)) => (l - f).as_secs_f64(),
        _ => f64::NAN,
    };
    Load {
        clients,
        requests: all.len(),
        p50_ns: percentile(&all, 0.50),
        p99_ns: percentile(&all, 0.99),
        max_ns: all.last().copied().unwrap_or(0),
        per_sec: all.len() as f64 / wall,
        server_cpu_us: (
            per_req(server_before.0, server_after.0),
            per_req(server_before.1, server_after.1),
        ),
        client_cpu_us: per_req(client_before, client_after),
    }
}

pub fn replayd(socket: &Path, pid: u32, clients: usize, per_client: usize) -> Load {
    let socket = socket.to_path_buf();
    drive(pid, clients, per_client, 100, move || {
        UnixConn::connect(&socket)
    })
}

pub fn python(server: &PythonServer, clients: usize, per_client: usize) -> Load {
    let port = server.port;
    drive(server.child.id(), clients, per_client, 100, move || {
        HttpConn::connect(port)
    })
}

/// Open-loop load: `clients` connections, each with its own schedule.
pub struct OpenLoad {
    pub clients: usize,
    pub period: Duration,
    /// The schedule's rate: clients / period.
    pub offered_per_sec: f64,
    /// Requests scheduled in the window.
    pub scheduled: usize,
    /// Requests answered (sent by the cut-off).
    pub completed: usize,
    /// Scheduled requests a client had not sent by the cut-off (window +
    /// [`OPEN_GRACE`]): the server fell behind. They enter the percentiles
    /// with their lateness at the cut-off, a lower bound.
    pub unsent: usize,
    /// Scheduled send → reply, unsent ones included (lower bounds).
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    /// Actual send → reply (the round trip alone), p99.
    pub rtt_p99_ns: u64,
    /// Scheduled → actual send (the client's own lateness), p50 and p99.
    pub lag_p50_ns: u64,
    pub lag_p99_ns: u64,
    /// Answers per second, from the window's start to the last answer.
    pub per_sec: f64,
    /// Server CPU (user, system) per answered request, µs, window only.
    pub server_cpu_us: (f64, f64),
    /// CPU of the bench's client threads per answered request, µs.
    pub client_cpu_us: f64,
}

/// How long past the window a client may still send late requests.
pub const OPEN_GRACE: Duration = Duration::from_secs(1);

/// CLOCK_MONOTONIC, ns (the clock `clock_nanosleep` sleeps on).
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one struct we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleeps until CLOCK_MONOTONIC reads `t` ns (absolute, so no drift).
fn sleep_until_ns(t: u64) {
    let ts = libc::timespec {
        tv_sec: (t / 1_000_000_000) as libc::time_t,
        tv_nsec: (t % 1_000_000_000) as libc::c_long,
    };
    // EINTR is the only retry; a signal cannot arrive endlessly.
    for _ in 0..1_000 {
        // SAFETY: reads one struct we own; no remainder for TIMER_ABSTIME.
        let r = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if r != libc::EINTR {
            break;
        }
    }
}

/// splitmix64: the random phases (no rand crate among the dependencies).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What one open-loop client thread measured.
#[derive(Default)]
struct OpenThread {
    lat: Vec<u64>,
    rtt: Vec<u64>,
    lag: Vec<u64>,
    unsent: usize,
    last_done: u64,
}

/// `clients` threads, each with its own connection; after `warmup`
/// unmeasured round trips each, every client sends one request at
/// `base + phase + k * period` for every such time inside `window` (phase
/// random in [0, period)), waiting for each answer before the next send;
/// a send that is due while the previous answer is still out goes as soon
/// as that answer is in, and its lateness is part of its latency.
fn drive_open<C: Conn + 'static>(
    server_pid: u32,
    clients: usize,
    period: Duration,
    window: Duration,
    warmup: usize,
    connect: impl Fn() -> C,
) -> OpenLoad {
    let period_ns = period.as_nanos() as u64;
    let window_ns = window.as_nanos() as u64;
    let grace_ns = OPEN_GRACE.as_nanos() as u64;
    let conns: Vec<C> = (0..clients).map(|_| connect()).collect();
    // Warm-up done (all threads + this one), then the base is published.
    let ready = Arc::new(Barrier::new(clients + 1));
    let go = Arc::new(Barrier::new(clients + 1));
    let base = Arc::new(AtomicU64::new(0));
    let mut seed = mono_ns();
    let threads: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (ready, go, base) = (ready.clone(), go.clone(), base.clone());
            let phase = splitmix64(&mut seed) % period_ns;
            std::thread::spawn(move || {
                // The default timer slack (50 µs) would make every wake-up
                // late by up to that much: the bench's error, not the
                // server's. 1 µs keeps the sleeps close to the schedule.
                // SAFETY: prctl with integer arguments only.
                unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong, 0, 0, 0) };
                for _ in 0..warmup {
                    conn.round_trip();
                }
                ready.wait();
                go.wait();
                let base = base.load(Ordering::SeqCst);
                let (end, cutoff) = (base + window_ns, base + window_ns + grace_ns);
                let n = window_ns.saturating_sub(phase).div_ceil(period_ns) as usize;
                let mut m = OpenThread {
                    lat: Vec::with_capacity(n),
                    rtt: Vec::with_capacity(n),
                    lag: Vec::with_capacity(n),
                    ..OpenThread::default()
                };
                let mut due = base + phase;
                while due < end {
                    let now = mono_ns();
                    if now >= cutoff {
                        // Fell behind for good: the rest were never sent.
                        while due < end {
                            m.lat.push(now - due);
                            m.unsent += 1;
                            due += period_ns;
                        }
                        break;
                    }
                    if now < due {
                        sleep_until_ns(due);
                    }
                    let sent = mono_ns();
                    conn.round_trip();
                    let done = mono_ns();
                    m.lat.push(done - due);
                    m.rtt.push(done - sent);
                    m.lag.push(sent.saturating_sub(due));
                    m.last_done = done;
                    due += period_ns;
                }
                m
            })
        })
        .collect();
    ready.wait();
    let server_before = process_cpu_ns(server_pid);
    let client_before = self_cpu_ns();
    // 20 ms for every thread to pass the barrier and reach its first sleep.
    let start = mono_ns() + 20_000_000;
    base.store(start, Ordering::SeqCst);
    go.wait();
    let (mut lat, mut rtt, mut lag) = (Vec::new(), Vec::new(), Vec::new());
    let (mut unsent, mut last_done) = (0, start);
    for t in threads {
        let m = t.join().expect("client thread");
        lat.extend(m.lat);
        rtt.extend(m.rtt);
        lag.extend(m.lag);
        unsent += m.unsent;
        last_done = last_done.max(m.last_done);
    }
    let server_after = process_cpu_ns(server_pid);
    let client_after = self_cpu_ns();
    let completed = rtt.len();
    let per_req = |before: u64, after: u64| {
        after.saturating_sub(before) as f64 / 1e3 / completed.max(1) as f64
    };
    lat.sort_unstable();
    rtt.sort_unstable();
    lag.sort_unstable();
    OpenLoad {
        clients,
        period,
        offered_per_sec: clients as f64 / period.as_secs_f64(),
        scheduled: lat.len(),
        completed,
        unsent,
        p50_ns: percentile(&lat, 0.50),
        p99_ns: percentile(&lat, 0.99),
        max_ns: lat.last().copied().unwrap_or(0),
        rtt_p99_ns: percentile(&rtt, 0.99),
        lag_p50_ns: percentile(&lag, 0.50),
        lag_p99_ns: percentile(&lag, 0.99),
        per_sec: completed as f64 / ((last_done - start) as f64 / 1e9),
        server_cpu_us: (
            per_req(server_before.0, server_after.0),
            per_req(server_before.1, server_after.1),
        ),
        client_cpu_us: per_req(client_before, client_after),
    }
}

/// Warm-up round trips per client before an open-loop window.
const OPEN_WARMUP: usize = 20;

pub fn replayd_open(
    socket: &Path,
    pid: u32,
    clients: usize,
    period: Duration,
    window: Duration,
) -> OpenLoad {
    let socket = socket.to_path_buf();
    drive_open(pid, clients, period, window, OPEN_WARMUP, move || {
        UnixConn::connect(&socket)
    })
}

pub fn python_open(
    server: &PythonServer,
    clients: usize,
    period: Duration,
    window: Duration,
) -> OpenLoad {
    let port = server.port;
    drive_open(
        server.child.id(),
        clients,
        period,
        window,
        OPEN_WARMUP,
        move || HttpConn::connect(port),
    )
}

/// The same status, served the way a Python NVR API serves its own.
const SERVER_PY: &str = r#"
import http.server, sys
body = open(sys.argv[1], "rb").read()

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive
    disable_nagle_algorithm = True     # else head and body wait for delayed ACKs

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

server = Server(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

pub struct PythonServer {
    child: Child,
    pub port: u16,
    pub version: String,
    files: Vec<PathBuf>,
}

impl PythonServer {
    /// Starts `python3` serving `body` on an ephemeral 127.0.0.1 port.
    pub fn start(dir: &Path, body: &str) -> PythonServer {
        let script = dir.join("bench_status_server.py");
        let body_file = dir.join("bench_status.json");
        std::fs::write(&script, SERVER_PY).expect("write server script");
        std::fs::write(&body_file, body).expect("write status body");
        let version = Command::new("python3")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&body_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run python3");
        let stdout = child.stdout.take().expect("python stdout");
        let mut line = String::new();
        // Blocks until python prints its port (or exits: empty line).
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read python port");
        let port = match line.trim().parse() {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("python status server did not start: {line:?}");
            }
        };
        PythonServer {
            child,
            port,
            version,
            files: vec![script, body_file],
        }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// The status line the daemon sends, without its newline.
pub fn status_body(socket: &Path) -> String {
    let mut conn = UnixConn::connect(socket);
    conn.round_trip();
    conn.line.trim_end().to_string()
}
