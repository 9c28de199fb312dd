"""Only what pyproject.toml cannot say: the wheel holds a compiled library (libseqvid.so.1,
built by tools/build_backend.py), so it is a platform wheel installed into platlib, but it
has no Python extension module, so any Python 3 can use it: py3-none-<platform>."""
from setuptools import setup
from setuptools.dist import Distribution
from wheel.bdist_wheel import bdist_wheel


class WithLibrary(Distribution):
    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        return ("py3", "none", super().get_tag()[2])


setup(distclass=WithLibrary, cmdclass={"bdist_wheel": PlatformWheel})
