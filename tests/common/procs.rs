//! What /proc says about a process, for tests that kill daemons and look
//! for what they left behind.

use std::fs;

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
