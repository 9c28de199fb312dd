#!/bin/bash
# run.sh -- the benchmark of issues 8 and 13 in one command: libseqvid and PyTorch side by side.
#
#   bench/run.sh             the full set: H = 256, 512, 1024, 2048; batch 16, 80; threads 1, 2
#                            for train and encode (2 for evaluate); about 20 minutes
#   bench/run.sh --quick     H = 256 only, threads 1 and 2 everywhere (3-4 minutes)
#   bench/run.sh --blas "openblas onednn"   libseqvid on both backends, side by side
#   bench/run.sh --help      all options
#
# Run it on a quiet machine: every measurement is one process at a time, never two at once.
# Each (case, H, batch, threads) runs in its own process per implementation (peak memory is a
# per-process number), in this order, so the columns of a row are measured back to back:
#   seqvid            bench_seqvid with OPENBLAS_CORETYPE=Haswell, or --coretype's value
#                     (OpenBLAS 0.3.21 picks slower kernels on some CPUs otherwise: its
#                     generic ones on model 207; docs/performance.md, "OpenBLAS kernel choice")
#   seqvid onednn     (--blas with onednn) the same on a -DSEQVID_BLAS=onednn build
#   seqvid bf16       (unless --no-seqvid-bf16) each build of --blas with --precision bf16:
#                     libseqvid's experimental bf16 mode (bf16 products, float32
#                     accumulation, weights and optimizer; issue 13's target: train <= 0.4x
#                     torch bf16 at H=512 and 2048). On OpenBLAS the products on weights run on
#                     the library's own AVX512-BF16 kernel (lib/packed.c), on oneDNN on its
#                     matmul; the table's column is OpenBLAS's where both ran. On a CPU without
#                     AVX512-BF16 it runs float32 and says so; the table shows n/a then
#   seqvid bf16w      (inference cases, with openblas in --blas, unless --no-bf16-weights) the
#                     OpenBLAS build with --weights bf16: the model loaded straight into
#                     bf16-stored weights (experimental SEQVID_WEIGHTS_BF16; products widen
#                     them and accumulate in float32, on any x86-64 CPU)
#   seqvid packed     (with openblas in --blas, unless --no-packed) the OpenBLAS build with
#                     --weights f32-packed: float32 weights plus copies packed once for the
#                     library's own kernel (experimental SEQVID_WEIGHTS_F32_PACKED)
#   seqvid default    (--default-kernels) the same without OPENBLAS_CORETYPE
#   torch installed   torch_composite.py, environment as installed (glibc malloc, OpenBLAS's
#                     own kernel choice)
#   torch tuned       torch_composite.py with jemalloc preloaded and keeping its memory
#                     (MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1) + the same OPENBLAS_CORETYPE
#   torch bf16        tuned, with torch.cpu.amp.autocast(dtype=torch.bfloat16) around the
#                     forward and torch's own pool at thr threads (its bf16 matmuls run in
#                     oneDNN on that pool): PyTorch's fastest CPU path on AVX512-BF16 (issue 13)
# plus, for the train rows of --nnlstm-batch, a reference line without peepholes: libseqvid
# with peepholes off against torch.nn.LSTM (tuned), and for those of --dense-batch a line on
# dense frames (density 0.5; the main rows use Moving MNIST's ~7% nonzero pixels, which the
# library's sparse input path exploits, so their GFLOP/s and bound/meas count dense-equivalent
# work). The bounds come from bench/gemm_bound in the same run (one process per H and thread
# count, fed bench_seqvid --plan): per case the sum over its products of the best measured
# time of each shape -- OpenBLAS sgemm, and with --blas onednn also oneDNN (dnnl_sgemm, matmul
# f32, matmul on weights reordered once, bf16) -- i.e. this CPU's limit, in float32 and with
# bf16; and for batch 1 the memory-bandwidth bound (each weight read once per product).
# Before timing, bench_seqvid --dump + torch_composite.py --check make sure both programs
# compute the same model (same losses and gradients from the same weights).
#
# Output: the table on stdout, bench/results-<date>.md (markdown table + how it was run) and
# bench/results-<date>.raw.txt (every line the programs printed).
set -u -o pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build="$root/build-bench"
py=/usr/bin/python3
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2

hidden="256 512 1024 2048"
batch="16 80"
encode_batch="1"
threads="1 2"
eval_threads="2"
cases="train eval_tf eval_inf encode encode_stream"
nnlstm_batch="16"
density=0.07
dense_batch="16"
warmup=1 reps=5 min_reps=3 budget=2 long=2 sgemm_time=0.25
default_kernels=0 check=1 dry=0 opt=sgd torch_bf16=1 seqvid_bf16=1 bf16_weights=1 packed=1
blas="openblas"
coretype=Haswell
stamp=$(date +%Y-%m-%d)
out=""

usage() {
    cat <<EOF
usage: bench/run.sh [options]
  --quick               H=256 only
  --hidden "LIST"       hidden sizes [$hidden]
  --batch "LIST"        batch of train/eval [$batch]
  --encode-batch "LIST" batch of encode/encode_stream [$encode_batch]
  --threads "LIST"      BLAS threads of train, encode, encode_stream [$threads]
  --eval-threads "LIST" BLAS threads of eval_tf, eval_inf and the nn.LSTM lines [$eval_threads]
  --cases "LIST"        of: $cases
  --nnlstm-batch "LIST" train batches that get the nn.LSTM reference line ("" = none) [$nnlstm_batch]
  --density F           fraction of ones in the binary frames [$density: Moving MNIST's nonzero
                        fraction; libseqvid skips zero inputs, PyTorch does not]
  --dense-batch "LIST"  train batches that also run on dense frames (density 0.5: every GEMM
                        runs, so bound/meas is meaningful), seqvid + torch tuned [$dense_batch]
  --default-kernels     also time libseqvid with OpenBLAS's default kernel choice
  --coretype NAME       OPENBLAS_CORETYPE of the seqvid and torch tuned runs [$coretype]
  --blas "LIST"         libseqvid backends to time, each its own build: openblas, onednn
                        [$blas]; with onednn the bounds include oneDNN's kernels
  --no-torch-bf16       skip PyTorch's bf16 autocast column
  --no-seqvid-bf16      skip libseqvid's bf16 mode
  --no-bf16-weights     skip libseqvid's bf16-weights column (inference cases)
  --no-packed           skip libseqvid's packed-weights column
  --opt sgd|adam        optimizer of the train step [$opt]
  --warmup N --reps N --min-reps N --budget S --long S
                        repetitions: after N warm-up runs, reps = clamp(budget / t_warmup,
                        min-reps, reps), at most 2 when a run takes more than --long seconds
                        [$warmup, $reps, $min_reps, $budget s, $long s]
  --sgemm-time S        seconds of calls per shape and implementation for the bounds [$sgemm_time]
  --no-check            skip the same-model check
  --build DIR           build directory of the openblas build [$build]; the onednn
                        build is DIR-onednn
  --out PREFIX          output files PREFIX.md, PREFIX.raw.txt [bench/results-<date>]
  --dry-run             print the commands, run nothing
EOF
}

all_args="$*"
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) hidden="256"; eval_threads="1 2" ;;
    --full) ;;
    --hidden) hidden="$2"; shift ;;
    --batch) batch="$2"; shift ;;
    --encode-batch) encode_batch="$2"; shift ;;
    --threads) threads="$2"; shift ;;
    --eval-threads) eval_threads="$2"; shift ;;
    --cases) cases="$2"; shift ;;
    --nnlstm-batch) nnlstm_batch="$2"; shift ;;
    --density) density="$2"; shift ;;
    --dense-batch) dense_batch="$2"; shift ;;
    --default-kernels) default_kernels=1 ;;
    --blas) blas="$2"; shift ;;
    --no-torch-bf16) torch_bf16=0 ;;
    --no-seqvid-bf16) seqvid_bf16=0 ;;
    --no-bf16-weights) bf16_weights=0 ;;
    --no-packed) packed=0 ;;
    --coretype) coretype="$2"; shift ;;
    --opt) opt="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    --min-reps) min_reps="$2"; shift ;;
    --budget) budget="$2"; shift ;;
    --long) long="$2"; shift ;;
    --sgemm-time) sgemm_time="$2"; shift ;;
    --no-check) check=0 ;;
    --build) build="$2"; shift ;;
    --out) out="$2"; shift ;;
    --dry-run) dry=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[ -n "$out" ] || out="$here/results-$stamp"
raw="$out.raw.txt"
for b in $blas; do
    case "$b" in openblas|onednn) ;; *) echo "run.sh: --blas takes openblas and/or onednn" >&2; exit 2 ;; esac
done
blas_dir() { if [ "$1" = onednn ]; then echo "$build-onednn"; else echo "$build"; fi; }
bench="$(blas_dir openblas)/bench/bench_seqvid"
# The bounds come from the onednn build when there is one (it times OpenBLAS too).
bound_build=$(blas_dir "$([[ " $blas " == *" onednn "* ]] && echo onednn || echo openblas)")
reps_flags=(--warmup "$warmup" --reps "$reps" --min-reps "$min_reps" --budget "$budget" --long "$long")

# --- preconditions --------------------------------------------------------------------------
if [ "$dry" = 0 ]; then
    if ! "$py" -c "import torch" 2>/dev/null; then
        echo "run.sh: PyTorch is missing: sudo apt-get install python3-torch" >&2; exit 1
    fi
    if [ ! -e "$jemalloc" ]; then
        echo "run.sh: $jemalloc is missing: sudo apt-get install libjemalloc2" >&2; exit 1
    fi
    for b in openblas $blas; do
        d=$(blas_dir "$b")
        if [ ! -f "$d/CMakeCache.txt" ]; then
            cmake -S "$root" -B "$d" -DCMAKE_BUILD_TYPE=Release -DSEQVID_TESTS=OFF \
                -DSEQVID_EXAMPLES=OFF -DSEQVID_BENCH=ON -DSEQVID_BLAS="$b" >/dev/null || exit 1
        fi
        cmake --build "$d" -j "$(nproc)" --target bench_seqvid gemm_bound >/dev/null ||
            { echo "run.sh: build ($b) failed" >&2; exit 1; }
    done
    : >"$raw"
    {
        echo "# run.sh $(date -Iseconds) on $(hostname): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores"
        echo "# options: hidden=[$hidden] batch=[$batch] encode_batch=[$encode_batch] threads=[$threads] eval_threads=[$eval_threads] cases=[$cases] nnlstm_batch=[$nnlstm_batch] density=$density dense_batch=[$dense_batch] opt=$opt warmup=$warmup reps=$reps min_reps=$min_reps budget=$budget long=$long blas=[$blas] torch_bf16=$torch_bf16 seqvid_bf16=$seqvid_bf16 bf16_weights=$bf16_weights packed=$packed"
        echo "# openblas kernels: default $(OPENBLAS_VERBOSE=2 "$bench" --plan 2>&1 | sed -n 's/^Core: //p' | head -1), with OPENBLAS_CORETYPE=$coretype $(OPENBLAS_VERBOSE=2 OPENBLAS_CORETYPE=$coretype "$bench" --plan 2>&1 | sed -n 's/^Core: //p' | head -1)"
        echo "# openblas: $(dpkg-query -W -f '${Version}' libopenblas0-pthread 2>/dev/null), torch: $("$py" -c 'import torch; print(torch.__version__)' 2>/dev/null), load before start: $(cut -d' ' -f1-3 /proc/loadavg)"
    } >>"$raw"
fi

# --- the runner: one process at a time, its RESULT/SGEMM lines tagged and kept -----------------
n_proc=0
t_start=$(date +%s)
run() { # run LABEL ENV-ARGS... -- COMMAND...
    local label="$1"; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    n_proc=$((n_proc + 1))
    if [ "$dry" = 1 ]; then
        echo "env ${envs[*]} $*"
        return
    fi
    local t0 out_lines st
    t0=$(date +%s.%N)
    out_lines=$(env "${envs[@]}" timeout 900 "$@" 2>&1)
    st=$?
    printf '%s\n' "$out_lines" | sed "s/^\(RESULT\|SGEMM\|BOUND\|BANDWIDTH\) /\1 env=$label /" >>"$raw"
    if [ $st -ne 0 ]; then
        echo "run.sh: FAILED ($st): $*" >&2
        printf '%s\n' "$out_lines" | tail -5 >&2
        echo "FAIL env=$label status=$st cmd=$*" >>"$raw"
    fi
    printf '  %-9s %6.1fs  %s\n' "$label" "$(awk "BEGIN{print $(date +%s.%N) - $t0}")" \
        "$(printf '%s\n' "$out_lines" | grep -m1 -E '^(RESULT|SGEMM|BOUND)' | cut -c1-110)" >&2
}

# Environments. "installed" clears what the tuned runs set; OPENBLAS_NUM_THREADS is set by the
# programs themselves (seqvid_set_threads; torch_composite.py --threads).
env_plain=(-u OPENBLAS_CORETYPE -u LD_PRELOAD -u MALLOC_CONF)
# (the label "haswell" names the forced kernel set, --coretype's, Haswell unless given)
env_haswell=(-u LD_PRELOAD -u MALLOC_CONF OPENBLAS_CORETYPE="$coretype")
env_tuned=(OPENBLAS_CORETYPE="$coretype" LD_PRELOAD="$jemalloc" "MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1")

seqvid=("$bench" "${reps_flags[@]}" --opt "$opt")
seqvid_onednn=("$(blas_dir onednn)/bench/bench_seqvid" "${reps_flags[@]}" --opt "$opt")
torchpy=("$py" "$here/torch_composite.py" "${reps_flags[@]}" --opt "$opt")
dense=0.5

# --- 0. the same model? ---------------------------------------------------------------------
if [ "$check" = 1 ]; then
    echo "== same-model check (libseqvid weights loaded into the PyTorch model)" >&2
    tmp=$(mktemp -d)
    for dn in "$density" "$dense"; do # the library's sparse-input and dense paths
        run check "${env_haswell[@]}" -- "$bench" --dump "$tmp/chk" --hidden 48 --batch 3 \
            --density "$dn"
        run check "${env_plain[@]}" -- "$py" "$here/torch_composite.py" --check "$tmp/chk"
    done
    rm -rf "$tmp"
    if [ "$dry" = 0 ]; then
        grep -h "^CHECK" "$raw" | tail -1 >&2
        if grep -q "^CHECK FAILED" "$raw" || ! grep -q "^CHECK passed" "$raw"; then
            grep -h "^CHECK" "$raw" | grep -v " ok$" >&2
            echo "run.sh: libseqvid and the PyTorch peer disagree (see above): timing them" \
                "would compare different models; fix it or pass --no-check" >&2
            exit 1
        fi
    fi
fi

# --- 1. the cases ---------------------------------------------------------------------------
for c in $cases; do
    case "$c" in encode|encode_stream) bl="$encode_batch"; bflag=--encode-batch ;; *) bl="$batch"; bflag=--batch ;; esac
    for H in $hidden; do
        for B in $bl; do
            case "$c" in eval_*) tl="$eval_threads" ;; *) tl="$threads" ;; esac
            for th in $tl; do
                echo "== $c H=$H B=$B threads=$th" >&2
                a=(--case "$c" --hidden "$H" "$bflag" "$B" --threads "$th" --density "$density")
                [[ " $blas " == *" openblas "* ]] &&
                    run haswell "${env_haswell[@]}" -- "${seqvid[@]}" "${a[@]}"
                [[ " $blas " == *" openblas "* ]] && [ "$seqvid_bf16" = 1 ] &&
                    run haswell-bf16 "${env_haswell[@]}" -- "${seqvid[@]}" "${a[@]}" \
                        --precision bf16
                [[ " $blas " == *" onednn "* ]] &&
                    run onednn "${env_haswell[@]}" -- "${seqvid_onednn[@]}" "${a[@]}"
                [[ " $blas " == *" onednn "* ]] && [ "$seqvid_bf16" = 1 ] &&
                    run onednn-bf16 "${env_haswell[@]}" -- "${seqvid_onednn[@]}" "${a[@]}" \
                        --precision bf16
                [[ " $blas " == *" openblas "* ]] && [ "$bf16_weights" = 1 ] &&
                    [ "$c" != train ] &&
                    run haswell-w16 "${env_haswell[@]}" -- "${seqvid[@]}" "${a[@]}" \
                        --weights bf16
                [[ " $blas " == *" openblas "* ]] && [ "$packed" = 1 ] &&
                    run haswell-pk "${env_haswell[@]}" -- "${seqvid[@]}" "${a[@]}" \
                        --weights f32-packed
                [ "$default_kernels" = 1 ] && run default "${env_plain[@]}" -- "${seqvid[@]}" "${a[@]}"
                run installed "${env_plain[@]}" -- "${torchpy[@]}" "${a[@]}" --label installed
                run tuned "${env_tuned[@]}" -- "${torchpy[@]}" "${a[@]}" --label tuned
                [ "$torch_bf16" = 1 ] && run bf16 "${env_tuned[@]}" -- "${torchpy[@]}" "${a[@]}" \
                    --autocast bf16 --torch-threads "$th" --label bf16
                if [ "$c" = train ] && [[ " $nnlstm_batch " == *" $B "* ]] &&
                    [[ " $eval_threads " == *" $th "* ]]; then
                    run haswell "${env_haswell[@]}" -- "${seqvid[@]}" "${a[@]}" --no-peep
                    run tuned "${env_tuned[@]}" -- "${torchpy[@]}" "${a[@]}" --cell nnlstm --label tuned
                fi
                if [ "$c" = train ] && [[ " $dense_batch " == *" $B "* ]] &&
                    [[ " $eval_threads " == *" $th "* ]]; then
                    run haswell "${env_haswell[@]}" -- "${seqvid[@]}" "${a[@]}" --density "$dense"
                    run tuned "${env_tuned[@]}" -- "${torchpy[@]}" "${a[@]}" --density "$dense" \
                        --label tuned
                fi
            done
        done
    done
done

# --- 2. the bounds: bench/gemm_bound on every case's plan (one process per H and thread count:
#        shapes shared by cases and batches are timed once) ----------------------------------
echo "== bounds (gemm_bound)" >&2
for H in $hidden; do
    for th in $(echo "$threads $eval_threads" | tr ' ' '\n' | sort -nu); do
        plans=() # bench_seqvid --plan commands of the cases run at this thread count
        for c in $cases; do
            case "$c" in eval_*) tl="$eval_threads" ;; *) tl="$threads" ;; esac
            [[ " $tl " == *" $th "* ]] || continue
            case "$c" in encode|encode_stream) bl="$encode_batch"; bflag=--encode-batch ;; *) bl="$batch"; bflag=--batch ;; esac
            for B in $bl; do
                plans+=("$bound_build/bench/bench_seqvid --plan --case $c --hidden $H $bflag $B")
            done
        done
        [ ${#plans[@]} -gt 0 ] || continue
        run bound "${env_haswell[@]}" -- bash -c "{ $(printf '%s; ' "${plans[@]}") } | grep -v '^# libseqvid' | $bound_build/bench/gemm_bound --threads $th --time $sgemm_time"
    done
done

if [ "$dry" = 1 ]; then
    echo "# $n_proc processes" >&2
    exit 0
fi
elapsed=$(($(date +%s) - t_start))
echo "# $n_proc processes, $elapsed s" >>"$raw"

# --- 3. the table ---------------------------------------------------------------------------
"$py" "$here/table.py" "$raw" --md "$out.md" --command "bench/run.sh $all_args"
echo "# $n_proc processes in $elapsed s; wrote $out.md and $raw" >&2
