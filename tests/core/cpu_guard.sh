#!/usr/bin/env bash
# The x86-64-v3 guard (modules/core/src/cpu_guard.cpp): under qemu-user emulating a CPU without
# AVX2 (Nehalem) the binary stops with exit status 70 and says why; emulating Haswell it runs.
# Skips (77) for a baseline build, a sanitizer build (ASan's shadow memory under qemu-user takes
# minutes) or without qemu-x86_64 (not installed by scripts/setup.sh).
# usage: cpu_guard.sh CPU_TARGET SANITIZE(ON|OFF) BINARY
set -uo pipefail
target=$1 sanitize=$2 bin=$3
[ "$target" = "x86-64-v3" ] || { echo "baseline build: nothing to guard"; exit 77; }
[ "$sanitize" != "ON" ] || { echo "sanitizer build: checked in the normal build only"; exit 77; }
command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 not installed (Debian qemu-user): skipped"; exit 77; }
out=$(qemu-x86_64 -cpu Nehalem "$bin" --help 2>&1); rc=$?
[ "$rc" -eq 70 ] || { echo "FAIL: exit $rc on a CPU without AVX2 (want 70): $out"; exit 1; }
grep -q "x86-64-v3 (AVX2, FMA, BMI2)" <<<"$out" || { echo "FAIL: no explanation: $out"; exit 1; }
qemu-x86_64 -cpu Haswell "$bin" --help >/dev/null 2>&1 || { echo "FAIL: does not run on Haswell"; exit 1; }
echo "ok: stops on Nehalem with: $out"
