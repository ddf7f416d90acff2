#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds a small BIDS dataset (fMRI MID task + PET) and runs the
# participant-level analysis on it end to end. Outputs go to ./demo (dataset and derivatives).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
DEMO=${DEMO_DIR:-demo}
rm -rf "$DEMO/bids"
"$BUILD_DIR/bin/make_demo_dataset" "$DEMO/bids" 3
"$BUILD_DIR/bin/rewardpath" run "$DEMO/bids" "$DEMO/derivatives" participant --nthreads "$(nproc)"
echo
echo "demo: derivatives written to $DEMO/derivatives:"
find "$DEMO/derivatives" -type f | sort | sed 's/^/  /'
