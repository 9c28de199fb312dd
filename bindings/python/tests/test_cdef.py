"""The checked-in cffi declarations match include/seqvid.h, and the library has them all."""
import os
import re
import sys

import pytest

import seqvid
from seqvid import _ffi
from seqvid._cdef import CDEF

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import gen_cdef  # noqa: E402


def header_path():
    candidates = [os.environ.get("SEQVID_HEADER"),
                  os.path.join(HERE, "..", "..", "..", "include", "seqvid.h")]
    if os.environ.get("SEQVID_PREFIX"):
        candidates.append(os.path.join(os.environ["SEQVID_PREFIX"], "include", "seqvid.h"))
    for c in candidates:
        if c and os.path.exists(c):
            return c
    pytest.skip("seqvid.h not found (set SEQVID_HEADER)")


@pytest.fixture(scope="module")
def header():
    with open(header_path()) as f:
        return f.read()


def test_cdef_matches_header(header):
    want = gen_cdef.header_to_cdef(header)
    have = [l for l in CDEF.strip().splitlines()]
    if want != have:
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        pytest.fail("seqvid/_cdef.py is out of date; run bindings/python/tools/gen_cdef.py "
                    "--write\n  in the header only: %s\n  in the cdef only: %s" %
                    (missing, extra))


def test_every_function_is_bound(header):
    funcs = gen_cdef.functions(gen_cdef.header_to_cdef(header))
    assert len(funcs) > 50
    # A plain regex over the raw header agrees with the parser on the function names.
    raw = set(re.findall(r"SEQVID_API\s[^;(]*?\b(seqvid_\w+)\s*\(", header))
    assert raw == set(funcs)


def test_library_exports_every_function(header):
    funcs = gen_cdef.functions(gen_cdef.header_to_cdef(header))
    missing = []
    for name in sorted(funcs):
        try:
            getattr(_ffi.lib, name)
        except AttributeError:
            missing.append(name)
    assert not missing, "%s lacks %s" % (seqvid.library_path, missing)


def test_version_major_matches_header(header):
    major = int(re.search(r"#define SEQVID_VERSION_MAJOR (\d+)", header).group(1))
    assert major == seqvid.BINDING_MAJOR
    assert seqvid.version_number() // 10000 == seqvid.BINDING_MAJOR
    assert seqvid.version().split(".")[0] == str(seqvid.BINDING_MAJOR)


def test_enums_cover_header():
    for member in seqvid.Status:
        if member:
            assert seqvid.status_string(member) != "unknown status"
    assert seqvid.status_string(_ffi.lib.SEQVID_STATUS_COUNT_) == "unknown status"
    assert len(seqvid.Status) == _ffi.lib.SEQVID_STATUS_COUNT_
