// Whole-model tests: the three bundled YOLO11n models compiled by our compiler and run by our CPU
// runtime against ONNX Runtime's outputs on real letterboxed frames (tests/goldens), plus the plan
// round trip and thread-count invariance.
#include <catch2/catch.hpp>

#include "compiled_model.h"
#include "compiler/compile.h"
#include "golden_check.h"
#include "test_util.h"

using namespace fx;
using test::bit_equal;
using test::run;

namespace {

const test::CompiledModel& compiled(const std::string& model) {
  return test::compiled_model(test::source_path("assets/" + model));
}

void check_golden(const std::string& file) {
  test::Golden g = test::read_golden(test::source_path("tests/goldens/" + file));
  INFO(file);
  test::check_against_golden(compiled(g.model).plan, g);
}

}  // namespace

TEST_CASE("yolo11n-640 detect matches ONNX Runtime on bedroom frame 10", "[model]") {
  check_golden("yolo11n-640_bedroom_f10.fxg");
}
TEST_CASE("yolo11n-640 detect matches ONNX Runtime on cockatoo frame 40", "[model]") {
  check_golden("yolo11n-640_cockatoo_f40.fxg");
}
TEST_CASE("yolo11n-320 detect (opset 12) matches ONNX Runtime on bedroom frame 30", "[model]") {
  check_golden("yolo11n-320_bedroom_f30.fxg");
}
TEST_CASE("yolo11n-seg-640 segment matches ONNX Runtime on bedroom frame 10", "[model]") {
  check_golden("yolo11n-seg-640_bedroom_f10.fxg");
}

TEST_CASE("plan round trip: compile -> save -> load gives bit-identical outputs", "[model][plan]") {
  test::TempDir tmp;
  test::Golden g = test::read_golden(test::source_path("tests/goldens/yolo11n-seg-640_bedroom_f10.fxg"));
  const test::CompiledModel& c = compiled(g.model);
  // The compiler is deterministic: the same model gives the same bytes.
  CHECK(compile_onnx_file(test::source_path("assets/" + g.model)) == c.bytes);
  std::string path = tmp.file("model.fsp");
  test::write_file(path, std::string(c.bytes.begin(), c.bytes.end()));
  auto loaded = Plan::load_file(path);
  CHECK(loaded->hash() == c.plan->hash());
  auto a = run(c.plan, g, 2), b = run(loaded, g, 2);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) CHECK(bit_equal(a[i], b[i]));
}

TEST_CASE("outputs do not depend on the thread count", "[model]") {
  test::Golden g = test::read_golden(test::source_path("tests/goldens/yolo11n-320_bedroom_f30.fxg"));
  const test::CompiledModel& c = compiled(g.model);
  auto one = run(c.plan, g, 1), three = run(c.plan, g, 3);
  for (size_t i = 0; i < one.size(); ++i) CHECK(bit_equal(one[i], three[i]));
}
