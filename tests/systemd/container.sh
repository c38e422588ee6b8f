#!/bin/bash
# replayd under a real systemd: boots Debian 12 with systemd as PID 1 in a
# systemd-nspawn container, installs the replayd .deb in it, and drives the
# daemon with systemctl, journalctl and replayctl on a generated NVR tree.
#
#   bash tests/systemd/container.sh            # everything; exit 0 = all checks passed
#   bash tests/systemd/container.sh --no-build # package the existing target/release binaries
#   KEEP=1 bash tests/systemd/container.sh     # leave the container running at the end
#   bash tests/systemd/container.sh exec CMD…  # run CMD in a container left by KEEP=1
#   bash tests/systemd/container.sh stop       # power a left container off
#   bash tests/systemd/container.sh clean      # stop, and remove the cached root file system
#
# Needs root on a Debian 12 host (its PID 1 need not be systemd), and the
# Debian mirror of the host's apt sources. Installs systemd-container,
# debootstrap and dpkg-dev on the host when missing. The container's root
# file system (Debian bookworm minbase + systemd, procps, ffmpeg, sqlite3, acl) is
# built once with debootstrap (~1.5 min) and cached in $SDLAB; every run boots
# it with --volatile=overlay, so each run starts from that clean state and
# leaves nothing in it.
#
# Environment: SDLAB (cache and state, default /var/tmp/replayd-systemd),
# MACHINE (container name, default replayd-ct), REBUILD=1 (rebuild the root
# file system), KEEP=1.
#
# The container mechanics (finding the mirror in the apt sources without ever
# writing it to a file, debootstrap clean-up, booting with nspawn on a host
# without systemd, finding the container's PID 1, nsenter, poweroff and cgroup
# clean-up) are adapted from shared/tools/systemd-container.sh, written for
# these machines by the workplace's tool authors.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SDLAB=${SDLAB:-/var/tmp/replayd-systemd}
ROOTFS=$SDLAB/rootfs
MACHINE=${MACHINE:-replayd-ct}
SUITE=bookworm
STATE=$SDLAB/state
WORK=$SDLAB/work          # bind-mounted read-only at /srv/replayd-test
INCLUDE=systemd,systemd-sysv,dbus,init-system-helpers,procps,ffmpeg,sqlite3,libsqlite3-0,acl

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
say() { printf '[container %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { say "ERROR: $*" >&2; exit 1; }
mask_urls() { sed -E 's#[A-Za-z][A-Za-z0-9+.-]*://[^ /]*#<mirror>#g'; }

# ------------------------------------------------------------------ host side

# First "deb" URI serving $SUITE, from deb822 *.sources or one-line *.list files.
debian_mirror() {
    local f uri=""
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri=$(awk -v suite="$SUITE" '
            function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && out == "") { split(uris, u, " "); out = u[1] } types=""; suites=""; uris="" }
            /^[ \t]*$/ { flush(); next }
            /^Types:/  { sub(/^Types:[ \t]*/, "");  types = $0 }
            /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
            /^URIs:/   { sub(/^URIs:[ \t]*/, "");   uris = $0 }
            END { flush(); if (out != "") print out }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri=$(awk -v suite="$SUITE" '$1=="deb" { i=2; if ($2 ~ /^\[/) { while (i<=NF && $i !~ /\]$/) i++; i++ } if ($(i+1)==suite) { print $i; exit } }' "$f")
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    return 1
}

cmd_deps() {
    local need=()
    command -v systemd-nspawn >/dev/null 2>&1 || need+=(systemd-container)
    command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
    command -v dpkg-shlibdeps >/dev/null 2>&1 || need+=(dpkg-dev)
    command -v strip >/dev/null 2>&1 || need+=(binutils)
    [ ${#need[@]} -eq 0 ] && return 0
    say "deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq 2>&1 | mask_urls
    apt-get install -y -qq --no-install-recommends "${need[@]}" 2>&1 | mask_urls | grep -E '^E:' || true
    command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null || die "deps missing"
}

cmd_rootfs() {
    local t0 mirror host
    if [ -x "$ROOTFS/lib/systemd/systemd" ] && [ "$(cat "$SDLAB/rootfs.include" 2>/dev/null)" = "$INCLUDE" ] \
        && [ "${REBUILD:-0}" != 1 ]; then
        say "rootfs: cached in $ROOTFS (REBUILD=1 to recreate)"
        return 0
    fi
    mirror=$(debian_mirror) || die "no Debian mirror for $SUITE in /etc/apt/sources.list*"
    host=$(printf '%s\n' "$mirror" | awk -F/ '{print $3}')
    rm -rf "$ROOTFS" "$SDLAB/rootfs.include"
    mkdir -p "$SDLAB"
    t0=$(now)
    say "rootfs: debootstrap --variant=minbase $SUITE + ${INCLUDE//,/ } (mirror from apt sources)"
    debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOTFS" "$mirror" \
        > >(mask_urls > "$SDLAB/debootstrap.log") 2>&1 || { tail -n 20 "$SDLAB/debootstrap.log"; die "debootstrap failed"; }
    # Nothing in the tree may name the mirror; the container needs no apt sources.
    : > "$ROOTFS/etc/apt/sources.list"
    rm -f "$ROOTFS"/var/lib/apt/lists/*_* "$ROOTFS/var/log/bootstrap.log" "$ROOTFS"/var/cache/apt/archives/*.deb \
          "$ROOTFS/usr/share/doc/apt/examples/sources.list" "$ROOTFS/usr/lib/dpkg/methods/apt/setup"
    if grep -rlF -- "$host" "$ROOTFS" 2>/dev/null | head -n 5 | grep -q .; then
        say "rootfs: WARNING files still mention the mirror host:"; grep -rlF -- "$host" "$ROOTFS" | head -n 5
    fi
    echo "$MACHINE" > "$ROOTFS/etc/hostname"
    # Quiet, deterministic boots: no periodic maintenance jobs.
    systemctl --root="$ROOTFS" mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
        e2scrub_all.timer systemd-tmpfiles-clean.timer >/dev/null 2>&1 || true
    echo "$INCLUDE" > "$SDLAB/rootfs.include"
    say "rootfs: built in $(since "$t0")s, $(du -sh "$ROOTFS" | cut -f1)"
}

nspawn_pid() { [ -s "$STATE/nspawn.pid" ] && kill -0 "$(cat "$STATE/nspawn.pid")" 2>/dev/null && cat "$STATE/nspawn.pid"; }
leader_pid() { cat "$STATE/leader.pid" 2>/dev/null || true; }

# Runs a command inside the container, in all namespaces of its PID 1.
in_ct() {
    local L; L=$(leader_pid); [ -n "$L" ] && [ -d "/proc/$L" ] || { say "container not running" >&2; return 1; }
    nsenter -t "$L" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        TERM=dumb LANG=C.UTF-8 TZ=UTC SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

cmd_boot() {
    local t0 NSPID L="" st
    [ -x "$ROOTFS/lib/systemd/systemd" ] || die "no root file system at $ROOTFS"
    if nspawn_pid >/dev/null; then die "already running (nspawn pid $(nspawn_pid)); run: $0 stop"; fi
    mkdir -p "$STATE" "$WORK"
    t0=$(now)
    # --register=no: no machined on the host; --keep-unit: no host systemd to ask for a scope.
    # --volatile=overlay: writes go to a tmpfs over the cached tree and vanish at poweroff.
    systemd-nspawn -D "$ROOTFS" -b -M "$MACHINE" --register=no --keep-unit --volatile=overlay \
        --bind-ro="$WORK:/srv/replayd-test" --console=read-only \
        </dev/null >"$STATE/console.log" 2>&1 &
    NSPID=$!
    echo "$NSPID" > "$STATE/nspawn.pid"
    # The container's PID 1 is the child of systemd-nspawn whose innermost pid is 1.
    for _ in $(seq 1 400); do
        kill -0 "$NSPID" 2>/dev/null || { tail -n 20 "$STATE/console.log"; die "systemd-nspawn exited"; }
        for L in $(cat /proc/"$NSPID"/task/*/children 2>/dev/null); do
            [ "$(awk '/^NSpid:/{print NF-1, $NF}' /proc/"$L"/status 2>/dev/null)" = "2 1" ] && break 2
        done
        L=""; sleep 0.05
    done
    [ -n "$L" ] || die "no container PID 1 found"
    echo "$L" > "$STATE/leader.pid"
    for _ in $(seq 1 600); do [ -S "/proc/$L/root/run/systemd/private" ] && break; sleep 0.05; done
    st=$(timeout 120 nsenter -t "$L" -a systemctl is-system-running --wait 2>&1 || true)
    rm -f "$STATE/cgparent"
    if grep -q '^0::.*/supervisor$' "/proc/$NSPID/cgroup" 2>/dev/null; then
        sed -n 's/^0::\(.*\)\/supervisor$/\1/p' "/proc/$NSPID/cgroup" > "$STATE/cgparent"
    fi
    say "boot: is-system-running=$st after $(since "$t0")s"
    case $st in
        running) ;;
        degraded) say "boot: degraded, failed units:"; in_ct systemctl --failed --no-legend --no-pager || true ;;
        *) in_ct systemctl --failed --no-legend --no-pager || true; die "system state is '$st'" ;;
    esac
}

cleanup_cgroups() {
    local parent mnt d
    [ -f "$STATE/cgparent" ] || return 0
    parent=$(cat "$STATE/cgparent")
    for mnt in $(awk '($3=="cgroup2") || ($3=="cgroup" && $4 ~ /name=systemd/) {print $2}' /proc/self/mounts); do
        for d in "$mnt$parent/payload" "$mnt$parent/supervisor"; do
            [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        done
    done
}

cmd_stop() {
    local NSPID L
    NSPID=$(nspawn_pid || true)
    if [ -z "$NSPID" ]; then rm -f "$STATE/nspawn.pid" "$STATE/leader.pid"; return 0; fi
    L=$(leader_pid)
    in_ct systemctl poweroff --no-block >/dev/null 2>&1 || kill -TERM "$NSPID"
    for _ in $(seq 1 600); do kill -0 "$NSPID" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$NSPID" 2>/dev/null; then
        say "stop: still up after 30s, SIGTERM to nspawn $NSPID"; kill -TERM "$NSPID" || true; sleep 10
        kill -0 "$NSPID" 2>/dev/null && { say "stop: SIGKILL nspawn $NSPID and container init $L"; kill -KILL "$NSPID" "$L" 2>/dev/null || true; }
    fi
    wait "$NSPID" 2>/dev/null || true
    cleanup_cgroups
    rm -f "$STATE/nspawn.pid" "$STATE/leader.pid"
}

cmd_clean() { cmd_stop; rm -rf "$ROOTFS" "$STATE" "$WORK" "$SDLAB/rootfs.include" "$SDLAB/debootstrap.log"; say "clean: removed $SDLAB"; }

# ------------------------------------------------------------------ checks

FAILS=0
PASSES=0
ok()   { say "  PASS: $*"; PASSES=$((PASSES+1)); }
bad()  { say "  FAIL: $*"; FAILS=$((FAILS+1)); }
check(){ local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
prop() { in_ct systemctl show -p "$2" --value "$1"; }
ctl()  { in_ct timeout 120 replayctl "$@"; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s; returns its last status.
wait_for() {
    local limit=$1; shift
    for _ in $(seq 1 $((limit * 10))); do "$@" && return 0; sleep 0.1; done
    "$@"
}
unit_is() { [ "$(prop "$1" ActiveState)" = "$2" ]; }
json_field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" | head -n 1; }
session_field() { ctl status --json | json_field "$1"; }
contains() { grep -qF -- "$2" <<<"$1"; }
# same_time A B: equal within 1 ms. (serde_json without its float_roundtrip
# feature reads some floats back 1 ulp off, ~0.2 us: reported, not ours.)
same_time() {
    [ "$1" = "$2" ] || say "    note: $1 != $2 bit for bit"
    awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d < 0.001) }'
}
journal_since() { in_ct journalctl -u replayd.service --no-pager -o cat --since "@$1" "${@:2}"; }

declare -A TIME
phase() { PHASE=$1; PHASE_T0=$(now); say "($1) $2"; }
phase_end() { TIME[$PHASE]=$(since "$PHASE_T0"); }

# The NVR tree: what a root-run Frigate would have on disk. Runs inside.
write_nvr_script() {
    cat > "$WORK/make-nvr.sh" <<'EOF'
#!/bin/bash
# Generates /config (config.yml, frigate.db in WAL mode) and 12 x 10 s of
# recordings of camera "front", as root, in Frigate's layout.
set -euo pipefail
SEGMENTS=12
T0=$(( $(date +%s) / 60 * 60 - 600 - SEGMENTS * 10 ))
mkdir -p /config /media/frigate/recordings /media/frigate/clips /tmp/nvr
ffmpeg -hide_banner -nostdin -loglevel error -y -f lavfi -i "testsrc2=size=320x180:rate=10" \
    -t $((SEGMENTS * 10)) -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g 10 -bf 0 \
    -f segment -segment_time 10 -reset_timestamps 1 -segment_format mp4 /tmp/nvr/seg%03d.mp4
sqlite3 /config/frigate.db < /srv/replayd-test/frigate-schema.sql
sqlite3 /config/frigate.db 'PRAGMA journal_mode=WAL;' >/dev/null
{
    echo "BEGIN;"
    for i in $(seq 0 $((SEGMENTS - 1))); do
        start=$((T0 + i * 10))
        path=/media/frigate/recordings/$(date -u -d "@$start" +%Y-%m-%d/%H)/front/$(date -u -d "@$start" +%M.%S).mp4
        mkdir -p "$(dirname "$path")"
        mv "/tmp/nvr/$(printf 'seg%03d.mp4' "$i")" "$path"
        echo "INSERT INTO recordings (id, camera, path, start_time, end_time, duration, objects, motion, segment_size, dBFS, regions) VALUES ('$start.0-ct$i', 'front', '$path', $start.0, $((start + 10)).0, 10.0, 0, 10, 0.1, 0, 0);"
    done
    echo "COMMIT;"
} | sqlite3 /config/frigate.db
cat > /config/config.yml <<YAML
mqtt:
  enabled: false
database:
  path: /config/frigate.db
objects:
  track: [person, car]
cameras:
  front:
    ffmpeg:
      inputs:
        - path: rtsp://127.0.0.1:8554/front
          roles: [detect, record]
    detect:
      width: 320
      height: 180
      fps: 5
    zones:
      driveway:
        coordinates: 0.1,0.5,0.9,0.5,1.0,1.0,0.0,1.0
        objects: [car]
YAML
echo "$T0"
EOF
    chmod 755 "$WORK/make-nvr.sh"
}

run_checks() {
    local out pid1 pid2 t T0 stop_at stop_at2 deb
    deb=$(basename "$(ls "$WORK"/replayd_*.deb)")

    phase install "dpkg -i $deb (no NVR configured yet)"
    out=$(in_ct dpkg -i "/srv/replayd-test/$deb" 2>&1) || { printf '%s\n' "$out"; bad "dpkg -i"; return; }
    ok "dpkg -i"
    check "user and group replayd created by sysusers" in_ct id replayd
    check "replayd.socket enabled" [ "$(in_ct systemctl is-enabled replayd.socket 2>&1)" = enabled ]
    check "replayd.service not enabled (socket activation only)" [ "$(in_ct systemctl is-enabled replayd.service 2>&1)" = disabled ]
    check "nothing started on install without an NVR config" \
        [ "$(prop replayd.socket ActiveState)/$(prop replayd.service ActiveState)" = inactive/inactive ]
    check "the replay dir from tmpfiles.d, owned by replayd" \
        [ "$(in_ct stat -c %U:%G:%a /media/frigate/replayd)" = replayd:replayd:750 ]
    check "/etc/replayd/replayd.toml is a conffile" in_ct grep -qx /etc/replayd/replayd.toml /var/lib/dpkg/info/replayd.conffiles
    in_ct systemd-analyze security replayd.service --no-pager 2>/dev/null | tail -n 1 | sed 's/^/    /'
    # --man=no: the container has no man-db (tests/units.rs checks the man pages).
    out=$(in_ct systemd-analyze verify --man=no replayd.socket replayd.service 2>&1) || true
    [ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/    /'
    check "systemd-analyze verify of the installed units prints nothing" [ -z "$out" ]
    phase_end

    phase nvr "generate the NVR tree as root; grant replayd access with the packaged ACL example"
    T0=$(in_ct bash /srv/replayd-test/make-nvr.sh | tail -n 1)
    in_ct cp /usr/share/doc/replayd/examples/nvr-access.conf /etc/tmpfiles.d/replayd-nvr.conf
    in_ct systemd-tmpfiles --create /etc/tmpfiles.d/replayd-nvr.conf
    check "replayd --check-config finds camera front" in_ct sh -c 'replayd --check-config | grep -q "cameras (1): front"'
    say "    recordings $T0 .. $((T0 + 120)), $(in_ct sqlite3 /config/frigate.db 'select count(*) from recordings') rows"
    phase_end

    phase activation "systemctl start replayd.socket; replayctl ping starts the service"
    in_ct systemctl start replayd.socket
    check "socket listening, service still inactive" \
        [ "$(prop replayd.socket ActiveState)/$(prop replayd.service ActiveState)" = active/inactive ]
    check "control socket mode 660 root:replayd" \
        [ "$(in_ct stat -c %a:%U:%G /run/replayd/control.sock)" = 660:root:replayd ]
    t=$(now)
    out=$(ctl ping 2>&1) || true
    say "    replayctl ping: $out ($(since "$t")s, including the daemon's start)"
    check "ping answered by the socket-activated daemon" contains "$out" "protocol 2"
    check "service active" unit_is replayd.service active
    check "daemon runs as replayd" [ "$(in_ct stat -c %U "/proc/$(prop replayd.service MainPID)")" = replayd ]
    out=$(in_ct systemctl status replayd.service --no-pager 2>&1 || true)
    printf '%s\n' "$out" | sed -n '1,6p' | sed 's/^/    /'
    check "systemctl status shows STATUS=idle" contains "$out" 'Status: "idle"'
    check "runtime dir /run/replayd/state owned by replayd" \
        [ "$(in_ct stat -c %U:%a /run/replayd/state)" = replayd:750 ]
    # (Not compared with the container's own boot id: nspawn fakes that one with a
    # bind mount, and the service's private /proc shows the kernel's.)
    check "session.json tagged with a boot id (/proc/sys readable in the sandbox)" \
        in_ct grep -Eq '"boot_id": "[0-9a-f-]{36}"' /run/replayd/state/session.json
    phase_end

    phase session "replayctl start front (60 s of recordings) under the hardened unit"
    t=$(now)
    out=$(ctl start front --from $((T0 + 15)) --to $((T0 + 75)) 2>&1) || true
    say "    $(printf '%s' "$out" | tr '\r' '\n' | tail -n 1)"
    say "    start -> published in $(since "$t")s"
    check "clip written by ffmpeg inside the sandbox" in_ct test -s /media/frigate/replayd/_replay_front/clip.mp4
    check "... which has MemoryDenyWriteExecute, no capabilities, IP to loopback only" \
        [ "$(prop replayd.service MemoryDenyWriteExecute)/$(prop replayd.service CapabilityBoundingSet)" = yes/ ] &&
        contains "$(prop replayd.service IPAddressAllow)" "127.0.0.0/8" &&
        contains "$(prop replayd.service IPAddressDeny)" "0.0.0.0/0"
    check "clip owned by replayd, mode 640 (UMask=0027)" \
        [ "$(in_ct stat -c %U:%a /media/frigate/replayd/_replay_front/clip.mp4)" = replayd:640 ]
    check "replay camera published in the runtime dir" in_ct test -s /run/replayd/state/cameras/_replay_front.yml
    # STATUS= reaches systemd asynchronously, just after the reply.
    wait_for 5 sh -c "nsenter -t $(leader_pid) -a systemctl show -p StatusText --value replayd.service | grep -q '^replaying'" || true
    out=$(prop replayd.service StatusText)
    say "    StatusText: $out"
    check "STATUS= says replaying with the auto-stop time" contains "$out" "replaying _replay_front, auto-stop at"
    stop_at=$(session_field auto_stop_at)
    say "    auto_stop_at $stop_at"
    # What a root-run NVR would write for the replay camera: replayd must remove it at stop.
    in_ct sh -c 'mkdir -p /media/frigate/clips/_replay_front /media/frigate/clips/thumbs/_replay_front &&
        touch /media/frigate/clips/_replay_front/a.jpg /media/frigate/clips/thumbs/_replay_front/b.webp \
              /media/frigate/clips/_replay_front-1795559000.5-ab12.jpg &&
        sqlite3 /config/frigate.db "INSERT INTO event (id, label, camera, start_time, end_time, zones, has_clip, has_snapshot, retain_indefinitely, data) VALUES (\"1795559000.5-ab12\", \"car\", \"_replay_front\", 1795559000.5, 1795559010.5, \"[]\", 0, 1, 0, \"{}\");"'
    phase_end

    phase admin "who may start and stop: a supplementary member of replayd, a stranger"
    in_ct useradd -M -G replayd alice
    in_ct useradd -M bob
    out=$(in_ct runuser -u alice -- replayctl start front --from $((T0 + 15)) --to $((T0 + 75)) 2>&1) || true
    say "    alice (supplementary group replayd): $out"
    if contains "$out" "already"; then ok "alice is an admin (already_active, not permission_denied)"
    else bad "alice should be allowed to start and stop (got: $out)"; fi
    out=$(in_ct runuser -u bob -- replayctl status 2>&1; echo "exit $?") || true
    say "    bob (no group): $(tail -n 1 <<<"$out")"
    check "bob cannot open the socket (exit 3)" contains "$out" "exit 3"
    phase_end

    phase reload "systemctl reload keeps the session"
    pid1=$(prop replayd.service MainPID)
    t=$(now)
    in_ct systemctl reload replayd.service
    say "    reload took $(since "$t")s"
    check "same MainPID" [ "$(prop replayd.service MainPID)" = "$pid1" ]
    check "journal: configuration reloaded" contains "$(journal_since "${t%.*}")" "configuration reloaded"
    check "session still ready with the same auto_stop_at" same_time "$(session_field auto_stop_at)" "$stop_at"
    phase_end

    phase crash "systemctl kill -s KILL: restarted, session resumed"
    t=$(now)
    in_ct systemctl kill -s KILL replayd.service
    wait_for 20 sh -c "[ \"\$(nsenter -t $(leader_pid) -a systemctl show -p NRestarts --value replayd.service)\" -ge 1 ]" || true
    wait_for 20 unit_is replayd.service active || true
    pid2=$(prop replayd.service MainPID)
    say "    MainPID $pid1 -> $pid2, NRestarts=$(prop replayd.service NRestarts), back after $(since "$t")s"
    check "restarted with a new MainPID" [ "$pid2" != "$pid1" -a "$pid2" != 0 ]
    check "session.json survived (RuntimeDirectoryPreserve=restart)" in_ct test -s /run/replayd/state/session.json
    stop_at2=$(session_field auto_stop_at)
    say "    auto_stop_at $stop_at -> $stop_at2"
    check "session resumed with the same auto_stop_at" same_time "$stop_at2" "$stop_at"
    check "journal: resumed session" contains "$(journal_since "${t%.*}")" "resumed session of _replay_front"
    check "camera published again" in_ct test -s /run/replayd/state/cameras/_replay_front.yml
    phase_end

    phase upgrade "dpkg -i again (an upgrade) while the session runs: restarted, session kept"
    pid1=$(prop replayd.service MainPID)
    in_ct dpkg -i "/srv/replayd-test/$deb" >/dev/null 2>&1 || bad "dpkg -i (upgrade)"
    wait_for 10 unit_is replayd.service active || true
    pid2=$(prop replayd.service MainPID)
    say "    MainPID $pid1 -> $pid2"
    check "postinst restarted the running daemon" [ "$pid2" != "$pid1" -a "$pid2" != 0 ]
    check "session kept with the same auto_stop_at" same_time "$(session_field auto_stop_at)" "$stop_at"
    phase_end

    phase watchdog "WatchdogSec=2s for 5 s: the daemon's pings keep it alive"
    in_ct sh -c 'mkdir -p /etc/systemd/system/replayd.service.d &&
        printf "[Service]\nWatchdogSec=2s\n" > /etc/systemd/system/replayd.service.d/watchdog.conf &&
        systemctl daemon-reload && systemctl restart replayd.service'
    pid1=$(prop replayd.service MainPID)
    sleep 5
    check "still the same process, not restarted by the watchdog" \
        [ "$(prop replayd.service MainPID)/$(prop replayd.service ActiveState)" = "$pid1/active" ]
    check "no watchdog timeout in the journal" sh -c "! nsenter -t $(leader_pid) -a journalctl -u replayd.service --no-pager | grep -q 'Watchdog timeout'"
    in_ct sh -c 'rm /etc/systemd/system/replayd.service.d/watchdog.conf && systemctl daemon-reload && systemctl restart replayd.service'
    check "session survived the restarts" same_time "$(session_field auto_stop_at)" "$stop_at"
    phase_end

    phase stop "replayctl stop: cleanup of the NVR's files and rows (ACL grant, ReadWritePaths)"
    t=$(now)
    out=$(ctl stop 2>&1) || true
    printf '%s\n' "$out" | sed 's/^/    /' | head -n 8
    say "    stop took $(since "$t")s"
    check "clip removed" in_ct test ! -e /media/frigate/replayd/_replay_front/clip.mp4
    check "NVR's snapshot dir, thumbnails and snapshot of the replay camera removed" in_ct sh -c \
        '! test -e /media/frigate/clips/_replay_front && ! test -e /media/frigate/clips/thumbs/_replay_front && ! test -e /media/frigate/clips/_replay_front-1795559000.5-ab12.jpg'
    check "event row of the replay camera deleted" \
        [ "$(in_ct sqlite3 /config/frigate.db "select count(*) from event where camera='_replay_front'")" = 0 ]
    check "published camera removed" in_ct test ! -e /run/replayd/state/cameras/_replay_front.yml
    check "source recordings untouched" \
        [ "$(in_ct sh -c 'find /media/frigate/recordings -name "*.mp4" | wc -l')" = 12 ]
    phase_end

    phase config "a configuration error: exit 78, no restart, the message names the key"
    in_ct sh -c 'printf "[session]\nmax_rnage = \"1h\"\n" > /etc/replayd/replayd.toml'
    t=$(now)
    in_ct systemctl restart replayd.service 2>/dev/null || true
    wait_for 10 unit_is replayd.service failed || true
    check "service failed with status 78" [ "$(prop replayd.service ExecMainStatus)/$(prop replayd.service ActiveState)" = 78/failed ]
    sleep 1.5
    check "not restarted (RestartPreventExitStatus=78)" unit_is replayd.service failed
    out=$(journal_since "${t%.*}" -p err)
    say "    journal: $(grep -m1 max_rnage <<<"$out" || true)"
    check "journal names the file, line and key" contains "$out" "replayd.toml:2: "
    check "the socket file survives the failed service" in_ct test -S /run/replayd/control.sock
    in_ct cp /srv/replayd-test/replayd.toml /etc/replayd/replayd.toml
    in_ct systemctl reset-failed replayd.service
    out=$(ctl ping 2>&1) || true
    check "after a fix, the next client starts it again" contains "$out" "protocol 2"
    phase_end

    phase warnings "a failed start: journalctl -u replayd -p warning shows why"
    in_ct sh -c 'rm -f $(sqlite3 /config/frigate.db "select path from recordings order by start_time desc limit 3")'
    t=$(now)
    out=$(ctl start front --from $((T0 + 95)) --to $((T0 + 115)) 2>&1; echo "exit $?") || true
    say "    replayctl: $(tr '\n' ' ' <<<"$out")"
    check "start refused (exit 1)" contains "$out" "exit 1"
    sleep 0.5
    out=$(journal_since "${t%.*}" -p warning)
    printf '%s\n' "$out" | sed 's/^/    /' | head -n 6
    check "journal -p warning names the missing segments" contains "$out" "skipping recording segment"
    wait_for 5 sh -c "[ \"\$(nsenter -t $(leader_pid) -a systemctl show -p StatusText --value replayd.service)\" = idle ]" || true
    check "session idle after the failed start" [ "$(prop replayd.service StatusText)" = idle ]
    phase_end

    phase sigterm "systemctl stop during a session: clean stop, runtime dir gone, socket still there"
    out=$(ctl start front --from $((T0 + 5)) --to $((T0 + 65)) 2>&1) || true
    wait_for 5 sh -c "nsenter -t $(leader_pid) -a systemctl show -p StatusText --value replayd.service | grep -q '^replaying'" || true
    check "second session ready" contains "$(prop replayd.service StatusText)" "replaying _replay_front"
    t=$(now)
    in_ct systemctl stop replayd.service
    say "    stop took $(since "$t")s, Result=$(prop replayd.service Result)"
    check "stopped cleanly (Result=success)" [ "$(prop replayd.service Result)/$(prop replayd.service ActiveState)" = success/inactive ]
    check "runtime dir /run/replayd/state gone" in_ct test ! -e /run/replayd/state
    check "control socket still there" in_ct test -S /run/replayd/control.sock
    check "no ffmpeg left" [ -z "$(in_ct sh -c 'grep -lx ffmpeg /proc/[0-9]*/comm 2>/dev/null')" ]
    t=$(now)
    out=$(ctl status 2>&1) || true
    say "    next replayctl status: $(head -n 1 <<<"$out") ($(since "$t")s)"
    check "next client activates a fresh daemon" unit_is replayd.service active
    check "stale replay camera of the stopped session cleaned at start" \
        in_ct test ! -e /media/frigate/replayd/_replay_front/clip.mp4
    phase_end

    phase midclip "systemctl stop while ffmpeg runs (KillMode=mixed)"
    # An "ffmpeg" that never finishes and leaves a grandchild without a
    # parent-death signal: replayd kills its child, systemd the rest.
    in_ct sh -c 'printf "[ffmpeg]\npath = \"/srv/replayd-test/stuck-ffmpeg\"\n" > /etc/replayd/replayd.toml'
    in_ct systemctl restart replayd.service
    ctl start front --no-wait --from $((T0 + 5)) --to $((T0 + 65)) >/dev/null 2>&1 || true
    wait_for 5 sh -c "nsenter -t $(leader_pid) -a systemctl show -p StatusText --value replayd.service | grep -q '^preparing clip'" || true
    say "    StatusText: $(prop replayd.service StatusText)"
    check "STATUS= shows the clip being prepared" contains "$(prop replayd.service StatusText)" "preparing clip"
    t=$(now)
    in_ct systemctl stop replayd.service
    say "    stop took $(since "$t")s, Result=$(prop replayd.service Result)"
    check "clean stop (Result=success)" [ "$(prop replayd.service Result)" = success ]
    out=$(in_ct journalctl -u replayd.service --no-pager -o cat --since "@${t%.*}")
    check "replayd ended its ffmpeg itself" contains "$out" "before exit"
    check "nothing of the unit left running" [ -z "$(in_ct sh -c 'grep -l "^sleep" /proc/[0-9]*/comm 2>/dev/null')" ]
    in_ct cp /srv/replayd-test/replayd.toml /etc/replayd/replayd.toml
    phase_end

    phase purge "dpkg --purge; a new install with the NVR configured starts the socket"
    in_ct dpkg --purge replayd >/dev/null 2>&1 || bad "dpkg --purge"
    check "units stopped and gone" [ "$(prop replayd.socket LoadState)/$(prop replayd.service LoadState)" = not-found/not-found ]
    check "socket removed" in_ct test ! -e /run/replayd/control.sock
    check "the user stays (Debian keeps system users)" in_ct id replayd
    in_ct dpkg -i "/srv/replayd-test/$deb" >/dev/null 2>&1 || bad "dpkg -i (again)"
    check "postinst started replayd.socket (NVR config found)" unit_is replayd.socket active
    out=$(ctl ping 2>&1) || true
    check "and it answers" contains "$out" "protocol 2"
    in_ct dpkg --purge replayd >/dev/null 2>&1 || bad "dpkg --purge"
    phase_end
}

on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] || [ "$FAILS" -ne 0 ]; then
        if nspawn_pid >/dev/null 2>&1; then
            say "---- journalctl -u replayd (last 60 lines)"
            in_ct journalctl -u replayd.service -u replayd.socket --no-pager -o short-monotonic 2>/dev/null | tail -n 60 || true
        fi
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        nspawn_pid >/dev/null 2>&1 && say "container kept running (KEEP=1): $0 exec CMD…, $0 stop"
    else
        cmd_stop
    fi
}

cmd_all() {
    local build=1 T0 t td tr tdeb tb tt ts
    [ "${1:-}" = --no-build ] && build=0
    [ "$(id -u)" = 0 ] || die "needs root"
    T0=$(now)
    t=$(now); cmd_deps; td=$(since "$t")
    t=$(now); cmd_rootfs; tr=$(since "$t")
    t=$(now)
    mkdir -p "$WORK"
    rm -f "$WORK"/*.deb
    local args=()
    [ "$build" = 0 ] && args+=(--no-build)
    OUT_DIR="$WORK" bash "$REPO/packaging/build-deb.sh" "${args[@]}" >/dev/null
    cp "$REPO/tests/fixtures/frigate-schema.sql" "$REPO/packaging/replayd.toml" "$WORK/"
    write_nvr_script
    printf '#!/bin/sh\n# Never finishes; its child has no parent-death signal.\nsleep 600 &\nwait\n' > "$WORK/stuck-ffmpeg"
    chmod 755 "$WORK/stuck-ffmpeg"
    tdeb=$(since "$t")
    trap on_exit EXIT
    t=$(now); cmd_boot; tb=$(since "$t")
    t=$(now); run_checks; tt=$(since "$t")
    t=$(now)
    if [ "${KEEP:-0}" != 1 ]; then cmd_stop; fi
    trap - EXIT
    ts=$(since "$t")
    local p phases=""
    for p in install nvr activation session admin reload crash upgrade watchdog stop config warnings sigterm midclip purge; do
        phases+=" $p=${TIME[$p]:-?}s"
    done
    say "phases:$phases"
    say "SUMMARY: deps ${td}s | rootfs ${tr}s | build+package ${tdeb}s | boot ${tb}s | checks ${tt}s | poweroff ${ts}s | total $(since "$T0")s | $PASSES passed, $FAILS failed"
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" = 0 ]
}

case ${1:-} in
    ""|--no-build) cmd_all "${1:-}" ;;
    exec) shift; in_ct "$@" ;;
    stop) cmd_stop ;;
    clean) cmd_clean ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "usage: $0 [--no-build | exec CMD… | stop | clean | --help]" >&2; exit 2 ;;
esac
