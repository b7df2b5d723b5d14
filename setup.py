"""Builds the compiled parts (issue 22); everything else is in pyproject.toml.

- ``schemas/avro_kernel.pyx``: the Avro kernel, written for Cython (schemas/avro_fast.py).
- ``projections/blake2b_kernel.pyx``: the dedup ids' and fingerprints' hash (projections/identity.py).
- ``projections/packed_kernel.pyx``: an account's packed dedup keys and charges (projections/packed.py).
- ``projections/slots_kernel.pyx``: the per-event frozen records' ``__init__`` (projections/records.py)
  and the events' bounds check (projections/validation.py).
- ``streams/kafka/murmur2_kernel.pyx``: Kafka's murmur2, an account's partition (streams/kafka/partitioning.py).
- The per-CDR path's plain Python modules (``projections/compiled.py: MODULES``), compiled as
  they are: the same source, less interpreter time. Each source's SHA-256 goes in
  ``projections/compiled_sources.json``, so a source edited after the build runs as source.

Every extension is optional: without a C compiler the install still succeeds, the codec writes
through fastavro and the modules run as source: the same bytes, slower.
"""

import json
import os
import runpy

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Read, not imported: importing projections here would install its finder into the build.
COMPILED = runpy.run_path(os.path.join("projections", "compiled.py"))


def _path(module: str) -> str:
    return os.path.join(*module.split(".")) + ".py"


def _sources_now() -> dict[str, str]:
    """Each module's source digest, taken before the build, and the C that Cython wrote from
    another source removed: Cython and setuptools judge by file times, which a copy or an
    archive may carry over, and the manifest must name the source each build was made from."""
    manifest = os.path.join("projections", COMPILED["MANIFEST"])
    try:
        with open(manifest) as handle:
            before = json.load(handle)
    except (OSError, ValueError):
        before = {}
    now = {m: COMPILED["digest"](COMPILED["Path"](_path(m))) for m in COMPILED["MODULES"]}
    for module, digest in now.items():
        generated = _path(module)[:-3] + ".c"
        if (not isinstance(before, dict) or before.get(module) != digest) and os.path.exists(generated):
            os.remove(generated)
    return now


SOURCES = _sources_now()


class BuildWithManifest(build_ext):
    """build_ext, then the manifest of the modules that did build (an optional one may not)."""

    def run(self) -> None:
        super().run()
        built = {m: SOURCES[m] for m in COMPILED["MODULES"] if os.path.exists(self.get_ext_fullpath(m))}
        kernel = self.get_ext_fullpath("schemas.avro_kernel")  # .../schemas/avro_kernel.<suffix>
        root = os.path.dirname(os.path.dirname(kernel))
        with open(os.path.join(root, "projections", COMPILED["MANIFEST"]), "w") as handle:
            json.dump(built, handle, indent=1, sort_keys=True)


# annotation_typing off: an annotation stays a hint, as in Python (Cython would otherwise check
# ``x: int`` as an exact int and turn ``x: float`` into a C double).
setup(
    ext_modules=cythonize(
        [Extension("schemas.avro_kernel", ["schemas/avro_kernel.pyx"], optional=True),
         Extension("projections.blake2b_kernel", ["projections/blake2b_kernel.pyx"], optional=True),
         Extension("projections.packed_kernel", ["projections/packed_kernel.pyx"], optional=True),
         Extension("projections.slots_kernel", ["projections/slots_kernel.pyx"], optional=True),
         Extension("streams.kafka.murmur2_kernel", ["streams/kafka/murmur2_kernel.pyx"], optional=True)]
        + [Extension(m, [_path(m)], optional=True) for m in COMPILED["MODULES"]],
        compiler_directives={"language_level": 3, "annotation_typing": False, "binding": True},
        quiet=True, nthreads=os.cpu_count() or 1,
    ),
    cmdclass={"build_ext": BuildWithManifest},
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
)
