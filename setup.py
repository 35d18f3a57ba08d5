"""Build step of the Python package (metadata in pyproject.toml): puts libfluxshard.so into the package.

The library is the one named by FLUXSHARD_LIBRARY (e.g. build/lib/libfluxshard.so of a CMake build),
or else one built here with CMake in build/python-lib (the runtime and video input only: no compiler, no
CLI, no net, no tests). The wheel is therefore platform-specific."""
import os
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

ROOT = os.path.dirname(os.path.abspath(__file__))


def version():
    with open(os.path.join(ROOT, "include", "fluxshard", "fluxshard.h")) as f:
        text = f.read()
    parts = [re.search(r"#define FX_VERSION_%s +(\d+)" % p, text).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


def built_library():
    lib = os.environ.get("FLUXSHARD_LIBRARY")
    if lib:
        if not os.path.isfile(lib):
            raise SystemExit(f"error: FLUXSHARD_LIBRARY={lib}: no such file")
        return lib
    build = os.path.join(ROOT, "build", "python-lib")
    subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DFLUXSHARD_COMPILER=OFF",
                           "-DFLUXSHARD_CLI=OFF", "-DFLUXSHARD_NET=OFF", "-DFLUXSHARD_TESTS=OFF"])
    subprocess.check_call(["cmake", "--build", build, "--target", "fluxshard_shared", "-j", str(os.cpu_count() or 2)])
    return os.path.join(build, "lib", "libfluxshard.so")


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "fluxshard")
        os.makedirs(target, exist_ok=True)
        # The real file (not the symlink chain), under the name the package loads.
        shutil.copyfile(os.path.realpath(built_library()), os.path.join(target, "libfluxshard.so"))


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


os.makedirs(os.path.join(ROOT, "build", "python"), exist_ok=True)
setup(version=version(), cmdclass={"build_py": BuildPyWithLibrary}, distclass=BinaryDistribution,
      options={"build": {"build_base": os.path.join("build", "python")},
               "egg_info": {"egg_base": os.path.join("build", "python")}})
