#!/usr/bin/env bash
# End-to-end check of the command line: help, version, a good run, a rerun that skips, a batch
# with one broken subject (exit 1, others complete), and OUT_DIR inside BIDS_DIR refused.
set -euo pipefail
make_demo=$1 rp=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$rp" --help | grep -q "run" || fail "--help does not list 'run'"
"$rp" run --help | grep -q -- "--participant-label" || fail "run --help lacks --participant-label"
"$rp" --version | grep -Eq "^[0-9]+\.[0-9]+\.[0-9]+" || fail "--version"

"$make_demo" "$work/bids" 3
before=$(cd "$work/bids" && find . -type f -exec sha1sum {} + | sort)

"$rp" run "$work/bids" "$work/out" participant --nthreads 2 > "$work/run1.txt" 2> "$work/run1.log" || fail "demo run failed: $(cat "$work/run1.log")"
grep -q "3 subject(s), 0 failed" "$work/run1.txt" || fail "summary: $(cat "$work/run1.txt")"
test -f "$work/out/dataset_description.json" || fail "no dataset_description.json"
grep -q '"GeneratedBy"' "$work/out/dataset_description.json" || fail "no GeneratedBy"
test -f "$work/out/sub-01/func/sub-01_task-mid_run-01_desc-mean_bold.nii.gz" || fail "no mean BOLD"
test -f "$work/out/sub-01/pet/sub-01_trc-raclopride_desc-mean_pet.nii.gz" || fail "no mean PET"
test -f "$work/out/logs/summary.json" || fail "no summary.json"

# Rerun: everything is current and skipped; labels accepted with and without sub-.
"$rp" run "$work/bids" "$work/out" participant --participant-label sub-01 02 > "$work/run2.txt" 2>/dev/null
grep -q "2 subject(s), 0 failed" "$work/run2.txt" || fail "rerun summary: $(cat "$work/run2.txt")"
test "$(grep -c 'up to date' "$work/run2.txt")" -eq 2 || fail "rerun did not skip: $(cat "$work/run2.txt")"

# One broken subject: exit 1, the others complete, the summary names the file and the problem.
head -c 2000 "$work/bids/sub-02/func/sub-02_task-mid_run-01_bold.nii.gz" > "$work/trunc" &&
  mv "$work/trunc" "$work/bids/sub-02/func/sub-02_task-mid_run-01_bold.nii.gz"
before=$(cd "$work/bids" && find . -type f -exec sha1sum {} + | sort)
set +e
"$rp" run "$work/bids" "$work/out2" participant > "$work/run3.txt" 2> "$work/run3.log"
rc=$?
set -e
test "$rc" -eq 1 || fail "exit code $rc with a broken subject, expected 1"
grep -q "3 subject(s), 1 failed" "$work/run3.txt" || fail "summary: $(cat "$work/run3.txt")"
grep "sub-02" "$work/run3.txt" | grep -q "FAILED.*sub-02_task-mid_run-01_bold.nii.gz" || fail "failure not named: $(cat "$work/run3.txt")"
test -f "$work/out2/sub-03/func/sub-03_task-mid_run-01_desc-mean_bold.nii.gz" || fail "sub-03 did not complete"
after=$(cd "$work/bids" && find . -type f -exec sha1sum {} + | sort)
test "$before" = "$after" || fail "the input dataset was modified"

# OUT_DIR inside BIDS_DIR is refused with exit 1 and a message.
set +e
"$rp" run "$work/bids" "$work/bids/derivatives/rp" participant > /dev/null 2> "$work/run4.log"
rc=$?
set -e
test "$rc" -ne 0 || fail "OUT_DIR inside BIDS_DIR was accepted"
grep -q "inside" "$work/run4.log" || fail "no clear message: $(cat "$work/run4.log")"
test ! -e "$work/bids/derivatives" || fail "something was written into the dataset"

# Usage errors exit 2.
set +e
"$rp" run "$work/bids" "$work/out" sideways > /dev/null 2>&1
rc=$?
set -e
test "$rc" -eq 2 || fail "bad analysis level gave exit $rc, expected 2"
# The atlas table and the simulator from the command line, then the pipeline on simulated data.
"$rp" atlas > "$work/atlas.tsv"
test "$(wc -l < "$work/atlas.tsv")" -eq 19 || fail "atlas table should have 18 ROIs: $(cat "$work/atlas.tsv")"
grep -q "NAcc_L" "$work/atlas.tsv" && grep -q "volume_mm3" "$work/atlas.tsv" || fail "atlas table columns"
"$rp" simulate "$work/sim" --subjects 2 --seed 5 --modalities func > "$work/sim.txt" || fail "simulate failed"
test -f "$work/sim/bids/sub-02/func/sub-02_task-mid_run-01_bold.nii.gz" || fail "no simulated BOLD"
test -f "$work/sim/truth/dataset.json" || fail "no ground truth"
test ! -e "$work/sim/bids/sub-01/pet" || fail "--modalities func still wrote PET"
"$rp" run "$work/sim/bids" "$work/sim/out" participant > "$work/sim_run.txt" 2>/dev/null || fail "run on simulated data: $(cat "$work/sim_run.txt")"
grep -q "2 subject(s), 0 failed" "$work/sim_run.txt" || fail "simulated run summary"
echo "cli_demo: all checks passed"
