#!/usr/bin/env bash
# Regenerates cross/startup.ld: the functions `pipit serve` runs from start to idle (open the
# data folder, bind, answer one request, idle 2 s), placed together at the front of the text
# segment so the page-cache folios startup faults in are few (issue 15).
#
#   cross/startup-order.sh [BIN]    default: cross/target/x86_64-unknown-linux-musl/release/pipit
#   ORDER_DATA=DIR cross/startup-order.sh   also profile a copy of the data folder DIR (its own
#                                           `listen`), e.g. the budget's: `pipit-budget --pages-folder DIR`
#
# BIN must be the unstripped binary cross/build.sh leaves in its target dir: build.sh links with
# symbols and strips only the copy in cross/out, so what is profiled is exactly what ships
# (same flags, same symbol hashes). Needs valgrind (callgrind lists every function executed,
# exactly; sampling would miss the short ones) and llvm-objdump.
#
# Patterns, in the order the functions first ran:
# - Rust legacy names (`…17h<16 hex>E`): without their hash (`…17h*`), so a crate bump, a
#   feature change (both change every hash) or another target still matches. Where the hash-less
#   name also covers other instances worth more than 4 KiB (tokio's `poll` for every future,
#   `Store::write` closures), the exact name goes in `.text.startup_hot` and the hash-less one
#   in `.text.startup_warm` right after it: with matching hashes the unused instances stay
#   untouched behind the hot code; with changed hashes the right one is still close by.
# - Rust v0 names (std): crate disambiguators (`Cs<hash>_`) as `*`, for build-std targets.
# - C, Zig and assembly (musl, zig's libc and compiler_rt, ring): the input section that holds
#   the symbol, looked up in the archives the link used; sections named just `.text` (assembly)
#   are placed by object file (`*-x86_64-mont-elf.o(.text)`, ring's, reached through its rlib).
# - Every function name also as `.text.unlikely.NAME`, where LLVM puts #[cold] functions.
# lld matches the first rule in script order, and a pattern that matches nothing is harmless.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(readlink -f "${1:-$HERE/target/x86_64-unknown-linux-musl/release/pipit}")
command -v valgrind >/dev/null || { echo "startup-order.sh: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
# (Not `readelf | grep -q` under pipefail: grep stops reading early and readelf's SIGPIPE fails the pipe.)
[[ "$(readelf -S "$BIN")" == *.symtab* ]] || { echo "startup-order.sh: $BIN has no symbols (use the one in cross/build.sh's target dir)" >&2; exit 1; }
work=$(mktemp -d /tmp/pipit-order-XXXXXX)
# One profiled run of `serve` on the data folder $1 (made by init if missing); writes $2.
profile() {
    local data=$1 cg=$2 port
    if [ -e "$data/pipit.toml" ]; then
        port=$(sed -n 's/^listen = ".*:\([0-9]*\)"/\1/p' "$data/pipit.toml")
    else
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        "$BIN" init --data "$data" --url "http://127.0.0.1:$port" --username me --listen "127.0.0.1:$port" --allow-private-addresses >/dev/null
    fi
    sed -i 's/^log = .*/log = "warn"/' "$data/pipit.toml"
    (cd "$work" && exec valgrind --tool=callgrind --demangle=no --compress-strings=no --dump-instr=no \
        --callgrind-out-file="$cg" "$BIN" serve --data "$data" >/dev/null 2>>"$work/vg.log") &
    local vg=$!
    for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/.well-known/nodeinfo" && break; sleep 0.1; done
    sleep 3
    callgrind_control -d "$vg" >/dev/null 2>&1 || true
    sleep 2
    kill -TERM "$vg" 2>/dev/null || true
    wait "$vg" 2>/dev/null || true
    # The dump taken at idle ($cg.1) if there is one, else the one at exit.
    ls "$cg".1 2>/dev/null || echo "$cg"
}
# A fresh folder, then (ORDER_DATA=DIR) a copy of a prepared one, e.g. the budget's
# (`pipit-budget --pages-folder DIR`): the list is the union, fresh order first.
outs=$(profile "$work/data" "$work/cg.out")
if [ -n "${ORDER_DATA:-}" ]; then
    mkdir -p "$work/data2" && cp -a "$ORDER_DATA/." "$work/data2/"
    outs="$outs $(profile "$work/data2" "$work/cg2.out")"
fi
# The non-Rust archives the link pulled in: ring's (from the target dir next to BIN) and zig's
# libc, libzigc, compiler_rt and crt objects (its cache), for BIN's machine.
machine=$(readelf -h "$BIN" | sed -n 's/^ *Machine: *//p')
archives=$(ls -t "$(dirname "$BIN")"/build/ring-*/out/libring_core_*.a 2>/dev/null | grep -v _test | head -1 || true)
for f in "${ZIG_GLOBAL_CACHE_DIR:-$HOME/.cache/zig}"/o/*/{libc.a,libzigc.a,libcompiler_rt.a,crt1.o,rcrt1.o,Scrt1.o}; do
    [ -e "$f" ] || continue
    [ "$(readelf -h "$f" 2>/dev/null | sed -n 's/^ *Machine: *//p' | head -1)" = "$machine" ] && archives="$archives $f"
done
for a in $archives; do llvm-objdump -t "$a" 2>/dev/null | sed "s|^|$a\t|"; done >"$work/objsyms.txt"
python3 - "$BIN" "$HERE/startup.ld" "$work/objsyms.txt" $outs <<'PY'
import collections, os, re, subprocess, sys
binary, dest, objsyms = sys.argv[1:4]
ran = []
seen_ran = set()
for line in (l for out in sys.argv[4:] for l in open(out)):
    m = re.match(r"c?fn=(?:\(\d+\) )?(.*)", line)
    if m:
        # callgrind marks recursion as name'2
        name = re.sub(r"'\d+$", "", m.group(1).strip())
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.$]*", name) and name not in seen_ran:
            seen_ran.add(name)
            ran.append(name)
sizes, family = {}, collections.defaultdict(list)
for line in subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    f = line.split()
    if len(f) == 4 and f[2] in "tTwW":
        sizes[f[3]] = int(f[1], 16)
        m = re.fullmatch(r"(.*17h)[0-9a-f]{16}E(?:\.llvm)?(?:\.\d+)?", f[3])
        if m:
            family[m.group(1)].append(f[3])
# symbol -> input sections (file pattern, section) from the non-Rust archives
where = collections.defaultdict(list)
member = None
for line in open(objsyms):
    path, _, rest = line.rstrip("\n").partition("\t")
    m = re.match(r"(.*)\((.*)\):\s+file format", rest) or re.match(r"(.*?)():\s+file format", rest)
    if m:
        arch, mem = m.group(1), m.group(2)
        # lld matches a file pattern against `archive:member`. ring's objects reach the link
        # inside ring's rlib (`…/libring-<hash>.rlib:4f70…-x86_64-mont-elf.o`), zig's as members
        # named by cache path (`…/libc.a:/root/.cache/zig/o/<hash>/open.o`): match the member
        # alone, without the hashes.
        base = os.path.basename(mem or arch)
        m2 = re.match(r"[0-9a-f]{16}(-.*)", base)
        member = "*" + m2.group(1) if m2 else "*/" + base
        continue
    m = re.match(r"[0-9a-f]+\s+[lgw!u ]+\s*[dDFfO ]*\s*F\s+(\S+)\s+[0-9a-f]+\s+(?:\.hidden\s+|\.protected\s+)?(\S+)$", rest)
    if m and member:
        sec, sym = m.group(1), m.group(2)
        pat = "%s(.text)" % member if sec == ".text" else "*(%s)" % sec
        if pat not in where[sym]:
            where[sym].append(pat)
hot, warm, seen = [], [], set()
# valgrind reports the code below main() as "(below main)", so musl's start-up is named here.
for name in ["_start", "_start_c", "__libc_start_main", "__init_libc", "libc_start_init", "libc_start_main_stage2", "__init_tls", "static_init_tls", "__copy_tls", "__init_tp", "__init_ssp"]:
    if name in sizes and name not in seen_ran:
        ran.insert(0, name)
def sec(name):
    # LLVM puts #[cold] functions (hashbrown's reserve_rehash, OnceLock::initialize, RawVec's
    # grow_one, lock_contended ...) in `.text.unlikely.NAME`.
    return "*(.text.%s .text.unlikely.%s)" % (name, name)
hot_bytes = warm_bytes = 0
def add(lst, pat):
    if pat in seen:
        return False
    seen.add(pat)
    lst.append(pat)
    return True
for name in ran:
    if name not in sizes:
        continue
    # LTO's local copies carry a number (`…Hasher5write.5827`, `….llvm.123`) that changes from
    # build to build: matched as `NAME.*`.
    m = re.fullmatch(r"(.*17h)[0-9a-f]{16}E(?:\.llvm)?(?:\.\d+)?", name)
    if m:
        fam = family[m.group(1)]
        if sum(sizes[n] for n in fam) - sizes[name] <= 4096:
            if add(hot, sec(m.group(1) + "*")):
                hot_bytes += sum(sizes[n] for n in fam)
        else:
            if add(hot, sec(name)):
                hot_bytes += sizes[name]
            if add(warm, sec(m.group(1) + "*")):
                warm_bytes += sum(sizes[n] for n in fam)
    elif name.startswith("_R"):
        if add(hot, sec(re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", re.sub(r"(?:\.llvm)?\.\d+$", ".*", name)))):
            hot_bytes += sizes[name]
    elif name in where:
        # The archive's section, and the plain one: Rust's compiler_builtins can provide the
        # same symbol (`__floattidf`) in `.text.NAME`.
        for pat in where[name] + [sec(name)]:
            add(hot, pat)
        hot_bytes += sizes[name]
    else:
        if add(hot, sec(re.sub(r"(?:\.llvm)?\.\d+$", ".*", name))):
            hot_bytes += sizes[name]
# Code callgrind cannot see: crt1's _start and musl's assembly below main, and paths chosen by
# CPU features valgrind's virtual CPU lacks (AVX-512 xxh3 in redb, ring's ADX x25519), found
# with `perf record -e page-faults -d` on the real CPU (cross/BENCHMARKS.md, branches idle2 and
# idle3): musl's vDSO lookup (`__vdsosym` calls zig's strcmp; valgrind hides the vDSO), musl's
# `__clone` (assembly; valgrind makes threads itself), io::Error::kind (a WouldBlock) and
# tokio's deregistration when the first connection closes, tokio's
# schedule from outside a worker and hyper's timers dropped at the end of the first connection
# (valgrind runs one thread at a time, so these paths ran only sometimes under it).
for pat in ["*crt1.o(.text .text.*)", "*/__set_thread_area.o(.text)",
            "*(.text.c.string.strcmp .text..Lc.string.strcmp)", "*/clone.o(.text)",
            sec("_ZN5tokio7runtime4task3raw8schedule17h*"),
            sec("_RNvMs*_NtNtCs*_3std2io5errorNtB*_5Error4kind*"),
            sec("_ZN5tokio7runtime2io16registration_set15RegistrationSet6remove17h*"),
            sec("_ZN82_$LT$hyper_util..rt..tokio..TokioSleep$u20$as$u20$core..future..future..Future$GT$4poll17h*"),
            sec("_ZN5tokio7runtime4time5entry1_91_$LT$impl$u20$core..ops..drop..Drop$u20$for$u20$tokio..runtime..time..entry..TimerEntry$GT$4drop17h*"),
            sec("_ZN5tokio7runtime4time5wheel5Wheel6remove17h*"),
            sec("_ZN4core3ptr*drop_in_place$LT$tokio..task..coop..Coop$LT$tokio..sync..watch..Receiver$LT$bool$GT$..wait_for_inner*"),
            "*(.text._ZN4redb10tree_store10page_store4xxh3* .text.unlikely._ZN4redb10tree_store10page_store4xxh3*)",
            "*-curve25519_64_adx.o(.text .text.*)", "*-fiat_curve25519_adx_mul.o(.text)", "*-fiat_curve25519_adx_square.o(.text)"]:
    add(hot, pat)
with open(dest, "w") as f:
    f.write("/* Generated by cross/startup-order.sh: the functions that `pipit serve` runs from start to\n"
            "   idle, first in the text segment (issue 15): %d patterns, %d KiB on x86_64 hot, then %d\n"
            "   hash-less patterns of large generic families (%d KiB, fallback when hashes change).\n"
            "   Linked in by build.rs for musl release builds; regenerate after large changes to startup\n"
            "   code (cross/README.md). */\n" % (len(hot), hot_bytes // 1024, len(warm), warm_bytes // 1024))
    f.write("SECTIONS {\n  .text.startup_hot : {\n")
    for p in hot:
        f.write("    %s\n" % p)
    f.write("  }\n  .text.startup_warm : {\n")
    for p in warm:
        f.write("    %s\n" % p)
    f.write("  }\n}\nINSERT BEFORE .text;\n")
print("startup.ld: %d hot patterns (%d KiB), %d warm (%d KiB)" % (len(hot), hot_bytes // 1024, len(warm), warm_bytes // 1024))
PY
echo "(callgrind output kept in $work)"
