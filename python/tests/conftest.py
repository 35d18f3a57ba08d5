"""Fixtures for the package tests: plans compiled and `fluxshard run` outputs made with the CLI of a
build. tests/python_test.sh sets FLUXSHARD_CLI (the fluxshard binary) and FLUXSHARD_SOURCE_DIR (the
repository, for assets/ and tests/compare_detections.py)."""
import os
import subprocess
import sys

import pytest

SOURCE = os.environ.get("FLUXSHARD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("FLUXSHARD_CLI", os.path.join(SOURCE, "build", "bin", "fluxshard"))
sys.path.insert(0, os.path.join(SOURCE, "tests"))


def asset(name):
    return os.path.join(SOURCE, "assets", name)


def cli(*args):
    r = subprocess.run([CLI, *args], capture_output=True, text=True)
    assert r.returncode == 0, f"fluxshard {' '.join(args)}: {r.stderr}"
    return r.stdout


@pytest.fixture(scope="session")
def compiled(tmp_path_factory):
    """compiled(model) -> path of the plan of assets/<model>.onnx (compiled once per test run)."""
    cache = {}
    tmp = tmp_path_factory.mktemp("plans")

    def get(model):
        if model not in cache:
            cache[model] = str(tmp / f"{model}.fsp")
            cli("compile", asset(f"{model}.onnx"), "-o", cache[model], "--quiet")
        return cache[model]
    return get


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory):
    """cli_run(plan, clip, mode, frames) -> {frame: [detection dicts]} of `fluxshard run --json`."""
    from compare_detections import cli_frames
    tmp = tmp_path_factory.mktemp("runs")
    cache = {}

    def run(plan, clip, mode, frames):
        key = (plan, clip, mode, frames)
        if key not in cache:
            out = str(tmp / f"run{len(cache)}.jsonl")
            cli("run", plan, "--input", asset(clip), "--mode", mode, "--max-frames", str(frames), "--threads", "2",
                "--quiet", "--json", out)
            cache[key] = cli_frames(out)
        return cache[key]
    return run
