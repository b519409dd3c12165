#!/usr/bin/env bash
# Package the cross binaries as .deb files with plain dpkg-deb (no cargo-deb).
#
#   cross/deb.sh [TARGET...]     default: all four targets
#
# Uses cross/out/<target>/pipit, building it with cross/build.sh first when it is missing.
# Output: cross/out/pipit_<version>_<arch>.deb
#   aarch64-unknown-linux-musl      -> arm64  (64-bit Raspberry Pi OS, Pi 3/4/5, Zero 2 W)
#   armv7-unknown-linux-musleabihf  -> armhf  (32-bit Raspberry Pi OS on Pi 2/3/4)
#   arm-unknown-linux-musleabihf    -> armel  (ARMv6: Pi Zero/1; Debian's armel arch name)
#   x86_64-unknown-linux-musl       -> amd64
# Note: Raspberry Pi OS calls its 32-bit userland "armhf" even on ARMv6 boards; the ARMv6 binary
# runs on every 32-bit Pi, so on a Pi Zero/1 install the armel package with
# `dpkg --force-architecture -i` or repack it as armhf (DEB_ARMV6_ARCH=armhf cross/deb.sh arm-...).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SRC=${PIPIT_SRC:-$ROOT}
OUT=$HERE/out
STAGE=${CARGO_TARGET_DIR:-$HERE/target}/deb
MAINTAINER=${DEB_MAINTAINER:-pipit maintainers <pipit@localhost>}
ALL_TARGETS=(aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf arm-unknown-linux-musleabihf x86_64-unknown-linux-musl)
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

deb_arch() {
    case "$1" in
        aarch64-unknown-linux-musl) echo arm64 ;;
        armv7-unknown-linux-musleabihf) echo armhf ;;
        arm-unknown-linux-musleabihf) echo "${DEB_ARMV6_ARCH:-armel}" ;;
        x86_64-unknown-linux-musl) echo amd64 ;;
        *) echo "deb.sh: unknown target $1" >&2; return 2 ;;
    esac
}

# Version: the [package] version of the crate that was built.
VERSION=$(awk '/^\[package\]/{p=1; next} /^\[/{p=0} p && /^version *=/{gsub(/.*= *"|".*/, ""); print; exit}' "$SRC/Cargo.toml")
[ -n "$VERSION" ] || { echo "deb.sh: no version in $SRC/Cargo.toml" >&2; exit 1; }
DESCRIPTION=$(awk '/^\[package\]/{p=1; next} /^\[/{p=0} p && /^description *=/{sub(/^description *= *"/, ""); sub(/" *$/, ""); print; exit}' "$SRC/Cargo.toml")

missing=()
for t in "${TARGETS[@]}"; do
    deb_arch "$t" >/dev/null
    [ -x "$OUT/$t/pipit" ] || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "==> no binary yet for ${missing[*]}: running build.sh"
    "$HERE/build.sh" "${missing[@]}"
fi

write_scripts() { # $1 = DEBIAN dir
    cat >"$1/postinst" <<'EOF'
#!/bin/sh
set -e

if [ "$1" = "configure" ]; then
    if ! getent passwd pipit >/dev/null; then
        if command -v adduser >/dev/null 2>&1; then
            adduser --quiet --system --group --home /var/lib/pipit --no-create-home pipit
        else
            useradd --system --user-group --home-dir /var/lib/pipit --no-create-home \
                --shell /usr/sbin/nologin pipit
        fi
    fi
    # systemd creates it too (StateDirectory=), but `pipit init` is run before the first start.
    if [ ! -d /var/lib/pipit ]; then
        install -d -o pipit -g pipit -m 0750 /var/lib/pipit
    fi
fi

if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
    # Enable on first install (and keep an admin's `systemctl disable` across upgrades), but do
    # not start: pipit needs its public URL and username first.
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper unmask pipit.service >/dev/null || true
        if deb-systemd-helper --quiet was-enabled pipit.service; then
            deb-systemd-helper enable pipit.service >/dev/null || true
        else
            deb-systemd-helper update-state pipit.service >/dev/null || true
        fi
    elif command -v systemctl >/dev/null 2>&1 && [ -z "$2" ]; then
        systemctl enable pipit.service >/dev/null 2>&1 || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        # Upgrade: restart only if it was running.
        if [ -n "$2" ]; then
            systemctl try-restart pipit.service || true
        fi
    fi
fi

if [ "$1" = "configure" ] && [ ! -e /var/lib/pipit/pipit.toml ]; then
    cat <<'MSG'

pipit is installed and enabled, but not started. Configure it first:

    sudo -u pipit pipit init --data /var/lib/pipit --url https://YOUR.HOST --username YOURNAME
    sudo systemctl start pipit
    journalctl -u pipit      # shows the one-time link to set your password

(Or set the password later: sudo -u pipit pipit password --data /var/lib/pipit)

MSG
fi
exit 0
EOF

    cat >"$1/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
    systemctl stop pipit.service >/dev/null 2>&1 || true
fi
exit 0
EOF

    cat >"$1/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "remove" ]; then
    # Disable: drop the enablement symlinks and deb-systemd-helper's record of them (so a
    # re-install enables it again, like a first install).
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper purge pipit.service >/dev/null || true
    fi
    rm -f /etc/systemd/system/*.wants/pipit.service
fi
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper purge pipit.service >/dev/null || true
        deb-systemd-helper unmask pipit.service >/dev/null || true
    fi
    rm -f /etc/systemd/system/*.wants/pipit.service
    # Purge deletes the data: posts, keys, media. `dpkg -r` keeps it.
    rm -rf /var/lib/pipit
    if getent passwd pipit >/dev/null; then
        if command -v deluser >/dev/null 2>&1; then
            deluser --quiet --system pipit >/dev/null || true
        else
            userdel pipit || true
        fi
    fi
    if getent group pipit >/dev/null; then
        if command -v delgroup >/dev/null 2>&1; then
            delgroup --quiet --system pipit >/dev/null || true
        else
            groupdel pipit || true
        fi
    fi
fi
exit 0
EOF
    chmod 0755 "$1/postinst" "$1/prerm" "$1/postrm"
}

mkdir -p "$OUT"
for t in "${TARGETS[@]}"; do
    arch=$(deb_arch "$t")
    pkg=$STAGE/$arch
    rm -rf "$pkg"
    install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/usr/share/doc/pipit"
    install -m 0755 "$OUT/$t/pipit" "$pkg/usr/bin/pipit"
    install -m 0644 "$HERE/pipit.service" "$pkg/lib/systemd/system/pipit.service"
    cat >"$pkg/usr/share/doc/pipit/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: pipit

Files: *
Copyright: the pipit authors
License: AGPL-3.0-or-later
 pipit is free software: you can redistribute it and/or modify it under the terms of the
 GNU Affero General Public License as published by the Free Software Foundation, either
 version 3 of the License, or (at your option) any later version.
EOF
    printf 'pipit (%s) unstable; urgency=medium\n\n  * Release %s (static %s build).\n\n -- %s  %s\n' \
        "$VERSION" "$VERSION" "$t" "$MAINTAINER" "$(date -R)" | gzip -9n >"$pkg/usr/share/doc/pipit/changelog.gz"
    chmod 0644 "$pkg/usr/share/doc/pipit/"*
    write_scripts "$pkg/DEBIAN"
    installed_kb=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
    cat >"$pkg/DEBIAN/control" <<EOF
Package: pipit
Version: $VERSION
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $installed_kb
Section: net
Priority: optional
Description: ${DESCRIPTION:-single-user ActivityPub server}
 pipit is a single-user ActivityPub (fediverse) server in one static binary,
 small enough for a Raspberry Pi. It keeps its data in /var/lib/pipit and runs
 as the systemd service pipit.service under its own system user.
 .
 This package is statically linked ($t) and needs no other packages.
EOF
    deb=$OUT/pipit_${VERSION}_${arch}.deb
    dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
    printf '%-40s %9d bytes\n' "$(basename "$deb")" "$(stat -c %s "$deb")"
done
