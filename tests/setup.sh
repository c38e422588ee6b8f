#!/bin/bash
# Installs what building and testing replayd needs on Debian (run as root).
# Idempotent: only installs what is missing.
set -euo pipefail
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || need+=(faketime)
dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
# tests/units.rs: systemd-analyze, man, the .deb build and lintian.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v kill >/dev/null 2>&1 || need+=(procps)
command -v dpkg-shlibdeps >/dev/null 2>&1 || need+=(dpkg-dev)
command -v objdump >/dev/null 2>&1 || need+=(binutils)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null 2>&1 || {
    echo "cargo not found: install Rust (https://rustup.rs or Debian's cargo package)" >&2
    exit 1
}
