//! `cargo bench --bench replayd`: how fast and light replayd is, measured
//! in one run on this machine, side by side with its peers (ffmpeg run by
//! hand, `cat`, a Python status endpoint). See docs/performance.md.
//!
//! Environment:
//! - `BENCH_QUICK=1`: fewer repetitions, clips of 1 and 10 minutes only,
//!   5 s of idle watching (a few minutes in all);
//! - `BENCH_IDLE_SECS=N`: how long the idle daemon is watched for wake-ups
//!   (default 60, quick 5);
//! - `BENCH_ONLY=clip,stop,link,control,footprint,boot,config`: run only those parts.
//!
//! Everything runs against the real `replayd` binary (built by cargo in the
//! bench profile), real ffmpeg and a real SQLite database, in temp dirs;
//! only Unix sockets and 127.0.0.1 are used. The detail tables and the final
//! table go to stdout and to `target/tmp/bench-report.md`.

#[path = "../common/mod.rs"]
mod common;

mod boot;
mod clip;
mod config;
mod control;
mod footprint;
mod launch;
mod link;
mod media;
mod stats;
mod stop;

use common::Daemon;
use stats::{fmt_all, fmt_ratio, fmt_secs, fmt_us, median, Report, Table};
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Targets from issue 5.
const CLIP_RATIO_TARGET: f64 = 1.05;
const STOP_TARGET_S: f64 = 0.100;
const STATUS_P99_TARGET_NS: u64 = 200_000;
const READY_TARGET_S: f64 = 0.020;
const RSS_TARGET_KB: u64 = 4 * 1024;

struct Mode {
    quick: bool,
    clip_minutes: Vec<u32>,
    clip_reps: usize,
    inflight_minutes: u32,
    inflight_reps: usize,
    loaded_reps: usize,
    single_requests: usize,
    clients: usize,
    per_client: usize,
    /// Open-loop control load: each client's period, and the window.
    open_periods: Vec<Duration>,
    open_window: Duration,
    ready_starts: usize,
    idle_secs: u64,
    boot_reps: usize,
    only: Option<Vec<String>>,
}

impl Mode {
    fn from_env() -> Mode {
        let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let idle_secs = std::env::var("BENCH_IDLE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 5 } else { 60 });
        let only = std::env::var("BENCH_ONLY").ok().map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        });
        Mode {
            quick,
            clip_minutes: if quick { vec![1, 10] } else { vec![1, 10, 60] },
            clip_reps: if quick { 3 } else { 5 },
            inflight_minutes: 60,
            inflight_reps: if quick { 5 } else { 9 },
            loaded_reps: if quick { 3 } else { 5 },
            single_requests: if quick { 5_000 } else { 20_000 },
            clients: 64,
            per_client: if quick { 200 } else { 1_000 },
            // 64 clients every 8 ms and every 2 ms: 8,000 and 32,000 req/s.
            open_periods: vec![Duration::from_millis(8), Duration::from_millis(2)],
            open_window: Duration::from_secs(if quick { 1 } else { 3 }),
            ready_starts: 20,
            idle_secs,
            boot_reps: if quick { 5 } else { 9 },
            only,
        }
    }

    fn runs(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|p| p == part))
    }
}

fn tool_version(program: &str, arg: &str) -> String {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_else(|| panic!("{program} is needed by the bench and does not run"))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores ({cpu}), {:.0} GiB RAM, Linux {}, {}, {}",
        mem as f64 / 1_048_576.0,
        kernel.trim(),
        tool_version("ffmpeg", "-version")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        tool_version("python3", "--version"),
    )
}

/// The load averages and the IO pressure (share of the last 60 s in which
/// some task waited for IO): other work on the machine skews every number here.
fn loadavg() -> String {
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let io = std::fs::read_to_string("/proc/pressure/io")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("some"))
                .and_then(|l| l.split_whitespace().find_map(|f| f.strip_prefix("avg60=")))
                .map(|v| format!(", IO pressure {v} %"))
        })
        .unwrap_or_default();
    format!("{load}{io}")
}

fn main() {
    let began = Instant::now();
    let mode = Mode::from_env();
    let machine = machine();
    let load_before = loadavg();
    println!(
        "replayd bench ({} mode) on {machine}; load average {load_before}",
        if mode.quick { "quick" } else { "full" }
    );
    let mut report = Report::default();

    if mode.runs("clip") || mode.runs("stop") {
        clip_and_stop(&mode, &mut report);
    }
    if mode.runs("link") {
        link_mode(&mode, &mut report);
    }
    if mode.runs("control") {
        control_latency(&mode, &mut report);
    }
    if mode.runs("footprint") {
        footprint(&mode, &mut report);
    }
    if mode.runs("boot") {
        boot(&mode, &mut report);
    }
    if mode.runs("config") {
        nvr_config(&mode, &mut report);
    }

    let wall = began.elapsed().as_secs_f64();
    let table = report.final_table();
    let load_after = loadavg();
    println!(
        "\n## Summary\n\n{table}\nbench wall time: {wall:.0} s; load average {load_before} before, {load_after} after"
    );
    let mut file = String::new();
    let _ = writeln!(
        file,
        "# replayd bench report\n\n{} mode, {wall:.0} s, on {machine}; load average {load_before} before, {load_after} after\n\n## Summary\n\n{table}\n## Details\n{}",
        if mode.quick { "quick" } else { "full" },
        report.sections()
    );
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-report.md");
    match std::fs::write(&path, file) {
        Ok(()) => println!("report written to {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}

/// Goals of issue 11: a 6-hour range ready in link mode.
const LINK_WARM_TARGET_S: f64 = 0.250;
const LINK_COLD_TARGET_S: f64 = 1.0;

fn link_mode(mode: &Mode, report: &mut Report) {
    let pool = link::tiny_pool();
    let reps = if mode.quick { 3 } else { 5 };
    let rows = link::run(&pool, reps, true);
    let mut t = Table::new(&[
        "range",
        "segments",
        "link warm (median)",
        "link cold",
        "copy warm",
        "copy cold",
        "ffmpeg by hand warm",
        "written: link",
        "written: copy",
        "linked",
    ]);
    let opt = |v: Option<f64>| v.map_or("—".to_string(), fmt_secs);
    for r in &rows {
        t.row(vec![
            r.label.to_string(),
            r.segments.to_string(),
            fmt_secs(median(&r.link_warm)),
            opt(r.link_cold),
            fmt_secs(r.copy_warm),
            opt(r.copy_cold),
            fmt_secs(r.hand_warm),
            format!("{} KB", r.link_bytes / 1024),
            format!("{} KB", r.copy_bytes / 1024),
            format!("{:.1} MB", r.linked_bytes as f64 / 1e6),
        ]);
    }
    let runs: Vec<String> = rows
        .iter()
        .map(|r| format!("{}: {}", r.label, fmt_all(&r.link_warm)))
        .collect();
    report.section(
        "Link mode: start → ready",
        &format!(
            "{} distinct 10 s segments of 160x90 H.264 ({:.0} MB); cold = after `echo 3 > /proc/sys/vm/drop_caches` (— where it cannot be written). \
             Written = blocks of the replay folder's own files (a link adds none).\n\n{}\nlink warm runs: {}\n",
            pool.segments.len(),
            pool.bytes as f64 / 1e6,
            t.render(),
            runs.join("; ")
        ),
    );
    if let Some(six) = rows.iter().find(|r| r.label == "6 h") {
        let warm = median(&six.link_warm);
        report.verdict(
            "6 h range ready, link mode, warm cache",
            fmt_secs(warm),
            "≤ 250 ms",
            Some(warm <= LINK_WARM_TARGET_S),
        );
        if let Some(cold) = six.link_cold {
            report.verdict(
                "6 h range ready, link mode, cold cache",
                fmt_secs(cold),
                "≤ 1 s",
                Some(cold <= LINK_COLD_TARGET_S),
            );
        }
    }
}

fn clip_and_stop(mode: &Mode, report: &mut Report) {
    // Quick mode makes only the first 10 minutes of fixtures; longer
    // timelines (the in-flight stop cuts 60 minutes) cycle through them.
    let longest_clip = mode.clip_minutes.iter().copied().max().unwrap_or(1);
    let longest = longest_clip.max(mode.inflight_minutes);
    let chunks = (longest_clip as usize * 6).div_ceil(media::CHUNK_SEGMENTS);
    let pool = media::pool(chunks).unwrap_or_else(|e| panic!("bench fixtures: {e}"));
    let generated: f64 = pool.generated.iter().map(|d| d.as_secs_f64()).sum();
    let gen_text = if pool.generated.is_empty() {
        "cached (made by an earlier run)".to_string()
    } else {
        format!(
            "{} of {chunks} chunk(s) of 10 min generated in {generated:.1} s",
            pool.generated.len()
        )
    };
    report.section(
        "Fixtures",
        &format!(
            "{} segments of 10 s, 1280x720 H.264 15 fps (ultrafast, 1 Mbit/s), {:.0} MB: {gen_text}\n",
            pool.segments.len(),
            pool.bytes as f64 / 1e6
        ),
    );
    if !pool.generated.is_empty() {
        report.verdict(
            "fixture generation (10 min of 720p per chunk)",
            format!(
                "{} per chunk",
                fmt_secs(generated / pool.generated.len() as f64)
            ),
            "—",
            None,
        );
    }
    let tree = media::clip_tree(&pool, media::positions_for(longest));
    let daemon = Daemon::spawn(tree.root());

    if mode.runs("clip") {
        let rows = clip::run(&tree, &daemon, &mode.clip_minutes, mode.clip_reps);
        let mut t = Table::new(&[
            "clip",
            "segments",
            "MB",
            "replayd (median)",
            "ffmpeg by hand (median)",
            "by hand at nice 19 (median)",
            "cat (median)",
            "replayd / by hand",
            "replayd / by hand at nice 19",
            "best of runs: replayd / by hand",
            "by hand / cat",
        ]);
        let mut runs = Table::new(&[
            "clip",
            "replayd runs",
            "by-hand runs",
            "by hand at nice 19",
            "cat runs",
        ]);
        let mut split = Table::new(&[
            "clip",
            "replayd total",
            "start → ffmpeg",
            "ffmpeg",
            "ffmpeg → ffprobe",
            "ffprobe",
            "ffprobe → success",
        ]);
        for r in &rows {
            let (rd, hand, cat) = (median(&r.replayd), median(&r.hand), median(&r.cat));
            let low = median(&r.hand_low);
            let ratio = rd / hand;
            t.row(vec![
                format!("{} min", r.minutes),
                r.entries.to_string(),
                format!("{:.0}", r.bytes as f64 / 1e6),
                fmt_secs(rd),
                fmt_secs(hand),
                fmt_secs(low),
                fmt_secs(cat),
                fmt_ratio(ratio),
                fmt_ratio(rd / low),
                fmt_ratio(best(&r.replayd) / best(&r.hand)),
                fmt_ratio(hand / cat),
            ]);
            runs.row(vec![
                format!("{} min", r.minutes),
                fmt_all(&r.replayd),
                fmt_all(&r.hand),
                fmt_all(&r.hand_low),
                fmt_all(&r.cat),
            ]);
            if let Some(b) = &r.breakdown {
                split.row(vec![
                    format!("{} min", r.minutes),
                    fmt_secs(b.total),
                    fmt_secs(b.before_ffmpeg),
                    fmt_secs(b.ffmpeg),
                    fmt_secs(b.between),
                    fmt_secs(b.ffprobe),
                    fmt_secs(b.after_ffprobe),
                ]);
            }
            report.verdict(
                &format!("clip {} min: replayd / ffmpeg by hand (median)", r.minutes),
                format!(
                    "{} ({} / {})",
                    fmt_ratio(ratio),
                    fmt_secs(rd),
                    fmt_secs(hand)
                ),
                "≤ 1.05",
                Some(ratio <= CLIP_RATIO_TARGET),
            );
            let beside = r.breakdown.as_ref().map_or(String::new(), |b| {
                format!(
                    "; replayd beside its ffmpeg {} (ffprobe check {})",
                    fmt_secs(b.total - b.ffmpeg),
                    fmt_secs(b.ffprobe)
                )
            });
            report.verdict(
                &format!("clip {} min: other views", r.minutes),
                format!(
                    "best runs {}; vs by hand at nice 19 {}{beside}; cat {}",
                    fmt_ratio(best(&r.replayd) / best(&r.hand)),
                    fmt_ratio(rd / low),
                    fmt_secs(cat)
                ),
                "—",
                None,
            );
        }
        report.section(
            &format!(
                "1. Clip preparation (medians of {} runs each)",
                mode.clip_reps
            ),
            &format!(
                "{}\nEvery run:\n\n{}\nWhere one extra replayd run spent its time (1 ms sampler of the daemon's children):\n\n{}",
                t.render(),
                runs.render(),
                split.render()
            ),
        );
    }

    if mode.runs("stop") {
        let inflight = stop::in_flight(&tree, &daemon, mode.inflight_minutes, mode.inflight_reps);
        let lat: Vec<f64> = inflight.iter().map(|r| r.latency).collect();
        let med = median(&lat);
        let mut t = Table::new(&[
            "run",
            "stop latency",
            "of which ffmpeg's exit after SIGTERM",
            "job progress at stop",
            "partial clip at stop",
        ]);
        for (i, r) in inflight.iter().enumerate() {
            t.row(vec![
                (i + 1).to_string(),
                fmt_secs(r.latency),
                fmt_secs(r.ffmpeg_exit),
                format!("{:.0} %", r.percent),
                format!("{:.0} MB", r.part_bytes as f64 / 1e6),
            ]);
        }
        let exits: Vec<f64> = inflight.iter().map(|r| r.ffmpeg_exit).collect();
        report.verdict(
            "stop latency, ffmpeg in flight (median)",
            format!(
                "{} (ffmpeg's exit after SIGTERM {})",
                fmt_secs(med),
                fmt_secs(median(&exits))
            ),
            "≤ 100 ms",
            Some(med <= STOP_TARGET_S),
        );

        let loaded = stop::loaded(&tree, &daemon, mode.loaded_reps);
        let lat2: Vec<f64> = loaded.iter().map(|r| r.latency).collect();
        let med2 = median(&lat2);
        let floor: Vec<f64> = loaded.iter().map(|r| r.by_hand).collect();
        let floor_med = median(&floor);
        let mut t2 = Table::new(&[
            "run",
            "stop latency",
            "files removed",
            "rows removed",
            "same removal by hand",
        ]);
        for (i, r) in loaded.iter().enumerate() {
            t2.row(vec![
                (i + 1).to_string(),
                fmt_secs(r.latency),
                r.files_removed.to_string(),
                r.rows_removed.to_string(),
                fmt_secs(r.by_hand),
            ]);
        }
        report.verdict(
            "stop latency, ready, 1,000 files + 10,000 rows (median)",
            format!(
                "{} (same removal by hand {})",
                fmt_secs(med2),
                fmt_secs(floor_med)
            ),
            "—",
            None,
        );
        report.section(
            "2. Stop latency (stop request → response, cleanup included)",
            &format!(
                "While ffmpeg cuts a {}-minute clip (stop sent after the first progress report), median {}:\n\n{}\nA ready session whose replay camera left {} files and {} rows, median {}:\n\n{}",
                mode.inflight_minutes,
                fmt_secs(med),
                t.render(),
                stop::ARTIFACT_FILES,
                stop::ARTIFACT_ROWS,
                fmt_secs(med2),
                t2.render()
            ),
        );
    }
    drop(daemon);
}

/// The fastest run: what a measurement looks like with the least
/// interference from other work on the machine.
fn best(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn control_latency(mode: &Mode, report: &mut Report) {
    let bench = media::bench_root();
    let root = &bench.root;
    let daemon = Daemon::spawn(root);
    let body = control::status_body(daemon.socket());
    let python = control::PythonServer::start(root.path(), &body);
    let mut t = Table::new(&[
        "server",
        "clients",
        "requests",
        "p50",
        "p99",
        "max",
        "requests/s",
        "server CPU/request (user + sys)",
        "client CPU/request",
    ]);
    let mut results = Vec::new();
    for (clients, per_client) in [(1, mode.single_requests), (mode.clients, mode.per_client)] {
        let r = control::replayd(daemon.socket(), daemon.pid(), clients, per_client);
        let p = control::python(&python, clients, per_client);
        for (name, l) in [("replayd (Unix socket)", &r), (python.version.as_str(), &p)] {
            t.row(vec![
                name.to_string(),
                l.clients.to_string(),
                l.requests.to_string(),
                fmt_us(l.p50_ns),
                fmt_us(l.p99_ns),
                fmt_us(l.max_ns),
                format!("{:.0}", l.per_sec),
                format!("{:.1} + {:.1} µs", l.server_cpu_us.0, l.server_cpu_us.1),
                format!("{:.1} µs", l.client_cpu_us),
            ]);
        }
        results.push((r, p));
    }
    let multi = &results[results.len() - 1].0;
    for (r, p) in &results {
        let n = r.clients;
        if n == 1 {
            report.verdict(
                "status round trip, 1 client: p50 / p99",
                format!("{} / {}", fmt_us(r.p50_ns), fmt_us(r.p99_ns)),
                "—",
                None,
            );
        } else {
            report.verdict(
                &format!("status round trip, {n} clients, closed loop (throughput-bound): p99"),
                format!(
                    "{} (p50 {}; mean = {n} / req/s = {})",
                    fmt_us(r.p99_ns),
                    fmt_us(r.p50_ns),
                    fmt_secs(n as f64 / r.per_sec)
                ),
                "— (throughput-bound)",
                None,
            );
        }
        report.verdict(
            &format!("status requests/s, {n} client(s), closed loop"),
            format!("{:.0}", r.per_sec),
            "—",
            None,
        );
        report.verdict(
            &format!("Python http.server / replayd, {n} client(s), closed loop: p99, req/s"),
            format!(
                "{} x slower p99, {} x the req/s ({} / {:.0} req/s)",
                fmt_ratio(p.p99_ns as f64 / r.p99_ns as f64),
                fmt_ratio(p.per_sec / r.per_sec),
                fmt_us(p.p99_ns),
                p.per_sec
            ),
            "—",
            None,
        );
    }
    let closed_table = t.render();

    // Open loop: each client on its own schedule, latency from the
    // scheduled send time.
    let mut open = Table::new(&[
        "server",
        "schedule",
        "offered req/s",
        "scheduled",
        "answered",
        "unsent at cut-off",
        "achieved req/s",
        "p50",
        "p99",
        "max",
        "round trip p99 (from actual send)",
        "send lag p50 / p99",
        "server CPU/request (user + sys)",
        "client CPU/request",
    ]);
    for &period in &mode.open_periods {
        let r = control::replayd_open(
            daemon.socket(),
            daemon.pid(),
            mode.clients,
            period,
            mode.open_window,
        );
        let p = control::python_open(&python, mode.clients, period, mode.open_window);
        for (name, l) in [("replayd (Unix socket)", &r), (python.version.as_str(), &p)] {
            let lb = if l.unsent > 0 { "≥ " } else { "" };
            open.row(vec![
                name.to_string(),
                format!("{} × every {}", l.clients, fmt_secs(l.period.as_secs_f64())),
                fmt_count(l.offered_per_sec),
                l.scheduled.to_string(),
                l.completed.to_string(),
                l.unsent.to_string(),
                format!("{:.0}", l.per_sec),
                format!("{lb}{}", fmt_us(l.p50_ns)),
                format!("{lb}{}", fmt_us(l.p99_ns)),
                format!("{lb}{}", fmt_us(l.max_ns)),
                fmt_us(l.rtt_p99_ns),
                format!("{} / {}", fmt_us(l.lag_p50_ns), fmt_us(l.lag_p99_ns)),
                format!("{:.1} + {:.1} µs", l.server_cpu_us.0, l.server_cpu_us.1),
                format!("{:.1} µs", l.client_cpu_us),
            ]);
        }
        let rate = fmt_count(r.offered_per_sec);
        let every = fmt_secs(period.as_secs_f64());
        report.verdict(
            &format!(
                "status round trip, {} clients, open loop, {rate} req/s (each every {every}): p99 from scheduled send",
                r.clients
            ),
            format!(
                "{} (p50 {}, max {}; achieved {:.0} req/s{})",
                fmt_us(r.p99_ns),
                fmt_us(r.p50_ns),
                fmt_us(r.max_ns),
                r.per_sec,
                if r.unsent > 0 {
                    format!("; {} unsent, p99 a lower bound", r.unsent)
                } else {
                    String::new()
                }
            ),
            "≤ 200 µs",
            Some(r.unsent == 0 && r.p99_ns <= STATUS_P99_TARGET_NS),
        );
        let lb = if p.unsent > 0 { "≥ " } else { "" };
        report.verdict(
            &format!(
                "Python http.server, {} clients, open loop, {rate} req/s: p99 from scheduled send",
                p.clients
            ),
            format!(
                "{lb}{} (p50 {lb}{}, max {lb}{}; achieved {:.0} req/s{})",
                fmt_us(p.p99_ns),
                fmt_us(p.p50_ns),
                fmt_us(p.max_ns),
                p.per_sec,
                if p.unsent > 0 {
                    format!("; {} of {} unsent by the cut-off", p.unsent, p.scheduled)
                } else {
                    String::new()
                }
            ),
            "—",
            None,
        );
    }
    let rss = launch::status_field(daemon.pid(), "VmRSS").unwrap_or(0);
    report.section(
        "3. Control latency (status round trips)",
        &format!(
            "Closed loop (each client sends its next request when the answer is in):\n\n{closed_table}\n\
             Status body: {} bytes. CPU per request counts the 100 warm-up requests of each client too.\n\
             With {n} clients in a closed loop, Little's law ties latency to throughput: \
             mean latency = {n} / requests/s = {} for replayd here, so a p99 of 200 µs needs \
             at least {:.0} requests/s, with the clients' own CPU on the same 2 cores: \
             this row measures throughput, not the latency of a request.\n\n\
             Open loop ({n} clients, each sending one request every period on its own schedule with a random phase, \
             for {} per rate; latency from the scheduled send time to the reply, so a late send counts its lateness; \
             a client waits for each answer before its next send; sends still due {} after the window are counted \
             unsent and enter the percentiles with their lateness then, making them lower bounds, marked ≥):\n\n{}\n\
             Send lag is scheduled → actual send (the client thread's wake-up, timer slack set to 1 µs, or an answer that came late). \
             CPU per request here covers the window only. The daemon's VmRSS after all the load: {rss} kB.\n",
            body.len(),
            fmt_secs(mode.clients as f64 / multi.per_sec),
            mode.clients as f64 / 200e-6,
            fmt_secs(mode.open_window.as_secs_f64()),
            fmt_secs(control::OPEN_GRACE.as_secs_f64()),
            open.render(),
            n = mode.clients,
        ),
    );
}

/// `32000` → `32,000`.
fn fmt_count(v: f64) -> String {
    let digits = format!("{:.0}", v);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn footprint(mode: &Mode, report: &mut Report) {
    let f = footprint::run(mode.ready_starts, mode.idle_secs);
    let ready = median(&f.ready);
    let mut sorted = f.ready.clone();
    sorted.sort_by(f64::total_cmp);
    report.verdict(
        &format!("exec → READY=1, empty state (median of {})", f.ready.len()),
        fmt_secs(ready),
        "≤ 20 ms",
        Some(ready <= READY_TARGET_S),
    );
    report.verdict(
        "idle RSS (VmRSS) after start",
        format!(
            "{:.1} MiB (RssAnon {} kB)",
            f.rss_kb as f64 / 1024.0,
            f.rss_anon_kb
        ),
        "≤ 4 MiB",
        Some(f.rss_kb <= RSS_TARGET_KB),
    );
    report.verdict(
        &format!("idle wake-ups over {} s (no watchdog)", f.idle_secs),
        f.wakeups.to_string(),
        "0",
        Some(f.wakeups == 0),
    );
    report.section(
        "4. Footprint",
        &format!(
            "exec → READY=1 over {} starts: min {}, median {}, max {}.\n\
             Idle daemon: VmRSS {} kB (RssAnon {} kB, RssFile {} kB: the binary and shared libraries, \
             mapped from the page cache; Pss {} kB), {} kB after {} s idle; {} thread(s), {} open fds; \
             {} context switches (voluntary + involuntary, all threads) in {} s.\n",
            f.ready.len(),
            fmt_secs(sorted[0]),
            fmt_secs(ready),
            fmt_secs(sorted[sorted.len() - 1]),
            f.rss_kb,
            f.rss_anon_kb,
            f.rss_file_kb,
            f.pss_kb,
            f.rss_after_idle_kb,
            f.idle_secs,
            f.threads,
            f.fds,
            f.wakeups,
            f.idle_secs
        ),
    );
}

fn nvr_config(mode: &Mode, report: &mut Report) {
    let c = config::run(if mode.quick { 3 } else { 7 });
    let mut t = Table::new(&["NVR config", "size", "parse (median)"]);
    for (keys, took) in &c.wide {
        t.row(vec![
            format!("{keys} keys, half merged (`<<`)"),
            format!("{keys} keys"),
            fmt_secs(took.as_secs_f64()),
        ]);
    }
    for (name, bytes, took) in &c.bombs {
        t.row(vec![
            format!("{name} (refused)"),
            format!("{} KB", bytes / 1000),
            fmt_secs(took.as_secs_f64()),
        ]);
    }
    let wide = |n: usize| {
        c.wide
            .iter()
            .find(|(keys, _)| *keys == n)
            .map_or(f64::NAN, |(_, took)| took.as_secs_f64())
    };
    let ratio = wide(80_000) / wide(20_000);
    report.verdict(
        "NVR config parse, 80k vs 20k keys merged",
        fmt_ratio(ratio),
        "≤ 6 (linear; quadratic was 16)",
        Some(ratio <= 6.0),
    );
    report.verdict(
        "NVR config parse, 80k keys merged",
        fmt_secs(wide(80_000)),
        "< 1 s (was 28 s)",
        Some(wide(80_000) < 1.0),
    );
    let slowest_bomb = c
        .bombs
        .iter()
        .map(|(_, _, took)| took.as_secs_f64())
        .fold(0.0, f64::max);
    report.verdict(
        "alias bomb refused in",
        fmt_secs(slowest_bomb),
        "< 1 s",
        Some(slowest_bomb < 1.0),
    );
    report.section("6. NVR config", &t.render());
}

fn boot(mode: &Mode, report: &mut Report) {
    let b = boot::run(mode.boot_reps);
    let mut t = Table::new(&[
        "ordinary recording files",
        "stale replay files",
        "exec → READY=1 (median)",
        "every run",
    ]);
    let med = |o: usize, a: usize| {
        b.scenarios
            .iter()
            .find(|s| s.ordinary == o && s.artifacts == a)
            .map_or(f64::NAN, |s| median(&s.ready))
    };
    for s in &b.scenarios {
        t.row(vec![
            s.ordinary.to_string(),
            s.artifacts.to_string(),
            fmt_secs(median(&s.ready)),
            fmt_all(&s.ready),
        ]);
    }
    // "Does not grow": within 25 % or 2 ms of the same boot without them
    // (a few ms is what other work on a shared machine adds to one boot).
    let flat = |with: f64, without: f64| with - without <= (0.25 * without).max(0.002);
    let (a, bb) = (med(0, 0), med(boot::ORDINARY_FILES, 0));
    let (c, d) = (
        med(0, boot::ARTIFACT_FILES),
        med(boot::ORDINARY_FILES, boot::ARTIFACT_FILES),
    );
    let floor = median(&b.by_hand);
    report.verdict(
        "boot, 0 stale: READY with 100,000 vs 0 recording files",
        format!("{} vs {}", fmt_secs(bb), fmt_secs(a)),
        "no growth (≤ +25 % or +2 ms)",
        Some(flat(bb, a)),
    );
    report.verdict(
        "boot, 1,000 stale replay files: READY with 100,000 vs 0 recording files",
        format!("{} vs {}", fmt_secs(d), fmt_secs(c)),
        "no growth (≤ +25 % or +2 ms)",
        Some(flat(d, c)),
    );
    report.verdict(
        "boot, 1,000 stale replay files: same deletion by hand",
        format!(
            "{} (READY without stale files {})",
            fmt_secs(floor),
            fmt_secs(a)
        ),
        "—",
        None,
    );
    report.section(
        &format!("5. Boot cleanup scaling (medians of {} boots)", mode.boot_reps),
        &format!(
            "{}\nThe 1,000 stale files belong to 4 replay cameras (250 each: recordings, thumbnails, snapshots, review thumbnails, previews, the clip). \
             Deleting the same files by hand (synced first, like before each boot) took {} (median; every run: {}). \
             Planting the 100,000 recording files took {:.1} s (not measured).\n",
            t.render(),
            fmt_secs(floor),
            fmt_all(&b.by_hand),
            b.setup_secs
        ),
    );
}
