#!/usr/bin/env python3
"""PyTorch peer for the CUDA benchmark: runs an ONNX YOLO11 model (any of assets/*.onnx) on the GPU with
PyTorch + cuDNN, by interpreting the ONNX graph node by node with torch ops, captured once in a CUDA
graph and replayed; reports the median of warm runs in fp32, TF32 and fp16.

Needs only `torch` (with CUDA). The ONNX file is read with the `onnx` package when it is installed and
with the small protobuf reader below otherwise (ONNX files are plain protobuf; only the fields used
here are decoded).

    python3 perf/torch_peer.py assets/yolo11n-640.onnx [--runs 50] [--json out.json] [--modes fp32,tf32,fp16]
    python3 perf/torch_peer.py MODEL.onnx --dump-ops      # op types of the graph (no torch needed)

Exit status: 0 ok, 3 torch or CUDA missing (message on stderr), 1 other errors.
"""

import argparse
import json
import math
import struct
import sys
import time

# ---------------------------------------------------------------------------------------------------
# Minimal protobuf decoding of onnx.proto (ModelProto / GraphProto / NodeProto / AttributeProto /
# TensorProto / ValueInfoProto): field numbers as in onnx.proto3.

FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11


def _varint(buf, i):
    result = 0
    shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _signed64(v):
    return v - (1 << 64) if v >= (1 << 63) else v


def _fields(buf):
    """Yields (field number, wire type, value): ints for varint, bytes-like for the others."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            v = buf[i:i + ln]
            i += ln
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wt)
        yield fn, wt, v


def _packed_varints(v, wt):
    if wt == 0:
        return [_signed64(v)]
    out, i = [], 0
    while i < len(v):
        x, i = _varint(v, i)
        out.append(_signed64(x))
    return out


def _packed_floats(v, wt):
    if wt == 5:
        return [struct.unpack("<f", bytes(v))[0]]
    return list(struct.unpack("<%df" % (len(v) // 4), bytes(v)))


class Tensor:
    """An ONNX TensorProto: dims, data type, and its elements as a flat Python list or raw bytes."""

    def __init__(self):
        self.name, self.dims, self.dtype = "", [], FLOAT
        self.raw, self.floats, self.ints, self.doubles = None, [], [], []

    @staticmethod
    def parse(buf):
        t = Tensor()
        for fn, wt, v in _fields(buf):
            if fn == 1:
                t.dims += _packed_varints(v, wt)
            elif fn == 2:
                t.dtype = v
            elif fn == 4:
                t.floats += _packed_floats(v, wt)
            elif fn in (5, 7, 11):
                t.ints += _packed_varints(v, wt)
            elif fn == 8:
                t.name = bytes(v).decode()
            elif fn == 9:
                t.raw = bytes(v)
            elif fn == 10:
                t.doubles += list(struct.unpack("<%dd" % (len(v) // 8), bytes(v))) if wt == 2 else [struct.unpack("<d", bytes(v))[0]]
            elif fn == 14 and v == 1:
                raise ValueError("tensor '%s' uses external data (not supported)" % t.name)
        return t

    def values(self):
        """Elements as a flat Python list (for small tensors: shapes, scales, axes)."""
        if self.raw is not None:
            fmt = {FLOAT: "f", DOUBLE: "d", INT64: "q", INT32: "i", INT8: "b", UINT8: "B", BOOL: "?", INT16: "h",
                   UINT16: "H", FLOAT16: "e"}[self.dtype]
            return list(struct.unpack("<%d%s" % (len(self.raw) // struct.calcsize(fmt), fmt), self.raw))
        if self.dtype in (FLOAT, FLOAT16):
            return list(self.floats) if self.dtype == FLOAT else list(self.ints)
        if self.dtype == DOUBLE:
            return list(self.doubles)
        return list(self.ints)


class Attribute:
    def __init__(self):
        self.name, self.f, self.i, self.s, self.t = "", None, None, None, None
        self.floats, self.ints = [], []

    @staticmethod
    def parse(buf):
        a = Attribute()
        for fn, wt, v in _fields(buf):
            if fn == 1:
                a.name = bytes(v).decode()
            elif fn == 2:
                a.f = struct.unpack("<f", bytes(v))[0]
            elif fn == 3:
                a.i = _signed64(v)
            elif fn == 4:
                a.s = bytes(v).decode(errors="replace")
            elif fn == 5:
                a.t = Tensor.parse(v)
            elif fn == 7:
                a.floats += _packed_floats(v, wt)
            elif fn == 8:
                a.ints += _packed_varints(v, wt)
        return a

    def value(self):
        for v in (self.t, self.s, self.f, self.i):
            if v is not None:
                return v
        return self.ints if self.ints else self.floats


class Node:
    def __init__(self):
        self.inputs, self.outputs, self.name, self.op, self.domain, self.attrs = [], [], "", "", "", {}

    @staticmethod
    def parse(buf):
        n = Node()
        for fn, wt, v in _fields(buf):
            if fn == 1:
                n.inputs.append(bytes(v).decode())
            elif fn == 2:
                n.outputs.append(bytes(v).decode())
            elif fn == 3:
                n.name = bytes(v).decode()
            elif fn == 4:
                n.op = bytes(v).decode()
            elif fn == 7:
                n.domain = bytes(v).decode()
            elif fn == 5:
                a = Attribute.parse(v)
                n.attrs[a.name] = a.value()
        return n


def _value_info(buf):
    name, dims = "", []
    for fn, wt, v in _fields(buf):
        if fn == 1:
            name = bytes(v).decode()
        elif fn == 2:  # TypeProto
            for fn2, _, v2 in _fields(v):
                if fn2 == 1:  # tensor_type
                    for fn3, _, v3 in _fields(v2):
                        if fn3 == 2:  # shape
                            for fn4, _, v4 in _fields(v3):
                                if fn4 == 1:  # dim
                                    d = None
                                    for fn5, _, v5 in _fields(v4):
                                        if fn5 == 1:
                                            d = _signed64(v5)
                                    dims.append(d)
    return name, dims


class Model:
    """opset, nodes (topological order as stored), initializers (name -> Tensor), inputs, outputs."""

    def __init__(self):
        self.opset, self.nodes, self.inits, self.inputs, self.outputs = 0, [], {}, [], []

    @staticmethod
    def load(path):
        try:
            import onnx  # noqa: F401  (optional)
            from onnx import numpy_helper  # noqa: F401
            have_onnx = True
        except Exception:
            have_onnx = False
        with open(path, "rb") as f:
            data = f.read()
        m = Model()
        if have_onnx:
            import onnx
            proto = onnx.load_from_string(data)
            m.opset = max([o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] or [0])
            graph_bytes = proto.graph.SerializeToString()
        else:
            graph_bytes = None
            for fn, wt, v in _fields(memoryview(data)):
                if fn == 8:  # opset_import
                    dom, ver = "", 0
                    for fn2, _, v2 in _fields(v):
                        if fn2 == 1:
                            dom = bytes(v2).decode()
                        elif fn2 == 2:
                            ver = v2
                    if dom in ("", "ai.onnx"):
                        m.opset = max(m.opset, ver)
                elif fn == 7:
                    graph_bytes = v
        if graph_bytes is None:
            raise ValueError("%s: no graph" % path)
        for fn, wt, v in _fields(memoryview(graph_bytes)):
            if fn == 1:
                m.nodes.append(Node.parse(v))
            elif fn == 5:
                t = Tensor.parse(v)
                m.inits[t.name] = t
            elif fn == 11:
                m.inputs.append(_value_info(v))
            elif fn == 12:
                m.outputs.append(_value_info(v))
        m.inputs = [i for i in m.inputs if i[0] not in m.inits]
        return m


# ---------------------------------------------------------------------------------------------------
# Execution with torch

def _torch_dtype(torch, dt):
    return {FLOAT: torch.float32, DOUBLE: torch.float64, INT64: torch.int64, INT32: torch.int32, INT8: torch.int8,
            UINT8: torch.uint8, BOOL: torch.bool, FLOAT16: torch.float16, INT16: torch.int16}[dt]


def _to_torch(torch, t):
    dtype = _torch_dtype(torch, t.dtype)
    if t.raw is not None:
        x = torch.frombuffer(bytearray(t.raw), dtype=dtype) if t.raw else torch.zeros(0, dtype=dtype)
    else:
        x = torch.tensor(t.values(), dtype=dtype)
    return x.reshape([int(d) for d in t.dims])


class Runner:
    """Interprets the graph. Integer tensors (shapes, axes, sizes) stay on the CPU as Python-readable
    values so that no device synchronisation happens inside CUDA graph capture."""

    def __init__(self, torch, model, device, float_dtype):
        self.torch, self.m, self.device, self.fdt = torch, model, device, float_dtype
        self.consts = {}
        # Small float constants (Resize scales, say) go to the device like any weight, but they are also
        # read as shape-like values: their host values are kept, keyed by the device tensor.
        self.host_values = {}
        for name, t in model.inits.items():
            self.consts[name] = self._constant(_to_torch(torch, t))
        # Constant nodes are made once here: a host-to-device copy inside graph capture would fail.
        for n in model.nodes:
            if n.op == "Constant":
                v = n.attrs.get("value")
                if not isinstance(v, Tensor):
                    raise NotImplementedError("Constant without a tensor value")
                self.consts[n.outputs[0]] = self._constant(_to_torch(torch, v))

    def _constant(self, x):
        """A constant as the graph uses it: float tensors on the device in the run's precision (small ones
        with their host values kept for _host), integer tensors on the CPU."""
        if not x.is_floating_point():
            return x
        host = x.reshape(-1).tolist() if x.numel() <= 64 else None
        x = x.to(device=self.device, dtype=self.fdt)
        if host is not None:
            self.host_values[id(x)] = host
        return x

    def _host(self, v):
        """A small tensor's values as a Python list (CPU tensors and the initializers' host copies only;
        raises for other device tensors, which could not be read during graph capture)."""
        if id(v) in self.host_values:
            return self.host_values[id(v)]
        if v.device.type != "cpu":
            raise RuntimeError("a shape-like operand lives on the GPU (cannot read it during capture)")
        return v.reshape(-1).tolist()

    def run(self, x):
        torch, F = self.torch, self.torch.nn.functional
        env = dict(self.consts)
        env[self.m.inputs[0][0]] = x
        opset = self.m.opset
        for n in self.m.nodes:
            a = n.attrs
            ins = [env[i] if i else None for i in n.inputs]
            op = n.op
            if op == "Conv" or op == "ConvTranspose":
                w = ins[1]
                b = ins[2] if len(ins) > 2 else None
                k = list(a.get("kernel_shape", w.shape[2:]))
                pads = list(a.get("pads", [0] * (2 * len(k))))
                strides = list(a.get("strides", [1] * len(k)))
                dil = list(a.get("dilations", [1] * len(k)))
                g = a.get("group", 1)
                if a.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
                    raise NotImplementedError("auto_pad " + a["auto_pad"])
                t, l, bo, r = pads[0], pads[1], pads[2], pads[3]
                if op == "Conv":
                    xin = ins[0]
                    if (t, l) != (bo, r):
                        xin = F.pad(xin, (l, r, t, bo))
                        t = l = 0
                    y = F.conv2d(xin, w, b, strides, (t, l), dil, g)
                else:
                    op_ = list(a.get("output_padding", [0, 0]))
                    y = F.conv_transpose2d(ins[0], w, b, strides, 0, op_, g, dil)
                    H, W = y.shape[2], y.shape[3]
                    y = y[:, :, t:H - bo, l:W - r]
                out = [y]
            elif op == "MaxPool":
                k = list(a["kernel_shape"])
                pads = list(a.get("pads", [0, 0, 0, 0]))
                strides = list(a.get("strides", [1, 1]))
                dil = list(a.get("dilations", [1, 1]))
                xin = F.pad(ins[0], (pads[1], pads[3], pads[0], pads[2]), value=-math.inf)
                out = [F.max_pool2d(xin, k, strides, 0, dil, ceil_mode=bool(a.get("ceil_mode", 0)))]
            elif op == "Resize" or op == "Upsample":
                mode = a.get("mode", "nearest")
                if mode != "nearest":
                    raise NotImplementedError("Resize mode " + mode)
                scales = None
                if op == "Upsample":
                    scales = self._host(ins[1])
                elif len(ins) > 2 and ins[2] is not None and ins[2].numel() > 0:
                    scales = self._host(ins[2])
                if scales is not None:
                    size = [int(math.floor(ins[0].shape[i] * scales[i])) for i in range(2, ins[0].dim())]
                else:
                    size = [int(v) for v in self._host(ins[3])[2:]]
                out = [F.interpolate(ins[0], size=size, mode="nearest")]
            elif op in ("Add", "Sub", "Mul", "Div"):
                fn = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op]
                u, v = ins
                if u.is_floating_point() != v.is_floating_point():
                    u, v = (u.to(self.fdt), v) if v.is_floating_point() else (u, v.to(self.fdt))
                if u.device != v.device:
                    u, v = u.to(self.device), v.to(self.device)
                out = [fn(u, v)]
            elif op == "Sigmoid":
                out = [torch.sigmoid(ins[0])]
            elif op == "Concat":
                vals = ins
                if any(v.device.type != "cpu" for v in vals):
                    vals = [v.to(self.device) for v in vals]
                out = [torch.cat(vals, dim=a["axis"])]
            elif op == "Split":
                axis = a.get("axis", 0)
                if "split" in a:
                    sizes = list(a["split"])
                elif len(ins) > 1 and ins[1] is not None:
                    sizes = [int(v) for v in self._host(ins[1])]
                else:
                    parts = len(n.outputs)
                    sizes = [ins[0].shape[axis] // parts] * parts
                out = list(torch.split(ins[0], sizes, dim=axis))
            elif op == "Reshape":
                shape = [int(v) for v in self._host(ins[1])]
                shape = [ins[0].shape[i] if s == 0 and not a.get("allowzero", 0) else s for i, s in enumerate(shape)]
                out = [ins[0].reshape(shape)]
            elif op == "Transpose":
                out = [ins[0].permute(list(a.get("perm", reversed(range(ins[0].dim())))))]
            elif op == "MatMul":
                out = [torch.matmul(ins[0], ins[1])]
            elif op == "Softmax":
                axis = a.get("axis", -1 if opset >= 13 else 1)
                xin = ins[0]
                if opset >= 13:
                    out = [torch.softmax(xin, dim=axis)]
                else:
                    ax = axis % xin.dim()
                    flat = xin.reshape(int(math.prod(xin.shape[:ax])), -1)
                    out = [torch.softmax(flat, dim=1).reshape(xin.shape)]
            elif op == "Slice":
                xin = ins[0]
                if opset < 10:
                    starts, ends = list(a["starts"]), list(a["ends"])
                    axes = list(a.get("axes", range(len(starts))))
                    steps = [1] * len(starts)
                else:
                    starts, ends = self._host(ins[1]), self._host(ins[2])
                    axes = self._host(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
                    steps = self._host(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
                y = xin
                for s, e, ax, st in zip(starts, ends, axes, steps):
                    ax = int(ax) % y.dim()
                    d = y.shape[ax]
                    s, e, st = int(s), int(e), int(st)
                    if st > 0:
                        s = min(max(s + d if s < 0 else s, 0), d)
                        e = min(max(e + d if e < 0 else e, 0), d)
                        idx = [slice(None)] * y.dim()
                        idx[ax] = slice(s, e, st)
                        y = y[tuple(idx)]
                    else:
                        s = min(max(s + d if s < 0 else s, -1), d - 1)
                        e = min(max(e + d if e < 0 else e, -1), d - 1)
                        index = torch.arange(s, e, st, device=y.device)
                        y = y.index_select(ax, index)
                out = [y]
            elif op == "Constant":
                continue  # made in __init__
            elif op == "Identity":
                out = [ins[0]]
            elif op == "Shape":
                out = [torch.tensor(list(ins[0].shape), dtype=torch.int64)]
            elif op == "Gather":
                axis = a.get("axis", 0)
                out = [torch.index_select(ins[0], axis, ins[1].reshape(-1).to(ins[0].device)).reshape(
                    list(ins[0].shape[:axis]) + list(ins[1].shape) + list(ins[0].shape[axis + 1:]))]
            elif op == "Unsqueeze":
                axes = list(a["axes"]) if "axes" in a else self._host(ins[1])
                y = ins[0]
                for ax in sorted(int(v) % (y.dim() + len(axes)) for v in axes):
                    y = y.unsqueeze(ax)
                out = [y]
            elif op == "Cast":
                out = [ins[0].to(_torch_dtype(torch, a["to"]) if a["to"] not in (FLOAT, DOUBLE, FLOAT16) else self.fdt)]
            else:
                raise NotImplementedError("ONNX op %s (node %s)" % (op, n.name))
            for name, v in zip(n.outputs, out):
                if name:
                    env[name] = v
        return [env[o[0]] for o in self.m.outputs]


def bench(torch, model, mode, runs):
    dev = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    tf32 = mode == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    fdt = torch.float16 if mode == "fp16" else torch.float32
    runner = Runner(torch, model, dev, fdt)
    name, dims = model.inputs[0]
    shape = [d if d and d > 0 else 1 for d in dims]
    g = torch.Generator(device="cpu").manual_seed(0)
    static_in = torch.rand(shape, generator=g).to(dev, fdt)
    with torch.no_grad():
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):  # cuDNN autotuning and allocator warm-up outside capture
                runner.run(static_in)
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        note = "CUDA graph"
        try:
            with torch.cuda.graph(graph):
                static_out = runner.run(static_in)
            replay = graph.replay
        except Exception as e:  # fall back to eager launches
            note = "eager (%s)" % str(e).splitlines()[0][:60]
            static_out = None

            def replay():
                runner.run(static_in)
        for _ in range(10):
            replay()
        torch.cuda.synchronize()
        times = []
        e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        for _ in range(runs):
            e0.record()
            replay()
            e1.record()
            e1.synchronize()
            times.append(e0.elapsed_time(e1))
        times.sort()
        med = times[len(times) // 2] if len(times) % 2 else 0.5 * (times[len(times) // 2 - 1] + times[len(times) // 2])
        outs = [o.float().cpu() for o in (static_out if static_out is not None else runner.run(static_in))]
    return med, note, outs, static_in.float().cpu()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("onnx")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--modes", default="fp32,tf32,fp16")
    ap.add_argument("--json", default="")
    ap.add_argument("--dump-ops", action="store_true", help="list the graph's op types and exit (no torch needed)")
    args = ap.parse_args()
    model = Model.load(args.onnx)
    if args.dump_ops:
        counts = {}
        for n in model.nodes:
            counts[n.op] = counts.get(n.op, 0) + 1
        print("opset %d, %d nodes, %d initializers, inputs %s, outputs %s" % (
            model.opset, len(model.nodes), len(model.inits), model.inputs, model.outputs))
        for k in sorted(counts):
            print("  %-16s %d" % (k, counts[k]))
        return 0
    try:
        import torch
    except Exception as e:
        print("torch_peer: PyTorch is not available (%s)" % e, file=sys.stderr)
        return 3
    if not torch.cuda.is_available():
        print("torch_peer: torch.cuda is not available", file=sys.stderr)
        return 3
    print("torch %s, cuDNN %s, %s" % (torch.__version__, torch.backends.cudnn.version(), torch.cuda.get_device_name(0)))
    results, ref = [], None
    for mode in args.modes.split(","):
        med, note, outs, _ = bench(torch, model, mode, args.runs)
        err = None
        if ref is None and mode == "fp32":
            ref = outs
        elif ref is not None:
            err = max(float((o - r).abs().max() / max(float(r.abs().max()), 1e-30)) for o, r in zip(outs, ref))
        results.append({"mode": mode, "median_ms": med, "notes": note, "max_rel_err_vs_fp32": err})
        print("%-5s %9.3f ms  %s%s" % (mode, med, note, "" if err is None else ", max error vs fp32 %.2e of max|y|" % err))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.onnx, "device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                       "results": results}, f)
            f.write("\n")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:  # one line, like the C++ tools
        print("torch_peer: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
