#!/bin/bash
# Builds the Debian package of replayd with nothing but cargo and dpkg's own
# tools (no debhelper, no cargo-deb): a staging tree, DEBIAN/ control files,
# dpkg-deb --build.
#
#   bash packaging/build-deb.sh              # cargo build --release, then package
#   bash packaging/build-deb.sh --no-build   # package the existing target/release binaries
#   bash packaging/build-deb.sh --lintian    # also run lintian on the result
#
# Environment: OUT_DIR (default target/debian), DEB_REVISION (default 1),
# BIN_DIR (package the binaries found there, e.g. target/debug, instead of
# building target/release; tests/units.rs does that), SOURCE_DATE_EPOCH
# (default: the time of the last commit; file times in the package are
# clamped to it, so rebuilds are byte-identical).
#
# The last line of output is the path of the .deb.
#
# Needs: cargo, dpkg-dev (dpkg-shlibdeps, dpkg-architecture), binutils
# (strip), gzip; lintian for --lintian.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKG=$REPO/packaging
BUILD=1
LINTIAN=0
for arg in "$@"; do
    case $arg in
        --no-build) BUILD=0 ;;
        --lintian) LINTIAN=1 ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-deb: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "build-deb: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps dpkg-architecture strip gzip; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install dpkg-dev binutils gzip)"
done

UPSTREAM=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1)
[ -n "$UPSTREAM" ] || die "no version in Cargo.toml"
VERSION=$UPSTREAM-${DEB_REVISION:-1}
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
OUT_DIR=${OUT_DIR:-$REPO/target/debian}
STAGE=$OUT_DIR/replayd_${VERSION}_$ARCH
DEB=$OUT_DIR/replayd_${VERSION}_$ARCH.deb

grep -q "^replayd ($VERSION)" "$PKG/deb/changelog" \
    || die "packaging/deb/changelog has no entry for $VERSION: add one"

if [ -n "${BIN_DIR:-}" ]; then
    BUILD=0
else
    BIN_DIR=$REPO/target/release
fi
if [ "$BUILD" = 1 ]; then
    (cd "$REPO" && cargo build --release --locked --bins)
fi
for bin in replayd replayctl; do
    [ -x "$BIN_DIR/$bin" ] || die "$BIN_DIR/$bin is missing (drop --no-build)"
done

rm -rf "$STAGE" "$DEB"
mkdir -p "$STAGE/DEBIAN"
umask 022

# install MODE SRC DEST (DEST relative to the staging root)
put() {
    install -D -m "$1" "$2" "$STAGE/$3"
}
# A man page or changelog, compressed the way dh_compress does it.
put_gz() {
    mkdir -p "$(dirname "$STAGE/$2")"
    gzip -9nc "$1" > "$STAGE/$2"
    chmod 644 "$STAGE/$2"
}

# Binaries, stripped as dh_strip does.
for bin in replayd replayctl; do
    put 755 "$BIN_DIR/$bin" "usr/bin/$bin"
    strip --remove-section=.comment --remove-section=.note --strip-unneeded "$STAGE/usr/bin/$bin"
done

# systemd: units (bookworm's systemd reads /lib/systemd/system), users, directories.
put 644 "$REPO/systemd/replayd.service" lib/systemd/system/replayd.service
put 644 "$REPO/systemd/replayd.socket" lib/systemd/system/replayd.socket
put 644 "$REPO/systemd/replayd.sysusers" usr/lib/sysusers.d/replayd.conf
put 644 "$REPO/systemd/replayd.tmpfiles" usr/lib/tmpfiles.d/replayd.conf

# Configuration (a conffile).
put 644 "$PKG/replayd.toml" etc/replayd/replayd.toml

# Manual pages.
put_gz "$PKG/man/replayd.8" usr/share/man/man8/replayd.8.gz
put_gz "$PKG/man/replayctl.1" usr/share/man/man1/replayctl.1.gz
put_gz "$PKG/man/replayd.toml.5" usr/share/man/man5/replayd.toml.5.gz

# Shell completions, where bash-completion, zsh and fish look for them.
put 644 "$PKG/completions/replayctl.bash" usr/share/bash-completion/completions/replayctl
put 644 "$PKG/completions/replayd.bash" usr/share/bash-completion/completions/replayd
put 644 "$PKG/completions/_replayctl" usr/share/zsh/vendor-completions/_replayctl
put 644 "$PKG/completions/_replayd" usr/share/zsh/vendor-completions/_replayd
put 644 "$PKG/completions/replayctl.fish" usr/share/fish/vendor_completions.d/replayctl.fish
put 644 "$PKG/completions/replayd.fish" usr/share/fish/vendor_completions.d/replayd.fish

# Documentation.
DOC=usr/share/doc/replayd
put 644 "$PKG/deb/copyright" "$DOC/copyright"
put_gz "$PKG/deb/changelog" "$DOC/changelog.Debian.gz"
put 644 "$PKG/examples/nvr-access.conf" "$DOC/examples/nvr-access.conf"
put 644 "$PKG/deb/lintian-overrides" usr/share/lintian/overrides/replayd

# Maintainer scripts and control files.
for script in postinst prerm postrm; do
    put 755 "$PKG/deb/$script" "DEBIAN/$script"
done
echo /etc/replayd/replayd.toml > "$STAGE/DEBIAN/conffiles"
chmod 644 "$STAGE/DEBIAN/conffiles"

# Shared library dependencies, as dh_shlibdeps computes them. dpkg-shlibdeps
# wants to run in a source tree: give it a minimal one.
SHLIB_TREE=$(mktemp -d)
trap 'rm -rf "$SHLIB_TREE"' EXIT
mkdir -p "$SHLIB_TREE/debian"
printf 'Source: replayd\n\nPackage: replayd\nArchitecture: any\n' > "$SHLIB_TREE/debian/control"
SHLIBS=$(cd "$SHLIB_TREE" && dpkg-shlibdeps -O "$STAGE/usr/bin/replayd" "$STAGE/usr/bin/replayctl" 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p')
[ -n "$SHLIBS" ] || die "dpkg-shlibdeps found no dependencies"

# Installed-Size in KiB, as dpkg-gencontrol counts it (each file rounded up).
INSTALLED_SIZE=$(find "$STAGE" -path "$STAGE/DEBIAN" -prune -o \( -type f -o -type l \) -printf '%s\n' \
    | awk '{ kib += int(($1 + 1023) / 1024) } END { print kib + 0 }')

sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$ARCH/" \
    -e "s/@INSTALLED_SIZE@/$INSTALLED_SIZE/" -e "s/@SHLIBS@/$SHLIBS/" \
    "$PKG/deb/control.in" > "$STAGE/DEBIAN/control"
chmod 644 "$STAGE/DEBIAN/control"

(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
    | xargs -0 md5sum) > "$STAGE/DEBIAN/md5sums"
chmod 644 "$STAGE/DEBIAN/md5sums"

# Directories 0755 whatever the umask of the checkout was; times clamped.
find "$STAGE" -type d -exec chmod 755 {} +
find "$STAGE" -newermt "@$SOURCE_DATE_EPOCH" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +

dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null
echo "build-deb: $(dpkg-deb -f "$DEB" Package Version Architecture | tr '\n' ' ')($(du -h "$DEB" | cut -f1)), Depends: $(dpkg-deb -f "$DEB" Depends)" >&2

if [ "$LINTIAN" = 1 ]; then
    command -v lintian >/dev/null 2>&1 || die "lintian not found (apt-get install lintian)"
    # Exit status 0 unless lintian finds errors (its default --fail-on).
    lintian --info --display-info "$DEB" >&2
fi
echo "$DEB"
