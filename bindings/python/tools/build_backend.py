"""PEP 517 build backend of the seqvid package: setuptools, plus libseqvid built by CMake.

``pip install --no-build-isolation bindings/python`` (or ``pip wheel``) calls build_wheel
here. It

1. copies the package (pyproject.toml, setup.py, README.md, seqvid/) into a temporary
   folder, so that nothing -- no build/, no seqvid.egg-info/ -- is written into the source
   tree;
2. builds the shared library alone (target ``seqvid``; no tests, examples, benchmark or
   MPI) with CMake from the repository this package sits in (``../..``, or
   ``SEQVID_SOURCE_DIR``), in a temporary build folder; ``SEQVID_CMAKE_ARGS`` adds
   configure options (e.g. ``-DSEQVID_BLAS=reference``);
3. puts the library into the package as ``seqvid/libseqvid.so.1``, which the package loads
   first (see seqvid/_ffi.py), and lets setuptools (Debian's python3-setuptools and
   python3-wheel, nothing from PyPI) make a platform wheel of it.

The wheel links the system's CBLAS, zlib and cJSON shared libraries, like the library
itself: it is for the machine (or distribution release) it was built on.
"""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

from setuptools import build_meta as _setuptools

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bindings/python
PACKAGE_FILES = ("pyproject.toml", "setup.py", "README.md")
SONAME = "libseqvid.so.1"


def _source_dir():
    root = os.environ.get("SEQVID_SOURCE_DIR") or os.path.join(HERE, os.pardir, os.pardir)
    root = os.path.abspath(root)
    if not os.path.isfile(os.path.join(root, "include", "seqvid.h")):
        raise RuntimeError(
            "seqvid: cannot find the libseqvid sources at %s (the package is built from "
            "bindings/python of a libseqvid checkout; set SEQVID_SOURCE_DIR to the checkout)"
            % root)
    return root


def _run(cmd, log):
    """Run cmd, output to log; on failure raise with the log's tail."""
    with open(log, "w") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    if rc != 0:
        with open(log) as f:
            tail = "".join(f.readlines()[-30:])
        raise RuntimeError("seqvid: %s failed (exit %d):\n%s" % (" ".join(cmd), rc, tail))


def _build_library(tmp):
    """Build libseqvid with CMake in tmp/cmake; return the path of libseqvid.so.1."""
    cmake = shutil.which("cmake")
    if cmake is None:
        raise RuntimeError("seqvid: building the package needs cmake (Debian: apt-get install "
                           "cmake pkg-config libopenblas-dev zlib1g-dev libcjson-dev)")
    build = os.path.join(tmp, "cmake")
    configure = [cmake, "-S", _source_dir(), "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                 "-DSEQVID_TESTS=OFF", "-DSEQVID_EXAMPLES=OFF", "-DSEQVID_BENCH=OFF",
                 "-DSEQVID_MPI=OFF"] + shlex.split(os.environ.get("SEQVID_CMAKE_ARGS", ""))
    _run(configure, os.path.join(tmp, "configure.log"))
    jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
    _run([cmake, "--build", build, "--target", "seqvid", "-j", jobs],
         os.path.join(tmp, "build.log"))
    lib = os.path.join(build, SONAME)
    if not os.path.exists(lib):
        raise RuntimeError("seqvid: the CMake build made no %s in %s" % (SONAME, build))
    return os.path.realpath(lib)


def _staged(tmp, build_library=True):
    """A copy of the package in tmp/pkg, with the freshly built library inside."""
    pkg = os.path.join(tmp, "pkg")
    os.makedirs(pkg)
    for name in PACKAGE_FILES:
        shutil.copy2(os.path.join(HERE, name), pkg)
    shutil.copytree(os.path.join(HERE, "seqvid"), os.path.join(pkg, "seqvid"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so*"))
    if build_library:
        shutil.copyfile(_build_library(tmp), os.path.join(pkg, "seqvid", SONAME))
    return pkg


def _forget_bytecode():
    """Remove the .pyc that importing this module wrote into tools/__pycache__ (pip imports
    the backend from the source tree), so that the tree is left exactly as it was."""
    cache = os.path.join(HERE, "tools", "__pycache__")
    try:
        for name in os.listdir(cache):
            if name.startswith("build_backend."):
                os.remove(os.path.join(cache, name))
        os.rmdir(cache)  # only if nothing else is in it
    except OSError:
        pass


def _in_temp_copy(hook, build_library):
    """Run hook(cwd) in a temporary copy of the package; remove the copy afterwards."""
    cwd = os.getcwd()
    tmp = tempfile.mkdtemp(prefix="seqvid-wheel-")
    try:
        os.chdir(_staged(tmp, build_library))
        return hook()
    finally:
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)
        _forget_bytecode()


def get_requires_for_build_wheel(config_settings=None):
    _forget_bytecode()
    return []  # setuptools and wheel only (PEP 517 build isolation would fetch them)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    # The metadata needs no library: no CMake build here.
    metadata_directory = os.path.abspath(metadata_directory)
    return _in_temp_copy(lambda: _setuptools.prepare_metadata_for_build_wheel(
        metadata_directory, config_settings), build_library=False)


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    wheel_directory = os.path.abspath(wheel_directory)
    return _in_temp_copy(lambda: _setuptools.build_wheel(wheel_directory, config_settings),
                         build_library=True)
