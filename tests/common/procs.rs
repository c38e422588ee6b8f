//! What /proc says about a process, for tests that kill daemons and look
//! for what they left behind.

use std::fs;

use super::TestRoot;

/// The state letter, parent pid and start time (field 22, clock ticks since
/// boot) of `pid`; `None` if the process does not exist.
pub fn proc_stat(pid: u64) -> Option<(char, u64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((
        fields.first()?.chars().next()?,
        fields.get(1)?.parse().ok()?,
        fields.get(19)?.parse().ok()?,
    ))
}

/// Whether the process `pid` that started at `start_ticks` still runs
/// (a zombie has ended: PID 1 here may never reap orphans).
pub fn alive(pid: u64, start_ticks: u64) -> bool {
    proc_stat(pid).is_some_and(|(state, _, start)| start == start_ticks && state != 'Z')
}

/// Whether `pid` is `ancestor` or one of its descendants.
pub fn descends_from(pid: u64, ancestor: u64) -> bool {
    let mut pid = pid;
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        match proc_stat(pid) {
            Some((_, ppid, _)) if ppid > 1 => pid = ppid,
            _ => return false,
        }
    }
    false
}

/// Live processes whose command line names the test root, other than the
/// daemon `daemon_pid` and its descendants: what a dead daemon left behind,
/// as (pid, start ticks, command line).
pub fn strays(root: &TestRoot, daemon_pid: u32) -> Vec<(u64, u64, String)> {
    let needle = root.path().to_string_lossy().into_owned();
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        if pid == u64::from(daemon_pid) || pid == u64::from(std::process::id()) {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if !cmdline.contains(&needle) {
            continue;
        }
        if let Some((state, ppid, ticks)) = proc_stat(pid) {
            if state != 'Z' && !descends_from(ppid, u64::from(daemon_pid)) {
                out.push((pid, ticks, cmdline));
            }
        }
    }
    out
}
