#!/bin/sh
# example_resume.sh MPIRUN TRAIN_MPI "MPI-FLAGS" -- train_mpi end to end (tests/mpi.cmake):
#   A: 2 ranks, steps 0..3, checkpoint at step 3
#   B: resume A's checkpoint on 1 rank, steps 3..6
#   C: 1 rank, steps 0..6 uninterrupted;   D: 3 ranks, steps 0..6 (uneven: 2+1+1 micro-batches)
# B, C and D must write byte-identical model files (same --micro). Tiny random "digits" in
# IDX files stand in for MNIST, so the test needs no download.
set -eu
mpirun=$1
prog=$2
flags=$(echo "${3:-}" | tr ';' ' ')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

/usr/bin/python3 - "$tmp/data" <<'PY'
import gzip, os, struct, sys
import numpy as np
d = sys.argv[1]
os.makedirs(d)
rng = np.random.default_rng(7)
for split, n in (("train", 40), ("test", 20)):
    img = (rng.random((n, 28, 28)) > 0.8).astype(np.uint8) * 255
    with gzip.open(f"{d}/{split}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + img.tobytes())
    with gzip.open(f"{d}/{split}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + (np.arange(n) % 10).astype(np.uint8).tobytes())
PY

common="--data $tmp/data --hidden 16 --batch 4 --micro 1 --val-every 1000 --val-size 4 --log-every 1000 --threads 1"
run() { # NP OUT ARGS...
    np=$1 out=$2
    shift 2
    # shellcheck disable=SC2086
    "$mpirun" $flags -np "$np" "$prog" $common --out "$tmp/$out" "$@" >"$tmp/$out.log" 2>&1 ||
        { echo "train_mpi -np $np $*: failed"; cat "$tmp/$out.log"; exit 1; }
}
run 2 A --steps 3
run 1 B --steps 6 --resume "$tmp/A/checkpoint.safetensors"
run 1 C --steps 6
run 3 D --steps 6
grep -q "resumed from .* at step 3" "$tmp/B.log" || { echo "B did not resume at step 3"; cat "$tmp/B.log"; exit 1; }
for x in B D; do
    if ! cmp -s "$tmp/C/model.safetensors" "$tmp/$x/model.safetensors"; then
        echo "FAILED: model of run $x differs from the uninterrupted 1-rank run C"
        exit 1
    fi
done
echo "ok: 2 ranks to step 3, resumed on 1 rank to step 6 == 1 rank to step 6 == 3 ranks to step 6 (bitwise)"
