// NumPy .npy files, float32 only: model inputs / reference outputs exchanged with numpy and with
// shared/tools/ort_reference.js.
//
// Reading accepts format versions 1.0, 2.0 and 3.0 with descr '<f4' (or '|f4'/'=f4' on this
// little-endian host) in C order. Everything else is an fx::Error with one line, e.g.
//   'x.npy' is not a .npy file (bad magic)
//   'x.npy' is not a float32 .npy file (descr '<f8')
//   'x.npy' is in Fortran order; only C-order arrays are supported
//   'x.npy' is truncated: the header promises 1228800 float32 values (4915200 bytes), 1000 bytes follow
// The shape's element count is checked against the bytes actually present before anything is
// allocated, so a hostile header cannot cause a huge allocation.
//
// Writing produces version 1.0 with exactly the header bytes ort_reference.js writes (which numpy
// reads): "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 640, 640), }", space-padded so
// that the data starts at a multiple of 64, ending in '\n'.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fx {

struct NpyArray {
  std::vector<int64_t> shape;  // empty for a 0-d array (one element)
  std::vector<float> data;     // C order
  int64_t size() const;        // product of shape (1 for 0-d)
};

NpyArray read_npy(const std::string& path);
// From memory (fuzzing, network); `name` is used in error messages.
NpyArray read_npy_memory(const void* bytes, size_t size, const std::string& name = "<memory>");

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data);
// The complete file image (header + data) write_npy() writes.
std::vector<uint8_t> encode_npy(const std::vector<int64_t>& shape, const float* data);
// Just the header (magic .. '\n'), as ort_reference.js's writeNpy builds it.
std::string npy_header(const std::vector<int64_t>& shape);

}  // namespace fx
