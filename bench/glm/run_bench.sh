#!/usr/bin/env bash
# Side-by-side: read only, ours end to end (in memory and streaming), nilearn FirstLevelModel(ar1)
# end to end, on the standard simulated run; then a long synthetic run streamed from .nii.
# usage: bench/glm/run_bench.sh BUILD_DIR [WORK_DIR] [LONG_VOLUMES]
# nilearn runs when /usr/bin/python3 can import it with PYTHONPATH=/work/ext/nilearn (or $NILEARN_PATH).
set -euo pipefail
build=${1:?build dir}
work=${2:-/tmp/rp_bench_glm}
long_volumes=${3:-2000}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/bench/glm/bench_glm"
[ -f "$work/truth/dataset.json" ] || "$bench" simulate "$work"
func="$work/bids/sub-01/func"
bold="$func/sub-01_task-mid_run-01_bold.nii.gz"
events="$func/sub-01_task-mid_run-01_events.tsv"
best() { # best of 3 runs by seconds=
  local best_line="" best_s=1e9
  for _ in 1 2 3; do
    line=$("$@")
    s=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")
    if awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s; best_line=$line; fi
  done
  echo "$best_line"
}
echo "== standard run: $(basename "$bold") (best of 3; peak RSS from the same process)"
best "$bench" read "$bold"
best "$bench" read-int16 "$bold"
best "$bench" stream-read "$bold"
best "$bench" memory "$bold" "$events" "$work/out_memory"
best "$bench" memory "$bold" "$events" "$work/out_memory_float" float
best "$bench" memory "$bold" "$events" "$work/out_memory_defaults" defaults
best "$bench" stream "$bold" "$events" "$work/out_stream"
best "$bench" stream "$bold" "$events" "$work/out_stream_diag" diag
best "$bench" stream "$bold" "$events" "$work/out_stream_exact" exact
if PYTHONPATH=${NILEARN_PATH:-/work/ext/nilearn} /usr/bin/python3 -c "import nilearn, pandas" 2>/dev/null; then
  best env PYTHONPATH=${NILEARN_PATH:-/work/ext/nilearn} /usr/bin/python3 "$here/nilearn_ar1.py" "$bold" "$events" \
    "$work/out_stream/mask.nii.gz" "$work/out_nilearn"
  best env PYTHONPATH=${NILEARN_PATH:-/work/ext/nilearn} /usr/bin/python3 "$here/nilearn_ar1.py" "$bold" "$events" \
    defaults "$work/out_nilearn_defaults"
  echo "-- t maps vs nilearn (bias-corrected default, then nilearn mode):"
  /usr/bin/python3 "$here/compare_maps.py" "$work/out_stream" "$work/out_nilearn"
  /usr/bin/python3 "$here/compare_maps.py" "$work/out_stream_exact" "$work/out_nilearn"
  echo "-- defaults on both sides (own EPI mask, percent scaling), ours bias-corrected:"
  /usr/bin/python3 "$here/compare_maps.py" "$work/out_memory_defaults" "$work/out_nilearn_defaults"
else
  echo "nilearn not importable: skipped"
fi
if [ "$long_volumes" -gt 0 ]; then
  long="$work/long_${long_volumes}.nii"
  [ -f "$long" ] || "$bench" long "$long" "$long_volumes"
  echo "== long run: $(basename "$long") (int16 .nii, streamed; peak RSS vs the run's float size)"
  "$bench" stream-read "$long"
  "$bench" stream "$long" "$work/long_events.tsv" "$work/out_long"
fi
