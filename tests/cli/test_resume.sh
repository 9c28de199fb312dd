#!/bin/bash
# test_resume.sh SEQVID -- `seqvid train --resume` gives bitwise the same model, checkpoint
# and loss.csv as one uninterrupted run: on Moving MNIST (the generator's random state
# travels in the checkpoint) and on a .npy file (batches chosen by a hash of seed and step).
SEQVID=$1
source "$(dirname "$0")/lib.sh"

# first_half: flags for the interrupted run's first 6 steps only (they come last, so they
# override); empty but for one check.
first_half=()
check() { # NAME SOURCE-FLAGS...
    local name=$1
    shift
    # --decay none: the default decay's horizon is --steps, which differs between the runs
    # (the schedule's own resumption is checked below).
    set -- --decay none "$@"
    local a="$work/$name-a" b="$work/$name-b"
    $SEQVID train "${tiny[@]}" "$@" --steps 12 --val-every 4 --log-every 2 --out "$a" >/dev/null 2>&1 &&
        $SEQVID train "${tiny[@]}" "$@" --steps 6 --val-every 4 --log-every 2 --out "$b" \
            "${first_half[@]}" >/dev/null 2>&1 &&
        $SEQVID train "${tiny[@]}" "$@" --steps 12 --val-every 4 --log-every 2 --out "$b" \
            --resume "$b/checkpoint.safetensors" >"$work/resume.log" 2>&1 ||
        { fail "$name: a run failed: $(tail -3 "$work/resume.log")"; return; }
    grep -q "resumed from .* at step 6" "$work/resume.log" || fail "$name: not resumed at step 6"
    if cmp -s "$a/model.safetensors" "$b/model.safetensors" &&
        cmp -s "$a/checkpoint.safetensors" "$b/checkpoint.safetensors" &&
        cmp -s "$a/loss.csv" "$b/loss.csv"; then
        pass "$name: 12 steps = 6 steps + resume 6 (model, checkpoint, loss.csv bitwise equal)"
    else
        fail "$name: resumed run differs from the uninterrupted one"
    fi
    # And the test can fail: a different seed gives a different model.
    $SEQVID train "${tiny[@]}" "$@" --steps 12 --val-every 4 --out "$work/$name-c" --seed 2 >/dev/null 2>&1
    cmp -s "$a/model.safetensors" "$work/$name-c/model.safetensors" &&
        fail "$name: --seed 2 gives the same model"
}
check mmnist --data "$d/mnist"
check npy --npy "$d/frames.npy"
# The lr warm-up is a function of the global step: a resumed run continues it exactly.
check warmup --data "$d/mnist" --lr 3e-3 --warmup 8
# So is the decay over --steps: 12 steps decayed over their second half equal 6 steps at the
# peak lr (their decay would begin after 99.9% of them) resumed to step 12 with that decay
# (p = 6/12 at the first resumed step).
first_half=(--decay-start 0.999)
check decay --data "$d/mnist" --lr 3e-3 --decay cosine --decay-start 0.5
first_half=()
# Scheduled sampling: p follows the global step, and the coin stream is in the checkpoint.
check sampling --data "$d/mnist" --cond-future 1 --sample-prob 0.6 --sample-ramp 8
# Video: the data set's generator is not in the checkpoint; the resumed run draws the
# batches of the steps already done first.
[ $have_video = 1 ] && check video --video "$d/videos" --patch 16
finish
