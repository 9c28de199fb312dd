"""Only what pyproject.toml cannot say: the wheel holds a compiled library (libseqvid.so.1,
built by tools/build_backend.py), so it is tagged for this platform, but it has no Python
extension module, so any Python 3 can use it: py3-none-<platform>."""
from setuptools import setup
from wheel.bdist_wheel import bdist_wheel


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        return ("py3", "none", super().get_tag()[2])


setup(cmdclass={"bdist_wheel": PlatformWheel})
