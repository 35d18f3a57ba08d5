// What loading a plan costs, and how much of it the content checksum is (issue 17):
//   bench_plan_load PLAN.fsp... [--runs N]
// Per plan, the median over N runs (default 30) of
//   load      Plan::from_bytes (copy, FlatBuffers verification, version, checksum, validation)
//   checksum  plan_checksum alone (XXH3-64 over the file)
//   fnv1a     FNV-1a 64 over the file (what plans were hashed with before they had a checksum)
//   memcpy    copying the file once (the memory-bandwidth floor)
// and the checksum's share of the load. The file is read once; every step runs on the bytes in memory.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "runtime/plan.h"
#include "runtime/plan_checksum.h"

namespace {

using Clock = std::chrono::steady_clock;

double median_ms(int runs, const std::function<void()>& f) {
  std::vector<double> t;
  f();  // warm
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

volatile uint64_t sink;

}  // namespace

int main(int argc, char** argv) {
  int runs = 30;
  std::vector<std::string> plans;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = std::max(1, std::atoi(argv[++i]));
    else
      plans.push_back(argv[i]);
  }
  if (plans.empty()) {
    std::fprintf(stderr, "usage: bench_plan_load PLAN.fsp... [--runs N]\n");
    return 2;
  }
  std::printf("%-28s %10s %10s %10s %10s %10s %12s %10s\n", "plan", "MB", "load_ms", "checksum_ms", "fnv1a_ms",
              "memcpy_ms", "checksum/load", "GB/s");
  for (const auto& path : plans) {
    std::ifstream f(path, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (bytes.empty()) {
      std::fprintf(stderr, "cannot read %s\n", path.c_str());
      return 1;
    }
    std::vector<uint8_t> copy(bytes.size());
    double load = median_ms(runs, [&] { sink = fx::Plan::from_bytes(bytes.data(), bytes.size(), path)->hash(); });
    int64_t at = fx::plan_checksum_offset(bytes.data(), bytes.size());
    double sum = median_ms(runs, [&] { sink = fx::plan_checksum(bytes.data(), bytes.size(), at); });
    double fnv = median_ms(runs, [&] {
      uint64_t h = 1469598103934665603ull;
      for (uint8_t b : bytes) h = (h ^ b) * 1099511628211ull;
      sink = h;
    });
    double cp = median_ms(runs, [&] {
      std::memcpy(copy.data(), bytes.data(), bytes.size());
      sink = copy[bytes.size() / 2];
    });
    std::string name = path.substr(path.find_last_of('/') + 1);
    std::printf("%-28s %10.2f %10.3f %10.3f %10.3f %10.3f %11.1f%% %10.1f\n", name.c_str(), bytes.size() / 1e6, load,
                sum, fnv, cp, 100 * sum / load, bytes.size() / 1e6 / sum);
  }
  return 0;
}
