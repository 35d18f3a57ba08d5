"""Compares per-frame detections with `fluxshard run --json`'s: the same frames, and in each the same
detections in the same order, with the same class and name, and score and box equal to the CLI's after
the CLI's rounding (runtime/util/json.cpp: score to 4 decimals, box to 2, half away from zero, computed
in double from the float32 value). The CLI's summary line (no "frame") is skipped.

As a program: compare_detections.py CLI.jsonl ACTUAL.jsonl [MIN_FRAMES], where ACTUAL holds full-precision
values (examples/detect_video prints float32 values exactly); exit status 0 when equal, else 1 with the
first difference. python/tests imports cli_frames() and check_frame()."""
import json
import math
import struct
import sys


def f32(x):
    """x as the float32 it stands for, as a Python float (a double)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def cli_round(x, scale):
    """std::round(double(float(x)) * scale) / scale + 0.0, as the CLI writes a number."""
    v = f32(x) * scale
    a = abs(v)
    r = math.floor(a)
    if a - r >= 0.5:
        r += 1.0
    return math.copysign(r, v) / scale + 0.0


def cli_frames(path):
    """{frame index: [detection dict, ...]} from a `fluxshard run --json` file."""
    out = {}
    with open(path) as f:
        for line in f:
            obj = json.loads(line)
            if "frame" in obj:
                out[obj["frame"]] = obj["detections"]
    return out


def check_frame(index, cli, actual):
    """Raises AssertionError with the first difference between the CLI's detections of one frame and
    `actual`: a list of (cls, name, score, [x1, y1, x2, y2]) with full-precision values."""
    assert len(cli) == len(actual), f"frame {index}: the CLI has {len(cli)} detections, the other {len(actual)}"
    for k, (c, (cls, name, score, box)) in enumerate(zip(cli, actual)):
        got = {"cls": cls, "name": name, "score": cli_round(score, 1e4), "box": [cli_round(v, 100.0) for v in box]}
        want = {"cls": c["cls"], "name": c["name"], "score": c["score"], "box": c["box"]}
        assert got == want, f"frame {index} detection {k}: CLI {want} vs {got} (from {score}, {box})"


def main():
    cli, actual = cli_frames(sys.argv[1]), cli_frames(sys.argv[2])
    min_frames = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    try:
        assert sorted(cli) == sorted(actual), f"frames differ: {sorted(cli)} vs {sorted(actual)}"
        assert len(cli) >= min_frames, f"only {len(cli)} frames (want {min_frames})"
        for i in sorted(cli):
            check_frame(i, cli[i], [(d["cls"], d["name"], d["score"], d["box"]) for d in actual[i]])
        count = sum(len(d) for d in cli.values())
        assert count > 0, "no detections at all: nothing was compared"
    except AssertionError as e:
        sys.exit(str(e))
    print(f"{len(cli)} frames, {count} detections equal")


if __name__ == "__main__":
    main()
