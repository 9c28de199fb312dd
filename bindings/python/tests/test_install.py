"""The installed package (SEQVID_TEST_INSTALLED=1, e.g. .ci/consumers.sh running the
README's install block) loads the libseqvid it carries, with no environment variable."""
import os

import pytest

import seqvid

installed = pytest.mark.skipif(
    not os.environ.get("SEQVID_TEST_INSTALLED") or os.environ.get("SEQVID_LIBRARY")
    or os.environ.get("SEQVID_PREFIX"),
    reason="tests an installed wheel without SEQVID_LIBRARY/SEQVID_PREFIX")


@installed
def test_wheel_carries_its_library():
    pkg = os.path.dirname(os.path.abspath(seqvid.__file__))
    assert "site-packages" in pkg, pkg  # the installed copy, not the source tree
    assert seqvid.library_path == os.path.join(pkg, "libseqvid.so.%d" % seqvid.BINDING_MAJOR)
    assert not os.environ.get("LD_LIBRARY_PATH")
    assert seqvid.version_number() // 10000 == seqvid.BINDING_MAJOR
