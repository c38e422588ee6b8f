//! The host's local time zone through libc (`TZ`, `/etc/localtime`), so that
//! `replayctl` reads and shows times the way `date` does, without a
//! time-zone crate.

use super::time::{Civil, Zone};

/// The process's local time zone as libc sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemZone;

fn blank_tm() -> libc::tm {
    // SAFETY: `tm` is a plain C struct of integers and one pointer
    // (`tm_zone`), for which all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

fn civil_of(tm: &libc::tm) -> Option<Civil> {
    Some(Civil {
        year: tm.tm_year.checked_add(1900)?,
        month: u32::try_from(tm.tm_mon + 1).ok()?,
        day: u32::try_from(tm.tm_mday).ok()?,
        hour: u32::try_from(tm.tm_hour).ok()?,
        minute: u32::try_from(tm.tm_min).ok()?,
        second: u32::try_from(tm.tm_sec).ok()?,
    })
}

// time_t and c_long are i64 here but 32 bits on armhf and i386, where the
// conversions are real.
#[allow(clippy::useless_conversion)]
impl Zone for SystemZone {
    fn to_unix(&self, local: &Civil) -> Option<i64> {
        let mut tm = blank_tm();
        tm.tm_year = local.year.checked_sub(1900)?;
        tm.tm_mon = i32::try_from(local.month).ok()? - 1;
        tm.tm_mday = i32::try_from(local.day).ok()?;
        tm.tm_hour = i32::try_from(local.hour).ok()?;
        tm.tm_min = i32::try_from(local.minute).ok()?;
        tm.tm_sec = i32::try_from(local.second).ok()?;
        // Let the zone decide whether DST applies at that date.
        tm.tm_isdst = -1;
        // SAFETY: `tm` is a valid, exclusively borrowed `struct tm`.
        let t = unsafe { libc::mktime(&mut tm) };
        // mktime moves a wall time that the zone skips (spring forward) to
        // one that exists instead of failing; the fields it wrote back differ
        // from ours exactly then. Its -1 error value is also a real instant,
        // which the same comparison tells apart.
        if civil_of(&tm)? != *local {
            return None;
        }
        Some(i64::from(t))
    }

    fn to_local(&self, unix: i64) -> Option<(Civil, i64)> {
        let t: libc::time_t = unix.try_into().ok()?;
        let mut tm = blank_tm();
        // SAFETY: both pointers are valid for the call; localtime_r is the
        // reentrant form and keeps no pointer to them.
        let r = unsafe { libc::localtime_r(&t, &mut tm) };
        if r.is_null() {
            return None;
        }
        Some((civil_of(&tm)?, i64::from(tm.tm_gmtoff)))
    }
}

#[cfg(test)]
mod tests;
