"""Classifiers (lib/classifier.c): training, pretrained initialisation, freezing, saving."""
import numpy as np
import pytest

import seqvid
from conftest import D, H, have_symbol

pytestmark = pytest.mark.skipif(
    not have_symbol("seqvid_classifier_create"),
    reason="the library was built without the classifier (seqvid_classifier_create missing)")

S, T = 8, 5


@pytest.fixture
def task():
    """Two classes: a dot moving right (0) or left (1)."""
    x = np.zeros((T, S, D), dtype=np.float32)
    labels = np.arange(S) % 2
    for s in range(S):
        for t in range(T):
            step = t if labels[s] == 0 else -t
            x[t, s, (s + 3 + step) % D] = 1.0
    return x, labels


def test_create_and_options():
    with seqvid.Classifier(3, input_dim=D, hidden=H, dropout=0.25) as clf:
        assert clf.n_classes == 3
        assert clf["input_dim"] == D and clf["hidden"] == H
        assert clf["dropout"] == 0.25
        clf["freeze_steps"] = -1
        assert clf["freeze_steps"] == -1
        with pytest.raises(seqvid.Error) as ei:
            clf["classes"] = 4
        assert ei.value.status == seqvid.Status.STATE
        with pytest.raises(seqvid.Error) as ei:
            clf["dropout"] = 1.0
        assert ei.value.status == seqvid.Status.ARG
        names = [b.name for b in clf.param_block_info()]
        assert names[-2:] == ["classifier.readout.w", "classifier.readout.b"]
        assert sum(b.rows * b.cols for b in clf.param_block_info()) == clf.param_count
    with pytest.raises(seqvid.Error):
        seqvid.Classifier(1, input_dim=D, hidden=H)


def test_training_learns_the_task(task):
    x, labels = task
    clf = seqvid.Classifier(2, input_dim=D, hidden=H, seed=3)
    opt = seqvid.Optimizer("adam", lr=0.05)
    first = clf.evaluate(x, labels)
    for _ in range(60):
        clf.train_step(opt, x, labels)
    last = clf.evaluate(x, labels)
    assert last.loss < 0.5 * first.loss
    assert last.accuracy == 1.0
    probs = clf.predict(x)
    assert probs.shape == (S, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert list(clf.classify(x)) == list(labels)
    # gradients() + update() is the same as train_step().
    g = clf.gradients(x, labels)
    assert np.isfinite(g.loss) and np.abs(clf.grads).max() > 0


def test_from_encoder_and_freezing(tiny, task):
    x, labels = task
    model = seqvid.Model(**tiny)
    clf = seqvid.Classifier.from_encoder(model, 2, freeze_steps=-1)
    enc, cb = model.param_blocks, clf.param_blocks
    for part in ("w_x", "w_h", "peephole", "bias"):
        assert np.array_equal(cb["classifier.0." + part], enc["encoder.0." + part])
    n_stack = clf.param_block_info()[-2].offset  # the LSTM layers come first
    stack = clf.params[:n_stack].copy()
    readout = cb["classifier.readout.w"].copy()
    opt = seqvid.Optimizer("sgd", lr=0.5)
    for _ in range(3):
        clf.train_step(opt, x, labels)
    assert np.array_equal(clf.params[:n_stack], stack)  # frozen for good
    assert not np.array_equal(clf.param_blocks["classifier.readout.w"], readout)
    # copy_encoder puts the encoder back; mismatched sizes are refused.
    clf.params[:n_stack] = 0
    clf.copy_encoder(model)
    assert np.array_equal(clf.params[:n_stack], stack)
    with seqvid.Model(**dict(tiny, hidden=H + 1)) as other:
        with pytest.raises(seqvid.Error) as ei:
            clf.copy_encoder(other)
        assert ei.value.status == seqvid.Status.SHAPE


def test_label_errors(task):
    x, labels = task
    clf = seqvid.Classifier(2, input_dim=D, hidden=H)
    with pytest.raises(TypeError, match="integer class ids"):
        clf.evaluate(x, labels.astype(np.float32))
    with pytest.raises(seqvid.Error) as ei:
        clf.evaluate(x, labels[:-1])
    assert ei.value.status == seqvid.Status.SHAPE
    bad = labels.copy()
    bad[0] = 2
    with pytest.raises(seqvid.Error) as ei:
        clf.evaluate(x, bad)
    assert ei.value.status == seqvid.Status.ARG
    with pytest.raises(TypeError, match="float32"):
        clf.predict(x.astype(np.float64))


def test_save_load(task, tmp_path, tiny):
    x, labels = task
    clf = seqvid.Classifier(2, input_dim=D, hidden=H, dropout=0.1)
    p = tmp_path / "c.safetensors"
    clf.save(p)
    c2 = seqvid.Classifier.load(p)
    assert np.array_equal(c2.params, clf.params) and c2["dropout"] == pytest.approx(0.1)
    assert np.array_equal(c2.predict(x), clf.predict(x))
    c3 = seqvid.Classifier.from_bytes(clf.to_bytes())
    assert np.array_equal(c3.params, clf.params)
    seqvid.Model(**tiny).save(tmp_path / "m.safetensors")
    with pytest.raises(seqvid.Error) as ei:
        seqvid.Classifier.load(tmp_path / "m.safetensors")
    assert ei.value.status == seqvid.Status.FORMAT
    with pytest.raises(seqvid.Error) as ei:
        seqvid.Model.load(p)
    assert ei.value.status == seqvid.Status.FORMAT


def test_seq_major_layout_and_copy(task):
    """Classifier methods take layout= and copy= as the model's do (issue 15)."""
    x, labels = task
    sm = np.ascontiguousarray(x.swapaxes(0, 1))  # (S, T, D)
    clf = seqvid.Classifier(2, input_dim=D, hidden=H, seed=3)
    assert np.array_equal(clf.predict(sm, layout="seq_major"), clf.predict(x))
    assert clf.evaluate(sm, labels, layout="seq_major") == clf.evaluate(x, labels)
    assert list(clf.classify(sm, layout="seq_major")) == list(clf.classify(x))
    assert np.array_equal(clf.predict(x.astype(np.float64), copy=True), clf.predict(x))
    twin = seqvid.Classifier(2, input_dim=D, hidden=H, seed=3)
    a = clf.train_step(seqvid.Optimizer("sgd"), sm, labels, layout="seq_major")
    b = twin.train_step(seqvid.Optimizer("sgd"), x, labels)
    assert a == b and np.array_equal(clf.params, twin.params)


@pytest.mark.skipif(not have_symbol("seqvid_classifier_checkpoint_save"),
                    reason="library older than 1.1")
def test_classifier_checkpoint_resumes_bitwise(task, tmp_path):
    x, labels = task

    def fresh():
        return (seqvid.Classifier(2, input_dim=D, hidden=H, seed=5, dropout=0.3),
                seqvid.Optimizer("adam", lr=0.02))

    straight, opt = fresh()
    for _ in range(6):
        straight.train_step(opt, x, labels)
    clf, opt2 = fresh()
    for _ in range(3):
        clf.train_step(opt2, x, labels)
    path = tmp_path / "clf.ckpt"
    seqvid.save_classifier_checkpoint(path, clf, opt2, step=3)
    back, opt3, step = seqvid.load_classifier_checkpoint(path)
    assert step == 3 and opt3.steps == 3 and back["dropout"] == 0.3
    for _ in range(3):
        back.train_step(opt3, x, labels)
    assert np.array_equal(back.params, straight.params)
    with pytest.raises(seqvid.Error) as ei:  # a classifier checkpoint is not a model checkpoint
        seqvid.load_checkpoint(path)
    assert ei.value.status == seqvid.Status.FORMAT


@pytest.mark.skipif(not have_symbol("seqvid_key_name"), reason="library older than 1.1")
def test_key_names_come_from_the_library():
    from seqvid._ffi import lib
    assert seqvid.key_name(lib.SEQVID_NAMES_CONFIG, lib.SEQVID_CFG_HIDDEN) == "HIDDEN"
    assert seqvid.key_name(lib.SEQVID_NAMES_OPTIMIZER_KIND, lib.SEQVID_OPT_RMSPROP) == "RMSprop"
    assert seqvid.key_name(lib.SEQVID_NAMES_CLASSIFIER, 999) is None
