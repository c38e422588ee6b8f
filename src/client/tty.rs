//! Whether an output is a terminal, and how wide it is.

use std::io::IsTerminal;
use std::os::fd::{AsFd, AsRawFd};

/// Assumed when a terminal does not report its size (some serial consoles).
const FALLBACK_WIDTH: usize = 80;

/// The width in columns when `out` is a terminal, else `None`.
pub fn terminal_width(out: &(impl AsFd + IsTerminal)) -> Option<usize> {
    if !out.is_terminal() {
        return None;
    }
    // SAFETY: `winsize` is plain integers; all-zero is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which is
    // valid for the call; the fd is borrowed and open.
    let r = unsafe { libc::ioctl(out.as_fd().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    if r == 0 && ws.ws_col > 0 {
        Some(usize::from(ws.ws_col))
    } else {
        Some(FALLBACK_WIDTH)
    }
}
