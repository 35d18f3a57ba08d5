// Block SAD kernels (ops/motion/sad.h): every ISA this CPU runs against the portable reference, with
// and without a limit, on unaligned rows, blocks that end at an inaccessible page, and blocks wide
// enough that narrow partial sums would overflow. Only ops: runs under qemu in the aarch64 cross build.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "ops/cpu_features.h"
#include "ops/motion/sad.h"

using namespace fx;

TEST_CASE("block SAD kernels equal the portable reference on every ISA", "[motion][sad]") {
  std::mt19937 rng(7);
  const int W = 200, H = 120, stride = W * 3 + 5;  // odd stride: unaligned rows
  std::vector<uint8_t> a(static_cast<size_t>(stride) * H), b(static_cast<size_t>(stride) * H);
  for (auto& v : a) v = static_cast<uint8_t>(rng());
  for (auto& v : b) v = static_cast<uint8_t>(rng());
  // a stretch of extremes (0 vs 255) to hit the maximum per-byte difference
  for (int y = 0; y < 40; ++y)
    for (int i = 0; i < 40 * 3; ++i) a[y * stride + i] = 0, b[y * stride + i] = 255;
  for (CpuIsa isa : supported_isas()) {
    BlockSadMultiFn fn = block_sad_rgb_multi_fn(isa);
    INFO("isa " << isa_name(isa));
    for (int block : {1, 3, 4, 8, 11, 16, 21, 32, 37}) {
      INFO("block " << block);
      for (int trial = 0; trial < 30; ++trial) {
        const int ax = trial == 0 ? 0 : static_cast<int>(rng() % (W - block - 20)) + 10;
        const int ay = trial == 0 ? 0 : static_cast<int>(rng() % (H - block - 20)) + 10;
        const uint8_t* pa = &a[ay * stride + ax * 3];
        const uint8_t* pb = &b[ay * stride + ax * 3];
        ptrdiff_t offs[9];
        uint32_t want[9], got[9];
        for (int k = 0; k < 9; ++k) {
          const int dx = trial == 0 ? 0 : static_cast<int>(rng() % 21) - 10;
          const int dy = trial == 0 ? 0 : static_cast<int>(rng() % 21) - 10;
          offs[k] = static_cast<ptrdiff_t>(dy) * stride + dx * 3;
          want[k] = block_sad_rgb_reference(pa, stride, pb + offs[k], stride, block);
        }
        fn(pa, stride, pb, stride, block, offs, 9, got, kSadExact);
        for (int k = 0; k < 9; ++k) REQUIRE(got[k] == want[k]);
        if (trial == 0) CHECK(want[0] == static_cast<uint32_t>(block * block * 3 * 255));
        // With a limit: exact at or below it, above it otherwise (limits at, around and between the SADs).
        std::vector<uint32_t> sorted(want, want + 9);
        std::sort(sorted.begin(), sorted.end());
        for (uint32_t limit : {0u, sorted[0], sorted[4] - 1, sorted[4], sorted[4] + 1, sorted[8] / 2}) {
          fn(pa, stride, pb, stride, block, offs, 9, got, limit);
          for (int k = 0; k < 9; ++k) {
            INFO("limit " << limit << " sad " << want[k] << " got " << got[k]);
            if (want[k] <= limit) REQUIRE(got[k] == want[k]);
            else REQUIRE(got[k] > limit);
            REQUIRE(got[k] <= want[k]);
          }
        }
      }
    }
  }
  // the dispatching single-block entry point
  CHECK(block_sad_rgb(&a[0], stride, &b[0], stride, 16) == block_sad_rgb_reference(&a[0], stride, &b[0], stride, 16));
}

TEST_CASE("block SAD kernels read no byte outside the block", "[motion][sad]") {
  // The block's last row ends exactly at a page boundary followed by an inaccessible page.
  const long page = sysconf(_SC_PAGESIZE);
  for (int block : {5, 8, 16, 32}) {
    const int row = block * 3;
    const int stride = row + 7;
    const size_t need = static_cast<size_t>(stride) * (block - 1) + row;
    const size_t pages = (need + page - 1) / page + 1;
    auto* base = static_cast<uint8_t*>(mmap(nullptr, (pages + 1) * page, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    REQUIRE(base != MAP_FAILED);
    REQUIRE(mprotect(base + pages * page, page, PROT_NONE) == 0);
    uint8_t* blk = base + pages * page - need;
    for (size_t i = 0; i < need; ++i) blk[i] = static_cast<uint8_t>(i * 37);
    // block a sits right before the guard page; so does b (the same bytes, offset 0): SAD 0
    for (CpuIsa isa : supported_isas()) {
      const ptrdiff_t off = 0;
      uint32_t s = 1;
      block_sad_rgb_multi_fn(isa)(blk, stride, blk, stride, block, &off, 1, &s, kSadExact);
      CHECK(s == 0);
    }
    munmap(base, (pages + 1) * page);
  }
}

TEST_CASE("block SAD kernels do not overflow on wide blocks", "[motion][sad]") {
  // Rows of 3 * 700 = 2100 bytes, every byte 255 apart: 16-bit lane sums (NEON) must be widened in time.
  const int block = 700, stride = block * 3;
  const std::vector<uint8_t> a(static_cast<size_t>(stride) * block, 0), b(a.size(), 255);
  const uint32_t want = block_sad_rgb_reference(a.data(), stride, b.data(), stride, block);
  CHECK(want == 700u * 700u * 3u * 255u);
  for (CpuIsa isa : supported_isas()) {
    INFO("isa " << isa_name(isa));
    const ptrdiff_t off = 0;
    uint32_t got = 0;
    block_sad_rgb_multi_fn(isa)(a.data(), stride, b.data(), stride, block, &off, 1, &got, kSadExact);
    CHECK(got == want);
  }
}
