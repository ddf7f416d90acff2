#!/bin/sh
# Builds and runs the NIfTI read benchmark; the table and JSON go to stdout.
#   bench/run_nifti_read.sh [BUILD_DIR] [DATA_DIR] [extra bench_nifti_read args, e.g. --reps 9 --threads 1]
# DATA_DIR (default /tmp/rp_bench) keeps the generated 64x64x36x300 run between invocations
# (~470 MB: .nii float32 and int16, two .nii.gz layouts); pass --regenerate to rebuild it (needed
# once after a writer change, e.g. files from before the gzip member index read sequentially).
# Results are not committed: redirect stdout to keep them (bench/results/ is the place; not in git).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-"$here/../build"}
data=${2:-/tmp/rp_bench}
[ $# -ge 1 ] && shift
[ $# -ge 1 ] && shift
cmake -S "$here/.." -B "$build" >/dev/null
cmake --build "$build" --target bench_nifti_read -j "$(nproc)" >/dev/null # make or Ninja
exec "$build/bench/bench_nifti_read" "$data" "$@"
