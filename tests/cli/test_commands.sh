#!/bin/bash
# test_commands.sh SEQVID -- every subcommand of `seqvid` on tiny data: train on each kind
# of source, predict, eval, encode (output shapes), info on each kind of file, and clear
# messages with a non-zero exit for bad arguments.
SEQVID=$1
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3

# --- help answers, for every command ---------------------------------------------------
for c in "" train predict eval encode info; do
    if $SEQVID $c --help | grep -q "^usage: seqvid"; then pass "seqvid $c --help"; else fail "seqvid $c --help"; fi
done

# examples/demo.sh --help answers before installing or building anything: with a PATH that
# holds only bash, cat and dirname, any use of dpkg, apt-get or cmake would fail.
mkdir -p "$work/bin"
for t in bash cat dirname; do ln -s "$(command -v $t)" "$work/bin/$t"; done
if env PATH="$work/bin" bash "$here/../../examples/demo.sh" --help >"$work/demo.txt" 2>&1 &&
    grep -q "^usage: examples/demo.sh" "$work/demo.txt" && grep -q -- "--minutes M" "$work/demo.txt"; then
    pass "examples/demo.sh --help answers without building (seqvid train's flags)"
else
    fail "examples/demo.sh --help: $(head -5 "$work/demo.txt")"
fi

# --- the BLAS kernels: OpenBLAS's generic fallback is left by a restart -------------------
# Before 0.3.25 OpenBLAS gives CPUs it does not know its generic SSE3 kernels ("Prescott"),
# about half the speed. Without OPENBLAS_CORETYPE, seqvid starts itself again with the
# variable the library advises (seqvid.h, seqvid_experimental_backend); a value the user set
# is kept, whatever it is.
if $SEQVID --version | grep -q "^products: openblas"; then
    avx2=0
    grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && avx2=1
    line=$(OPENBLAS_CORETYPE=Prescott $SEQVID --version | grep "^products:")
    echo "$line" | grep -q "^products: openblas, Prescott kernels, OPENBLAS_CORETYPE=Prescott" &&
        pass "OPENBLAS_CORETYPE set by the user is kept: $line" || fail "forced Prescott: $line"
    line=$(env -u OPENBLAS_CORETYPE $SEQVID --version | grep "^products:")
    if [ $avx2 = 1 ] && echo "$line" | grep -q "Prescott"; then
        fail "without OPENBLAS_CORETYPE on an AVX2 CPU: $line"
    else
        pass "without OPENBLAS_CORETYPE: $line"
    fi
    # arguments, standard streams and the exit status survive the restart
    env -u OPENBLAS_CORETYPE $SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 2 \
        --val-every 2 --out "$work/restart" >"$work/restart.log" 2>&1
    rc=$?
    if [ $rc = 0 ] && grep -q "^step 2 " "$work/restart.log" && [ -s "$work/restart/model.safetensors" ] &&
        { [ $avx2 = 0 ] || ! grep -q "Prescott kernels" "$work/restart.log"; }; then
        pass "train without OPENBLAS_CORETYPE: $(grep -o 'BLAS threads.*' "$work/restart.log")"
    else
        fail "train without OPENBLAS_CORETYPE: exit $rc: $(head -5 "$work/restart.log")"
    fi
    expect_error "a bad flag after the restart still exits 2 with its message" "unrecognized option" \
        env -u OPENBLAS_CORETYPE $SEQVID train --no-such-flag
fi

# --- train on every source -------------------------------------------------------------
$SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 6 --val-every 3 --log-every 2 \
    --out "$work/mm" >"$work/mm.log" 2>&1 || fail "train on Moving MNIST: $(tail -3 "$work/mm.log")"
for f in model.safetensors checkpoint.safetensors loss.csv loss.png val0.png val0.gif \
    val0_rollout.png val0_rollout.gif; do
    [ -s "$work/mm/$f" ] || fail "train on Moving MNIST: no $f"
done
grep -q "^step 6 " "$work/mm.log" && grep -q "last frame" "$work/mm.log" &&
    pass "train on Moving MNIST: log lines in a pipe, baselines, pictures" ||
    fail "train on Moving MNIST: log: $(cat "$work/mm.log")"
# --weights: f32-packed by default (packed copies for the recurrent products); f32 trains the
# same model to float32's rounding; bf16 is refused (inference only)
$SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 6 --val-every 3 --log-every 2 \
    --weights f32 --out "$work/mm32" >"$work/mm32.log" 2>&1 &&
    grep -q "; f32-packed weights" "$work/mm.log" && grep -q "; f32 weights" "$work/mm32.log" &&
    $py -c "
import numpy as np, sys
a = np.genfromtxt('$work/mm/loss.csv', delimiter=',', skip_header=1)
b = np.genfromtxt('$work/mm32/loss.csv', delimiter=',', skip_header=1)
ok = a.shape == b.shape and np.allclose(a, b, rtol=1e-4, equal_nan=True)
print('max rel |packed - f32| of loss.csv', np.nanmax(np.abs(a - b) / np.abs(b)))
sys.exit(0 if ok else 1)" >>"$work/mm32.log" 2>&1 &&
    pass "train: f32-packed weights by default; --weights f32 within 1e-4 of its losses" ||
    fail "train --weights: $(grep -h 'weights' "$work/mm.log" "$work/mm32.log" | head -4)"
expect_error "train --weights bf16 is refused" "training needs float32 weights" \
    $SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 1 --weights bf16 --out "$work/mm16"
# --precision: auto by default (bf16 products where the CPU has AVX512-BF16, said in the
# header); f32 and bf16 train the same model within bf16's rounding; where bf16 cannot run
# (SEQVID_NO_BF16=1 forces that) --precision bf16 trains in float32 and says so
for p in f32 bf16; do
    $SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 6 --val-every 3 --log-every 2 \
        --precision $p --out "$work/mm-$p" >"$work/mm-$p.log" 2>&1 || fail "train --precision $p"
done
SEQVID_NO_BF16=1 $SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 1 --precision bf16 \
    --out "$work/mm-nobf" >"$work/mm-nobf.log" 2>&1 &&
    grep -q "the products stay float32" "$work/mm-nobf.log" &&
    ! grep -q "bf16 products" "$work/mm-nobf.log" && ! grep -q "bf16 products" "$work/mm-f32.log" &&
    { grep -q "bf16 products" "$work/mm-bf16.log" && grep -q "bf16 products" "$work/mm.log" ||
      ! grep -q "bf16 products" "$work/mm.log"; } &&
    $py -c "
import numpy as np, sys
a = np.genfromtxt('$work/mm-f32/loss.csv', delimiter=',', skip_header=1)
b = np.genfromtxt('$work/mm-bf16/loss.csv', delimiter=',', skip_header=1)
ok = a.shape == b.shape and np.allclose(a, b, rtol=2e-2, equal_nan=True)
print('max rel |bf16 - f32| of loss.csv', np.nanmax(np.abs(a - b) / np.abs(a)))
sys.exit(0 if ok else 1)" >>"$work/mm-bf16.log" 2>&1 &&
    pass "train --precision: auto by default, f32 and bf16 within 2% of each other's losses, the fallback said" ||
    fail "train --precision: $(grep -h 'products\|precision\|max rel' "$work"/mm-*.log | head -6)"
[ "$(grep -c '^[0-9]' "$work/mm/loss.csv")" = 4 ] && pass "loss.csv: a row every 2 steps and at every validation" ||
    fail "loss.csv: $(cat "$work/mm/loss.csv")"

$SEQVID train "${tiny[@]}" --npy "$d/frames.npy" --steps 4 --val-every 2 --out "$work/fr" \
    >"$work/fr.log" 2>&1 && grep -q "binary" "$work/fr.log" && [ -s "$work/fr/val0.gif" ] &&
    pass "train on .npy frames (16x16, binary output)" || fail "train on .npy frames: $(tail -3 "$work/fr.log")"
$SEQVID train "${tiny[@]}" --npy "$d/percepts.npy" --input-frames 6 --future-frames 6 \
    --steps 4 --val-every 2 --out "$work/pc" >"$work/pc.log" 2>&1 &&
    grep -q "real (squared loss)" "$work/pc.log" && grep -q "sq.err/frame" "$work/pc.log" &&
    [ ! -e "$work/pc/val0.png" ] && [ -s "$work/pc/loss.png" ] &&
    pass "train on .npy percepts (6-vectors, real output, no frame pictures)" ||
    fail "train on percepts: $(tail -5 "$work/pc.log")"
$SEQVID train "${tiny[@]}" --npy "$d/rgb.npy" --input-frames 6 --future-frames 6 --kind ae \
    --steps 2 --val-every 2 --out "$work/rgb" >"$work/rgb.log" 2>&1 &&
    grep -q "8x8 RGB" "$work/rgb.log" && [ -s "$work/rgb/val0.gif" ] &&
    pass "train an autoencoder on RGB uint8 .npy frames" || fail "train on RGB: $(tail -3 "$work/rgb.log")"

# --- predict, eval, encode ---------------------------------------------------------------
$SEQVID predict "$work/fr/model.safetensors" --npy "$d/frames.npy" --count 5 --future 7 \
    --rollout 12 --pictures 2 --out "$work/pred" >"$work/pred.log" 2>&1 &&
    $py -c "
import numpy as np, sys
p = np.load('$work/pred/predictions.npy'); r = np.load('$work/pred/reconstructions.npy')
sys.exit(0 if p.shape == (7, 5, 16, 16) and r.shape == (10, 5, 16, 16) else 1)" &&
    [ -s "$work/pred/seq1_rollout.gif" ] && [ ! -e "$work/pred/seq2.png" ] &&
    pass "predict: predictions (7, 5, 16, 16), reconstructions (10, 5, 16, 16), 2 pictures" ||
    fail "predict: $(tail -5 "$work/pred.log")"
$SEQVID predict --model "$work/mm/checkpoint.safetensors" --data "$d/mnist" --count 3 \
    --out "$work/pred_mm" >"$work/pred_mm.log" 2>&1 && [ -s "$work/pred_mm/seq0.png" ] &&
    grep -q "mean frame" "$work/pred_mm.log" &&
    pass "predict from a checkpoint on generated Moving MNIST" || fail "predict on Moving MNIST: $(tail -5 "$work/pred_mm.log")"
$SEQVID eval "$work/pc/model.safetensors" --npy "$d/percepts.npy" >"$work/eval.log" 2>&1 &&
    grep -q "clip mean" "$work/eval.log" && grep -q "^  model" "$work/eval.log" &&
    pass "eval: model next to the baselines" || fail "eval: $(cat "$work/eval.log")"

$SEQVID encode "$work/fr/model.safetensors" --npy "$d/frames.npy" --count 9 --stream \
    --out "$work/enc" >"$work/enc.log" 2>&1 &&
    $py -c "
import numpy as np, sys
f = np.load('$work/enc/features.npy'); s = np.load('$work/enc/features_stream.npy')
ok = f.shape == (9, 16) and s.shape == (20, 9, 16) and np.allclose(s[-1], f, atol=1e-5)
sys.exit(0 if ok else 1)" &&
    pass "encode --stream: features (9, 16) = 2 x 8 units per clip, per frame (20, 9, 16), last = clip" ||
    fail "encode: $(tail -5 "$work/enc.log")"
$SEQVID encode "$work/pc/model.safetensors" --npy "$d/percepts.npy" --frames 4 --out "$work/enc2" \
    >/dev/null 2>&1 && $py -c "
import numpy as np, sys
sys.exit(0 if np.load('$work/enc2/features.npy').shape == (10, 16) else 1)" &&
    pass "encode --frames 4 of percepts: (10, 16)" || fail "encode of percepts"

$SEQVID encode "$work/fr/model.safetensors" --npy "$d/frames.npy" --count 9 --stream \
    --weights bf16 --out "$work/enc16" >"$work/enc16.log" 2>&1 &&
    $py -c "
import numpy as np, sys
f = np.load('$work/enc/features.npy'); g = np.load('$work/enc16/features.npy')
s = np.load('$work/enc16/features_stream.npy'); d = np.abs(g - f).max()
ok = g.shape == f.shape and 0 < d < 0.05 and np.allclose(s[-1], g, atol=1e-5)
print('max |bf16 - f32| feature', d)
sys.exit(0 if ok else 1)" >>"$work/enc16.log" 2>&1 &&
    pass "encode --weights bf16: features within 0.05 of f32's (not equal), stream's last = clip" ||
    fail "encode --weights bf16: $(tail -5 "$work/enc16.log")"
$SEQVID eval "$work/pc/model.safetensors" --npy "$d/percepts.npy" --weights bf16 \
    >"$work/eval16.log" 2>&1 && grep -q "^  model" "$work/eval16.log" &&
    ! $SEQVID eval "$work/pc/model.safetensors" --npy "$d/percepts.npy" --weights f16 \
    >"$work/eval16b.log" 2>&1 && grep -q "not f32, bf16 or f32-packed" "$work/eval16b.log" &&
    pass "eval --weights bf16 scores; --weights f16 is refused" ||
    fail "eval --weights: $(cat "$work/eval16.log" "$work/eval16b.log")"

$SEQVID encode "$work/fr/model.safetensors" --npy "$d/frames.npy" --count 9 --stream \
    --weights f32-packed --out "$work/encpk" >"$work/encpk.log" 2>&1 &&
    $py -c "
import numpy as np, sys
f = np.load('$work/enc/features.npy'); g = np.load('$work/encpk/features.npy')
s = np.load('$work/encpk/features_stream.npy'); d = np.abs(g - f).max()
ok = g.shape == f.shape and d < 1e-5 and np.allclose(s[-1], g, atol=1e-5)
print('max |f32-packed - f32| feature', d)
sys.exit(0 if ok else 1)" >>"$work/encpk.log" 2>&1 &&
    pass "encode --weights f32-packed: features within 1e-5 of f32's, stream's last = clip" ||
    fail "encode --weights f32-packed: $(tail -5 "$work/encpk.log")"

# --- info on each kind of file -------------------------------------------------------------
$SEQVID info "$work/mm/model.safetensors" | grep -q "libseqvid model" &&
    $SEQVID info "$work/mm/model.safetensors" | grep -q "HIDDEN=8" &&
    pass "info: model" || fail "info: model: $($SEQVID info "$work/mm/model.safetensors" 2>&1)"
$SEQVID info "$work/mm/checkpoint.safetensors" >"$work/info.log" 2>&1 &&
    grep -q "training checkpoint" "$work/info.log" && grep -q "step 6" "$work/info.log" &&
    grep -q "data generator state: yes" "$work/info.log" &&
    pass "info: checkpoint (step, generator state)" || fail "info: checkpoint: $(cat "$work/info.log")"
# The demo's recipe (docs/learning.md): forget-gate bias 5, Adam at lr 2e-3 held for 70% of
# the run, then a half cosine to 0: step 6 of 6 trains at p = 5/6, i.e.
# 2e-3 (1 + cos(pi (5/6 - 0.7) / 0.3)) / 2 = 1.17365e-3, the lr the checkpoint holds.
grep -q "FORGET_BIAS=5$" "$work/info.log" && grep -q "LR=0.00117365 " "$work/info.log" &&
    grep -q "BETA1=0.9 BETA2=0.95 " "$work/info.log" &&
    grep -q "adam lr 0.002 (warm-up 0 steps, cosine decay to 0 over the last 30% of the steps)" "$work/mm.log" &&
    grep -q "^step 2  .* lr 0.002  train" "$work/mm.log" && grep -q "^step 6  .* lr 0.00117  train" "$work/mm.log" &&
    pass "train defaults: forget-gate bias 5, Adam lr 2e-3 decayed over the last 30%, betas 0.9 / 0.95" ||
    fail "train defaults: $(cat "$work/info.log")"
# --beta1/--beta2 reach the optimizer; a resume keeps the checkpoint's unless given again.
$SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 2 --beta1 0.8 --beta2 0.99 \
    --out "$work/beta" >"$work/beta.log" 2>&1 &&
    grep -q "betas 0.8, 0.99" "$work/beta.log" &&
    $SEQVID train --resume "$work/beta/checkpoint.safetensors" --data "$d/mnist" --steps 3 \
    --out "$work/beta" >"$work/beta2.log" 2>&1 && grep -q "betas 0.8, 0.99" "$work/beta2.log" &&
    $SEQVID train --resume "$work/beta/checkpoint.safetensors" --data "$d/mnist" --steps 4 \
    --beta2 0.9 --out "$work/beta" >"$work/beta3.log" 2>&1 &&
    $SEQVID info "$work/beta/checkpoint.safetensors" | grep -q "BETA1=0.8 BETA2=0.9 " &&
    pass "train --beta1 0.8 --beta2 0.99; kept by --resume, --beta2 0.9 there replaces it" ||
    fail "train --beta1/--beta2: $(cat "$work/beta.log" "$work/beta2.log" "$work/beta3.log")"
# --- the lr schedule and the forget-gate bias: the checkpoint holds the lr of the last step
# (global step 3 of 4): warm-up 1e-3 * 4/10; cosine 1e-4 + 0.9e-3 (1 + cos(3 pi / 4)) / 2.
$SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 4 --warmup 10 --decay none --lr 1e-3 --forget-bias 0.5 \
    --init-weight 0.05 --out "$work/warm" >"$work/warm.log" 2>&1 &&
    $SEQVID info "$work/warm/checkpoint.safetensors" \
    >"$work/info.log" 2>&1 && grep -q "LR=0.0004 " "$work/info.log" &&
    grep -q "FORGET_BIAS=0.5$" "$work/info.log" && grep -q "INIT_WEIGHT=0.05 " "$work/info.log" &&
    grep -q "warm-up 10 steps" "$work/warm.log" &&
    pass "train --warmup 10: lr 4e-4 at step 4; --forget-bias 0.5, --init-weight 0.05 in the model" ||
    fail "train --warmup/--forget-bias: $(cat "$work/warm.log" "$work/info.log")"
# --save-every: the checkpoint and pictures at the first validation, then only once that
# many seconds have passed (and at the end); 0: at every validation.
$SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 6 --val-every 2 --save-every 1e9 \
    --out "$work/se" >"$work/se.log" 2>&1 &&
    [ "$(grep -c "^validation at step .*(checkpoint saved)" "$work/se.log")" = 1 ] &&
    grep -q "^validation at step 2:.*(checkpoint saved)" "$work/se.log" &&
    $SEQVID info "$work/se/checkpoint.safetensors" | grep -q "step 6" &&
    $SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 6 --val-every 2 --save-every 0 \
    --out "$work/se0" >"$work/se0.log" 2>&1 &&
    [ "$(grep -c "^validation at step .*(checkpoint saved)" "$work/se0.log")" = 3 ] &&
    pass "train --save-every 1e9: saved at the first validation and the end; 0: at all three" ||
    fail "train --save-every: $(cat "$work/se.log" "$work/se0.log")"
# --output-bias mean: the untrained model predicts the training data's mean frame, so after
# one step at a negligible lr its validation losses equal the mean-frame baseline's (within
# 1%); with the default zero biases it predicts 0.5 everywhere (4096 ln 2 = 2839 nats).
same_as_mean_frame='/^  model /{m1=$2; m2=$3} /^  mean frame /{b1=$3; b2=$4}
    END {exit !(b1 > 0 && (m1 - b1)^2 < (0.01 * b1)^2 && (m2 - b2)^2 < (0.01 * b2)^2)}'
$SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 1 --lr 1e-12 --output-bias mean \
    --out "$work/obias" >"$work/obias.log" 2>&1 && awk "$same_as_mean_frame" "$work/obias.log" &&
    $SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 1 --lr 1e-12 --out "$work/obias0" \
    >"$work/obias0.log" 2>&1 && ! awk "$same_as_mean_frame" "$work/obias0.log" &&
    pass "train --output-bias mean: the untrained model scores the mean-frame baseline" ||
    fail "train --output-bias: $(cat "$work/obias.log" "$work/obias0.log")"
# lr_after NAME LR FLAGS...: 4 steps with FLAGS leave LR (as `seqvid info` prints it) in the
# checkpoint, the lr of global step 3 of 4.
lr_after() {
    local name=$1 lr=$2
    shift 2
    $SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 4 "$@" --out "$work/$name" >/dev/null 2>&1 &&
        $SEQVID info "$work/$name/checkpoint.safetensors" >"$work/info.log" 2>&1 &&
        grep -q "LR=$lr " "$work/info.log" && pass "train $*: lr $lr at step 4 of 4" ||
        fail "train $*: $(cat "$work/info.log")"
}
lr_after cos 0.000231802 --decay cosine --decay-start 0 --lr 1e-3 --lr-min 1e-4
# --decay-start 0.5: the peak until half the run, then the half cosine over the rest; step 4
# of 4 trains at p = 3/4, i.e. halfway down that cosine: 1e-4 + (1e-3 - 1e-4) / 2.
lr_after cos2 0.00055 --decay cosine --decay-start 0.5 --lr 1e-3 --lr-min 1e-4
# Resuming a run whose lr ended near zero (a finished decay) without a schedule or --lr: a note.
$SEQVID train "${tiny[@]}" --data "$d/mnist" --steps 2 --lr 1e-5 --out "$work/low" >/dev/null 2>&1 &&
    $SEQVID train --resume "$work/low/checkpoint.safetensors" --data "$d/mnist" --steps 3 \
        --decay none --out "$work/low" >"$work/low.log" 2>&1 &&
    grep -q "holds lr 1e-05 (where its decay ended) and this run has no --decay" "$work/low.log" &&
    $SEQVID train --resume "$work/low/checkpoint.safetensors" --data "$d/mnist" --steps 4 \
        --lr 1e-3 --out "$work/low" >"$work/low2.log" 2>&1 && ! grep -q "holds lr" "$work/low2.log" &&
    pass "train --resume at a decayed lr: a note, unless --lr is given" ||
    fail "train --resume at a decayed lr: $(cat "$work/low.log" "$work/low2.log")"

$SEQVID info "$d/rgb.npy" >"$work/info.log" 2>&1 && grep -q "shape (12, 6, 8, 8, 3)" "$work/info.log" &&
    grep -q "6 sequences of 12" "$work/info.log" && pass "info: .npy" ||
    fail "info: .npy: $(cat "$work/info.log")"
head -c 100 /dev/urandom >"$work/random.bin"
expect_error "info: random bytes" "not a libseqvid model" $SEQVID info "$work/random.bin"
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":1}' >"$work/broken.safetensors"
$SEQVID info "$work/broken.safetensors" >"$work/out" 2>&1
[ $? -ne 0 ] && grep -q "not a libseqvid model" "$work/out" && pass "info: a broken safetensors file" ||
    fail "info: broken safetensors: $(cat "$work/out")"
expect_error "info: missing file" "No such file" $SEQVID info "$work/nothing.npy"
expect_error "info: no file" "usage: seqvid info" $SEQVID info

# --- video, through libseqvid_video -------------------------------------------------------
if [ $have_video = 1 ]; then
    v=$d/videos
    $SEQVID info "$v/clip1.mkv" >"$work/info.log" 2>&1 && grep -q "video, 64x48, 10 frames/s" "$work/info.log" &&
        pass "info: video file" || fail "info: video: $(cat "$work/info.log")"
    $SEQVID info "$v" >"$work/info.log" 2>&1 && grep -q "a folder of 6 files" "$work/info.log" &&
        pass "info: folder of videos" || fail "info: video folder: $(cat "$work/info.log")"
    $SEQVID train "${tiny[@]}" --video "$v" --patch 16 --steps 4 --val-every 2 --out "$work/vid" \
        >"$work/vid.log" 2>&1 && grep -q "random patches 16x16 gray" "$work/vid.log" &&
        grep -q "real (squared loss)" "$work/vid.log" && [ -s "$work/vid/val0.gif" ] &&
        pass "train on a folder of videos: 16x16 patches, real output" ||
        fail "train on videos: $(tail -5 "$work/vid.log")"
    $SEQVID train "${tiny[@]}" --video "$v/*.mkv" --resize 24 --rgb --kind ae --steps 2 --val-every 2 \
        --out "$work/vid2" >"$work/vid2.log" 2>&1 && grep -q "frames 24x24 RGB" "$work/vid2.log" &&
        pass "train on a glob of videos: whole frames resized to 24x24, RGB" ||
        fail "train on a video glob: $(tail -5 "$work/vid2.log")"
    $SEQVID train "${tiny[@]}" --video "$v" --val-video "$v/clip3.mkv" --patch 16 --steps 2 \
        --val-every 2 --out "$work/vid3" >"$work/vid3.log" 2>&1 &&
        grep -q "5 video files for training.*1 held out (.*clip3.mkv)" "$work/vid3.log" &&
        [ "$(wc -l <"$work/vid3/train-files.txt")" = 5 ] && ! grep -q clip3 "$work/vid3/train-files.txt" &&
        grep -q "fut MSE/px" "$work/vid3.log" &&
        pass "train --val-video: that file held out, the other five train; MSE per pixel" ||
        fail "train --val-video: $(tail -5 "$work/vid3.log")"
    $SEQVID train "${tiny[@]}" --video "$v/clip1.mkv" --val-video "$v/clip2.mkv" --resize 32x0 --rgb \
        --steps 2 --val-every 2 --out "$work/vid4" >"$work/vid4.log" 2>&1 &&
        grep -q "1 video files for training.*frames 32x24 RGB" "$work/vid4.log" &&
        pass "train on one video file with --val-video; --resize 32x0 keeps the aspect (32x24)" ||
        fail "train on one file with --val-video: $(tail -5 "$work/vid4.log")"
    expect_error "--val-video with predict" "goes with seqvid train" \
        $SEQVID eval "$work/vid/model.safetensors" --video "$v/clip1.mkv" --val-video "$v/clip2.mkv"
    expect_error "--val-video holding out every file" "no file left for training" \
        $SEQVID train --video "$v/clip1.mkv" --val-video "$v" --out "$work/x"
    expect_error "--resize 0x0" "give at least one side" \
        $SEQVID train --video "$v" --resize 0x0 --out "$work/x"
    $SEQVID encode "$work/vid/model.safetensors" --video "$v/clip2.mkv" --patch 16 --count 6 \
        --out "$work/venc" >/dev/null 2>&1 && $py -c "
import numpy as np, sys
sys.exit(0 if np.load('$work/venc/features.npy').shape == (6, 16) else 1)" &&
        pass "encode patches of one video file: (6, 16)" || fail "encode of a video"
    $SEQVID predict "$work/vid/model.safetensors" --video "$v/clip2.mkv" --patch 16 --count 4 \
        --rollout 0 --out "$work/vpred" >/dev/null 2>&1 && [ -s "$work/vpred/seq0.png" ] &&
        pass "predict on one video file" || fail "predict on a video"
    expect_error "train on one video file" "one file is not split" \
        $SEQVID train --video "$v/clip1.mkv" --out "$work/x"
    expect_error "patch larger than the frames" "patch 100 x 100 does not fit" \
        $SEQVID train --video "$v" --patch 100 --out "$work/x"
    : >"$work/empty.mkv"
    expect_error "info: zero-length video" "empty.mkv" $SEQVID info "$work/empty.mkv"
else
    echo "skipped: video (seqvid without libseqvid_video, or no ffmpeg)"
    expect_error "video without libseqvid_video" "libseqvid_video" $SEQVID train --video "$d"
fi

# --- bad arguments: a clear message and a non-zero exit -------------------------------------
expect_error "no command" "usage: seqvid" $SEQVID
expect_error "unknown command" "'fly' is not a command" $SEQVID fly
expect_error "bad number" "--hidden: 'many' is not an integer" $SEQVID train --hidden many
expect_error "bad choice" "--kind: 'big' is not one of" $SEQVID train --kind big
expect_error "bad decay" "--decay: 'linear' is not one of" $SEQVID train --decay linear
expect_error "decay-start without a decay" "--decay-start says where the decay begins: it needs --decay cosine" $SEQVID train "${tiny[@]}" --data "$d/mnist" --decay none --decay-start 0.5 --out "$work/x"
expect_error "decay-start out of range" "--decay-start: '1' is not a number in \[0, 0.999\]" $SEQVID train --decay-start 1
expect_error "lr-min above the lr" "--lr-min 0.1 is above the peak lr 0.002" $SEQVID train "${tiny[@]}" --data "$d/mnist" --decay cosine --lr-min 0.1 --out "$work/x"
expect_error "sampling an unconditioned predictor" "needs a conditional one" $SEQVID train "${tiny[@]}" --data "$d/mnist" --sample-prob 0.5 --out "$work/x"
expect_error "--sample-prob above 1" "--sample-prob" $SEQVID train --sample-prob 1.5
expect_error "--sample-ramp alone" "--sample-ramp needs --sample-prob" $SEQVID train --sample-ramp 10
expect_error "unknown flag" "seqvid train: unrecognized option" $SEQVID train --frobnicate
expect_error "betas of SGD" "--beta1 and --beta2 are Adam's; this run's optimizer is sgd" $SEQVID train "${tiny[@]}" --data "$d/mnist" --optimizer sgd --beta2 0.9 --out "$work/x"
expect_error "beta2 of 1" "--beta2" $SEQVID train --beta2 1
expect_error "stray argument" "unexpected argument 'x'" $SEQVID train x
expect_error "two sources" "choose one source" $SEQVID train --npy a.npy --video b.avi
expect_error "missing .npy" "cannot open" $SEQVID train --npy "$work/none.npy"
expect_error "missing digits" "examples/setup-mnist.sh" $SEQVID train --data "$work/empty" --out "$work/x"
expect_error "sequences too short" "lower" $SEQVID train "${tiny[@]}" --npy "$d/percepts.npy" --out "$work/x"
expect_error "frame size mismatch" "the model reads 256" $SEQVID eval "$work/fr/model.safetensors" --npy "$d/percepts.npy"
expect_error "not a model" "$work/random.bin" $SEQVID predict "$work/random.bin" --npy "$d/frames.npy"
expect_error "resume with other data" "the model reads 256" $SEQVID train --resume "$work/fr/checkpoint.safetensors" --npy "$d/percepts.npy" --out "$work/x"
finish
