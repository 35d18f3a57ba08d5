// Bad input never crashes, hangs or aborts: each case gives one clear line on stderr and a non-zero exit
// status from the CLI (1 for bad data, 2 for a wrong command line), and the library throws fx::Error.
#include <catch2/catch.hpp>

#include <random>

#include "compiler/compile.h"
#include "compiler/onnx_builder.h"
#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/io/npy.h"
#include "runtime/plan.h"
#include "runtime/sparse/sparse_executor.h"
#include "test_util.h"

using namespace fx;
using test::run_cli;

namespace {

// stderr must be exactly one line: "error: <message>\n".
void expect_error(const test::CliResult& r, int status, const std::string& message) {
  INFO("stderr: " << r.err);
  CHECK(r.status == status);
  CHECK(r.err == "error: " + message + "\n");
}

// A compiled plan rewritten through the FlatBuffers object API (fields at their default value are not
// stored, so the in-place mutators cannot change them), as the bytes of a plan file.
template <typename Edit>
std::string rewritten_plan(const std::vector<uint8_t>& bytes, Edit edit) {
  std::unique_ptr<::fluxshard::plan::PlanT> t(::fluxshard::plan::GetPlan(bytes.data())->UnPack());
  edit(*t);
  flatbuffers::FlatBufferBuilder fbb;
  ::fluxshard::plan::FinishPlanBuffer(fbb, ::fluxshard::plan::Plan::Pack(fbb, t.get()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// A tiny valid model: conv (SiLU) -> maxpool -> conv, with detect-like metadata.
std::string tiny_model(const std::string& extra_op = "") {
  OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 32, 32});
  std::vector<float> w(8 * 3 * 3 * 3, 0.1f), bias(8, 0.f);
  std::string y = b.op("Conv", "conv0", {x, b.initializer("w0", {8, 3, 3, 3}, w), b.initializer("b0", {8}, bias)},
                       {OnnxAttr::integers("pads", {1, 1, 1, 1}), OnnxAttr::integers("kernel_shape", {3, 3})});
  if (!extra_op.empty()) y = b.op(extra_op, "act0", {y});
  std::string p = b.op("Reshape", "flat", {y, b.initializer_ints("shape", {3}, {1, 8, 1024})});
  b.node("Identity", "out", {p}, {}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  return b.serialize();
}

}  // namespace

TEST_CASE("compile: truncated ONNX", "[bad-input]") {
  test::TempDir tmp;
  std::string model = test::read_file(test::source_path("assets/yolo11n-320.onnx"));
  std::string path = tmp.file("truncated.onnx");
  test::write_file(path, model.substr(0, 3000));
  expect_error(run_cli({"compile", path, "-o", tmp.file("x.fsp")}), 1,
               "'" + path + "' is not a valid ONNX model (protobuf parse failed; truncated or not ONNX?)");
  CHECK(!test::file_exists(tmp.file("x.fsp")));
}

TEST_CASE("compile: random bytes and an empty file", "[bad-input]") {
  test::TempDir tmp;
  std::mt19937 rng(7);
  std::string junk(4096, '\0');
  for (char& c : junk) c = static_cast<char>(rng());
  std::string path = tmp.file("junk.onnx");
  test::write_file(path, junk);
  auto r = run_cli({"compile", path, "-o", tmp.file("x.fsp")});
  CHECK(r.status == 1);
  CHECK(test::count_lines(r.err) == 1);
  CHECK(r.err.find("is not a valid ONNX model") != std::string::npos);
  test::write_file(path, "");
  expect_error(run_cli({"compile", path, "-o", tmp.file("x.fsp")}), 1,
               "'" + path + "' is not a valid ONNX model (protobuf parse failed; truncated or not ONNX?)");
}

TEST_CASE("compile: many random truncations and byte flips of a real model never crash", "[bad-input]") {
  std::string model = test::read_file(test::source_path("assets/yolo11n-320.onnx"));
  std::mt19937 rng(11);
  int rejected = 0;
  for (int i = 0; i < 60; ++i) {
    std::string m = model;
    if (i % 2) {
      m.resize(rng() % model.size());
    } else {
      // Corrupt bytes in the graph structure (the first ~100 kB hold node definitions and small tensors).
      for (int k = 0; k < 8; ++k) m[rng() % std::min<size_t>(m.size(), 200000)] = static_cast<char>(rng());
    }
    try {
      compile_onnx(m.data(), m.size(), "mutant.onnx");
    } catch (const Error& e) {
      ++rejected;
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
  CHECK(rejected > 30);
}

TEST_CASE("compile: unsupported op names the op and the node", "[bad-input]") {
  test::TempDir tmp;
  std::string path = tmp.file("relu.onnx");
  test::write_file(path, tiny_model("Relu"));
  expect_error(run_cli({"compile", path, "-o", tmp.file("x.fsp")}), 1, "unsupported op 'Relu' in node 'act0'");
}

TEST_CASE("compile: opset outside 12-21", "[bad-input]") {
  OnnxBuilder b(9);
  b.input("images", {1, 3, 8, 8});
  b.node("Identity", "id", {"images"}, {}, 1, {"output0"});
  b.output("output0");
  std::string m = b.serialize();
  CHECK_THROWS_WITH(compile_onnx(m.data(), m.size(), "old.onnx"),
                    "'old.onnx' uses opset 9; supported opsets are 12 to 21");
}

TEST_CASE("compile: missing model file", "[bad-input]") {
  expect_error(run_cli({"compile", "/nonexistent/model.onnx", "-o", "/tmp/x.fsp"}), 1,
               "cannot open '/nonexistent/model.onnx': No such file or directory");
}

TEST_CASE("plan: another version is rejected with a version message", "[bad-input]") {
  test::TempDir tmp;
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  REQUIRE_NOTHROW(Plan::from_bytes(bytes.data(), bytes.size(), "tiny.fsp"));
  REQUIRE(::fluxshard::plan::GetMutablePlan(bytes.data())->mutate_version(kPlanVersion + 1));
  std::string path = tmp.file("future.fsp");
  test::write_file(path, std::string(bytes.begin(), bytes.end()));
  expect_error(run_cli({"inspect", path}), 1,
               "'" + path + "' is a plan of version " + std::to_string(kPlanVersion + 1) +
                   "; this runtime reads version " + std::to_string(kPlanVersion) + " (recompile the model)");
}

TEST_CASE("plan: truncated, not a plan, or corrupted", "[bad-input]") {
  test::TempDir tmp;
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  std::string path = tmp.file("cut.fsp");
  test::write_file(path, std::string(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2)));
  expect_error(run_cli({"inspect", path}), 1, "'" + path + "' is a corrupted plan (FlatBuffers verification failed)");
  test::write_file(path, "this is not a plan at all");
  expect_error(run_cli({"run", path, "--input", "x.mp4"}), 1,
               "'" + path + "' is not a FluxShard plan (missing the FXSP file identifier)");
  expect_error(run_cli({"inspect", "/nonexistent.fsp"}), 1,
               "cannot open plan '/nonexistent.fsp': No such file or directory");
}

TEST_CASE("plan: an op whose output overlaps its input in the arena is rejected", "[bad-input]") {
  // What a corrupted memory plan looks like (found by fuzzing: a concat then copied over its own input).
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  auto* plan = ::fluxshard::plan::GetMutablePlan(bytes.data());
  const auto* op = plan->ops()->Get(0);
  auto* in = plan->mutable_tensors()->GetMutableObject(static_cast<flatbuffers::uoffset_t>(op->inputs()->Get(0)));
  auto* out = plan->mutable_tensors()->GetMutableObject(static_cast<flatbuffers::uoffset_t>(op->outputs()->Get(0)));
  REQUIRE(out->mutate_arena_offset(in->arena_offset()));
  CHECK_THROWS_WITH(Plan::from_bytes(bytes.data(), bytes.size(), "overlap.fsp"),
                    "'overlap.fsp' is an invalid plan: op 0 writes over its own input in the arena");
}

TEST_CASE("plan: a pooling window whose extent overflows is rejected", "[bad-input]") {
  // Found by fuzzing: the window's extent (kernel x dilation) was computed before the dilation's range
  // was checked (undefined behaviour, caught by UBSan in CI).
  OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 32, 32});
  std::string y = b.op("Conv", "conv0", {x, b.initializer("w0", {8, 3, 1, 1}, std::vector<float>(24, 0.1f))});
  b.node("MaxPool", "pool", {y}, {OnnxAttr::integers("kernel_shape", {3, 3}), OnnxAttr::integers("pads", {1, 1, 1, 1})},
         1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  std::string m = b.serialize();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "pool.onnx");
  std::string mutant = rewritten_plan(bytes, [](::fluxshard::plan::PlanT& t) {
    int pools = 0;
    for (auto& op : t.ops)
      if (op->kind == OpKind::MaxPool) op->options.AsPoolOptions()->dilation_h = 1 << 30, ++pools;
    REQUIRE(pools == 1);
  });
  // Ops are decoded and checked when the plan loads (runtime/op_desc.h).
  CHECK_THROWS_WITH(Plan::from_bytes(mutant.data(), mutant.size(), "pool.fsp"),
                    "'pool.fsp' is an invalid plan: plan op 2 (MaxPool 'pool'): invalid window parameters");
}

TEST_CASE("plan: a spatial stride out of range is rejected", "[bad-input]") {
  // Found by fuzzing: a stride near 2^30 overflowed the cell arithmetic of shifted blocks.
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  for (int stride : {1 << 30, -2}) {
    std::string mutant = rewritten_plan(bytes, [stride](::fluxshard::plan::PlanT& t) {
      for (auto& tensor : t.tensors)
        if (tensor->stride > 0) tensor->stride = stride;
    });
    CHECK_THROWS_WITH(Plan::from_bytes(mutant.data(), mutant.size(), "stride.fsp"),
                      Catch::Contains("has an invalid spatial stride"));
  }
  // In range, but a 32x32 map at stride 64 would cover 2048 pixels of a 32-pixel input.
  std::string mutant = rewritten_plan(bytes, [](::fluxshard::plan::PlanT& t) {
    int maps = 0;
    for (auto& tensor : t.tensors)
      if (tensor->stride == 1 && tensor->shape.size() == 4 && tensor->shape[1] == 8) tensor->stride = 64, ++maps;
    REQUIRE(maps > 0);
  });
  auto plan = Plan::from_bytes(mutant.data(), mutant.size(), "stride.fsp");
  CHECK_THROWS_WITH(SparseExecutor(plan, std::make_shared<ThreadPool>(1), 8),
                    Catch::Contains("(32x32 at stride 64) does not fit the 32x32 input"));
}

TEST_CASE("plan: an input wider than 16384 pixels is rejected", "[bad-input]") {
  // The bound every executor relies on (sparse label arithmetic in int, block grids).
  OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 8, 16400});
  b.node("Conv", "conv0", {x, b.initializer("w0", {4, 3, 1, 1}, std::vector<float>(12, 0.1f))}, {}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  std::string m = b.serialize();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "wide.onnx");
  CHECK_THROWS_WITH(Plan::from_bytes(bytes.data(), bytes.size(), "wide.fsp"),
                    "'wide.fsp' is an invalid plan: invalid input size");
}

TEST_CASE("plan: a transposed convolution whose output size overflows 32 bits is rejected", "[bad-input]") {
  // The output size is computed in 64 bits (ops/conv/conv.h) before it is compared with the plan's
  // shapes: with an output padding near INT_MAX a 32-bit sum would overflow (undefined behaviour, which
  // the sanitizer run of this test catches).
  OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 16, 16});
  b.node("ConvTranspose", "up", {x, b.initializer("w", {3, 4, 2, 2}, std::vector<float>(48, 0.1f))},
         {OnnxAttr::integers("strides", {2, 2})}, 1, {"output0"});
  b.output("output0");
  b.metadata("task", "detect");
  std::string m = b.serialize();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "up.onnx");
  REQUIRE_NOTHROW(
      DenseExecutor(Plan::from_bytes(bytes.data(), bytes.size(), "up.fsp"), std::make_shared<ThreadPool>(1)));
  std::string mutant = rewritten_plan(bytes, [](::fluxshard::plan::PlanT& t) {
    int ups = 0;
    for (auto& op : t.ops)
      if (op->kind == OpKind::ConvTranspose) op->options.AsConvOptions()->output_pad_h = 2147483647, ++ups;
    REQUIRE(ups == 1);
  });
  CHECK_THROWS_WITH(Plan::from_bytes(mutant.data(), mutant.size(), "up.fsp"),
                    "'up.fsp' is an invalid plan: plan op 1 (ConvTranspose 'up'): output size does not follow from "
                    "the input and window");
}

TEST_CASE("run: a plan whose image conversion is not a cached map is refused by the sparse modes", "[bad-input]") {
  // What a corrupted region field looks like (found by fuzzing): the dense path still runs it.
  test::TempDir tmp;
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  std::string plan = tmp.file("epilogue_input.fsp");
  test::write_file(plan, rewritten_plan(bytes, [](::fluxshard::plan::PlanT& t) {
                     REQUIRE(t.ops[0]->kind == OpKind::Relayout);
                     t.ops[0]->spatial->region = PlanRegion::Epilogue;
                   }));
  std::string clip = test::source_path("assets/bedroom.mp4");
  CHECK(run_cli({"run", plan, "--input", clip, "--max-frames", "1", "--mode", "dense"}).status == 0);
  expect_error(run_cli({"run", plan, "--input", clip, "--max-frames", "1", "--mode", "exact"}), 1,
               "sparse execution needs the image's layout conversion to produce a cached map");
}

TEST_CASE("plan: random byte flips are rejected or run without crashing", "[bad-input]") {
  std::string m = tiny_model();
  std::vector<uint8_t> good = compile_onnx(m.data(), m.size(), "tiny.onnx");
  std::mt19937 rng(3);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 400; ++i) {
    std::vector<uint8_t> b = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    try {
      auto plan = Plan::from_bytes(b.data(), b.size(), "mutant.fsp");
      DenseExecutor exec(plan, std::make_shared<ThreadPool>(1));
      exec.invoke();
      ++loaded;
    } catch (const Error& e) {
      ++rejected;
      CHECK(std::string(e.what()).find('\n') == std::string::npos);
    }
  }
  CHECK(rejected > 0);
  CHECK(loaded + rejected == 400);
}

TEST_CASE("run: missing or unreadable video", "[bad-input]") {
  test::TempDir tmp;
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  std::string plan = tmp.file("tiny.fsp");
  test::write_file(plan, std::string(bytes.begin(), bytes.end()));
  expect_error(run_cli({"run", plan, "--input", "/nonexistent/clip.mp4"}), 1,
               "cannot open video '/nonexistent/clip.mp4': No such file or directory");
  std::string txt = tmp.file("notes.txt");
  test::write_file(txt, "hello, this is text\n");
  expect_error(run_cli({"run", plan, "--input", txt}), 1,
               "'" + txt + "' is not a video or image (invalid data found when processing input)");
}

TEST_CASE("wrong command lines exit with status 2 and say what is wrong", "[bad-input]") {
  expect_error(run_cli({"run", "p.fsp", "--input", "a.mp4", "--threads", "0"}), 2,
               "fluxshard run: --threads must be an integer from 1 to 256 (got '0')");
  expect_error(run_cli({"run", "p.fsp", "--input", "a.mp4", "--gate-max-share", "2"}), 2,
               "fluxshard run: --gate-max-share must be a number from 0 to 1 (got '2')");
  expect_error(run_cli({"run", "p.fsp", "--input", "a.mp4", "--island-reused", "0.5"}), 2,
               "fluxshard run: --island-reused must be a number from 1 to 1e+06 (got '0.5')");
  expect_error(run_cli({"bench", "sparse", "p.fsp", "--pan", "65"}), 2,
               "fluxshard bench: --pan must be an integer from -64 to 64 (got '65')");
  expect_error(run_cli({"run", "p.fsp", "--input", "a.mp4", "--frobnicate"}), 2,
               "fluxshard run: unknown option '--frobnicate' (see fluxshard run --help)");
  expect_error(run_cli({"run", "p.fsp"}), 2, "fluxshard run: missing --input FILE");
  expect_error(run_cli({"run", "p.fsp", "--input"}), 2, "fluxshard run: option '--input' needs a value");
  expect_error(run_cli({"compile", "m.onnx"}), 2, "fluxshard compile: missing -o PLAN.fsp");
  expect_error(run_cli({"inspect"}), 2, "fluxshard inspect: missing PLAN.fsp (see fluxshard inspect --help)");
  expect_error(run_cli({"bench", "sideways", "p.fsp"}), 2,
               "fluxshard bench: unknown benchmark 'sideways' (available: dense, sparse)");
  auto r = run_cli({"frobnicate"});
  CHECK(r.status == 2);
  CHECK(r.err == "fluxshard: unknown command 'frobnicate' (run 'fluxshard --help')\n");
  CHECK(run_cli({"run", "--help"}).status == 0);
}

TEST_CASE("dump: input of the wrong shape", "[bad-input]") {
  test::TempDir tmp;
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  std::string plan = tmp.file("tiny.fsp");
  test::write_file(plan, std::string(bytes.begin(), bytes.end()));
  std::vector<float> small(3 * 16 * 16, 0.5f);
  std::string in = tmp.file("in.npy");
  write_npy(in, {1, 3, 16, 16}, small.data());
  expect_error(run_cli({"dump", plan, "--input", in, "--prefix", tmp.file("out")}), 1,
               "'" + in + "' has shape [1,3,16,16]; the plan's input 'images' is [1,3,32,32]");
}
