#!/usr/bin/env bash
# Sets up (scripts/setup.sh), simulates a small multi-subject BIDS dataset with known ground truth
# (MID fMRI + [11C]raclopride PET) and runs the whole analysis on it (configs/demo.json): the
# participant level (registration, fMRI preprocessing + ROI time series + first-level GLM, PET
# realignment + TACs + BP_ND) and the group level (one-sample, SHAPS covariate, patients vs controls).
# Outputs go to ./demo: demo/bids (dataset), demo/truth (ground truth), demo/derivatives.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
DEMO=${DEMO_DIR:-demo}
rm -rf "$DEMO/bids" "$DEMO/truth"
"$BUILD_DIR/bin/rewardpath" simulate "$DEMO" --subjects 6 --seed 1
"$BUILD_DIR/bin/rewardpath" run "$DEMO/bids" "$DEMO/derivatives" participant --nthreads "$(nproc)" \
  --config configs/demo.json
"$BUILD_DIR/bin/rewardpath" run "$DEMO/bids" "$DEMO/derivatives" group --config configs/demo.json
echo
echo "demo: derivatives written to $DEMO/derivatives:"
find "$DEMO/derivatives" -type f | sort | sed 's/^/  /'
