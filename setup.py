"""Declares the compiled extensions; everything else lives in pyproject.toml."""
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "fastray._scheduler",
        sources=["csrc/scheduler.pyx"],
        include_dirs=["csrc"],
        language="c++",
        extra_compile_args=["-O2", "-std=c++17"],
    ),
    Extension(
        "fastray._store",
        sources=["csrc/store_client.pyx"],
        include_dirs=["csrc"],
        language="c++",
        extra_compile_args=["-O2", "-std=c++17"],
    ),
]

setup(ext_modules=cythonize(extensions, language_level=3, include_path=["csrc"]))
