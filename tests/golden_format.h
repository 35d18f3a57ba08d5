// Compact ONNX Runtime reference outputs for the whole-model tests (.fxg files).
//
// Layout: the text line "FXGOLDEN 1\n", one header line of JSON, then one zstd frame holding the
// letterboxed input image as RGB24 bytes (the float input is exactly byte / 255, so it is stored
// losslessly) followed by every output quantised to uint16, each channel (axis 1: a row of output0,
// a prototype map) over its own [min, max] range. The quantisation error (channel range / 131070) is far
// below the 1e-3 x range tolerance the tests apply, and keeps class scores exact to ~1e-5 so that
// detections decoded from the golden are ONNX Runtime's own.
#pragma once

#include <zstd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/util/json.h"

namespace fx::test {

struct GoldenOutput {
  std::string name;
  std::vector<int64_t> shape;
  float min = 0, max = 0;          // over the whole tensor
  std::vector<float> values;       // dequantised
  // Per channel (axis 1) quantisation ranges.
  std::vector<float> ch_min, ch_max;
  size_t channel_size() const {  // elements per channel
    size_t n = 1;
    for (size_t i = 2; i < shape.size(); ++i) n *= static_cast<size_t>(shape[i]);
    return n;
  }
  void compute_ranges() {
    size_t per = channel_size(), channels = per ? values.size() / per : 0;
    ch_min.assign(channels, 0.f);
    ch_max.assign(channels, 0.f);
    for (size_t c = 0; c < channels; ++c) {
      float lo = values[c * per], hi = lo;
      for (size_t k = 0; k < per; ++k) lo = std::min(lo, values[c * per + k]), hi = std::max(hi, values[c * per + k]);
      ch_min[c] = lo, ch_max[c] = hi;
    }
    min = max = values.empty() ? 0.f : values[0];
    for (float v : values) min = std::min(min, v), max = std::max(max, v);
  }
};

struct Golden {
  std::string model, clip;
  int frame = 0;
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height x width x 3
  std::vector<GoldenOutput> outputs;
};

inline void write_golden(const std::string& path, const Golden& g) {
  JsonWriter h;
  h.begin_object().field("model", g.model).field("clip", g.clip).field("frame", g.frame);
  h.field("width", g.width).field("height", g.height).key("outputs").begin_array();
  std::vector<uint8_t> payload(g.rgb);
  for (const GoldenOutput& o : g.outputs) {
    h.begin_object().field("name", o.name).key("shape").begin_array();
    for (int64_t d : o.shape) h.value(static_cast<long long>(d));
    h.end_array().field("min", static_cast<double>(o.min)).field("max", static_cast<double>(o.max));
    h.key("ch_min").begin_array();
    for (float v : o.ch_min) h.value(static_cast<double>(v));
    h.end_array().key("ch_max").begin_array();
    for (float v : o.ch_max) h.value(static_cast<double>(v));
    h.end_array().end_object();
    size_t per = o.channel_size();
    for (size_t i = 0; i < o.values.size(); ++i) {
      size_t c = i / per;
      double lo = o.ch_min[c], hi = o.ch_max[c];
      double scale = hi > lo ? 65535.0 / (hi - lo) : 0.0;
      long q = std::lround((static_cast<double>(o.values[i]) - lo) * scale);
      q = q < 0 ? 0 : q > 65535 ? 65535 : q;
      payload.push_back(static_cast<uint8_t>(q & 0xff));
      payload.push_back(static_cast<uint8_t>(q >> 8));
    }
  }
  h.end_array().end_object();
  std::vector<uint8_t> packed(ZSTD_compressBound(payload.size()));
  size_t n = ZSTD_compress(packed.data(), packed.size(), payload.data(), payload.size(), 19);
  if (ZSTD_isError(n)) throw std::runtime_error("zstd compression failed");
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << "FXGOLDEN 1\n" << h.str() << "\n";
  f.write(reinterpret_cast<const char*>(packed.data()), static_cast<std::streamsize>(n));
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline Golden read_golden(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  std::string magic, header;
  std::getline(f, magic);
  std::getline(f, header);
  if (magic != "FXGOLDEN 1") throw std::runtime_error(path + ": not a golden file");
  std::vector<uint8_t> packed((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  JsonValue h = JsonValue::parse(header);
  Golden g;
  g.model = h.at("model").as_string();
  g.clip = h.at("clip").as_string();
  g.frame = static_cast<int>(h.at("frame").as_double());
  g.width = static_cast<int>(h.at("width").as_double());
  g.height = static_cast<int>(h.at("height").as_double());
  size_t expect = static_cast<size_t>(g.width) * g.height * 3;
  for (const JsonValue& o : h.at("outputs").items()) {
    GoldenOutput out;
    out.name = o.at("name").as_string();
    for (const JsonValue& d : o.at("shape").items()) out.shape.push_back(static_cast<int64_t>(d.as_double()));
    out.min = static_cast<float>(o.at("min").as_double());
    out.max = static_cast<float>(o.at("max").as_double());
    for (const JsonValue& v : o.at("ch_min").items()) out.ch_min.push_back(static_cast<float>(v.as_double()));
    for (const JsonValue& v : o.at("ch_max").items()) out.ch_max.push_back(static_cast<float>(v.as_double()));
    size_t n = 1;
    for (int64_t d : out.shape) n *= static_cast<size_t>(d);
    out.values.resize(n);
    expect += 2 * n;
    g.outputs.push_back(std::move(out));
  }
  std::vector<uint8_t> payload(expect);
  size_t got = ZSTD_decompress(payload.data(), payload.size(), packed.data(), packed.size());
  if (ZSTD_isError(got) || got != expect) throw std::runtime_error(path + ": corrupt payload");
  size_t pos = static_cast<size_t>(g.width) * g.height * 3;
  g.rgb.assign(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(pos));
  for (GoldenOutput& o : g.outputs) {
    size_t per = o.channel_size();
    if (per == 0 || o.ch_min.size() * per != o.values.size() || o.ch_max.size() != o.ch_min.size())
      throw std::runtime_error(path + ": bad channel ranges");
    for (size_t i = 0; i < o.values.size(); ++i) {
      size_t c = i / per;
      double step = (static_cast<double>(o.ch_max[c]) - o.ch_min[c]) / 65535.0;
      unsigned q = payload[pos] | (payload[pos + 1] << 8);
      pos += 2;
      o.values[i] = static_cast<float>(o.ch_min[c] + q * step);
    }
  }
  return g;
}

}  // namespace fx::test
