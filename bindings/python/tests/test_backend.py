"""seqvid.backend() and the import-time warning about OpenBLAS's generic kernels.

OpenBLAS picks its kernels when it is loaded, so each case runs in a fresh interpreter
with the environment under test: OPENBLAS_CORETYPE=Prescott forces the generic set (the
advice must then name Haswell on a CPU with AVX2 and FMA, and no warning is given: the
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


def avx2_fma():
    try:
        flags = open("/proc/cpuinfo").read().split()
    except OSError:
        return False
    return "avx2" in flags and "fma" in flags


def test_backend_names_itself():
    name, kernels, advice = seqvid.backend()
    assert name in ("openblas", "reference", "onednn")
    assert isinstance(kernels, str)
    assert advice is None or advice == "Haswell"
    if name != "openblas":
        assert advice is None


def test_forced_generic_kernels_get_advice_and_no_warning():
    name, kernels, advice, warned = probe("Prescott")
    if name != "openblas":
        assert advice is None and not warned
        return
    assert kernels.lower() == "prescott"
    assert advice == ("Haswell" if avx2_fma() else None)
    assert warned == []  # the variable is set: the user chose


def test_warning_exactly_when_advised():
    name, kernels, advice, warned = probe(None)
    if advice:
        assert len(warned) == 1 and "OPENBLAS_CORETYPE=%s" % advice in warned[0], warned
    else:
        assert warned == []
