//! Part 3 of the bench, control latency and throughput: `status` round
//! trips over the Unix socket with 1 and 64 concurrent clients (one thread
//! and one connection each, every client sends its next request as soon as
//! the previous answer is in), against a minimal Python status endpoint
//! (the standard library's `ThreadingHTTPServer`, HTTP/1.1 keep-alive, on
//! 127.0.0.1) serving the same JSON to the same client pattern.

use crate::stats::percentile;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
