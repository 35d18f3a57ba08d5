"""FluxShard from Python: YOLO11 detection and segmentation on video with feature-cache reuse.

    import fluxshard
    plan = fluxshard.Plan("yolo11n-640.fsp")                 # compiled with `fluxshard compile`
    session = fluxshard.Session(plan, mode="fluxshard")
    for result in session.run("clip.mp4"):                   # the library decodes the video
        print(result.frame, result.boxes, result.scores, result.classes)

    result = session.push(rgb)        # or push numpy frames: (H, W, 3) uint8 RGB, consecutive frames

A Result holds numpy arrays: boxes (N, 4) float32 x1, y1, x2, y2 in source pixels, scores (N,) float32,
classes (N,) int32, and for segment models masks (N, H, W) uint8 of 0/1 at source resolution (None for
detect models or masks=False).

This module is ctypes over libfluxshard.so (the C API of include/fluxshard/fluxshard.h): the package
carries the library; FLUXSHARD_LIBRARY=/path/to/libfluxshard.so loads another one. Failures raise
fluxshard.Error (with the C status and the library's message); bad Python arguments raise ValueError.
"""
import ctypes
import os

import numpy as np

__all__ = ["Error", "Plan", "Session", "Video", "Result", "version", "MODES", "BACKENDS", "PRECISIONS"]

# ---------------------------------------------------------------------------------------------------
# The C API's types, mirrored from fluxshard.h.

OK, END_OF_STREAM = 0, 7
STATUS_NAMES = {0: "ok", 1: "invalid argument", 2: "io", 3: "invalid plan", 4: "out of memory", 5: "internal",
                6: "unsupported", 7: "end of stream"}

MODES = {"dense": 0, "exact": 1, "fluxshard": 2}
BACKENDS = {"cpu": 0, "cuda": 1}
PRECISIONS = {"fp32": 0, "fp16": 1}


class _Detection(ctypes.Structure):
    _fields_ = [("cls", ctypes.c_int), ("score", ctypes.c_float), ("x1", ctypes.c_float), ("y1", ctypes.c_float),
                ("x2", ctypes.c_float), ("y2", ctypes.c_float)]


class _SessionOptions(ctypes.Structure):
    # fx_session_options, in the header's order. The struct only grows: a field added there is added at
    # the end here, with its entry in _OPTIONS below. (A library older than this list reads the fields it
    # knows: struct_size tells it how many there are.)
    _fields_ = [("struct_size", ctypes.c_size_t), ("threads", ctypes.c_int), ("conf", ctypes.c_float),
                ("iou", ctypes.c_float), ("masks", ctypes.c_int), ("mode", ctypes.c_int), ("backend", ctypes.c_int),
                ("device", ctypes.c_int), ("precision", ctypes.c_int)]


def _choice(option, table):
    def convert(value):
        if value not in table:
            raise ValueError(f"{option} must be one of {', '.join(table)}, not {value!r}")
        return table[value]
    return convert


def _number(option, kind, lo, hi):
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
            raise ValueError(f"{option} must be a{'n integer' if kind is int else ' number'}, not {value!r}")
        if not lo <= value <= hi:
            raise ValueError(f"{option} must be in [{lo}, {hi}], not {value!r}")
        return kind(value)
    return convert


# Session keyword arguments: name -> (fx_session_options field, converter from the Python value).
_OPTIONS = {
    "mode": ("mode", _choice("mode", MODES)),
    "threads": ("threads", _number("threads", int, 0, 256)),
    "conf": ("conf", _number("conf", float, 0.0, 1.0)),
    "iou": ("iou", _number("iou", float, 0.0, 1.0)),
    "masks": ("masks", lambda v: 1 if v else 0),
    "backend": ("backend", _choice("backend", BACKENDS)),
    "device": ("device", _number("device", int, 0, 1 << 16)),
    "precision": ("precision", _choice("precision", PRECISIONS)),
}


def _load_library():
    path = os.environ.get("FLUXSHARD_LIBRARY") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                 "libfluxshard.so")
    lib = ctypes.CDLL(path)
    c_int, c_double, c_char_p, c_void_p = ctypes.c_int, ctypes.c_double, ctypes.c_char_p, ctypes.c_void_p
    status, p = ctypes.c_int, ctypes.POINTER
    u8p = p(ctypes.c_uint8)
    signatures = {
        "fx_version": (c_char_p, []),
        "fx_version_number": (c_int, []),
        "fx_last_error": (c_char_p, []),
        "fx_plan_load": (status, [c_char_p, p(c_void_p)]),
        "fx_plan_free": (None, [c_void_p]),
        "fx_plan_input_width": (c_int, [c_void_p]),
        "fx_plan_input_height": (c_int, [c_void_p]),
        "fx_plan_task": (c_char_p, [c_void_p]),
        "fx_plan_class_count": (c_int, [c_void_p]),
        "fx_plan_class_name": (c_char_p, [c_void_p, c_int]),
        "fx_session_options_default": (None, [p(_SessionOptions)]),
        "fx_session_create": (status, [c_void_p, p(_SessionOptions), p(c_void_p)]),
        "fx_session_free": (None, [c_void_p]),
        "fx_session_push_rgb": (status, [c_void_p, u8p, c_int, c_int, c_int]),
        "fx_session_push_video": (status, [c_void_p, c_void_p]),
        "fx_session_detection_count": (c_int, [c_void_p]),
        "fx_session_detection": (status, [c_void_p, c_int, p(_Detection)]),
        "fx_session_mask": (status, [c_void_p, c_int, p(u8p), p(c_int), p(c_int)]),
        "fx_session_last_ms": (c_double, [c_void_p]),
        "fx_session_last_flop_hit": (c_double, [c_void_p]),
        "fx_video_open": (status, [c_char_p, p(c_void_p)]),
        "fx_video_free": (None, [c_void_p]),
        "fx_video_width": (c_int, [c_void_p]),
        "fx_video_height": (c_int, [c_void_p]),
        "fx_video_fps": (c_double, [c_void_p]),
        "fx_video_frame_count": (ctypes.c_int64, [c_void_p]),
        "fx_video_read": (status, [c_void_p]),
        "fx_video_frame_rgb": (u8p, [c_void_p, p(c_int), p(c_int)]),
        "fx_video_frame_index": (ctypes.c_int64, [c_void_p]),
        "fx_video_frame_time": (c_double, [c_void_p]),
    }
    for name, (restype, argtypes) in signatures.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


_lib = _load_library()


class Error(Exception):
    """A failed C API call: `status` is the fx_status code, `status_name` its name, str() the message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.status_name = STATUS_NAMES.get(status, str(status))


def _check(status):
    if status != OK:
        raise Error(status, _lib.fx_last_error().decode("utf-8", "replace"))


def version():
    """The library's "fluxshard X.Y.Z"."""
    return _lib.fx_version().decode()


def _path(p):
    return os.fsencode(p)


# ---------------------------------------------------------------------------------------------------


class _Handle:
    """Owns one C object: close() (or leaving a `with` block, or garbage collection) frees it with the
    subclass's _free function."""

    _handle = None  # set once the C object exists (so close() after a failed __init__ does nothing)
    _free = None    # name of the fx_*_free function

    def close(self):
        if self._handle and _lib is not None:  # (_lib is None at interpreter exit)
            getattr(_lib, self._free)(self._handle)
            self._handle = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Plan(_Handle):
    """A compiled plan (.fsp). Sessions keep their own reference: the Plan may go before them."""

    _free = "fx_plan_free"


    def __init__(self, path):
        handle = ctypes.c_void_p()
        _check(_lib.fx_plan_load(_path(path), ctypes.byref(handle)))
        self._handle = handle
        self.input_width = _lib.fx_plan_input_width(handle)
        self.input_height = _lib.fx_plan_input_height(handle)
        self.task = _lib.fx_plan_task(handle).decode()
        self.class_names = [_lib.fx_plan_class_name(handle, i).decode() for i in range(_lib.fx_plan_class_count(handle))]


class Video(_Handle):
    """A video file, image (sequence) or URL, decoded by the library. Iterating gives each frame as a
    (H, W, 3) uint8 RGB array (a copy); `Session.push_video(video)` runs a session on the current frame
    with the codec's motion vectors."""

    _free = "fx_video_free"


    def __init__(self, url):
        handle = ctypes.c_void_p()
        _check(_lib.fx_video_open(_path(url), ctypes.byref(handle)))
        self._handle = handle
        self.width = _lib.fx_video_width(handle)
        self.height = _lib.fx_video_height(handle)
        self.fps = _lib.fx_video_fps(handle)
        self.frame_count = _lib.fx_video_frame_count(handle)  # -1: unknown

    def read(self):
        """Decodes the next frame; False after the last one."""
        status = _lib.fx_video_read(self._handle)
        if status == END_OF_STREAM:
            return False
        _check(status)
        return True

    @property
    def frame_index(self):
        return _lib.fx_video_frame_index(self._handle)

    @property
    def frame_time(self):
        return _lib.fx_video_frame_time(self._handle)

    def frame(self):
        """The current frame as a (H, W, 3) uint8 array (a copy); None before the first read()."""
        w, h = ctypes.c_int(), ctypes.c_int()
        ptr = _lib.fx_video_frame_rgb(self._handle, ctypes.byref(w), ctypes.byref(h))
        if not ptr:
            return None
        return np.ctypeslib.as_array(ptr, shape=(h.value, w.value, 3)).copy()

    def __iter__(self):
        while self.read():
            yield self.frame()


class Result:
    """One frame's detections: boxes (N, 4) float32, scores (N,) float32, classes (N,) int32, names
    (class names), masks (N, H, W) uint8 or None (detect models, masks=False); frame (the video's frame
    index, or the count of frames pushed before), ms (time of the push), flop_hit (share of FLOPs reused)."""

    __slots__ = ("frame", "boxes", "scores", "classes", "names", "masks", "ms", "flop_hit")

    def __init__(self, **fields):
        for k in self.__slots__:
            setattr(self, k, fields[k])

    def __len__(self):
        return len(self.scores)

    def __repr__(self):
        return f"Result(frame={self.frame}, {len(self)} detections, {self.ms:.1f} ms)"


class Session(_Handle):
    """A stream session over consecutive frames of one video.

    Session(plan, mode="dense"|"exact"|"fluxshard", threads=0 (all cores), conf=0.25, iou=0.7, masks=True,
            backend="cpu"|"cuda", device=0, precision="fp32"|"fp16")
    Options left out take the library's defaults (fx_session_options_default). A backend this build or
    machine cannot run raises Error (status "invalid argument") with the reason."""

    _free = "fx_session_free"


    def __init__(self, plan, **options):
        opts = _SessionOptions()
        _lib.fx_session_options_default(ctypes.byref(opts))
        opts.struct_size = ctypes.sizeof(_SessionOptions)
        for name, value in options.items():
            if name not in _OPTIONS:
                raise ValueError(f"unknown session option {name!r} (known: {', '.join(_OPTIONS)})")
            field, convert = _OPTIONS[name]
            setattr(opts, field, convert(value))
        handle = ctypes.c_void_p()
        _check(_lib.fx_session_create(plan._handle, ctypes.byref(opts), ctypes.byref(handle)))
        self._handle = handle
        self._names = plan.class_names
        self._masks = plan.task == "segment" and bool(opts.masks)
        self._pushed = 0

    def push(self, rgb):
        """Runs the model on one frame: a (H, W, 3) uint8 RGB array (rows may be strided)."""
        a = np.asarray(rgb)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"frame must be a (H, W, 3) uint8 RGB array, not {a.dtype} {a.shape}")
        if a.strides[1] != 3 or a.strides[2] != 1 or a.strides[0] < 0:
            a = np.ascontiguousarray(a)
        ptr = a.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8))
        _check(_lib.fx_session_push_rgb(self._handle, ptr, a.shape[1], a.shape[0], a.strides[0]))
        return self._result(self._pushed, a.shape[0], a.shape[1])

    def push_video(self, video):
        """Runs the model on the video's current frame, with its codec motion vectors (as `fluxshard run`)."""
        _check(_lib.fx_session_push_video(self._handle, video._handle))
        w, h = ctypes.c_int(), ctypes.c_int()
        _lib.fx_video_frame_rgb(video._handle, ctypes.byref(w), ctypes.byref(h))
        return self._result(video.frame_index, h.value, w.value)

    def run(self, url, max_frames=None):
        """Yields a Result for each frame of a video file or URL (at most max_frames)."""
        with Video(url) as video:
            n = 0
            while (max_frames is None or n < max_frames) and video.read():
                yield self.push_video(video)
                n += 1

    def _result(self, frame, height, width):
        self._pushed += 1
        n = _lib.fx_session_detection_count(self._handle)
        boxes = np.zeros((n, 4), np.float32)
        scores = np.zeros(n, np.float32)
        classes = np.zeros(n, np.int32)
        d = _Detection()
        for i in range(n):
            _check(_lib.fx_session_detection(self._handle, i, ctypes.byref(d)))
            boxes[i] = (d.x1, d.y1, d.x2, d.y2)
            scores[i] = d.score
            classes[i] = d.cls
        masks = None
        if self._masks:
            masks = np.zeros((n, height, width), np.uint8)
            data, w, h = ctypes.POINTER(ctypes.c_uint8)(), ctypes.c_int(), ctypes.c_int()
            for i in range(n):
                _check(_lib.fx_session_mask(self._handle, i, ctypes.byref(data), ctypes.byref(w), ctypes.byref(h)))
                masks[i] = np.ctypeslib.as_array(data, shape=(h.value, w.value))
        return Result(frame=frame, boxes=boxes, scores=scores, classes=classes,
                      names=[self._names[c] if 0 <= c < len(self._names) else "" for c in classes], masks=masks,
                      ms=_lib.fx_session_last_ms(self._handle), flop_hit=_lib.fx_session_last_flop_hit(self._handle))
