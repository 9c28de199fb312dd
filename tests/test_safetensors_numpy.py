#!/usr/bin/python3
"""NumPy interop of the model files (docs/format.md), run by ctest as safetensors_numpy.

serialize_driver saves two small composite models and prints, for a 1-frame batch, the
library's reconstruction and 1-step prediction. Here NumPy alone (plus the standard library)
reads each file -- 8-byte little-endian header length, JSON header, raw little-endian F32 --
checks the layout and the CRC-32, and recomputes both outputs from the raw weights with the
SR15 equations: the encoder reads the frame from a zero state; each decoder starts from the
encoder's final (h, c) of every layer and takes its step 0 with a zero input. Weights are
stored input-major (row vectors times matrices): a = x w_x + h w_h + bias, readout
y = h_top readout.w + readout.b, then sigmoid for binary output.

usage: test_safetensors_numpy.py SERIALIZE_DRIVER
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0, "data section not 8-byte aligned"
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    meta = header.pop("__metadata__")
    assert all(isinstance(v, str) for v in meta.values())
    assert meta["format"] == "seqvid" and meta["format_version"] == "1"
    assert int(meta["data_crc32"], 16) == zlib.crc32(data), "CRC-32 mismatch"
    tensors, at = {}, 0
    for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, e = t["data_offsets"]
        assert b == at, "tensors do not tile the data section"
        assert t["dtype"] == "F32"
        arr = np.frombuffer(data[b:e], dtype="<f4").reshape(t["shape"])
        tensors[name] = arr.astype(np.float64)
        at = e
    assert at == len(data)
    return meta, tensors


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def cell(T, prefix, x, h, c, peep):
    """One SR15 LSTM step for rows of x (gate order i, f, g, o; x None = zero input)."""
    H = h.shape[1]
    a = h @ T[prefix + ".w_h"] + T[prefix + ".bias"]
    if x is not None:
        a = a + x @ T[prefix + ".w_x"]
    p = T[prefix + ".peephole"] if peep else np.zeros(3 * H)
    i = sigmoid(a[:, :H] + p[:H] * c)
    f = sigmoid(a[:, H:2 * H] + p[H:2 * H] * c)
    g = np.tanh(a[:, 2 * H:3 * H])
    c2 = f * c + i * g
    o = sigmoid(a[:, 3 * H:] + p[2 * H:] * c2)
    return o * np.tanh(c2), c2


def outputs(meta, T, x):
    L, H = int(meta["config.LAYERS"]), int(meta["config.HIDDEN"])
    peep = meta["config.PEEPHOLES"] == "1"
    binary = meta["config.OUTPUT"] == "0"
    S = x.shape[0]
    # encoder: one frame from a zero state
    state, inp = [], x
    for l in range(L):
        h, c = cell(T, "encoder.%d" % l, inp, np.zeros((S, H)), np.zeros((S, H)), peep)
        state.append((h, c))
        inp = h
    res = {}
    for dec in ("recon", "future"):
        inp = None  # step 0 of a decoder has no input (conditional or not)
        for l in range(L):
            h, c = cell(T, "%s.%d" % (dec, l), inp, *state[l], peep)
            inp = h
        y = inp @ T[dec + ".readout.w"] + T[dec + ".readout.b"]
        res[dec] = sigmoid(y) if binary else y
    return res


def main():
    driver = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([driver, "numpy", tmp], check=True, capture_output=True,
                             text=True).stdout
        lines = out.strip().split("\n")
        cases = 0
        for k in range(0, len(lines), 4):
            _, path, D, S = lines[k].split()
            D, S = int(D), int(S)
            rows = {}
            for line in lines[k + 1:k + 4]:
                name, *vals = line.split()
                rows[name] = np.array([float(v) for v in vals]).reshape(S, D)
            meta, T = read_safetensors(path)
            # the names and shapes of the documented mapping
            H = int(meta["config.HIDDEN"])
            assert T["encoder.0.w_x"].shape == (D, 4 * H)
            assert T["encoder.0.w_h"].shape == (H, 4 * H)
            assert T["encoder.0.bias"].shape == (4 * H,)
            assert T["recon.readout.w"].shape == (H, D)
            assert T["future.readout.b"].shape == (D,)
            want = outputs(meta, T, rows["input"])
            for dec, got in (("recon", rows["recon"]), ("future", rows["future"])):
                err = np.max(np.abs(want[dec] - got))
                print("%s %s: max |numpy - C| = %.3g" % (os.path.basename(path), dec, err))
                assert err < 2e-6, "%s %s differs: %s vs %s" % (path, dec, want[dec], got)
                # not trivially constant
                assert np.ptp(got) > 1e-3
            cases += 1
        assert cases == 2
    print("ok")


if __name__ == "__main__":
    main()
