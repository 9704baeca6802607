"""Declares the compiled extensions; everything else lives in pyproject.toml."""
import compileall
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

PACKAGE = Path(__file__).resolve().parent / "fastray"


class BuildExtAndBytecode(build_ext):
    """An in-place build (what an editable install does) also byte-compiles
    the package: every spawner and worker imports it at start-up, and where
    PYTHONDONTWRITEBYTECODE is set no run would cache the bytecode, so each
    init would compile the sources again on the way to its first task."""

    def run(self) -> None:
        super().run()
        if self.inplace:
            compileall.compile_dir(str(PACKAGE), quiet=1)


# Each source is named after its module: csrc/_store.pyx builds fastray._store.
extensions = [
    Extension(f"fastray.{name}", sources=[f"csrc/{name}.pyx"], include_dirs=["csrc"],
              language="c++", extra_compile_args=["-O2", "-std=c++17"])
    for name in ("_scheduler", "_store", "_cancel_signal", "_deadline", "_framing", "_outbox")
]

# The generated C++ goes under build/, apart from the hand-written headers.
setup(ext_modules=cythonize(extensions, language_level=3, include_path=["csrc"],
                            build_dir="build/cython"),
      cmdclass={"build_ext": BuildExtAndBytecode})
