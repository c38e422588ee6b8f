//! A real Frigate HTTP API for the conformance suite: Frigate's own code
//! (0.17.2 or 0.18 beta) run by `run_frigate_api.py` from the shared
//! `frigate-api/` folder, in the Docker layout of a [`DockerLayout`]
//! (`ROOT/config` is the container's `/config`, `ROOT/media/frigate` its
//! `/media/frigate`).
//!
//! ```ignore
//! let env = FrigateEnv::from_env();                 // panics with how to set it up
//! let layout = DockerLayout::builder(FrigateVersion::V018).build(&env);
//! let frigate = FrigateRunner::start(&env, FrigateVersion::V018, layout.path());
//! assert!(frigate.api_version().starts_with("0.18"));
//! let bus = BusEvents::new(layout.path());
//! ```
//!
//! [`FrigateRunner`] always stops its process: `stop`, `restart` and Drop
//! send SIGTERM and reap it (SIGKILL after [`STOP_GRACE`]); the runner also
//! gets SIGTERM through the parent-death signal if the test process dies.
//! When a test panics, Drop prints the tail of the runner's log.
//!
//! [`DockerLayout`]: super::docker_layout::DockerLayout

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The variables `eval "$(bash ../shared/frigate-api/setup.sh)"` sets.
pub const ENV_VARS: [&str; 4] = [
    "FRIGATE_API_PYTHON",
    "FRIGATE_API_RUN",
    "FRIGATE_017",
    "FRIGATE_018",
];
/// How long a runner may take to serve (Frigate's imports take 8–12 s on an
/// idle 2-core machine; more while other tests run).
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// SIGTERM → SIGKILL grace when stopping the runner.
pub const STOP_GRACE: Duration = Duration::from_secs(10);
/// One HTTP exchange with the runner.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Which Frigate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrigateVersion {
    /// Frigate 0.17.2.
    V017,
    /// Frigate 0.18 (beta).
    V018,
}

impl FrigateVersion {
    /// "0.17" / "0.18": what `GET /api/version` starts with.
    pub fn label(self) -> &'static str {
        match self {
            FrigateVersion::V017 => "0.17",
            FrigateVersion::V018 => "0.18",
        }
    }

    /// The environment variable naming this version's checkout.
    pub fn checkout_var(self) -> &'static str {
        match self {
            FrigateVersion::V017 => "FRIGATE_017",
            FrigateVersion::V018 => "FRIGATE_018",
        }
    }

    /// `config.017.yml` / `config.018.yml` in the shared `examples/`.
    pub fn example_config_name(self) -> &'static str {
        match self {
            FrigateVersion::V017 => "config.017.yml",
            FrigateVersion::V018 => "config.018.yml",
        }
    }
}

/// Where the runner and the Frigate checkouts are, from the environment.
#[derive(Debug, Clone)]
pub struct FrigateEnv {
    /// The venv's interpreter (Frigate's requirements installed).
    pub python: PathBuf,
    /// `run_frigate_api.py`.
    pub run: PathBuf,
    pub checkout_017: PathBuf,
    pub checkout_018: PathBuf,
}

impl FrigateEnv {
    /// Reads [`ENV_VARS`]; panics, saying how to set them, if any is
    /// missing or does not point at what it should. The conformance suite
    /// never passes without a real Frigate.
    pub fn from_env() -> FrigateEnv {
        FrigateEnv::try_from_env().unwrap_or_else(|why| panic!("{why}"))
    }

    /// Like `from_env`, the problem as text.
    pub fn try_from_env() -> Result<FrigateEnv, String> {
        let how = "The Frigate conformance suite needs a real Frigate API runner. Set it up and \
                   export its variables with\n    eval \"$(bash ../shared/frigate-api/setup.sh)\"\n\
                   (or run tests/conformance/run.sh [SHARED_DIR]); see tests/conformance/README.md.";
        let missing: Vec<&str> = ENV_VARS
            .iter()
            .copied()
            .filter(|v| std::env::var_os(v).is_none_or(|s| s.is_empty()))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "conformance: missing environment variable(s) {}.\n{how}",
                missing.join(", ")
            ));
        }
        let var = |name: &str| PathBuf::from(std::env::var_os(name).unwrap());
        let env = FrigateEnv {
            python: var("FRIGATE_API_PYTHON"),
            run: var("FRIGATE_API_RUN"),
            checkout_017: var("FRIGATE_017"),
            checkout_018: var("FRIGATE_018"),
        };
        let mut problems = Vec::new();
        if !env.python.is_file() {
            problems.push(format!(
                "FRIGATE_API_PYTHON={} is not a file",
                env.python.display()
            ));
        }
        if !env.run.is_file() {
            problems.push(format!(
                "FRIGATE_API_RUN={} is not a file",
                env.run.display()
            ));
        }
        for v in [FrigateVersion::V017, FrigateVersion::V018] {
            let dir = env.checkout(v);
            if !dir.join("frigate/__init__.py").is_file() {
                problems.push(format!(
                    "{}={} holds no frigate/__init__.py",
                    v.checkout_var(),
                    dir.display()
                ));
            }
            let example = env.examples_dir().join(v.example_config_name());
            if !example.is_file() {
                problems.push(format!("no {} beside FRIGATE_API_RUN", example.display()));
            }
        }
        if problems.is_empty() {
            Ok(env)
        } else {
            Err(format!("conformance: {}.\n{how}", problems.join("; ")))
        }
    }

    /// The Frigate checkout of `version`.
    pub fn checkout(&self, version: FrigateVersion) -> &Path {
        match version {
            FrigateVersion::V017 => &self.checkout_017,
            FrigateVersion::V018 => &self.checkout_018,
        }
    }

    /// The shared `frigate-api/examples/` folder (beside the runner).
    pub fn examples_dir(&self) -> PathBuf {
        self.run
            .parent()
            .map_or_else(|| PathBuf::from("examples"), |d| d.join("examples"))
    }
}

/// A running `run_frigate_api.py` on a root.
pub struct FrigateRunner {
    child: Option<Child>,
    env: FrigateEnv,
    version: FrigateVersion,
    root: PathBuf,
    port: u16,
    ready: Value,
    starts: usize,
}

impl FrigateRunner {
    /// Starts the runner on a free port and waits until it serves.
    pub fn start(env: &FrigateEnv, version: FrigateVersion, root: &Path) -> FrigateRunner {
        FrigateRunner::start_on(env, version, root, 0)
    }

    /// Starts the runner on `port` (0: a free one) and waits until it serves.
    pub fn start_on(
        env: &FrigateEnv,
        version: FrigateVersion,
        root: &Path,
        port: u16,
    ) -> FrigateRunner {
        let mut runner = FrigateRunner {
            child: None,
            env: env.clone(),
            version,
            root: root.to_path_buf(),
            port,
            ready: Value::Null,
            starts: 0,
        };
        runner.launch();
        runner
    }

    /// Stops the runner (if running) and starts it again on the same port
    /// and root, as Frigate's container restarting.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "runner already running");
        let ready_file = self.ready_file();
        // A killed runner cannot remove its ready file: never read a stale one.
        match fs::remove_file(&ready_file) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove stale {}: {e}", ready_file.display()),
        }
        self.starts += 1;
        let log_path = self.log_path();
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap_or_else(|e| panic!("open {}: {e}", log_path.display()));
        let checkout = self.env.checkout(self.version).to_path_buf();
        let mut cmd = Command::new(&self.env.python);
        cmd.arg(&self.env.run)
            .arg("--frigate")
            .arg(&checkout)
            .arg("--root")
            .arg(&self.root)
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--ready-file")
            .arg(&ready_file);
        let _ = writeln!(
            log,
            "=== harness: runner start #{} ({}): {:?} ===",
            self.starts,
            self.version.label(),
            cmd
        );
        let stderr = log.try_clone().expect("dup runner log fd");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(stderr))
            .env_remove("CONFIG_FILE")
            .env("PYTHONUNBUFFERED", "1");
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork
        // and exec. If the test process dies, the runner gets SIGTERM.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.env.python.display()));
        let pid = child.id();
        self.child = Some(child);

        let started = Instant::now();
        let deadline = started + READY_TIMEOUT;
        loop {
            if let Some(ready) = read_ready(&ready_file) {
                if ready["pid"].as_u64() == Some(u64::from(pid)) {
                    let port = ready["ports"]["internal"].as_u64().unwrap_or_else(|| {
                        panic!(
                            "ready file without ports.internal: {ready}\n{}",
                            self.log_tail(40)
                        )
                    });
                    self.port = u16::try_from(port).expect("port fits u16");
                    self.ready = ready;
                    break;
                }
            }
            if let Some(status) = self.try_exit() {
                panic!(
                    "Frigate {} runner exited before serving ({status})\n{}",
                    self.version.label(),
                    self.log_tail(60)
                );
            }
            if Instant::now() >= deadline {
                let tail = self.log_tail(60);
                self.stop();
                panic!(
                    "Frigate {} runner not serving within {READY_TIMEOUT:?}\n{tail}",
                    self.version.label()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "harness: Frigate {} runner serving on 127.0.0.1:{} after {:.1} s",
            self.version.label(),
            self.port,
            started.elapsed().as_secs_f64()
        );
    }

    /// Sends SIGTERM (what `docker stop` sends) and reaps the runner
    /// (SIGKILL after [`STOP_GRACE`]), then removes its ready file. Does
    /// nothing when it is not running.
    ///
    /// uvicorn (0.29+) shuts the server down on SIGTERM and then re-raises
    /// the signal, so the runner dies by SIGTERM before its own clean-up and
    /// leaves its ready file behind (SIGINT would not): the harness removes it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        let mut status = child.try_wait().ok().flatten();
        if status.is_none() {
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while status.is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                status = child.try_wait().ok().flatten();
            }
            if status.is_none() {
                eprintln!("harness: Frigate runner pid {pid} ignored SIGTERM; SIGKILL");
                let _ = kill(pid, Signal::SIGKILL);
                status = child.wait().ok();
            }
        }
        if let Ok(mut log) = fs::OpenOptions::new().append(true).open(self.log_path()) {
            let _ = writeln!(log, "=== harness: runner pid {pid} stopped: {status:?} ===");
        }
        let _ = fs::remove_file(self.ready_file());
    }

    /// The exit status if the runner exited (reaps it), else `None`.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        child.try_wait().expect("try_wait runner")
    }

    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.try_exit().is_none()
    }

    pub fn version(&self) -> FrigateVersion {
        self.version
    }

    /// The internal port (like the container's 5000).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The runner's ready JSON (pid, ports, paths, version).
    pub fn ready(&self) -> &Value {
        &self.ready
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn ready_file(&self) -> PathBuf {
        self.root.join("frigate-ready.json")
    }

    /// Where the runner's stdout and stderr go (every start appends).
    pub fn log_path(&self) -> PathBuf {
        self.root.join("frigate-api.log")
    }

    /// The last `n` lines of the runner's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = fs::read(self.log_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} (last {} lines):\n{}\n--- end of runner log",
            self.log_path().display(),
            n.min(lines.len()),
            lines[lines.len().saturating_sub(n)..].join("\n")
        )
    }

    /// A GET with `X-Cache-Bypass: 1`; panics (with the runner's log) when
    /// the runner cannot be reached.
    pub fn get(&self, path: &str) -> HttpReply {
        http_request(self.port, "GET", path, None).unwrap_or_else(|e| {
            panic!(
                "GET {path} on Frigate {}: {e}\n{}",
                self.version.label(),
                self.log_tail(40)
            )
        })
    }

    /// A JSON GET that must answer 200.
    pub fn get_json(&self, path: &str) -> Value {
        let reply = self.get(path);
        assert_eq!(
            reply.status,
            200,
            "GET {path}: {} {}",
            reply.status,
            reply.text()
        );
        reply
            .json()
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", reply.text()))
    }

    /// `GET /api/version`, trimmed.
    pub fn api_version(&self) -> String {
        let reply = self.get("/api/version");
        assert_eq!(reply.status, 200, "GET /api/version: {}", reply.text());
        reply.text().trim().to_string()
    }

    /// `GET /api/config` (cache bypassed): Frigate's in-memory config.
    pub fn api_config(&self) -> Value {
        self.get_json("/api/config")
    }

    /// The cameras of Frigate's in-memory config.
    pub fn camera_names(&self) -> Vec<String> {
        let config = self.api_config();
        config["cameras"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl Drop for FrigateRunner {
    fn drop(&mut self) {
        let running = self.is_running();
        self.stop();
        if std::thread::panicking() && (running || self.starts > 0) {
            eprintln!("{}", self.log_tail(40));
        }
    }
}

fn read_ready(path: &Path) -> Option<Value> {
    let text = fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

// ---- HTTP ----

/// One HTTP reply.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 exchange with `127.0.0.1:port` (`Connection: close`,
/// `X-Cache-Bypass: 1`, never an `Origin`), body as JSON when given.
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> io::Result<HttpReply> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    let body = body.map(|b| serde_json::to_vec(b).expect("serialize body"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n\
         X-Cache-Bypass: 1\r\nConnection: close\r\n"
    );
    if let Some(b) = &body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend(b);
    }
    stream.write_all(&bytes)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_reply(&raw)
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn parse_reply(raw: &[u8]) -> io::Result<HttpReply> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad(format!("no header end in {} bytes", raw.len())))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v);
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("bad content-length {len:?}")))?;
        if rest.len() < len {
            return Err(bad(format!("body cut at {} of {len} bytes", rest.len())));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("chunk size line not terminated".into()))?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| bad(format!("bad chunk size {size_text:?}")))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(bad("chunk cut short".into()));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

// ---- the config bus log ----

/// Frigate's config-bus log, `ROOT/frigate-api-events.jsonl`: one JSON line
/// per message (`source: "zmq"`) and per add/remove Frigate's own
/// `CameraConfigUpdateSubscriber` processed. Runner restarts append to it.
/// Lines appear a moment after the HTTP reply: poll.
pub struct BusEvents {
    path: PathBuf,
}

impl BusEvents {
    pub fn new(root: &Path) -> BusEvents {
        BusEvents {
            path: root.join("frigate-api-events.jsonl"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every complete line so far, parsed (a line being written is left out).
    pub fn all(&self) -> Vec<Value> {
        let Ok(bytes) = fs::read(&self.path) else {
            return Vec::new();
        };
        let complete = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(i) => &bytes[..=i],
            None => return Vec::new(),
        };
        String::from_utf8_lossy(complete)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{}: bad line ({e}): {l}", self.path.display()))
            })
            .collect()
    }

    /// How many events there are now (a mark for `since`).
    pub fn mark(&self) -> usize {
        self.all().len()
    }

    /// Events after `mark` that match `pred`.
    pub fn since(&self, mark: usize, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.all()
            .into_iter()
            .skip(mark)
            .filter(|e| pred(e))
            .collect()
    }

    /// The first event after `mark` that matches `pred`, polling until
    /// `timeout`.
    pub fn wait_for(
        &self,
        mark: usize,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.since(mark, &pred).into_iter().next() {
                return Some(e);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A short digest of the events after `mark` (for assertion messages).
    pub fn digest(&self, mark: usize) -> String {
        self.all()
            .iter()
            .skip(mark)
            .map(|e| {
                let mut e = e.clone();
                if let Some(m) = e.as_object_mut() {
                    m.remove("config");
                    m.remove("summary");
                    m.remove("view_after_add");
                }
                e.to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A message Frigate published on its config bus:
/// topic `config/cameras/<camera>/<update_type>`.
pub fn is_bus_message(event: &Value, camera: &str, update_type: &str) -> bool {
    event["source"] == "zmq" && event["camera"] == camera && event["update_type"] == update_type
}

/// Frigate's own `CameraConfigUpdateSubscriber` (what the camera maintainer
/// runs) processed `kind` ("add" / "remove") for `camera`.
pub fn is_subscriber_update(event: &Value, camera: &str, kind: &str) -> bool {
    event["source"] == "CameraConfigUpdateSubscriber"
        && event["updates"][kind]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c == camera))
}
