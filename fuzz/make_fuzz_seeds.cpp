// Writes small seed inputs for the fuzz targets: tiny ONNX models (every runtime op kind; a head with a
// column tail), the plans compiled from them (and damaged copies of the first: a flipped weight byte, a
// NaN weight, zeroed weights, swapped ops, an out-of-range region; fuzz/plan_corruptions.h) and, for
// the wire fuzzer, byte streams of a whole edge
// session (Hello, a full update, a partial update with motion, a Background, Bye) with each codec; for
// the media fuzzer, small PNG, JPEG, BMP and Y4M files (fuzz/media_seeds.h).
// usage: make_fuzz_seeds ONNX_DIR PLAN_DIR [WIRE_DIR [MEDIA_DIR]]
#include <turbojpeg.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>

#include "compiler/compile.h"
#include "fuzz/media_seeds.h"
#include "fuzz/plan_corruptions.h"
#include "fuzz/seed_models.h"
#include "fuzz/wire_session.h"
#include "net/codec.h"
#include "net/framing.h"
#include "net/wire.h"

namespace {

namespace wire = fx::net::wire;

void write(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

std::unique_ptr<wire::BlockSetT> blocks(const std::vector<uint8_t>& img, const fx::net::BlockGrid& g,
                                        const std::vector<uint8_t>& fresh, fx::net::Codec codec) {
  fx::net::EncodeOptions opt;
  opt.codec = codec;
  fx::net::EncodedBlocks enc;
  fx::net::encode_blocks(img.data(), g, fresh, opt, enc);
  auto bs = std::make_unique<wire::BlockSetT>();
  bs->codec = static_cast<wire::Codec>(codec);
  bs->fresh = fx::net::pack_bitmap(fresh);
  bs->count = enc.count;
  bs->atlas_cols = enc.atlas_cols;
  bs->payload = std::move(enc.payload);
  return bs;
}

// Hello, full FrameUpdate, FrameUpdate with one fresh block and the others moved, Background, Bye.
std::vector<uint8_t> session_stream(const fx::Plan& plan, fx::net::Codec codec, bool approximate) {
  fx::net::BlockGrid g{plan.input_w(), plan.input_h(), fx::fuzz::kWireBlock};
  std::vector<uint8_t> out, img(static_cast<size_t>(g.width) * g.height * 3);
  for (size_t i = 0; i < img.size(); ++i) img[i] = static_cast<uint8_t>(i * 37 % 251);
  auto frame = [&](std::vector<uint8_t> f) { out.insert(out.end(), f.begin(), f.end()); };

  wire::HelloT h;
  h.protocol_version = fx::net::kProtocolVersion;
  h.plan_hash = plan.hash();
  h.input_w = g.width;
  h.input_h = g.height;
  h.block = g.block;
  h.codec = static_cast<wire::Codec>(codec);
  h.mode = approximate ? wire::Mode::Approximate : wire::Mode::Exact;
  h.token.assign(fx::fuzz::kWireToken, fx::fuzz::kWireToken + std::string(fx::fuzz::kWireToken).size());
  h.salience_conf = 0.1f;
  frame(fx::net::encode_frame(std::move(h)));

  const int n = g.count();
  wire::FrameUpdateT full;
  full.frame_id = 0;
  full.update_id = 1;
  full.full = true;
  full.motion = fx::net::encode_motion(std::vector<fx::Label>(static_cast<size_t>(n), 0));
  full.blocks = blocks(img, g, std::vector<uint8_t>(static_cast<size_t>(n), 1), codec);
  full.src_w = 2 * g.width;
  full.src_h = g.height;
  frame(fx::net::encode_frame(std::move(full)));

  for (auto& p : img) p = static_cast<uint8_t>(255 - p);
  std::vector<uint8_t> fresh(static_cast<size_t>(n), 0);
  fresh[0] = 1;
  std::vector<fx::Label> motion(static_cast<size_t>(n), 0);
  motion[static_cast<size_t>(n - 1)] = fx::pack_shift(-2, -1);
  wire::FrameUpdateT part;
  part.frame_id = 1;
  part.update_id = 2;
  part.motion = fx::net::encode_motion(motion);
  part.blocks = blocks(img, g, fresh, codec);
  part.src_w = g.width;
  part.src_h = g.height;
  frame(fx::net::encode_frame(std::move(part)));

  wire::BackgroundT bg;
  bg.update_id = 3;
  fresh[0] = 0;
  fresh[1] = 1;
  bg.blocks = blocks(img, g, fresh, codec);
  frame(fx::net::encode_frame(std::move(bg)));

  wire::ByeT bye;
  bye.reason = "done";
  frame(fx::net::encode_frame(std::move(bye)));
  return out;
}

// A w x h baseline JPEG (4:2:0) of a gradient.
std::string jpeg_image(int w, int h) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 13 / 7);
  tjhandle tj = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long n = 0;
  int r = tjCompress2(tj, rgb.data(), w, 0, h, TJPF_RGB, &out, &n, TJSAMP_420, 80, 0);
  std::string s = r == 0 ? std::string(reinterpret_cast<const char*>(out), n) : std::string();
  tjFree(out);
  tjDestroy(tj);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: make_fuzz_seeds ONNX_DIR PLAN_DIR [WIRE_DIR [MEDIA_DIR]]\n");
    return 2;
  }
  if (argc == 5) {
    const std::string dir = argv[4];
    std::pair<std::string, std::string> media[] = {
        {"gradient.png", fx::fuzz::png_image(24, 16)},   {"gradient.jpg", jpeg_image(32, 16)},
        {"gradient.bmp", fx::fuzz::bmp_image(13, 7)},    {"clip420.y4m", fx::fuzz::y4m_stream(16, 8, 2)},
        {"clip444.y4m", fx::fuzz::y4m_stream(9, 5, 2, true)}};
    for (const auto& [name, bytes] : media) {
      if (bytes.empty()) {
        std::fprintf(stderr, "make_fuzz_seeds: cannot make %s\n", name.c_str());
        return 1;
      }
      write(dir + "/" + name, bytes.data(), bytes.size());
    }
  }
  for (auto [name, m] : {std::pair<std::string, std::string>{"all_ops", fx::fuzz::model_all_ops()},
                         {"column_tail", fx::fuzz::model_column_tail()}}) {
    write(std::string(argv[1]) + "/" + name + ".onnx", m.data(), m.size());
    auto bytes = fx::compile_onnx(m.data(), m.size(), name + ".onnx");
    write(std::string(argv[2]) + "/" + name + ".fsp", bytes.data(), bytes.size());
    if (name == "all_ops") {
      using C = fx::fuzz::PlanCorruption;
      for (auto [tag, kind] : {std::pair<const char*, C>{"flip_weight", C::FlipWeightByte}, {"nan_weight", C::NanWeight},
                               {"zero_weights", C::ZeroWeights}, {"swapped_ops", C::SwapOps},
                               {"bad_region", C::BadRegion}}) {
        auto damaged = fx::fuzz::corrupt_plan(bytes, kind, /*reseal=*/true);
        write(std::string(argv[2]) + "/" + name + "_" + tag + ".fsp", damaged.data(), damaged.size());
      }
    }
    if (argc >= 4 && name == "column_tail") {
      fx::fuzz::WireServer server(bytes);  // the plan the wire fuzzer's server compiles the same way
      for (auto codec : {fx::net::Codec::Raw, fx::net::Codec::Zstd, fx::net::Codec::Lz4, fx::net::Codec::Jpeg})
        for (bool approximate : {false, true}) {
          auto s = session_stream(*server.plan, codec, approximate);
          // A seed the server refuses early would leave the session code unexplored.
          int accepted = fx::fuzz::feed_wire_session(server, s.data(), s.size());
          if (accepted != 4) {
            std::fprintf(stderr, "make_fuzz_seeds: the %s seed stream got %d of 4 messages accepted\n",
                         fx::net::codec_name(codec), accepted);
            return 1;
          }
          write(std::string(argv[3]) + "/" + fx::net::codec_name(codec) + (approximate ? "_approx" : "_exact") + ".bin",
                s.data(), s.size());
        }
    }
  }
  return 0;
}
