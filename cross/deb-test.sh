#!/usr/bin/env bash
# Install, check, remove and purge the amd64 .deb on this machine (needs root; changes the
# system: a `pipit` user, /usr/bin/pipit, /var/lib/pipit — all gone again at the end).
#
#   cross/deb-test.sh [path/to/pipit_VERSION_amd64.deb]
#
# Default: the newest cross/out/pipit_*_amd64.deb (runs cross/deb.sh for x86_64 if none).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
fails=0
passes=0
ok() { printf 'ok   %s\n' "$*"; passes=$((passes + 1)); }
bad() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }
quiet() { local o; o=$("$@" 2>&1) || { printf '%s\n' "$o" | sed 's/^/    | /'; return 1; }; }
check() { # check DESCRIPTION command...
    local what=$1; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

[ "$(id -u)" = 0 ] || { echo "deb-test.sh: must run as root" >&2; exit 1; }
DEB=${1:-$(ls -t "$HERE"/out/pipit_*_amd64.deb 2>/dev/null | head -1)}
if [ -z "$DEB" ]; then
    "$HERE/deb.sh" x86_64-unknown-linux-musl || exit 1
    DEB=$(ls -t "$HERE"/out/pipit_*_amd64.deb | head -1)
fi
echo "==> testing $DEB"

if dpkg-query -W -f='${Status}' pipit 2>/dev/null | grep -q installed; then
    echo "deb-test.sh: a pipit package is already installed here; refusing to touch it" >&2
    exit 1
fi
if getent passwd pipit >/dev/null || [ -e /var/lib/pipit ]; then
    echo "deb-test.sh: a pipit user or /var/lib/pipit already exists; refusing to touch it" >&2
    exit 1
fi

# --- package metadata --------------------------------------------------------------------------
for field in Package Version Architecture Maintainer Description; do
    check "control field $field" test -n "$(dpkg-deb -f "$DEB" "$field")"
done
check "no Depends (static binary)" test -z "$(dpkg-deb -f "$DEB" Depends)"
check "architecture amd64" test "$(dpkg-deb -f "$DEB" Architecture)" = amd64
VERSION=$(dpkg-deb -f "$DEB" Version)

# --- install -----------------------------------------------------------------------------------
out=$(dpkg -i "$DEB" 2>&1); rc=$?
printf '%s\n' "$out" | sed 's/^/    | /'
check "dpkg -i" test "$rc" = 0
check "postinst prints how to run pipit init" grep -q 'pipit init' <<<"$out"
check "/usr/bin/pipit is executable" test -x /usr/bin/pipit
v=$(/usr/bin/pipit --version 2>&1)
check "pipit --version ($v) matches $VERSION" test "$v" = "pipit $VERSION"
check "unit installed" test -f /lib/systemd/system/pipit.service
check "system user pipit" quiet getent passwd pipit
uid=$(id -u pipit 2>/dev/null || echo 0)
check "pipit is a system user (uid $uid < 1000)" test "$uid" -gt 0 -a "$uid" -lt 1000
check "pipit has no login shell" sh -c "getent passwd pipit | grep -Eq ':(/usr/sbin/nologin|/bin/false|/usr/bin/false)$'"
check "/var/lib/pipit owned by pipit" test "$(stat -c %U /var/lib/pipit 2>/dev/null)" = pipit
check "enabled (multi-user.target.wants symlink)" test -L /etc/systemd/system/multi-user.target.wants/pipit.service
if command -v systemd-analyze >/dev/null; then
    vout=$(systemd-analyze verify /lib/systemd/system/pipit.service 2>&1); vrc=$?
    [ -n "$vout" ] && printf '%s\n' "$vout" | sed 's/^/    | /'
    check "systemd-analyze verify" test "$vrc" = 0
else
    echo "SKIP systemd-analyze verify: systemd-analyze not installed"
fi

# The packaged binary works as the service would run it: as user pipit, in /var/lib/pipit.
if command -v runuser >/dev/null; then
    check "pipit init as user pipit" quiet runuser -u pipit -- /usr/bin/pipit init --data /var/lib/pipit \
        --url http://127.0.0.1:8080 --username debtest --listen 127.0.0.1:8080
    check "config written by init" test -f /var/lib/pipit/pipit.toml
fi

# Upgrade path: re-installing the same package keeps user and data.
check "dpkg -i again (upgrade path)" quiet dpkg -i "$DEB"
check "data kept across re-install" test -f /var/lib/pipit/pipit.toml

# --- remove ------------------------------------------------------------------------------------
check "dpkg -r" quiet dpkg -r pipit
check "binary gone after remove" test ! -e /usr/bin/pipit
check "unit gone after remove" test ! -e /lib/systemd/system/pipit.service
check "no enablement symlink after remove" sh -c '! ls /etc/systemd/system/*.wants/pipit.service >/dev/null 2>&1'
check "user kept after remove" quiet getent passwd pipit
check "data kept after remove" test -f /var/lib/pipit/pipit.toml
check "package state rc after remove" test "$(dpkg-query -W -f='${db:Status-Abbrev}' pipit 2>/dev/null | tr -d ' ')" = rc

# --- purge -------------------------------------------------------------------------------------
check "dpkg -P" quiet dpkg -P pipit
check "user removed on purge" sh -c '! getent passwd pipit >/dev/null'
check "group removed on purge" sh -c '! getent group pipit >/dev/null'
check "/var/lib/pipit removed on purge" test ! -e /var/lib/pipit
check "no deb-systemd-helper state left" sh -c '! ls /var/lib/systemd/deb-systemd-helper-enabled/ 2>/dev/null | grep -q pipit'
check "package unknown to dpkg after purge" sh -c '! dpkg-query -W pipit >/dev/null 2>&1'

echo
echo "deb-test: $passes passed, $fails failed"
[ "$fails" = 0 ]
