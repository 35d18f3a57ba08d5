// Packs a letterboxed input (.npy written by `fluxshard letterbox`) and ONNX Runtime's outputs (.npy
// written by ort_reference.js) into one compact .fxg golden file; see tests/golden_format.h.
// usage: make_golden OUT.fxg MODEL CLIP FRAME INPUT.npy NAME=OUTPUT.npy...
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "golden_format.h"
#include "runtime/io/npy.h"

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: make_golden OUT.fxg MODEL CLIP FRAME INPUT.npy NAME=OUTPUT.npy...\n");
    return 2;
  }
  try {
    fx::test::Golden g;
    g.model = argv[2];
    g.clip = argv[3];
    g.frame = std::atoi(argv[4]);
    fx::NpyArray in = fx::read_npy(argv[5]);
    if (in.shape.size() != 4 || in.shape[0] != 1 || in.shape[1] != 3)
      throw std::runtime_error("input must be [1,3,H,W]");
    g.height = static_cast<int>(in.shape[2]);
    g.width = static_cast<int>(in.shape[3]);
    size_t plane = static_cast<size_t>(g.width) * g.height;
    g.rgb.resize(plane * 3);
    for (size_t c = 0; c < 3; ++c)
      for (size_t i = 0; i < plane; ++i) {
        float v = in.data[c * plane + i];
        long q = std::lround(v * 255.0);
        if (q < 0 || q > 255 || static_cast<float>(q) / 255.0f != v)
          throw std::runtime_error("input is not a byte image divided by 255");
        g.rgb[i * 3 + c] = static_cast<uint8_t>(q);
      }
    for (int i = 6; i < argc; ++i) {
      std::string arg = argv[i];
      size_t eq = arg.find('=');
      if (eq == std::string::npos) throw std::runtime_error("outputs are NAME=FILE.npy");
      fx::NpyArray a = fx::read_npy(arg.substr(eq + 1));
      fx::test::GoldenOutput o;
      o.name = arg.substr(0, eq);
      o.shape = a.shape;
      o.values = a.data;
      if (o.shape.size() < 2) throw std::runtime_error("outputs must have at least 2 dimensions");
      o.compute_ranges();
      g.outputs.push_back(std::move(o));
    }
    fx::test::write_golden(argv[1], g);
    std::printf("%s: %s on %s frame %d\n", argv[1], g.model.c_str(), g.clip.c_str(), g.frame);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_golden: %s\n", e.what());
    return 1;
  }
  return 0;
}
