"""seqvid.backend() and the import-time warning about OpenBLAS's generic kernels.

OpenBLAS picks its kernels when it is loaded, so each case runs in a fresh interpreter
with the environment under test: OPENBLAS_CORETYPE=Prescott forces the generic set (the
advice must then name SkylakeX on an AVX-512 CPU, Haswell on an AVX2 one, and no warning is given: the
user chose), and without the variable a warning is given exactly when there is advice."""
import json
import os
import subprocess
import sys

import seqvid

PROBE = r"""
import json, sys, warnings
sys.path[:0] = json.loads(sys.argv[1])
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    import seqvid
print(json.dumps([list(seqvid.backend()),
                  [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]]))
"""


def probe(coretype):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(seqvid.__file__)))
    out = subprocess.run([sys.executable, "-c", PROBE, json.dumps([pkg_parent])], env=env,
                         check=True, capture_output=True, text=True).stdout
    (name, kernels, advice), warned = json.loads(out)
    return name, kernels, advice, warned


def best_kernels():
    """The set the library advises on this CPU (seqvid.h): SkylakeX, Haswell or None."""
    try:
        flags = set(open("/proc/cpuinfo").read().split())
    except OSError:
        return None
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    return "Haswell" if {"avx2", "fma"} <= flags else None


def test_backend_names_itself():
    name, kernels, advice = seqvid.backend()
    assert name in ("openblas", "reference", "onednn")
    assert isinstance(kernels, str)
    assert advice in (None, "Haswell", "SkylakeX")
    if name != "openblas":
        assert advice is None


def test_forced_generic_kernels_get_advice_and_no_warning():
    name, kernels, advice, warned = probe("Prescott")
    if name != "openblas":
        assert advice is None and not warned
        return
    assert kernels.lower() == "prescott"
    assert advice == best_kernels()
    assert warned == []  # the variable is set: the user chose


def test_warning_exactly_when_advised():
    name, kernels, advice, warned = probe(None)
    if advice:
        assert len(warned) == 1 and "OPENBLAS_CORETYPE=%s" % advice in warned[0], warned
    else:
        assert warned == []
