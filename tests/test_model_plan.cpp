// A whole model from a plan compiled beforehand. The .fsp format is portable, so a cross build (aarch64,
// run under qemu-user, scripts/cross_aarch64.sh) checks a plan that the host compiled against the same
// ONNX Runtime golden as test_models, on the best kernels of the machine it runs on. The plans'
// directory is $FLUXSHARD_TEST_PLAN_DIR: tests/CMakeLists.txt sets it (a native build compiles the
// plan with the CLI in a CTest fixture; a cross build is given the host's).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "golden_check.h"
#include "ops/cpu_features.h"
#include "runtime/plan.h"
#include "test_util.h"

using namespace fx;

TEST_CASE("yolo11n-320 from a precompiled plan matches ONNX Runtime on bedroom frame 30", "[model][plan]") {
  const char* dir = std::getenv("FLUXSHARD_TEST_PLAN_DIR");
  INFO("FLUXSHARD_TEST_PLAN_DIR names the directory of yolo11n-320.fsp");
  REQUIRE(dir != nullptr);
  const std::string file = "yolo11n-320_bedroom_f30.fxg";
  const test::Golden g = test::read_golden(test::source_path("tests/goldens/" + file));
  REQUIRE(g.model == "yolo11n-320.onnx");
  const auto plan = Plan::load_file(std::string(dir) + "/yolo11n-320.fsp");
  INFO("isa " << isa_name(best_isa()));
#if defined(__aarch64__)
  // The point of running this under qemu: the NEON kernels, unless FLUXSHARD_ISA lowered them on purpose.
  if (!std::getenv("FLUXSHARD_ISA")) CHECK(best_isa() == CpuIsa::Neon);
#endif
  test::check_against_golden(plan, g, file);
}
