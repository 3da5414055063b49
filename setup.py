"""The one compiled part of schemabus: the optional Avro codec (runtime/_speedups.c), publish_many's
delivery counter (runtime/_delivery_counter.c), the delivery reports of asyncio publishes
(runtime/_delivery_reports.c) and the metrics' histogram buckets (runtime/_histogram.c),
one extension module.

Everything else is declared in pyproject.toml. ``optional=True``: without a C compiler the install
still succeeds and the generated Python writers encode instead (see runtime/avro.py, "speedups").
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "schemabus.runtime._speedups",
            [
                "runtime/_speedups.c",
                "runtime/_delivery_counter.c",
                "runtime/_delivery_reports.c",
                "runtime/_histogram.c",
            ],
            depends=["runtime/_speedups.h"],
            optional=True,
        ),
    ]
)
