"""Saving and loading models and checkpoints (lib/serialize.c)."""
import numpy as np
import pytest

import seqvid
from conftest import K, have_symbol, make_digits

pytestmark = pytest.mark.skipif(
    not have_symbol("seqvid_model_save"),
    reason="the library was built without lib/serialize.c (seqvid_model_save is missing)")


def test_save_load_roundtrip(model, seqs, tmp_path):
    p = tmp_path / "m.safetensors"
    model.save(p)
    with seqvid.Model.load(p) as m2:
        assert m2.config == model.config
        assert np.array_equal(m2.params, model.params)
        assert np.array_equal(m2.predict(seqs[:K], 3), model.predict(seqs[:K], 3))
    data = model.to_bytes()
    assert data == p.read_bytes()
    with seqvid.Model.from_bytes(data) as m3:
        assert np.array_equal(m3.params, model.params)


def test_load_bf16_weights(model, seqs, tmp_path):
    """weights="bf16": the weights rounded to bfloat16 as they load (experimental)."""
    p = tmp_path / "m.safetensors"
    model.save(p)
    x = seqs[:K]
    with seqvid.Model.load(p, weights="bf16") as m16, \
            seqvid.Model.from_bytes(p.read_bytes(), weights="bf16") as b16:
        assert model.weights == "f32" and m16.weights == "bf16"
        f32, f16 = model.encode(x), m16.encode(x)
        assert np.array_equal(f16, b16.encode(x))
        # rounding the weights moves the features, a little
        assert 0 < np.abs(f16 - f32).max() < 0.05
        for what in ("params", "grads"):
            with pytest.raises(seqvid.Error) as ei:
                getattr(m16, what)
            assert ei.value.status == seqvid.Status.STATE
        with pytest.raises(seqvid.Error) as ei:
            m16.save(tmp_path / "never.safetensors")
        assert ei.value.status == seqvid.Status.STATE
        assert not (tmp_path / "never.safetensors").exists()
    with pytest.raises(ValueError):
        seqvid.Model.load(p, weights="f16")


def test_load_packed_weights(model, seqs, tmp_path):
    """weights="f32-packed": float32 plus packed copies (experimental); trains and saves."""
    p = tmp_path / "m.safetensors"
    model.save(p)
    x = seqs[:K]
    with seqvid.Model.load(p, weights="f32-packed") as mp:
        assert mp.weights == "f32-packed"
        assert np.array_equal(mp.params, model.params)
        # another order of float32 sums: within rounding
        assert np.abs(mp.encode(x) - model.encode(x)).max() < 1e-5
        mp.save(tmp_path / "again.safetensors")
        assert (tmp_path / "again.safetensors").read_bytes() == p.read_bytes()


def test_load_errors(tmp_path, model):
    with pytest.raises(seqvid.Error) as ei:
        seqvid.Model.load(tmp_path / "missing.safetensors")
    assert ei.value.status == seqvid.Status.IO
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    with pytest.raises(seqvid.Error) as ei:
        seqvid.Model.load(bad)
    assert ei.value.status == seqvid.Status.FORMAT
    data = model.to_bytes()
    with pytest.raises(seqvid.Error) as ei:
        seqvid.Model.from_bytes(data[:len(data) // 2])
    assert ei.value.status == seqvid.Status.FORMAT


def test_checkpoint_resume_is_bitwise(tmp_path):
    ip, lp, _, _ = make_digits(tmp_path)
    digits = seqvid.Digits(ip, lp)
    kw = dict(input_dim=144, hidden=8, input_frames=2, future_frames=2)

    def run(model, opt, gen, n):
        for _ in range(n):
            model.train_step(opt, gen.generate(4, 3))

    # Straight through: 4 steps.
    gen = seqvid.MovingMNIST(digits, canvas=12, seed=5)
    m, opt = seqvid.Model(**kw), seqvid.Optimizer("adam", lr=0.01)
    run(m, opt, gen, 4)
    # 2 steps, checkpoint, resume in fresh objects, 2 more.
    gen_a = seqvid.MovingMNIST(digits, canvas=12, seed=5)
    ma, opta = seqvid.Model(**kw), seqvid.Optimizer("adam", lr=0.01)
    run(ma, opta, gen_a, 2)
    ck = tmp_path / "ck.safetensors"
    seqvid.save_checkpoint(ck, ma, opta, gen_a, step=2)
    gen_b = seqvid.MovingMNIST(digits, canvas=12, seed=999)
    mb, optb, step = seqvid.load_checkpoint(ck, gen_b)
    assert step == 2 and optb.steps == 2 and optb.kind is seqvid.OptimizerKind.ADAM
    run(mb, optb, gen_b, 2)
    assert np.array_equal(mb.params, m.params)
    # A checkpoint without generator state cannot restore one.
    seqvid.save_checkpoint(ck, ma, opta)
    with pytest.raises(seqvid.Error) as ei:
        seqvid.load_checkpoint(ck, gen_b)
    assert ei.value.status == seqvid.Status.FORMAT
    mc, optc, step = seqvid.load_checkpoint(ck)
    assert step == 0
