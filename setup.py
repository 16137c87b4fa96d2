"""Builds densespace's one optional C extension; everything else is in pyproject.toml.

``densespace._interleave`` speeds up CIFAR-10 loading (bench/load_cifar10.py).
It is optional: where no C compiler is found the install goes on without it and
densespace uses numpy for the same copy.
"""

import sys

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "densespace._interleave",
            sources=["src/densespace/_interleave.c"],
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
            optional=True,
        )
    ]
)
