#!/bin/sh
# The toy track's trainer: finishes in milliseconds. SWARMLAB_SEED seeds the noise and
# TOY_NOISE sets its standard deviation.
cd "$(dirname "$0")" || exit 1
exec awk -v seed="${SWARMLAB_SEED:-0}" -v sigma="${TOY_NOISE:-0.01}" -f toy.awk params.txt
