#!/bin/bash
# test_fewlabels.sh FEWLABELS -- examples/fewlabels on tiny data (blob "digits", budgets of a
# few steps): the direction task's classes checked against the frames by NumPy
# (fewlabels_direction.py), the multi-seed table end to end (mean ± sd, paired differences,
# per-seed rows, bitwise the same when run again, --pretrained), the first-frame control
# (--frames 1), and clear errors for bad flags.
FEWLABELS=$1
source "$(dirname "$0")/lib.sh"
py=/usr/bin/python3

# --- the direction task's classes, from the frames alone ---------------------------------
$FEWLABELS --data "$d/mnist" --task direction --dump 400 --out "$work/dump" >"$work/dump.log" 2>&1 &&
    $py "$here/fewlabels_direction.py" "$work/dump/fewlabels_clips.npy" \
        "$work/dump/fewlabels_classes.npy" >"$work/check.log" 2>&1 &&
    pass "direction classes agree with the frames: $(tail -1 "$work/check.log")" ||
    fail "direction classes: $(tail -3 "$work/dump.log") $(tail -5 "$work/check.log")"

# --- the table over two seeds ------------------------------------------------------------
tiny=(--data "$d/mnist" --hidden 8 --steps 6 --batch 4 --labelled 40 --sizes 10,0 --test 20
      --probe-epochs 1 --threads 1)
run() { # run NAME FLAGS...: fewlabels into $work/NAME, log in $work/NAME.log
    local name=$1
    shift
    $FEWLABELS "${tiny[@]}" --out "$work/$name" "$@" >"$work/$name.log" 2>&1
}
md=$work/two/fewlabels.md
if run two --task direction --pretrain-steps 4 --seeds 2; then
    grep -q "task 'direction' (8 classes" "$md" && grep -q "2 seeds (1..2)" "$md" &&
        grep -Eq '^\| 10 \| [0-9.]+ ± [0-9.]+% \([0-9.]+\) \| [0-9.]+ ± [0-9.]+% \([0-9.]+\) \| [-+][0-9.]+ ± [0-9.]+ \| (yes|no) \|' "$md" &&
        grep -Eq '^\| 40 \(all\) \|' "$md" &&
        [ "$(grep -Ec '^\| (10|40) \| [12] \|' "$md")" = 4 ] &&
        grep -q "^| labelled clips | LSTM from scratch" "$work/two.log" &&
        pass "two seeds: mean ± sd, paired difference, verdict, 4 per-seed rows" ||
        fail "two seeds: table: $(cat "$md")"
    # the two replicates differ (own seeds and labelled subsets), the same run repeats bitwise
    [ "$(grep -E '^\| 10 \| 1 \|' "$md" | cut -d'|' -f4-)" != "$(grep -E '^\| 10 \| 2 \|' "$md" | cut -d'|' -f4-)" ] &&
        pass "replicates differ" || fail "replicates are identical: $(grep -E '^\| 10 \|' "$md")"
    run again --task direction --pretrain-steps 4 --seeds 2 &&
        diff <(grep '^| ' "$md") <(grep '^| ' "$work/again/fewlabels.md") >/dev/null &&
        pass "the same command gives the same table" || fail "not deterministic"
    # --pretrained: the saved model, one seed (no spread to report)
    run pre --task max --pretrained "$work/two/fewlabels_pretrained.safetensors" &&
        grep -q "pretrained model: .*two/fewlabels_pretrained.safetensors (H=8, 1 layer" "$work/pre.log" &&
        grep -Eq '^\| 10 \| [0-9.]+% \([0-9.]+\) \| [0-9.]+% \([0-9.]+\) \| [-+][0-9.]+ \| n/a \|' "$work/pre/fewlabels.md" &&
        pass "--pretrained FILE, task max, one seed" || fail "--pretrained: $(tail -5 "$work/pre.log")"
else
    fail "fewlabels --seeds 2: $(tail -5 "$work/two.log")"
fi
# the first-frame control runs (its classes are defined by the motion after frame 0)
run first --task direction --frames 1 --pretrain-steps 2 &&
    grep -q "8 classes, 1 digit per clip of 1 frame;" "$work/first.log" &&
    pass "--frames 1 (first frame only)" || fail "--frames 1: $(tail -3 "$work/first.log")"

# --- bad flags -------------------------------------------------------------------------
expect_error "--seeds 0" "--seeds" $FEWLABELS --seeds 0
expect_error "--seeds 101" "--seeds" $FEWLABELS --seeds 101
expect_error "--task bogus" "not one of: pair, max, single, direction" $FEWLABELS --task bogus
expect_error "--dump x" "--dump" $FEWLABELS --dump x
expect_error "--pretrained missing" "missing.safetensors" $FEWLABELS --data "$d/mnist" \
    --pretrained "$work/missing.safetensors" --out "$work/missing"
finish
