"""The Python package against the CLI: the same detections (and masks) on the same frames, through the
library's own video decoding and through numpy frames; errors as exceptions with the library's message."""
import numpy as np
import pytest

import fluxshard
from compare_detections import check_frame
from conftest import asset, cli

FRAMES = 6


def as_cli_list(r):
    return [(int(c), n, float(s), [float(v) for v in b]) for c, n, s, b in zip(r.classes, r.names, r.scores, r.boxes)]


def rle_decode(counts, height, width):
    """COCO RLE (column-major runs, starting with zeros) -> (height, width) uint8."""
    flat = np.zeros(height * width, np.uint8)
    pos, value = 0, 0
    for c in counts:
        flat[pos:pos + c] = value
        pos, value = pos + c, 1 - value
    assert pos == height * width
    return flat.reshape(width, height).T


def test_version_is_the_cli_version():
    assert fluxshard.version() == cli("--version").strip()


def test_plan_properties(compiled):
    plan = fluxshard.Plan(compiled("yolo11n-320"))
    assert (plan.input_width, plan.input_height, plan.task) == (320, 320, "detect")
    assert len(plan.class_names) == 80 and plan.class_names[0] == "person"


@pytest.mark.parametrize("mode", ["dense", "fluxshard"])
def test_video_detections_equal_the_cli(compiled, cli_run, mode):
    plan_path = compiled("yolo11n-320")
    want = cli_run(plan_path, "bedroom.mp4", mode, FRAMES)
    session = fluxshard.Session(fluxshard.Plan(plan_path), mode=mode, threads=2)
    results = list(session.run(asset("bedroom.mp4"), max_frames=FRAMES))
    assert [r.frame for r in results] == sorted(want)
    assert sum(len(r) for r in results) > 0
    for r in results:
        assert r.boxes.dtype == np.float32 and r.boxes.shape == (len(r), 4) and r.classes.dtype == np.int32
        assert r.masks is None
        check_frame(r.frame, want[r.frame], as_cli_list(r))
    if mode == "fluxshard":
        assert max(r.flop_hit for r in results[1:]) > 0  # the cache is in use


def test_numpy_frames_equal_the_cli(compiled, cli_run):
    # Dense mode: the result depends on the pixels only, so frames pushed as arrays match the CLI's.
    plan_path = compiled("yolo11n-320")
    want = cli_run(plan_path, "bedroom.mp4", "dense", FRAMES)
    session = fluxshard.Session(fluxshard.Plan(plan_path), mode="dense", threads=2)
    with fluxshard.Video(asset("bedroom.mp4")) as video:
        assert (video.width, video.height) == (960, 540)
        for i, frame in enumerate(video):
            if i == FRAMES:
                break
            assert frame.shape == (540, 960, 3) and frame.dtype == np.uint8
            # Every other frame as a view into a wider array: rows with a stride of their own.
            if i % 2:
                wide = np.zeros((540, 1000, 3), np.uint8)
                wide[:, 20:980] = frame
                frame = wide[:, 20:980]
            r = session.push(frame)
            check_frame(i, want[i], as_cli_list(r))


def test_segment_masks_equal_the_cli(compiled, cli_run):
    plan_path = compiled("yolo11n-seg-640")
    want = cli_run(plan_path, "bedroom.mp4", "dense", 2)
    session = fluxshard.Session(fluxshard.Plan(plan_path), threads=2)
    masks = 0
    for r in session.run(asset("bedroom.mp4"), max_frames=2):
        check_frame(r.frame, want[r.frame], as_cli_list(r))
        assert r.masks.shape == (len(r), 540, 960) and r.masks.dtype == np.uint8
        for k, d in enumerate(want[r.frame]):
            h, w = d["mask"]["size"]
            np.testing.assert_array_equal(r.masks[k], rle_decode(d["mask"]["counts"], h, w))
            masks += 1
    assert masks > 0
    off = fluxshard.Session(fluxshard.Plan(plan_path), threads=2, masks=False)
    assert next(off.run(asset("bedroom.mp4"), max_frames=1)).masks is None


def test_errors(compiled, tmp_path):
    with pytest.raises(fluxshard.Error) as e:
        fluxshard.Plan(str(tmp_path / "missing.fsp"))
    assert e.value.status_name == "io" and str(e.value).startswith("cannot open")
    bad = tmp_path / "bad.fsp"
    bad.write_bytes(b"not a plan at all")
    with pytest.raises(fluxshard.Error) as e:
        fluxshard.Plan(str(bad))
    assert e.value.status_name == "invalid plan"
    with pytest.raises(fluxshard.Error) as e:
        fluxshard.Video(str(tmp_path / "missing.mp4"))
    assert e.value.status_name == "io" and "missing.mp4" in str(e.value)

    plan = fluxshard.Plan(compiled("yolo11n-320"))
    with pytest.raises(ValueError, match="mode must be one of dense, exact, fluxshard"):
        fluxshard.Session(plan, mode="fast")
    with pytest.raises(ValueError, match="unknown session option 'preset_x'"):
        fluxshard.Session(plan, preset_x=1)
    with pytest.raises(ValueError, match=r"conf must be in \[0.0, 1.0\]"):
        fluxshard.Session(plan, conf=1.5)
    with pytest.raises(ValueError, match="backend must be one of cpu, cuda"):
        fluxshard.Session(plan, backend="tpu")
    # The library's own checks of the backend fields come back as Error with its message.
    with pytest.raises(fluxshard.Error, match="precision fp16 needs the cuda backend") as e:
        fluxshard.Session(plan, precision="fp16")
    assert e.value.status_name == "invalid argument"
    session = fluxshard.Session(plan, threads=1)
    with pytest.raises(ValueError, match=r"frame must be a \(H, W, 3\) uint8 RGB array"):
        session.push(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError):
        session.push(np.zeros((64, 64, 3), np.float32))
    r = session.push(np.full((64, 48, 3), 114, np.uint8))  # a grey frame: nothing to find
    assert len(r) == 0 and r.boxes.shape == (0, 4)
