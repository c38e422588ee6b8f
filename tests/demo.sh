#!/bin/bash
# replayd demo: one full replay session against a generated NVR tree.
#
#   bash tests/demo.sh                  # as root on Debian 12; installs what is missing
#   bash tests/demo.sh --no-build       # reuse target/release binaries
#   bash tests/demo.sh --generate-only  # only make the NVR tree, print where it is
#
# Environment: DEMO_DIR=PATH (an empty or new dir to build the tree in; kept),
# KEEP_DEMO=1 (keep the temp dir after a successful run).
#
# Steps: install ffmpeg, sqlite3, libsqlite3-dev, pkg-config (apt-get, when
# missing); cargo build --release; generate 3 minutes of 10 s 640x360 H.264
# segments of camera `front` in Frigate's layout
# (media/recordings/YYYY-MM-DD/HH/front/MM.SS.mp4), config.yml and frigate.db
# with their `recordings` rows; start replayd in the background; drive a
# session with replayctl (ping, start, status, stop, status); check that the
# clip and the published camera are gone; stop replayd with SIGTERM.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GENERATE_ONLY=0
BUILD=1
for arg in "$@"; do
    case "$arg" in
        --generate-only) GENERATE_ONLY=1 ;;
        --no-build) BUILD=0 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "demo: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done

# Every wait below is bounded.
READY_TIMEOUT=15      # daemon start -> socket answers
CTL_TIMEOUT=180       # one replayctl command (start waits for the clip)
EXIT_TIMEOUT=15       # SIGTERM -> exit

SEGMENTS=18           # 18 x 10 s = 3 minutes
SEGMENT_SECONDS=10

DEMO_STARTED=$(date +%s.%N)
DAEMON_PID=""
DEMO=""
CREATED_DEMO=0
LOG=""

say()  { printf '\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die()  { echo "demo: $*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

on_error() {
    echo "demo: FAILED at line $1: $2" >&2
}
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

cleanup() {
    local rc=$?
    trap - ERR
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$DAEMON_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ]; then
        if [ -n "$LOG" ] && [ -s "$LOG" ]; then
            echo "---- replayd log ($LOG), last 100 lines:" >&2
            tail -n 100 "$LOG" >&2
            echo "---- end of log" >&2
        fi
        if [ -n "$DEMO" ]; then echo "demo: tree kept for inspection: $DEMO" >&2; fi
        echo "demo FAILED" >&2
    elif [ "$CREATED_DEMO" = 1 ] && [ "$GENERATE_ONLY" = 0 ] && [ -z "${KEEP_DEMO:-}" ]; then
        rm -rf -- "$DEMO"
    fi
    exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------- set-up
say "checking dependencies"
need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
if [ "$GENERATE_ONLY" = 0 ] && [ "$BUILD" = 1 ]; then
    command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
    dpkg -s libsqlite3-dev >/dev/null 2>&1 || need+=(libsqlite3-dev)
    command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing ${need[*]}: run as root to install them"
        SUDO=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing ${need[*]} and no apt-get to install them"
    info "installing: $(printf '%s\n' "${need[@]}" | sort -u | tr '\n' ' ')"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2046
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $(printf '%s\n' "${need[@]}" | sort -u) >/dev/null
fi
info "$(ffmpeg -version | head -n 1)"
info "sqlite3 $(sqlite3 --version | cut -d' ' -f1)"

if [ "$GENERATE_ONLY" = 0 ]; then
    if [ "$BUILD" = 1 ]; then
        if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
            PATH="$HOME/.cargo/bin:$PATH"
        fi
        command -v cargo >/dev/null 2>&1 \
            || die "cargo not found: install Rust (https://rustup.rs), then run this again"
        say "building release binaries"
        t=$(date +%s.%N)
        (cd "$REPO" && cargo build --release)
        BUILD_TIME=$(elapsed "$t")
        info "built in ${BUILD_TIME} s"
    else
        BUILD_TIME="skipped"
    fi
    REPLAYD="$REPO/target/release/replayd"
    REPLAYCTL="$REPO/target/release/replayctl"
    [ -x "$REPLAYD" ] || die "$REPLAYD is missing (drop --no-build)"
    [ -x "$REPLAYCTL" ] || die "$REPLAYCTL is missing (drop --no-build)"
fi

# ---------------------------------------------------------------- the NVR tree
SCHEMA="$REPO/tests/fixtures/frigate-schema.sql"
[ -r "$SCHEMA" ] || die "$SCHEMA is missing"
if [ -n "${DEMO_DIR:-}" ]; then
    DEMO=$DEMO_DIR
    mkdir -p -- "$DEMO"
    [ -z "$(ls -A -- "$DEMO")" ] || die "DEMO_DIR=$DEMO is not empty"
    DEMO=$(cd "$DEMO" && pwd)
else
    DEMO=$(mktemp -d "${TMPDIR:-/tmp}/replayd-demo.XXXXXX")
    CREATED_DEMO=1
fi
# Paths go into TOML/YAML/SQL unquoted-safe only: keep them plain.
case "$DEMO" in
    *[!A-Za-z0-9/._-]*) die "demo dir '$DEMO' has characters this script does not quote" ;;
esac
MEDIA="$DEMO/media"
CONFIG_DIR="$DEMO/config"
DB="$CONFIG_DIR/frigate.db"
RUN="$DEMO/run"
SOCK="$RUN/control.sock"
LOG="$DEMO/replayd.log"
[ ${#SOCK} -lt 108 ] || die "socket path $SOCK is too long for a Unix socket"
mkdir -p "$MEDIA/recordings" "$MEDIA/clips" "$CONFIG_DIR" "$RUN"

# Recordings end ten minutes ago, on a minute boundary.
T0=$(( $(date +%s) / 60 * 60 - 600 - SEGMENTS * SEGMENT_SECONDS ))
T_END=$(( T0 + SEGMENTS * SEGMENT_SECONDS ))

say "generating $SEGMENTS x ${SEGMENT_SECONDS} s of camera 'front' in $DEMO"
t=$(date +%s.%N)
STAGE="$DEMO/stage"
mkdir -p "$STAGE"
ffmpeg -hide_banner -nostdin -loglevel error -y \
    -f lavfi -i "testsrc2=size=640x360:rate=15" -t $(( SEGMENTS * SEGMENT_SECONDS )) \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -bf 0 -g 15 -keyint_min 15 -sc_threshold 0 \
    -f segment -segment_time "$SEGMENT_SECONDS" -reset_timestamps 1 \
    -segment_format mp4 -segment_format_options movflags=+faststart \
    "$STAGE/seg%03d.mp4"

sqlite3 "$DB" < "$SCHEMA"
SQL="$DEMO/recordings.sql"
echo "BEGIN;" > "$SQL"
for i in $(seq 0 $(( SEGMENTS - 1 ))); do
    start=$(( T0 + i * SEGMENT_SECONDS ))
    rel="$(date -u -d "@$start" +%Y-%m-%d/%H)/front/$(date -u -d "@$start" +%M.%S).mp4"
    path="$MEDIA/recordings/$rel"
    mkdir -p "$(dirname "$path")"
    mv "$STAGE/$(printf 'seg%03d.mp4' "$i")" "$path"
    size=$(awk -v b="$(stat -c %s "$path")" 'BEGIN { printf "%.2f", b / 1048576 }')
    printf "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, objects, motion, segment_size, dBFS, regions) VALUES ('%s.0-demo%02d', 'front', '%s', %s.0, %s.0, %s.0, 0, %d, %s, 0, 0);\n" \
        "$start" "$i" "$path" "$start" "$(( start + SEGMENT_SECONDS ))" "$SEGMENT_SECONDS" \
        $(( i * 13 % 100 )) "$size" >> "$SQL"
done
echo "COMMIT;" >> "$SQL"
sqlite3 "$DB" < "$SQL"
rm -rf "$STAGE" "$SQL"

cat > "$CONFIG_DIR/config.yml" <<EOF
# Frigate config of the replayd demo.
mqtt:
  enabled: false

database:
  path: $DB

detectors:
  cpu1:
    type: cpu

objects:
  track:
    - person
    - car

record:
  enabled: true
  retain:
    days: 7

cameras:
  front:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:8554/front
          roles:
            - detect
            - record
    detect:
      width: 640
      height: 360
      fps: 5
    objects:
      filters:
        car:
          min_area: 2000
    motion:
      mask: 0.0,0.0,1.0,0.0,1.0,0.08,0.0,0.08
    zones:
      driveway:
        coordinates: 0.1,0.5,0.9,0.5,1.0,1.0,0.0,1.0
        objects:
          - car
EOF

cat > "$DEMO/replayd.toml" <<EOF
# replayd.toml of the demo.
[nvr]
config = "$CONFIG_DIR/config.yml"
database = "$DB"
media_dir = "$MEDIA"

# The demo's NVR runs on this host, not in a container: its database and
# config hold this host's paths, which map to themselves.
[nvr.mounts]
"$MEDIA" = "$MEDIA"
"$CONFIG_DIR" = "$CONFIG_DIR"

[runtime]
dir = "$RUN"
state_dir = "$DEMO/state"

[control]
socket = "$SOCK"

[log]
target = "stderr"
level = "info"
EOF
GEN_TIME=$(elapsed "$t")
rows=$(sqlite3 "$DB" "SELECT COUNT(*) FROM recordings WHERE camera = 'front'")
[ "$rows" -eq "$SEGMENTS" ] || die "expected $SEGMENTS recordings rows, found $rows"
info "$rows segments, $(date -u -d "@$T0" '+%F %T') .. $(date -u -d "@$T_END" '+%T') UTC (Unix $T0 .. $T_END), in ${GEN_TIME} s"

if [ "$GENERATE_ONLY" = 1 ]; then
    say "NVR tree ready"
    info "replayd.toml: $DEMO/replayd.toml"
    info "recordings:   $T0 .. $T_END"
    exit 0
fi

# ---------------------------------------------------------------- the session
ctl() {
    timeout "$CTL_TIMEOUT" "$REPLAYCTL" --socket "$SOCK" "$@"
}

say "starting replayd (log: $LOG)"
t=$(date +%s.%N)
env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES -u WATCHDOG_USEC \
    -u JOURNAL_STREAM -u RUNTIME_DIRECTORY -u CONFIG_FILE \
    "$REPLAYD" --config "$DEMO/replayd.toml" >"$LOG" 2>&1 &
DAEMON_PID=$!
ready=0
for _ in $(seq $(( READY_TIMEOUT * 10 ))); do
    kill -0 "$DAEMON_PID" 2>/dev/null || die "replayd exited during start-up"
    if [ -S "$SOCK" ] && "$REPLAYCTL" --socket "$SOCK" ping >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.1
done
[ "$ready" = 1 ] || die "replayd did not answer on $SOCK within ${READY_TIMEOUT} s"
info "pid $DAEMON_PID, answering after $(elapsed "$t") s"

say "replayctl ping"
ctl ping

FROM=$(( T0 + 15 ))
TO=$(( T0 + 75 ))
say "replayctl start front --from $FROM --to $TO --speed 2 --set motion.threshold=40"
t=$(date +%s.%N)
ctl start front --from "$FROM" --to "$TO" --speed 2 --set motion.threshold=40
START_TIME=$(elapsed "$t")
info "replay camera published after ${START_TIME} s"

say "replayctl status"
ctl status

say "replayctl set zones.driveway.inertia=5 (a live update)"
ctl set zones.driveway.inertia=5

say "replayctl diff (the YAML to paste under the real camera)"
ctl diff

CAMERA_FILE="$RUN/cameras/_replay_front.yml"
# Link mode (the default when the recordings and the replay dir share a
# file system) plays a playlist of hard links; copy mode a clip.
CLIP="$MEDIA/replayd/_replay_front/playlist.ffconcat"
[ -f "$CLIP" ] || CLIP="$MEDIA/replayd/_replay_front/clip.mp4"
say "published camera: $CAMERA_FILE"
[ -f "$CAMERA_FILE" ] || die "$CAMERA_FILE was not published"
cat "$CAMERA_FILE"
grep -q -- '-readrate 2' "$CAMERA_FILE" || die "the camera does not read at speed 2"
grep -q 'inertia: 5' "$CAMERA_FILE" || die "the live update is not in the camera file"
[ -f "$CLIP" ] || die "clip $CLIP is missing"
CLIP_SECONDS=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$CLIP")
info "clip $CLIP: ${CLIP_SECONDS} s for a $(( TO - FROM )) s range"
awk -v d="$CLIP_SECONDS" -v want=$(( TO - FROM )) 'BEGIN { exit !(d >= want - 0.5 && d <= want + 1.5) }' \
    || die "clip is ${CLIP_SECONDS} s, expected about $(( TO - FROM )) s"

say "replayctl stop"
t=$(date +%s.%N)
ctl stop
STOP_TIME=$(elapsed "$t")

say "replayctl status"
ctl status

[ ! -e "$CLIP" ] || die "clip $CLIP is still there after stop"
[ ! -e "$CAMERA_FILE" ] || die "camera file $CAMERA_FILE is still there after stop"
info "clip and camera file removed"

say "stopping replayd (SIGTERM)"
kill -TERM "$DAEMON_PID"
for _ in $(seq $(( EXIT_TIMEOUT * 10 ))); do
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$DAEMON_PID" 2>/dev/null; then
    die "replayd still running ${EXIT_TIMEOUT} s after SIGTERM"
fi
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=""
[ "$rc" -eq 0 ] || die "replayd exited with status $rc"

echo
printf '\033[1mdemo OK\033[0m  build %s s, generate %s s, start->published %s s, stop %s s, total %s s\n' \
    "$BUILD_TIME" "$GEN_TIME" "$START_TIME" "$STOP_TIME" "$(elapsed "$DEMO_STARTED")"
