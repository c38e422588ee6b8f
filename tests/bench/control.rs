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
    clients: usize,
    per_client: usize,
    warmup: usize,
    connect: impl Fn() -> C,
) -> Load {
    let conns: Vec<C> = (0..clients).map(|_| connect()).collect();
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
    }
}

pub fn replayd(socket: &Path, clients: usize, per_client: usize) -> Load {
    let socket = socket.to_path_buf();
    drive(clients, per_client, 100, move || UnixConn::connect(&socket))
}

pub fn python(server: &PythonServer, clients: usize, per_client: usize) -> Load {
    let port = server.port;
    drive(clients, per_client, 100, move || HttpConn::connect(port))
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
