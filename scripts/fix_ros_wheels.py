"""Repair the CMake exports of the ros-jazzy-* PyPI wheels inside a virtual environment.

The message wheels' exported CMake targets name include directories of the machine that
built them (/opt/python/cpXY-cpXY/...). CMake refuses to configure a package that depends on
them ("includes non-existent path"). We rewrite those paths to this interpreter's include
directory and numpy's, which needs no root. Idempotent: a second run changes nothing.
"""

import pathlib
import re
import sys
import sysconfig

import numpy

PY_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/include/python3\.\d+")
NUMPY_INCLUDE = re.compile(r"/opt/python/cp3\d+-cp3\d+/lib/python3\.\d+/site-packages/numpy/_core/include")


def main(prefix: str) -> int:
    py_inc = sysconfig.get_paths()["include"]
    np_inc = numpy.get_include()
    changed = 0
    for path in pathlib.Path(prefix, "share").glob("*/cmake/*Export*.cmake"):
        text = path.read_text()
        new = NUMPY_INCLUDE.sub(np_inc, PY_INCLUDE.sub(py_inc, text))
        if new != text:
            path.write_text(new)
            changed += 1
    print(f"fix_ros_wheels: rewrote build-machine include paths in {changed} CMake export file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else sys.prefix))
