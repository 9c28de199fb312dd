#!/bin/bash
# trial.sh -- one recipe trial of docs/learning.md: `seqvid train` for a fixed number of steps
# (default 1,000, validated at half of them and at the end) with the trial's flags added to
# the defaults, and one summary line appended to a results file.
#
#   bench/trial.sh NAME [seqvid train flags...]
#
# Environment: SEQVID (the seqvid command; default build-main/examples/seqvid/seqvid, else
# `seqvid` on PATH), STEPS (default 1000), OUT (folder of the runs; default /tmp/seqvid-trials),
# OPENBLAS_CORETYPE (default Haswell, as examples/demo.sh picks it on AVX2 CPUs; SkylakeX on
# AVX-512 ones). Each run goes to $OUT/NAME/ with its log in $OUT/NAME.log; the line
#   NAME | flags | rate R | @S/2 rec F | final rec F
# goes to $OUT/trials.txt. The library is deterministic: the same build, kernels and flags give
# the same numbers, so trials are compared at equal steps (the rate is not a timing unless the
# machine was otherwise idle). Run one at a time: two at once share the cores.
set -u -o pipefail
[ $# -ge 1 ] || { sed -n '2,16p' "$0" >&2; exit 2; }
name=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
seqvid=${SEQVID:-$root/build-main/examples/seqvid/seqvid}
[ -x "$seqvid" ] || seqvid=$(command -v seqvid) || { echo "trial.sh: no seqvid command (set SEQVID)" >&2; exit 1; }
steps=${STEPS:-1000}
out=${OUT:-/tmp/seqvid-trials}
mkdir -p "$out"
rm -rf "${out:?}/$name"
OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell} "$seqvid" train --out "$out/$name" \
    --steps "$steps" --val-every $((steps / 2)) --log-every 100 --pictures 1 --rollout 20 "$@" \
    >"$out/$name.log" 2>&1 || { echo "trial.sh: $name failed: see $out/$name.log" >&2; exit 1; }
mid=$(sed -n "s/^validation at step $((steps / 2)): rec \([0-9.]*\) fut \([0-9.]*\).*/rec \1 fut \2/p" "$out/$name.log")
fin=$(awk '/^  model /{print "rec", $2, "fut", $3}' "$out/$name.log")
rate=$(sed -n 's/.*steps in .*(\([0-9.]*\) steps\/s).*/\1/p' "$out/$name.log")
echo "$name | $* | rate $rate | @$((steps / 2)) $mid | final $fin" | tee -a "$out/trials.txt"
