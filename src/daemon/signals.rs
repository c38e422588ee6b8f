//! Signals reach the loop as flags plus one byte on a self-pipe (STYLE rule 4):
//! the handler does nothing else, the loop drains the pipe and reads the flags.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// What the loop should do after draining the pipe.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub terminate: bool,
    pub reload: bool,
}

pub struct Signals {
    read: UnixStream,
    terminate: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        let terminate = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        for (signal, flag) in [
            (SIGTERM, &terminate),
            (SIGINT, &terminate),
            (SIGHUP, &reload),
        ] {
            // The flag is set before the byte is written, so a woken loop always sees it.
            signal_hook::flag::register(signal, Arc::clone(flag))?;
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        Ok(Signals {
            read,
            terminate,
            reload,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Drains the pipe, then reads and clears the flags.
    pub fn take(&mut self) -> Pending {
        let mut buf = [0u8; 64];
        loop {
            match self.read.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        Pending {
            terminate: self.terminate.swap(false, Ordering::SeqCst),
            reload: self.reload.swap(false, Ordering::SeqCst),
        }
    }
}
