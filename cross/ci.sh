#!/usr/bin/env bash
# The Pi part of CI: static builds for every Pi target, each run under qemu with an emulated Pi
# CPU through the strict smoke test (init, serve, WebFinger, actor, post, and a follow + delivery
# with a native pipit), then the amd64 .deb installed, checked and purged. Called by .ci/run
# after the test suite.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT"
say() { printf '\n== %s\n' "$*"; }

if ! command -v qemu-aarch64 >/dev/null && ! command -v qemu-aarch64-static >/dev/null; then
    say "installing qemu-user"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq qemu-user >/dev/null
fi

targets=(aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf arm-unknown-linux-musleabihf x86_64-unknown-linux-musl)
say "cross builds: ${targets[*]}"
# CI checks that every target builds, links statically and runs under qemu; it does not ship the
# binaries. Fat LTO with one codegen unit (the release profile, for the smallest Pi binary) costs
# most of the build on 2 cores, four times over, so CI builds with local thin LTO and 16 codegen
# units instead. The shipped sizes come from a plain `cross/build.sh` (cross/BENCHMARKS.md).
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
"$HERE/build.sh" "${targets[@]}"

# The native peer of the smoke test: the debug build tests/run just made.
[ -x "$ROOT/target/debug/pipit" ] || cargo build --locked --quiet
status=0
for t in aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf arm-unknown-linux-musleabihf; do
    say "smoke test under qemu: $t"
    SMOKE_STRICT=1 NATIVE_PIPIT="$ROOT/target/debug/pipit" "$HERE/smoke.sh" "$t" || status=1
done

say ".deb packages"
"$HERE/deb.sh" x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf arm-unknown-linux-musleabihf
if [ "$(id -u)" -eq 0 ]; then
    "$HERE/deb-test.sh" || status=1
else
    echo "SKIP: deb-test.sh needs root"
fi
exit "$status"
