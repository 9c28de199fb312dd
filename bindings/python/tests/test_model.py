"""Models, optimizers and configuration through the Python binding."""
import gc
import threading

import numpy as np
import pytest

import seqvid
from conftest import D, H, K, M


def test_config_options():
    with seqvid.Config(kind="predictor", input_dim=D, hidden=H) as cfg:
        assert cfg["kind"] is seqvid.Kind.PREDICTOR
        assert cfg["input_dim"] == D and isinstance(cfg["input_dim"], int)
        cfg["output"] = "real"
        assert cfg.get("output") == seqvid.Output.REAL
        cfg["peepholes"] = False
        assert cfg["peepholes"] is False
        cfg[seqvid.Config._keys.key("layers")] = 2  # integer keys work too
        assert cfg.to_dict()["layers"] == 2
        with pytest.raises(KeyError, match="unknown config option 'hiden'"):
            cfg["hiden"] = 3
        with pytest.raises(ValueError, match="unknown Kind 'lstm'"):
            cfg["kind"] = "lstm"
        with pytest.raises(seqvid.Error) as ei:
            cfg["hidden"] = 2.5  # integer key, non-integral value
        assert ei.value.status == seqvid.Status.ARG
        assert "HIDDEN" in ei.value.message and ei.value.function == "seqvid_config_set"
        assert ei.value.status_name == seqvid.status_string(seqvid.Status.ARG)
        assert cfg["hidden"] == H  # unchanged by the failed set
    assert cfg.closed
    with pytest.raises(ValueError, match="closed seqvid.Config"):
        cfg["hidden"]


def test_model_create_and_describe(model, tiny):
    assert model.kind is seqvid.Kind.COMPOSITE
    assert (model.input_dim, model.hidden, model.input_frames, model.future_frames) == (
        D, H, K, M)
    assert model.feature_dim == 2 * H
    assert model.config["seed"] == 7
    blocks = model.param_block_info()
    assert sum(b.rows * b.cols for b in blocks) == model.param_count
    assert "encoder.0.w_x" in model.param_blocks
    wx = model.param_blocks["encoder.0.w_x"]  # 4 gates x H units by D inputs
    assert wx.size == 4 * H * D and wx.ndim == 2
    # Same seed, same weights; another seed, other weights.
    with seqvid.Model(**tiny) as twin, seqvid.Model(**dict(tiny, seed=8)) as other:
        assert np.array_equal(twin.params, model.params)
        assert not np.array_equal(other.params, model.params)
    # A Config object with overrides.
    with seqvid.Config(**tiny) as cfg, seqvid.Model(cfg, hidden=4) as m4:
        assert m4.hidden == 4 and cfg["hidden"] == H


def test_model_set_only_recon_feed(model):
    model.recon_feed = "prediction"
    assert model.recon_feed is seqvid.Feed.PREDICTION
    with pytest.raises(seqvid.Error) as ei:
        model.set("hidden", 4)
    assert ei.value.status == seqvid.Status.STATE
    assert "seqvid_model_set" in str(ei.value)


def test_training_reduces_loss(model, seqs):
    with seqvid.Optimizer("adam", lr=0.02) as opt:
        first = model.evaluate(seqs)
        losses = [model.train_step(opt, seqs) for _ in range(40)]
        last = model.evaluate(seqs)
        assert opt.steps == 40
    assert isinstance(losses[0], seqvid.Losses)
    assert losses[-1].rec < 0.7 * losses[0].rec
    assert losses[-1].fut < 0.7 * losses[0].fut
    assert last.rec + last.fut < first.rec + first.fut


def test_gradients_then_step(model, seqs):
    before = model.params.copy()
    loss = model.gradients(seqs)
    assert loss.rec > 0 and loss.fut > 0
    g = model.grads
    assert np.abs(g).max() > 0
    assert np.array_equal(model.params, before)  # gradients() leaves the weights alone
    with seqvid.Optimizer("sgd", lr=0.1, momentum=0, weight_decay=0, update_clip=0) as opt:
        opt.step(model)
    assert np.allclose(model.params, before - 0.1 * g, atol=1e-6)


def test_teacher_forced_evaluate(model, seqs):
    tf = model.evaluate(seqs, teacher_forced=True)
    grad = model.gradients(seqs)
    assert tf.rec == pytest.approx(grad.rec, rel=1e-5)
    assert tf.fut == pytest.approx(grad.fut, rel=1e-5)


def test_params_view_is_zero_copy(model, seqs):
    params = model.params
    assert params.dtype == np.float32 and params.flags.writeable
    assert np.shares_memory(params, model.param_blocks["future.readout.b"])
    # All weights 0: every output is sigmoid(0) = 0.5.
    params[:] = 0
    pred = model.predict(seqs[:K], 2)
    assert np.allclose(pred, 0.5)
    # A large readout bias through the block view pushes predictions to 1.
    model.param_blocks["future.readout.b"][:] = 20.0
    assert np.all(model.predict(seqs[:K], 2) > 0.99)
    assert np.all(model.reconstruct(seqs[:K]) == pytest.approx(0.5))


def test_views_outlive_the_model(tiny):
    m = seqvid.Model(**tiny)
    params, block = m.params, m.param_blocks["encoder.0.bias"]
    expect = params.copy()
    m.close()
    with pytest.raises(ValueError, match="closed seqvid.Model"):
        m.params
    del m
    gc.collect()
    assert np.array_equal(params, expect)  # the arena lives as long as a view
    block[:] = 1.0
    assert params.sum() != expect.sum()


def test_inference_shapes(model, seqs):
    S = seqs.shape[1]
    assert model.reconstruct(seqs[:K]).shape == (K, S, D)
    assert model.predict(seqs[:K], 5).shape == (5, S, D)  # n_future may exceed M
    assert model.encode(seqs[:K]).shape == (S, 2 * H)
    # Image-shaped frames come back image-shaped.
    img = np.ascontiguousarray(seqs.reshape(K + M, S, 4, 4))
    assert model.predict(img[:K], 2).shape == (2, S, 4, 4)
    assert model.reconstruct(img[:K]).shape == (K, S, 4, 4)
    # out= arrays are filled in place and checked.
    out = np.empty((S, 2 * H), dtype=np.float32)
    assert model.encode(seqs, out=out) is out
    with pytest.raises(ValueError, match="out has 8 elements"):
        model.encode(seqs, out=np.empty(8, dtype=np.float32))
    with pytest.raises(TypeError, match="float32"):
        model.encode(seqs, out=np.empty((S, 2 * H)))
    with pytest.raises(ValueError, match="n_future"):
        model.predict(seqs, 0)


def test_lengths_are_honoured(model, seqs):
    x = seqs.copy()
    b = seqvid.Batch(x, lengths=[K, K, 2, 1])
    rec = model.reconstruct(b)
    assert np.all(rec[2:, 2] == 0) and np.all(rec[1:, 3] == 0)
    # Padding does not matter: garbage past the lengths gives the same encoding.
    enc = model.encode(b)
    x[2:, 2] = 1.0
    assert np.array_equal(model.encode(b), enc)


def test_library_errors_raise(model, seqs):
    with pytest.raises(seqvid.Error) as ei:
        model.train_step(seqvid.Optimizer(), seqs[:K + M - 1])
    e = ei.value
    assert e.status == seqvid.Status.SHAPE and e.status_name == "shape mismatch"
    assert "needs 6" in e.message and e.function == "seqvid_model_train_step"
    bad = seqs.copy()
    bad[0, 0, 0] = np.nan
    before = model.params.copy()
    with pytest.raises(seqvid.Error) as ei:
        model.train_step(seqvid.Optimizer(), bad)
    assert ei.value.status == seqvid.Status.NONFINITE
    assert np.array_equal(model.params, before)
    with seqvid.Model(kind="autoencoder", input_dim=D, hidden=H) as ae:
        with pytest.raises(seqvid.Error, match="no future predictor") as ei:
            ae.predict(seqs, 2)
        assert ei.value.status == seqvid.Status.UNSUPPORTED
    with pytest.raises(seqvid.Error) as ei:
        seqvid.Model(input_dim=0)
    assert ei.value.status == seqvid.Status.ARG


def test_optimizer(model, seqs, tiny):
    for kind in ("sgd", "rmsprop", "adam"):
        with seqvid.Optimizer(kind) as opt:
            assert opt.kind.name.lower() == kind
    opt = seqvid.Optimizer(seqvid.OptimizerKind.SGD, lr=0.5, momentum=0.5)
    assert opt["lr"] == 0.5 and opt["momentum"] == 0.5
    with pytest.raises(seqvid.Error, match="BETA1") as ei:
        opt["beta1"] = 0.9
    assert ei.value.status == seqvid.Status.ARG
    with pytest.raises(ValueError, match="unknown OptimizerKind"):
        seqvid.Optimizer("lbfgs")
    model.train_step(opt, seqs)
    with seqvid.Model(**dict(tiny, hidden=4)) as small:
        with pytest.raises(seqvid.Error) as ei:
            small.train_step(opt, seqs)  # bound to the first model's size
        assert ei.value.status == seqvid.Status.SHAPE
    with pytest.raises(TypeError, match="Optimizer"):
        model.train_step("adam", seqs)


def test_context_manager_and_close(tiny, seqs):
    with seqvid.Model(**tiny) as m:
        assert not m.closed
    assert m.closed
    with pytest.raises(ValueError, match="closed"):
        m.predict(seqs, 1)
    m.close()  # closing twice is fine
    with pytest.raises(ValueError):
        with m:
            pass
    assert "closed" in repr(m)


def test_threads_match_sequential(tiny, seqs):
    """Distinct models in distinct threads give the results they give alone."""
    def train(m, out, i):
        with seqvid.Optimizer("adam", lr=0.01) as opt:
            for _ in range(10):
                m.train_step(opt, seqs)
        out[i] = m.params.copy()

    alone = {}
    with seqvid.Model(**tiny) as m:
        train(m, alone, 0)
    models = [seqvid.Model(**tiny) for _ in range(2)]
    got = {}
    threads = [threading.Thread(target=train, args=(m, got, i)) for i, m in enumerate(models)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert np.array_equal(got[0], alone[0]) and np.array_equal(got[1], alone[0])


def test_one_model_shared_by_threads_is_serialised(model, seqs):
    errors = []

    def work():
        try:
            for _ in range(10):
                model.predict(seqs[:K], 2)
                model.gradients(seqs)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_threads_setting():
    n = seqvid.get_threads()
    seqvid.set_threads(1)
    assert seqvid.get_threads() in (1, n)  # the reference BLAS ignores it
    with pytest.raises(seqvid.Error):
        seqvid.set_threads(-1)
    seqvid.set_threads(n)


def test_stream_matches_encode(tiny, seqs):
    m = seqvid.Model(**tiny)
    S = seqs.shape[1]
    with m.stream(S) as st:
        for t in range(K + M):
            st.push(np.ascontiguousarray(seqs[t]))
            want = m.encode(np.ascontiguousarray(seqs[:t + 1]))
            assert np.allclose(st.features(), want, atol=1e-6)
        st.reset()
        st.push(np.ascontiguousarray(seqs[0]))
        assert np.allclose(st.features(), m.encode(np.ascontiguousarray(seqs[:1])), atol=1e-6)
        bad = np.ascontiguousarray(seqs[1])
        bad[0, 0] = np.inf
        with pytest.raises(seqvid.Error) as ei:
            st.push(bad)
        assert ei.value.status == seqvid.Status.NONFINITE
        with pytest.raises(ValueError, match="need 4 sequences"):
            st.push(np.zeros((3, D), dtype=np.float32))
        with pytest.raises(TypeError, match="float32"):
            st.push(np.zeros((S, D)))
    # The stream keeps the model's memory: closing the model first is safe.
    st = m.stream(1)
    m.close()
    st.push(np.zeros(D, dtype=np.float32))
    assert st.features().shape == (1, 2 * H)


@pytest.mark.skipif("sample_future" not in seqvid._core._CFG.table,
                    reason="library without scheduled sampling")
def test_scheduled_sampling_keys(model, seqs):
    """The experimental scheduled-sampling keys: named by the library, changeable on a model
    between steps; at p = 1 a training step reports the inference roll-out's losses."""
    from seqvid._ffi import lib
    assert seqvid.key_name(lib.SEQVID_NAMES_CONFIG, lib.SEQVID_CFG_SAMPLE_FUTURE) == "SAMPLE_FUTURE"
    assert model.get("sample_future") == 0.0 and model.config["sample_recon"] == 0.0
    model["sample_future"] = 1.0
    model.set("sample_recon", 1.0)
    model.recon_feed = "prediction"
    inf = model.evaluate(seqs)
    with seqvid.Optimizer("adam") as opt:
        step = model.train_step(opt, seqs)
    assert (step.rec, step.fut) == (inf.rec, inf.fut)
    with pytest.raises(seqvid.Error) as ei:
        model.set("sample_future", 1.5)
    assert ei.value.status == seqvid.Status.ARG
    with seqvid.Model(kind="predictor", input_dim=6, hidden=3, cond_future=0) as unc:
        with pytest.raises(seqvid.Error) as ei:
            unc.set("sample_future", 0.5)
        assert ei.value.status == seqvid.Status.UNSUPPORTED
