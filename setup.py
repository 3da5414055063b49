"""The one compiled part of schemabus: the optional Avro encoder in runtime/_speedups.c.

Everything else is declared in pyproject.toml. ``optional=True``: without a C compiler the install
still succeeds and the generated Python writers encode instead (see runtime/avro.py, "speedups").
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("schemabus.runtime._speedups", ["runtime/_speedups.c"], optional=True),
    ]
)
