#!/bin/bash
# test_pipe.sh SEQVID -- `seqvid train ... | head -1`, then Ctrl-C: the reader of the log is
# gone (as when Ctrl-C also ends a `tee`), yet the trainer must neither die of SIGPIPE nor
# stop training, and SIGINT must leave a complete model.safetensors that loads.
SEQVID=$1
source "$(dirname "$0")/lib.sh"

mkfifo "$work/log"
# Many short log lines (--log-every 1), a checkpoint every 5 steps, no end in sight.
$SEQVID train "${tiny[@]}" --npy "$d/frames.npy" --steps 100000000 --log-every 1 \
    --val-every 5 --out "$work/out" >"$work/log" 2>"$work/err" &
pid=$!
first=$(head -n1 "$work/log") # reads one line, then closes the pipe
case $first in libseqvid*) pass "head -1 read: $first" ;; *) fail "first line: '$first'" ;; esac

# Wait until training is under way after the reader has gone (checkpoints appear).
for _ in $(seq 300); do
    [ -e "$work/out/checkpoint.safetensors" ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
sleep 0.5
if kill -0 $pid 2>/dev/null; then
    pass "still training after its log reader went away"
else
    wait $pid
    fail "the trainer ended with status $? after the pipe closed (SIGPIPE?): $(cat "$work/err")"
    finish
fi
[ -e "$work/out/model.safetensors" ] && fail "model.safetensors before the end"
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 0 ] && pass "SIGINT: exit 0" || fail "SIGINT: exit $rc: $(cat "$work/err")"
if $SEQVID info "$work/out/model.safetensors" >"$work/info" 2>&1 && grep -q "libseqvid model" "$work/info"; then
    pass "model.safetensors is complete and loads: $(sed -n 2p "$work/info")"
else
    fail "model.safetensors: $(cat "$work/info")"
fi
$SEQVID info "$work/out/checkpoint.safetensors" | grep -q "training checkpoint" &&
    pass "checkpoint.safetensors loads" || fail "checkpoint.safetensors"
finish
