// Nearest-neighbour Resize (ops/resize/resize.h): hand-computed cases for the reference (floor
// nearest, asymmetric), then the optimised kernel bit for bit against it for every ISA, 1 and 3
// threads, dense and random span subsets, channel-slice views and guard zones.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "op_harness.h"
#include "op_test_common.h"
#include "ops/cpu_features.h"
#include "ops/elementwise/parallel.h"
#include "ops/resize/resize.h"

using namespace fx;
using fx::test::Guarded;
using fx::test::TestMap;

namespace {

using fx::test::IsaScope;
using fx::test::isas;
using fx::test::pool;
using fx::test::same_bits;


const float kFill = -3.5f;

void check_config(int sh, int sw, int h, int w, int c, uint32_t seed) {
  const int oh = h * sh, ow = w * sw;
  std::mt19937 rng(seed);
  const int in_extra = static_cast<int>(rng() % 3) * 4, out_extra = static_cast<int>(rng() % 3) * 7;
  TestMap in(h, w, c, in_extra, in_extra ? 3 : 0);
  in.randomize(seed);
  TestMap ref(oh, ow, c, out_extra, out_extra ? 2 : 0, kFill);
  auto full = test::full_spans(oh, ow);
  resize_nearest_reference(sh, sw, in.view(), ref.view(), make_span_list(full));
  const std::vector<float> expect = ref.packed();
  auto sub = test::random_spans(oh, ow, seed + 11, 0.35);
  std::vector<char> in_span(static_cast<size_t>(oh) * ow, 0);
  for (const Span& s : sub)
    for (int x = s.x0; x < s.x1; ++x) in_span[static_cast<size_t>(s.y) * ow + x] = 1;

  for (CpuIsa isa : isas()) {
    IsaScope scope(isa);
    for (int threads : {1, 3}) {
      INFO("isa " << isa_name(isa) << " threads " << threads << " scale " << sh << "x" << sw << " map " << h << "x"
                  << w << "x" << c);
      TestMap out(oh, ow, c, out_extra, out_extra ? 2 : 0, kFill);
      resize_nearest(sh, sw, in.view(), out.view(), make_span_list(full), pool(threads));
      std::vector<float> got = out.packed();
      REQUIRE(std::memcmp(got.data(), expect.data(), got.size() * sizeof(float)) == 0);
      REQUIRE(out.buf.guards_intact());
      REQUIRE(out.others_untouched(kFill));

      TestMap part(oh, ow, c, out_extra, out_extra ? 2 : 0, kFill);
      resize_nearest(sh, sw, in.view(), part.view(), make_span_list(sub), pool(threads));
      got = part.packed();
      bool ok = true;
      for (size_t px = 0; px < in_span.size() && ok; ++px)
        for (int ch = 0; ch < c; ++ch)
          if (!Guarded::same_bits(got[px * c + ch], in_span[px] ? expect[px * c + ch] : kFill)) ok = false;
      REQUIRE(ok);
      REQUIRE(part.buf.guards_intact());
      REQUIRE(part.others_untouched(kFill));
    }
  }
}

}  // namespace

TEST_CASE("resize reference: floor nearest, asymmetric", "[resize]") {
  // 2 x 3 map, 2 channels: (y, x, ch) = 100y + 10x + ch.
  std::vector<float> in(12);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x)
      for (int ch = 0; ch < 2; ++ch) in[(y * 3 + x) * 2 + ch] = 100.f * y + 10.f * x + ch;
  std::vector<float> out(4 * 6 * 2, 0.f);
  auto spans = test::full_spans(4, 6);
  resize_nearest_reference(2, 2, dense_map(in.data(), 2, 3, 2), dense_map(out.data(), 4, 6, 2),
                           make_span_list(spans));
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x)
      for (int ch = 0; ch < 2; ++ch) CHECK(out[(y * 6 + x) * 2 + ch] == 100.f * (y / 2) + 10.f * (x / 2) + ch);
  // Scale 3 along x only: columns 0,0,0,1,1,1,2,2,2.
  std::vector<float> out3(2 * 9 * 2, 0.f);
  auto spans3 = test::full_spans(2, 9);
  resize_nearest_reference(1, 3, dense_map(in.data(), 2, 3, 2), dense_map(out3.data(), 2, 9, 2),
                           make_span_list(spans3));
  CHECK(out3[(0 * 9 + 2) * 2 + 1] == 1.f);
  CHECK(out3[(0 * 9 + 3) * 2 + 0] == 10.f);
  CHECK(out3[(1 * 9 + 8) * 2 + 1] == 121.f);
}

TEST_CASE("resize: 2x upsampling (the YOLO11 neck)", "[resize]") {
  uint32_t seed = 1;
  for (int c : {1, 3, 17, 33, 64, 130})
    for (int hw : {1, 3, 10}) check_config(2, 2, hw, hw + 1, c, seed++);
  check_config(2, 2, 20, 20, 256, 99);
}

TEST_CASE("resize: other integer factors", "[resize]") {
  std::mt19937 rng(5);
  for (int i = 0; i < 30; ++i) {
    int sh = 1 + rng() % 4, sw = 1 + rng() % 4;
    int h = 1 + rng() % 7, w = 1 + rng() % 7;
    int c = 1 + rng() % 70;
    check_config(sh, sw, h, w, c, 200 + i);
  }
}
