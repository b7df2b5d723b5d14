"""Builds the compiled Avro kernel (schemas/avro_kernel.pyx, issue 22); everything else is in
pyproject.toml. The extension is optional: without a C compiler the install still succeeds and
the codec writes through fastavro (schemas/avro_fast.py: COMPILED is False), the same bytes,
slower."""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(ext_modules=cythonize(
    [Extension("schemas.avro_kernel", ["schemas/avro_kernel.pyx"], optional=True)],
    compiler_directives={"language_level": 3},
))
