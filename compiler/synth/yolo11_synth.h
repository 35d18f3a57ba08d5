// Synthetic YOLO11 ONNX graphs: the Ultralytics yolo11.yaml architecture at any scale (n/s/m/l/x), task
// (detect/segment) and square input size, with seeded random weights, written with exactly the node
// pattern, node names and tensor names of an Ultralytics ONNX export (Conv+BN folded, SiLU as
// Sigmoid+Mul, C3k2/C3k/SPPF/C2PSA, nearest Resize, the Detect/Segment heads with DFL and box decoding).
// It exists so that models larger than the bundled yolo11n (for instance YOLO11m at 1024x1024) can be
// compiled, run and timed; the weights are random, so the detections mean nothing.
//
// Weights: uniform per convolution, the bound chosen on a small calibration image pushed through the graph
// as it is built, so that every pre-activation has a fixed second moment there (batch normalisation at
// initialisation, already folded; see yolo11_synth.cpp for why that moment is 16 rather than 1):
// activations stay O(1)..O(10) through any depth for photos and noise alike. Biases are small (U(-0.1,
// 0.1)), except the last class and box convolutions of the head, which get Ultralytics'
// Detect.bias_init values. The DFL convolution holds arange(16); anchors and strides are exact, as in a
// real export. Every tensor's values come from its own stream keyed by (seed, tensor name): the same seed
// gives identical bytes, and the detect and segment graphs of one scale share their backbone weights.
#pragma once

#include <cstdint>
#include <string>

namespace fx {

struct SynthOptions {
  char scale = 'n';              // n, s, m, l or x
  std::string task = "detect";   // "detect" or "segment"
  int imgsz = 640;               // square input; a multiple of 32
  uint64_t seed = 0;
  int opset = 19;                // 12..21; below 13 the export uses the opset-12 forms (Split attribute,
                                 // Transpose-Softmax-Transpose DFL, explicit Resize roi)
  // Which Ultralytics release's Detect head layout to reproduce: "8.3" (per-level box+class Concat, one
  // Split; assets/yolo11n-640.onnx and yolo11n-seg-640.onnx) or "8.4" (boxes and scores reshaped and
  // concatenated separately; assets/yolo11n-320.onnx).
  std::string head = "8.3";
};

// What was built (for messages and tests).
struct SynthInfo {
  std::string model_name;     // "yolo11m-seg"
  uint64_t parameters = 0;    // weights and biases of the convolutions
  uint64_t flops = 0;         // 2 * multiply-adds of Conv, ConvTranspose and MatMul (the compiler's count)
  int nodes = 0;
  int64_t anchors = 0;        // A in output0 [1, 4 + nc (+ 32), A]
};

// Throws fx::Error with one line when an option is out of range.
void validate_synth_options(const SynthOptions& o);

// The serialised ONNX ModelProto.
std::string synth_yolo11(const SynthOptions& o, SynthInfo* info = nullptr);

}  // namespace fx
