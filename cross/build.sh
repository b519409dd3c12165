#!/usr/bin/env bash
# Build stripped, static release binaries of pipit for the Raspberry Pi (and x86_64).
#
#   cross/build.sh [TARGET...]      default: all four targets below
#
# Output: cross/out/<target>/pipit, then a size table.
# Env:
#   PIPIT_SRC         crate to build (default: the repo this script lives in). Point it at a
#                     snapshot copy to build while someone is editing src/.
#   CARGO_TARGET_DIR  default cross/target (kept apart from the dev build in ./target).
#   CROSS_JOBS        passed to cargo as --jobs (default: cargo's own choice).
#
# Tools are installed when missing (idempotent): cargo-zigbuild + zig from PyPI, the rust-std
# of each target via `rustup target add`; where that download fails (armv7/arm musl answer 404
# on these machines) std is built from rust-src with -Zbuild-std instead (see cross/README.md).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SRC=${PIPIT_SRC:-$ROOT}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HERE/target}
OUT=$HERE/out
ZIGBUILD_VERSION=0.24.0
ZIG_VERSION=0.17.1
ALL_TARGETS=(aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf arm-unknown-linux-musleabihf x86_64-unknown-linux-musl)

if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
for t in "${TARGETS[@]}"; do
    case " ${ALL_TARGETS[*]} " in *" $t "*) ;; *) echo "build.sh: unknown target $t (known: ${ALL_TARGETS[*]})" >&2; exit 2 ;; esac
done

log() { printf '==> %s\n' "$*"; }

# --- tools -----------------------------------------------------------------------------------
pip_version() { python3 -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
need_pip=()
[ "$(pip_version cargo-zigbuild)" = "$ZIGBUILD_VERSION" ] && command -v cargo-zigbuild >/dev/null || need_pip+=("cargo-zigbuild==$ZIGBUILD_VERSION")
[ "$(pip_version ziglang)" = "$ZIG_VERSION" ] || need_pip+=("ziglang==$ZIG_VERSION")
if [ ${#need_pip[@]} -gt 0 ]; then
    log "pip install ${need_pip[*]}"
    python3 -m pip install --quiet "${need_pip[@]}"
    hash -r
fi
command -v cargo-zigbuild >/dev/null || { echo "build.sh: cargo-zigbuild not on PATH after pip install" >&2; exit 1; }

installed_targets=$(rustup target list --installed)
std_targets=()      # rust-std came from rustup
buildstd_targets=() # std built from source
for t in "${TARGETS[@]}"; do
    if grep -qx "$t" <<<"$installed_targets"; then
        std_targets+=("$t")
    elif log "rustup target add $t" && rustup target add "$t" >/dev/null 2>&1; then
        std_targets+=("$t")
    else
        log "rust-std for $t cannot be downloaded here: falling back to -Zbuild-std"
        buildstd_targets+=("$t")
    fi
done
if [ ${#buildstd_targets[@]} -gt 0 ] && ! rustup component list --installed | grep -q '^rust-src'; then
    log "rustup component add rust-src"
    rustup component add rust-src
fi

# --- build -----------------------------------------------------------------------------------
mkdir -p "$CARGO_TARGET_DIR" "$OUT"
# Link with symbols and strip the copy in cross/out below: the unstripped binary left in
# $CARGO_TARGET_DIR/<target>/release/pipit is then exactly the shipped one plus a symbol table,
# which cross/startup-order.sh profiles (issue 15). Same code and layout as `strip = true`
# (llvm-strip drops only non-loaded sections); the profile setting is kept for plain builds.
export CARGO_PROFILE_RELEASE_STRIP=false
jobs=()
[ -n "${CROSS_JOBS:-}" ] && jobs=(--jobs "$CROSS_JOBS")
declare -A secs how
for t in "${TARGETS[@]}"; do
    start=$(date +%s)
    if [[ " ${buildstd_targets[*]-} " == *" $t "* ]]; then
        how[$t]="build-std"
        log "building $t (std from source: RUSTC_BOOTSTRAP=1 -Zbuild-std)"
        # Let rustc link musl's CRT objects from zig (its own self-contained copies come with the
        # rust-std we could not download).
        var="CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$t")_RUSTFLAGS"
        # Own target dir: RUSTC_BOOTSTRAP/-Zbuild-std change the fingerprints of the shared host
        # units (proc macros, build scripts), so sharing one dir would rebuild them every time
        # a build-std and a normal build alternate.
        env "$var=-C link-self-contained=no" RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$CARGO_TARGET_DIR/build-std" \
            cargo zigbuild --manifest-path "$SRC/Cargo.toml" --locked --release --target "$t" "${jobs[@]}" \
            -Zbuild-std=std,panic_abort
    else
        how[$t]="rustup std"
        log "building $t"
        cargo zigbuild --manifest-path "$SRC/Cargo.toml" --locked --release --target "$t" "${jobs[@]}"
    fi
    secs[$t]=$(( $(date +%s) - start ))
    if [ "${how[$t]}" = build-std ]; then bin="$CARGO_TARGET_DIR/build-std/$t/release/pipit"; else bin="$CARGO_TARGET_DIR/$t/release/pipit"; fi
    mkdir -p "$OUT/$t"
    # Built with symbols (CARGO_PROFILE_RELEASE_STRIP above): strip into a scratch file, then
    # copy it into place as before (llvm-strip writing cross/out's file itself left it in the
    # page cache in larger folios: idle_rss.sh read ~1.2 MiB more, see BENCHMARKS issue 15 idle2).
    # (grep without -q: with pipefail, -q's early exit can kill readelf with SIGPIPE and make
    # the test false on an unstripped file.)
    src=$bin
    if readelf -S "$bin" | grep '\.symtab' >/dev/null; then
        log "stripping into $OUT/$t/pipit"
        if llvm-strip -o "$OUT/$t/pipit.stripped" "$bin"; then src="$OUT/$t/pipit.stripped"; else echo "build.sh: warning: could not strip $bin" >&2; fi
    fi
    cp "$src" "$OUT/$t/pipit.tmp" && mv "$OUT/$t/pipit.tmp" "$OUT/$t/pipit"
    rm -f "$OUT/$t/pipit.stripped"
    if readelf -l "$OUT/$t/pipit" | grep 'INTERP' >/dev/null; then
        echo "build.sh: $OUT/$t/pipit is dynamically linked (has an ELF interpreter)" >&2
        exit 1
    fi
done

# --- sizes -----------------------------------------------------------------------------------
{
    printf '%-34s %10s %9s %8s  %s\n' target bytes MiB build_s std
    for t in "${TARGETS[@]}"; do
        b=$(stat -c %s "$OUT/$t/pipit")
        printf '%-34s %10d %9s %8s  %s\n' "$t" "$b" "$(awk -v b="$b" 'BEGIN{printf "%.2f", b/1048576}')" "${secs[$t]}" "${how[$t]}"
    done
} | tee "$OUT/sizes.txt"
