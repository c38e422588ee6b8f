//! Whether an output is a terminal, and how wide it is.

use std::io::IsTerminal;
use std::os::fd::AsFd;

/// Assumed when a terminal does not report its size (some serial consoles).
const FALLBACK_WIDTH: usize = 80;

/// The width in columns when `out` is a terminal, else `None`.
pub fn terminal_width(out: &(impl AsFd + IsTerminal)) -> Option<usize> {
    if !out.is_terminal() {
        return None;
    }
    match rustix::termios::tcgetwinsize(out.as_fd()) {
        Ok(ws) if ws.ws_col > 0 => Some(usize::from(ws.ws_col)),
        _ => Some(FALLBACK_WIDTH),
    }
}
