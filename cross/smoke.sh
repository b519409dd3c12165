#!/usr/bin/env bash
# Run a cross-built pipit under qemu-user with an emulated Pi CPU and smoke-test it over loopback,
# federating with a native x86_64 pipit.
#
#   cross/smoke.sh TARGET
#
# Env:
#   PIPIT_BIN     binary to test (default cross/out/TARGET/pipit)
#   NATIVE_PIPIT  native pipit for the second instance (default /work/main/target/debug/pipit,
#                 then cross/out/x86_64-unknown-linux-musl/pipit)
#   SMOKE_STRICT  1 = every step must pass (no SKIPs for verbs/endpoints not implemented yet)
#   SMOKE_KEEP    1 = keep the temporary data folders and logs
#
# Steps that wait for parts of the CLI/HTTP contract not implemented yet print "SKIP: reason"
# (marked TODO below) and do not fail unless SMOKE_STRICT=1.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TARGET=${1:?usage: cross/smoke.sh TARGET}
BIN=${PIPIT_BIN:-$HERE/out/$TARGET/pipit}
STRICT=${SMOKE_STRICT:-0}
HTTP="python3 $HERE/smoke_http.py"
USER1=alice
USER2=bob

passed=0 failed=0 skipped=0
pass() { printf 'PASS: %s\n' "$*"; passed=$((passed + 1)); }
fail() { printf 'FAIL: %s\n' "$*"; failed=$((failed + 1)); }
skip() {
    if [ "$STRICT" = 1 ]; then fail "$* (SMOKE_STRICT=1)"; else printf 'SKIP: %s\n' "$*"; skipped=$((skipped + 1)); fi
}
# Result of an HTTP check: 0 pass, 3 (404) skip as not implemented yet, else fail.
judge() { # judge RC WHAT
    case "$1" in 0) pass "$2" ;; 3) skip "$2: endpoint answers 404 (TODO: not implemented yet)" ;; *) fail "$2" ;; esac
}

# --- emulator ------------------------------------------------------------------------------------
case "$TARGET" in
    aarch64-unknown-linux-musl) QEMU=qemu-aarch64 CPU=cortex-a53 ;;
    armv7-unknown-linux-musleabihf) QEMU=qemu-arm CPU=cortex-a7 ;;
    arm-unknown-linux-musleabihf) QEMU=qemu-arm CPU=arm1176 ;;
    x86_64-unknown-linux-musl) QEMU= CPU= ;;
    *) echo "smoke.sh: unknown target $TARGET" >&2; exit 2 ;;
esac
[ -x "$BIN" ] || { echo "smoke.sh: no binary at $BIN (run cross/build.sh $TARGET)" >&2; exit 1; }
EMU=("$BIN")
if [ -n "$QEMU" ]; then
    q=$(command -v "$QEMU-static" || command -v "$QEMU" || true)
    if [ -z "$q" ]; then
        echo "==> installing qemu-user"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq qemu-user-static >/dev/null 2>&1 || {
            apt-get update -qq >/dev/null 2>&1
            apt-get install -y -qq qemu-user-static >/dev/null 2>&1 || apt-get install -y -qq qemu-user >/dev/null 2>&1
        }
        q=$(command -v "$QEMU-static" || command -v "$QEMU" || true)
        [ -n "$q" ] || { echo "smoke.sh: cannot install $QEMU" >&2; exit 1; }
    fi
    # Always pass -cpu: qemu's default CPU would accept ARMv7 code in an ARMv6 binary.
    EMU=("$q" -cpu "$CPU" "$BIN")
fi
NATIVE=${NATIVE_PIPIT:-}
if [ -z "$NATIVE" ]; then
    for n in "$ROOT/target/debug/pipit" "$HERE/out/x86_64-unknown-linux-musl/pipit"; do
        [ -x "$n" ] && { NATIVE=$n; break; }
    done
fi
echo "==> $TARGET: ${EMU[*]}"
echo "==> native instance: ${NATIVE:-none}"

WORK=$(mktemp -d /tmp/pipit-smoke.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    if [ "${SMOKE_KEEP:-0}" = 1 ] || [ "$failed" -gt 0 ]; then echo "logs and data kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Whether a binary's --help lists a verb ("  pipit VERB ...").
# Matches "  pipit post TEXT" and "  pipit follow|unfollow ...".
has_verb() { "${@:2}" --help 2>/dev/null | grep -Eq "^[[:space:]]*pipit ([a-z]+\|)*$1([[:space:]|]|$)"; }
# Start `pipit serve` in the background; sets SERVE_PID.
start_serve() { # start_serve LOG BASE CMD...
    local log=$1 base=$2; shift 2
    "$@" >"$log" 2>&1 &
    SERVE_PID=$!
    pids+=("$SERVE_PID")
    $HTTP wait "$base" 60 && kill -0 "$SERVE_PID" 2>/dev/null
}
stop_serve() { # stop_serve PID WHAT: SIGTERM, must exit 0 within 20 s
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then fail "$2: still running 20 s after SIGTERM"; kill -KILL "$pid"; return; fi
    wait "$pid"; local rc=$?
    if [ "$rc" = 0 ]; then pass "$2: SIGTERM -> graceful exit 0"; else fail "$2: exit $rc after SIGTERM"; fi
}

# --- 1. the binary runs on the emulated CPU --------------------------------------------------------
v=$("${EMU[@]}" --version 2>&1); rc=$?
if [ "$rc" = 0 ] && [[ "$v" =~ ^pipit\ [0-9]+\.[0-9]+\.[0-9]+ ]]; then pass "--version: $v"; else fail "--version (rc $rc): $v"; fi
if "${EMU[@]}" --help 2>&1 | grep -q 'pipit serve'; then pass "--help lists serve"; else fail "--help"; fi

# --- 2. init + serve the emulated instance --------------------------------------------------------
P1=$(free_port)
B1=http://127.0.0.1:$P1
D1=$WORK/emu
t0=$(date +%s.%N)
if "${EMU[@]}" init --data "$D1" --url "$B1" --username $USER1 --listen 127.0.0.1:$P1 --allow-private-addresses >"$WORK/emu-init.log" 2>&1; then
    pass "init ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s${QEMU:+ under emulation}, includes key generation)"
else
    fail "init: $(cat "$WORK/emu-init.log")"
    exit 1
fi
if start_serve "$WORK/emu-serve.log" "$B1" "${EMU[@]}" serve --data "$D1"; then
    EMU_PID=$SERVE_PID
    pass "serve on $B1"
else
    fail "serve: $(tail -5 "$WORK/emu-serve.log")"
    exit 1
fi

# --- 3. discovery and pages -------------------------------------------------------------------------
# TODO(webfinger): skipped while /.well-known/webfinger answers 404.
actor=$($HTTP webfinger "$B1" "acct:$USER1@127.0.0.1:$P1" 2>"$WORK/err"); rc=$?
judge $rc "webfinger acct:$USER1@127.0.0.1:$P1 -> ${actor:-$(cat "$WORK/err")}"
if [ -n "$actor" ]; then
    # TODO(actor): skipped while the actor URL answers 404.
    out=$($HTTP actor "$actor" 2>&1); judge $? "actor JSON at $actor: $out"
else
    skip "actor JSON: no actor href (webfinger not available yet)"
fi
$HTTP html "$B1/@$USER1" "$USER1" 2>"$WORK/err"; judge $? "profile HTML /@$USER1 $(cat "$WORK/err")"

# --- 4. post on the emulated instance --------------------------------------------------------------
can_post=0
if has_verb post "${EMU[@]}"; then can_post=1; fi
text1="hello from $TARGET $(date +%s)"
if [ $can_post = 1 ]; then
    if out=$("${EMU[@]}" post --data "$D1" "$text1" 2>&1); then pass "post: $out"; else fail "post: $out"; fi
    $HTTP html "$B1/@$USER1" "$text1" 2>"$WORK/err"; judge $? "post shows on /@$USER1 $(cat "$WORK/err")"
else
    skip "post: \`pipit post\` not implemented yet (TODO issue 3)"
fi

# --- 5. federation with a native instance ----------------------------------------------------------
if [ -z "$NATIVE" ]; then
    skip "federation: no native pipit (set NATIVE_PIPIT)"
else
    P2=$(free_port)
    B2=http://127.0.0.1:$P2
    D2=$WORK/native
    if "$NATIVE" init --data "$D2" --url "$B2" --username $USER2 --listen 127.0.0.1:$P2 --allow-private-addresses >"$WORK/native-init.log" 2>&1 \
        && start_serve "$WORK/native-serve.log" "$B2" "$NATIVE" serve --data "$D2"; then
        NATIVE_PID=$SERVE_PID
        pass "native instance on $B2"
        # Owner session on the native instance, to read its home timeline.
        password="smoke-$RANDOM-$RANDOM-password"
        logged_in=0
        if has_verb password "$NATIVE" && printf '%s\n' "$password" | "$NATIVE" password --data "$D2" >"$WORK/native-pw.log" 2>&1 \
            && $HTTP login "$B2" "$password" "$WORK/jar" 2>"$WORK/err"; then
            logged_in=1
            pass "owner login on the native instance"
        else
            fail "owner login on the native instance: $(cat "$WORK/native-pw.log" "$WORK/err" 2>/dev/null | tail -3)"
        fi
        if ! has_verb follow "$NATIVE"; then
            # TODO(follow): `pipit follow` not in the CLI yet.
            skip "follow: \`pipit follow\` not implemented yet"
        elif out=$("$NATIVE" follow --data "$D2" "@$USER1@127.0.0.1:$P1" 2>&1); then
            pass "native follows @$USER1@127.0.0.1:$P1: $out"
            # The follow is accepted asynchronously: wait (bounded) until the emulated instance
            # lists the native one as a follower, so the next post is delivered to it.
            out=$($HTTP count "$B1/users/$USER1/followers" 1 60 2>&1); judge $? "follow accepted: $USER1's followers: $out"
            if [ $can_post = 1 ]; then
                text2="federated from $TARGET $(date +%s)"
                if out=$("${EMU[@]}" post --data "$D1" "$text2" 2>&1); then pass "second post: $out"; else fail "second post: $out"; fi
                if [ $logged_in = 1 ]; then
                    # TODO(home): skipped while the native /home page answers 404.
                    out=$($HTTP poll "$B2" /home "$WORK/jar" "$text2" 60 2>&1); judge $? "post delivered to the native /home: $out"
                else
                    skip "delivery check: no owner session on the native instance"
                fi
            else
                skip "delivery: \`pipit post\` not implemented yet (TODO issue 3)"
            fi
        else
            fail "follow: $out"
        fi
        stop_serve "$NATIVE_PID" "native serve"
    else
        fail "native instance: $(tail -5 "$WORK/native-init.log" "$WORK/native-serve.log" 2>/dev/null)"
    fi
fi

# --- 6. graceful shutdown of the emulated instance -------------------------------------------------
stop_serve "$EMU_PID" "emulated serve"
if grep -qiE 'panic|SIGILL|Illegal instruction' "$WORK/emu-serve.log"; then fail "emulated serve log has a panic/SIGILL"; fi

echo
echo "target $TARGET"
echo "smoke: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
