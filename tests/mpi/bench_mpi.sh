#!/bin/bash
# bench_mpi.sh BUILD_DIR [OUT_DIR] -- the measurements of docs/distributed.md: train_mpi on this
# machine, 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread (one micro-batch of 8
# per rank) and 2 ranks x 1 thread with --micro 4 (two micro-batches per rank: the setting
# whose weights are bitwise independent of the rank count), for H = 256 and 1024, global
# batch 16, the demo's composite model (unconditioned decoders), Adam; and the SR15 shapes
# (H = 2048, conditional decoders: the 671 MB arena) at batch 16, 1 x 2 and 2 x 1, for the
# per-step costs that do not shrink with more ranks (pack, allreduce, update). Run it on a
# quiet machine (timings!). Prints a markdown table; raw logs go to OUT_DIR (default: temp).
#
# --bind-to none: Open MPI binds each rank to ONE core by default when np <= 2, which would
# squeeze a 2-thread rank onto a single core.
set -euo pipefail
build=${1:?usage: bench_mpi.sh BUILD_DIR [OUT_DIR]}
out=${2:-$(mktemp -d)}
mkdir -p "$out"
prog="$build/examples/train_mpi"
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
mpirun=(mpirun --allow-run-as-root --bind-to none)
[ "$(id -u)" = 0 ] || mpirun=(mpirun --bind-to none)

declare -A steps=([256]=${STEPS256:-120} [1024]=${STEPS1024:-30} [2048]=${STEPS2048:-6})
declare -A configs=([256]="1_1_16 1_2_16 2_1_8 2_1_4" [1024]="1_1_16 1_2_16 2_1_8 2_1_4"
                    [2048]="1_2_16 2_1_8")
echo "# bench_mpi.sh $(date -Is) on $(hostname): $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
echo "# load before start: $(cut -d' ' -f1-3 /proc/loadavg); logs in $out"
echo
echo "| H, decoders | ranks x threads | micro | s/step | sequences/s | gradients ms | agree ms | pack ms | allreduce ms | update ms | data ms | allreduce share (max over ranks) |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for H in 256 1024 2048; do
    cond=--uncond
    [ "$H" = 2048 ] && cond=--cond
    for cfg in ${configs[$H]}; do
        IFS=_ read -r np thr micro <<<"$cfg"
        log="$out/H${H}_np${np}_t${thr}_m${micro}.log"
        "${mpirun[@]}" -np "$np" "$prog" --hidden "$H" $cond --batch 16 --micro "$micro" \
            --threads "$thr" --steps "${steps[$H]}" --val-every 1000000 --val-size 16 \
            --log-every 1000000 --out "$out/run_H${H}_np${np}_t${thr}_m${micro}" >"$log" 2>&1
        # timing over N steps (after 2 warm-up): X s/step, Y steps/s, Z sequences/s
        #   rank 0 per step: data a ms (..%) gradients b ms (..%) agree .. pack .. allreduce .. update ..
        #   allreduce share of the step, largest over ranks: W%; ...
        /usr/bin/python3 - "$log" "$H ${cond#--}" "$np x $thr" "$micro" <<'PY'
import re, sys
log, H, cfg, micro = sys.argv[1:]
t = open(log).read()
sps = re.search(r"timing over \d+ steps .*?: ([\d.]+) s/step, [\d.]+ steps/s, ([\d.]+) sequences/s", t)
ms = dict(re.findall(r"(data|gradients|agree|pack|allreduce|update) ([\d.]+) ms", t))
share = re.search(r"largest over ranks: ([\d.]+)%", t)
print(f"| {H} | {cfg} | {micro} | {float(sps[1]):.3f} | {float(sps[2]):.1f} | "
      + " | ".join(ms[k] for k in ("gradients", "agree", "pack", "allreduce", "update", "data"))
      + f" | {share[1]}% |")
PY
    done
done
