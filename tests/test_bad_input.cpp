// Bad input never crashes, hangs or aborts: each case gives one clear line on stderr and a non-zero exit
// status from the CLI (1 for bad data, 2 for a wrong command line), and the library throws fx::Error.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <limits>
#include <filesystem>
#include <random>
#include <sstream>

#include "compiler/compile.h"
#include "compiler/onnx_builder.h"
#include "fuzz/media_seeds.h"
#include "fuzz/plan_corruptions.h"
#include "onnx.pb.h"
#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/io/media_header.h"
#include "runtime/io/npy.h"
#include "runtime/io/video_reader.h"
#include "runtime/plan.h"
#include "runtime/plan_checksum.h"
#include "runtime/sparse/sparse_executor.h"
#include "runtime/util/json.h"
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
// stored, so the in-place mutators cannot change them), as the bytes of a plan file, re-sealed with the
// checksum of the edited content so that the edit reaches the loader's structural checks.
template <typename Edit>
std::string rewritten_plan(const std::vector<uint8_t>& bytes, Edit edit) {
  std::unique_ptr<::fluxshard::plan::PlanT> t(::fluxshard::plan::GetPlan(bytes.data())->UnPack());
  edit(*t);
  t->checksum = kChecksumPlaceholder;
  flatbuffers::FlatBufferBuilder fbb;
  ::fluxshard::plan::FinishPlanBuffer(fbb, ::fluxshard::plan::Plan::Pack(fbb, t.get()));
  REQUIRE(seal_plan(fbb.GetBufferPointer(), fbb.GetSize()));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string as_string(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

constexpr bool kAsan = test::kAddressSanitizer;  // address-space limits do not apply under it

// run_cli with the address space limited to `limit_mb` (ulimit -v): what a command allocates from a
// size it was merely told would fail there (and say "out of memory") instead of being checked first.
test::CliResult run_cli_limited(int limit_mb, const std::vector<std::string>& args) {
  if (kAsan) return run_cli(args);
  test::TempDir tmp;
  std::string cmd = "ulimit -v " + std::to_string(limit_mb * 1024) + "; exec timeout 120 '" + test::cli_path() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >'" + tmp.file("out") + "' 2>'" + tmp.file("err") + "'";
  int raw = std::system(("sh -c \"" + cmd + "\"").c_str());
  test::CliResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  r.out = test::read_file(tmp.file("out"));
  r.err = test::read_file(tmp.file("err"));
  return r;
}


// A tiny valid model: conv (SiLU) -> maxpool -> conv, with detect-like metadata (and `names` when given).
std::string tiny_model(const std::string& extra_op = "", const std::string& names = "") {
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
  if (!names.empty()) b.metadata("names", names);
  return b.serialize();
}

// tiny_model() with its first initializer replaced by one of `dims` and `type` that holds no data.
std::string model_with_empty_initializer(const std::vector<int64_t>& dims, int type) {
  onnx::ModelProto m;
  REQUIRE(m.ParseFromString(tiny_model()));
  onnx::TensorProto* t = m.mutable_graph()->mutable_initializer(0);
  t->Clear();
  t->set_name("w0");
  t->set_data_type(type);
  for (int64_t d : dims) t->add_dims(d);
  return m.SerializeAsString();
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

TEST_CASE("compile: class-name metadata: a 30,000-character name, a huge index", "[bad-input]") {
  // The first crashed compile (std::regex recursing out of stack), the second said only "error: stoi".
  test::TempDir tmp;
  std::string path = tmp.file("names.onnx"), out = tmp.file("x.fsp");
  std::string longname(30000, 'n');
  test::write_file(path, tiny_model("", "{0: '" + longname + "', 1: 'b'}"));
  auto r = run_cli({"compile", path, "-o", out, "--quiet"});
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  REQUIRE(test::file_exists(out));
  auto plan = Plan::load_file(out);
  CHECK(plan->class_names() == std::vector<std::string>{longname, "b"});
  test::write_file(path, tiny_model("", "{99999999999: 'x'}"));
  expect_error(run_cli({"compile", path, "-o", out}), 1,
               "the model's class names (metadata 'names') are malformed: class index 99999999999 out of range (0 to "
               "99999) at character 2");
}

TEST_CASE("compile: a tensor's claimed size is checked against its data before anything is allocated",
          "[bad-input]") {
  // Before: 268,435,456 floats claimed with no data cost 1.1 GB; 2^31 int64 values asked for 16 GB and
  // died with SIGABRT. Both now fail at once, well inside a 600 MB address space.
  test::TempDir tmp;
  std::string path = tmp.file("claims.onnx");
  test::write_file(path, model_with_empty_initializer({268435456}, onnx::TensorProto::FLOAT));
  expect_error(run_cli_limited(600, {"compile", path, "-o", tmp.file("x.fsp")}), 1,
               "tensor 'w0' has 0 values, its shape needs 268435456");
  test::write_file(path, model_with_empty_initializer({int64_t(1) << 31}, onnx::TensorProto::INT64));
  expect_error(run_cli_limited(600, {"compile", path, "-o", tmp.file("x.fsp")}), 1,
               "tensor 'w0' claims 17179869184 bytes (the limit is 2 GiB)");
  CHECK(!test::file_exists(tmp.file("x.fsp")));
}

TEST_CASE("compile: constant folding does not build a constant from a broadcast of claims", "[bad-input]") {
  OnnxBuilder b(17);
  std::string x = b.input("images", {1, 3, 8, 8});
  std::string big = b.op("Mul", "outer", {b.initializer("a", {20000, 1}, std::vector<float>(20000, 1.f)),
                                          b.initializer("b", {1, 20000}, std::vector<float>(20000, 2.f))});
  b.node("Add", "add", {x, b.op("Reshape", "r", {big, b.initializer_ints("s", {4}, {1, 1, 20000, 20000})})}, {}, 1,
         {"output0"});
  b.output("output0");
  std::string m = b.serialize();
  CHECK_THROWS_WITH(compile_onnx(m.data(), m.size(), "outer.onnx"),
                    "node 'outer' (Mul) would fold into a constant of 400000000 elements; at most 67108864 are "
                    "supported");
}

TEST_CASE("out of memory anywhere is one line and exit 1, not an abort", "[bad-input]") {
  // mimalloc's operator new aborts on failure; the CLI's throws (cli/new_delete.cpp). An 8192 x 8192
  // letterboxed tensor (805 MB) cannot be allocated in a 700 MB address space.
  if (kAsan) return;
  test::TempDir tmp;
  auto r = run_cli_limited(700, {"letterbox", test::source_path("assets/bedroom.mp4"), "--size", "8192", "-o",
                                 tmp.file("x.npy")});
  expect_error(r, 1, "out of memory");
  CHECK(!test::file_exists(tmp.file("x.npy")));
}

TEST_CASE("images and Y4M: claimed frame sizes are checked against limits and the file before decoding",
          "[bad-input]") {
  // Before: a 74-byte PNG declaring 16000 x 16000 cost 824 MB; a Y4M declaring 100000 x 100000 failed
  // with "Device or resource busy".
  test::TempDir tmp;
  std::string plan = tmp.file("tiny.fsp");
  std::string m = tiny_model();
  test::write_file(plan, as_string(compile_onnx(m.data(), m.size(), "tiny.onnx")));
  auto png = [](uint32_t w, uint32_t h) {
    std::string ihdr = {'\0', '\0', '\0', '\x0d', 'I', 'H', 'D', 'R'};
    for (uint32_t v : {w, h})
      for (int k = 3; k >= 0; --k) ihdr += static_cast<char>(v >> (8 * k));
    ihdr += std::string("\x08\x02\x00\x00\x00", 5);
    ihdr += std::string(4, '\0');  // CRC (not looked at before the size check)
    std::string idat = std::string("\0\0\0\x11IDAT", 8) + std::string(17, 'x') + std::string(4, '\0');
    return std::string("\x89PNG\r\n\x1a\n", 8) + ihdr + idat + std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  };
  auto run_on = [&](const std::string& name, const std::string& bytes) {
    std::string path = tmp.file(name);
    test::write_file(path, bytes);
    return std::make_pair(path, run_cli_limited(600, {"run", plan, "--input", path, "--quiet"}));
  };
  auto [big_png, r1] = run_on("big.png", png(16000, 16000));
  CHECK(png(16000, 16000).size() == 74);
  expect_error(r1, 1,
               "'" + big_png + "' declares 16000x16000 frames; at most 16384 pixels a side and 67108864 pixels a "
               "frame are supported");
  auto [mid_png, r2] = run_on("mid.png", png(4000, 4000));
  expect_error(r2, 1,
               "'" + mid_png + "' is truncated or corrupt: its PNG header declares 4000x4000 pixels, which need at "
               "least 46548 bytes; the file has 74");
  auto [big_y4m, r3] = run_on("big.y4m", "YUV4MPEG2 W100000 H100000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + std::string(64, 'x'));
  expect_error(r3, 1,
               "'" + big_y4m + "' declares 100000x100000 frames; at most 16384 pixels a side and 67108864 pixels a "
               "frame are supported");
  const std::string y4m_head = "YUV4MPEG2 W640 H480 F25:1 C444\n";
  auto [short_y4m, r4] = run_on("short.y4m", y4m_head + "FRAME\n" + std::string(5000, 'x'));
  expect_error(r4, 1,
               "'" + short_y4m + "' is truncated or corrupt: its Y4M header declares 640x480 pixels, which need at "
               "least " + std::to_string(y4m_head.size() + 6 + 640 * 480 * 3) + " bytes; the file has " +
               std::to_string(y4m_head.size() + 6 + 5000));
  // JPEG: a frame header (SOF0) after SOI and an APP0 segment.
  std::string jpeg = std::string("\xff\xd8\xff\xe0\x00\x04xx\xff\xc0\x00\x11\x08", 13) + "\x4e\x20\x4e\x20" +
                     std::string(64, '\0');
  auto [big_jpg, r5] = run_on("big.jpg", jpeg);
  expect_error(r5, 1,
               "'" + big_jpg + "' declares 20000x20000 frames; at most 16384 pixels a side and 67108864 pixels a "
               "frame are supported");
  // BMP, uncompressed 24-bit, 3000 x 2000, with 100 bytes of pixels.
  std::string bmp(54, '\0');
  auto le32 = [&](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) bmp[at + k] = static_cast<char>(v >> (8 * k));
  };
  bmp[0] = 'B', bmp[1] = 'M';
  le32(10, 54), le32(14, 40), le32(18, 3000), le32(22, 2000);
  bmp[26] = 1, bmp[28] = 24;
  auto [short_bmp, r6] = run_on("short.bmp", bmp + std::string(100, 'x'));
  expect_error(r6, 1,
               "'" + short_bmp + "' is truncated or corrupt: its BMP header declares 3000x2000 pixels, which need at "
               "least 18000054 bytes; the file has 154");
}

TEST_CASE("images and Y4M: valid files pass the header checks and decode", "[bad-input]") {
  test::TempDir tmp;
  struct Case {
    std::string name, bytes;
    const char* format;
    int w, h, frames;
  };
  for (const Case& c : {Case{"a.png", fuzz::png_image(24, 16), "png", 24, 16, 1},
                        Case{"big.png", fuzz::png_image(300, 250), "png", 300, 250, 1},
                        Case{"a.bmp", fuzz::bmp_image(13, 7), "bmp", 13, 7, 1},
                        Case{"a.y4m", fuzz::y4m_stream(16, 8, 3), "y4m", 16, 8, 3},
                        Case{"b.y4m", fuzz::y4m_stream(9, 5, 2, true), "y4m", 9, 5, 2}}) {
    INFO(c.name);
    std::string path = tmp.file(c.name);
    test::write_file(path, c.bytes);
    MediaHeader m = check_media_header(reinterpret_cast<const uint8_t*>(c.bytes.data()), c.bytes.size(),
                                       static_cast<int64_t>(c.bytes.size()), path);
    CHECK(std::string(m.format) == c.format);
    CHECK(m.width == c.w);
    CHECK(m.height == c.h);
    VideoReader r(path);
    Frame f;
    int n = 0;
    while (r.read(f)) {
      CHECK(f.width == c.w);
      CHECK(f.height == c.h);
      ++n;
    }
    CHECK(n == c.frames);
    // Raw formats: less than one frame's pixel data is refused before decoding (one byte short for the
    // BMP, ten bytes into the first Y4M frame).
    if (m.format == std::string("png")) continue;
    size_t cut = m.format == std::string("bmp") ? c.bytes.size() - 1 : c.bytes.find('\n') + 1 + 6 + 10;
    test::write_file(path, c.bytes.substr(0, cut));
    CHECK_THROWS_WITH(VideoReader(path), Catch::Contains("is truncated or corrupt: its"));
  }
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
  REQUIRE(seal_plan(bytes.data(), bytes.size()));
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

TEST_CASE("plan: random byte flips are rejected by the checksum; re-sealed, rejected or run", "[bad-input]") {
  std::string m = tiny_model();
  std::vector<uint8_t> good = compile_onnx(m.data(), m.size(), "tiny.onnx");
  std::mt19937 rng(3);
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 400; ++i) {
    std::vector<uint8_t> b = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      size_t at = rng() % b.size();
      b[at] = static_cast<uint8_t>(b[at] ^ (1 + rng() % 255));  // always a change
    }
    // As damaged: whatever the flip hit, the loader refuses it with one line.
    std::string err = test::error_of([&] { Plan::from_bytes(b.data(), b.size(), "mutant.fsp"); });
    CHECK(err.rfind("'mutant.fsp' ", 0) == 0);
    CHECK(err.find('\n') == std::string::npos);
    // As a forger would do it (checksum recomputed): the structural checks and the executor hold.
    if (!seal_plan(b.data(), b.size())) continue;
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
  CHECK(loaded > 0);
}

TEST_CASE("plan: damaged weights are caught by the checksum", "[bad-input]") {
  // Each of these ran with exit 0 and wrong detections before plans had a checksum (zeroed weights gave
  // 300 detections per frame with null boxes).
  test::TempDir tmp;
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  std::string clip = test::source_path("assets/bedroom.mp4");
  using C = fuzz::PlanCorruption;
  for (C kind : {C::FlipWeightByte, C::NanWeight, C::ZeroWeights, C::SwapOps, C::BadRegion}) {
    std::string path = tmp.file("damaged.fsp");
    test::write_file(path, as_string(fuzz::corrupt_plan(bytes, kind, /*reseal=*/false)));
    expect_error(run_cli({"run", path, "--input", clip, "--max-frames", "1"}), 1,
                 "'" + path + "' is a corrupted plan (checksum mismatch: damaged or modified after compilation)");
  }
  // The undamaged plan runs.
  std::string path = tmp.file("good.fsp");
  test::write_file(path, as_string(bytes));
  CHECK(run_cli({"run", path, "--input", clip, "--max-frames", "1", "--quiet"}).status == 0);
}

TEST_CASE("plan: ops out of dependency order and enums out of range are rejected", "[bad-input]") {
  // With a valid checksum (re-sealed): what the structural checks alone catch.
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  auto swapped = fuzz::corrupt_plan(bytes, fuzz::PlanCorruption::SwapOps, /*reseal=*/true);
  CHECK_THROWS_WITH(Plan::from_bytes(swapped.data(), swapped.size(), "swapped.fsp"),
                    Catch::Matches("'swapped\\.fsp' is an invalid plan: op 0 reads tensor [0-9]+ before any op writes "
                                   "it \\(ops out of order\\)"));
  auto region = fuzz::corrupt_plan(bytes, fuzz::PlanCorruption::BadRegion, /*reseal=*/true);
  CHECK_THROWS_WITH(Plan::from_bytes(region.data(), region.size(), "region.fsp"),
                    "'region.fsp' is an invalid plan: op 0 has an unknown region");
  namespace fb = ::fluxshard::plan;
  auto mutant = [&](auto edit) {
    std::string s = rewritten_plan(bytes, edit);
    return test::error_of([&] { Plan::from_bytes(s.data(), s.size(), "m.fsp"); });
  };
  CHECK(mutant([](fb::PlanT& t) {
          for (auto& op : t.ops)
            if (op->kind == OpKind::Conv) op->options.AsConvOptions()->activation = static_cast<fb::Activation>(9);
        }) == "'m.fsp' is an invalid plan: op 1 has an unknown activation");
  CHECK(mutant([](fb::PlanT& t) { t.ops[0]->options.AsRelayoutOptions()->to = static_cast<fb::Layout>(-3); }) ==
        "'m.fsp' is an invalid plan: op 0 converts to an unknown layout");
  CHECK(mutant([](fb::PlanT& t) { t.ops[1]->kind = static_cast<OpKind>(200); }) ==
        "'m.fsp' is an invalid plan: op 1 has an unknown kind");
  CHECK(mutant([](fb::PlanT& t) { t.ops[1]->kind = OpKind::MaxPool; }) ==
        "'m.fsp' is an invalid plan: op 1 (MaxPool) has options of the wrong type");
  CHECK(mutant([](fb::PlanT& t) { t.tensors[0]->dtype = static_cast<fb::DType>(77); }) ==
        "'m.fsp' is an invalid plan: tensor 0 is not float32");
  CHECK(mutant([](fb::PlanT& t) { t.tensors[0]->layout = static_cast<fb::Layout>(5); }) ==
        "'m.fsp' is an invalid plan: tensor 0 has an unknown layout");
}

TEST_CASE("plan: a plan without a checksum is refused with a recompile message", "[bad-input]") {
  std::string m = tiny_model();
  std::vector<uint8_t> bytes = compile_onnx(m.data(), m.size(), "tiny.onnx");
  std::string s = rewritten_plan(bytes, [](::fluxshard::plan::PlanT&) {});
  std::unique_ptr<::fluxshard::plan::PlanT> t(::fluxshard::plan::GetPlan(s.data())->UnPack());
  t->checksum = 0;  // the default: not stored
  flatbuffers::FlatBufferBuilder fbb;
  ::fluxshard::plan::FinishPlanBuffer(fbb, ::fluxshard::plan::Plan::Pack(fbb, t.get()));
  CHECK_THROWS_WITH(Plan::from_bytes(fbb.GetBufferPointer(), fbb.GetSize(), "old.fsp"),
                    "'old.fsp' has no checksum (recompile the model)");
  // A version-1 plan (written before checksums) is refused by its version first.
  t->version = 1;
  flatbuffers::FlatBufferBuilder v1;
  ::fluxshard::plan::FinishPlanBuffer(v1, ::fluxshard::plan::Plan::Pack(v1, t.get()));
  CHECK_THROWS_WITH(Plan::from_bytes(v1.GetBufferPointer(), v1.GetSize(), "v1.fsp"),
                    "'v1.fsp' is a plan of version 1; this runtime reads version " + std::to_string(kPlanVersion) +
                        " (recompile the model)");
}

TEST_CASE("compile: a NaN or infinite weight is refused", "[bad-input]") {
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    OnnxBuilder b(17);
    std::string x = b.input("images", {1, 3, 16, 16});
    std::vector<float> w(4 * 3, 0.1f);
    w[5] = bad;
    b.node("Conv", "conv0", {x, b.initializer("w0", {4, 3, 1, 1}, w)}, {}, 1, {"output0"});
    b.output("output0");
    b.metadata("task", "detect");
    std::string m = b.serialize();
    CHECK_THROWS_WITH(compile_onnx(m.data(), m.size(), "nan.onnx"),
                      std::string("tensor 'w0' holds a non-finite value (") + (std::isnan(bad) ? "NaN" : "infinity") +
                          ") at element 5");
  }
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
  expect_error(run_cli({"frobnicate"}), 2, "unknown command 'frobnicate' (run 'fluxshard --help')");
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

TEST_CASE("compile refuses graphs that run would refuse", "[bad-input]") {
  // Each compiled with exit 0 before, and then every run of the plan failed.
  test::TempDir tmp;
  std::string path = tmp.file("m.onnx");
  {
    OnnxBuilder b(17);
    b.input("images", {1, 3, 32, 32});
    b.node("Identity", "id", {"images"}, {}, 1, {"output0"});
    b.output("output0");
    b.metadata("task", "detect");
    b.save(path);
  }
  expect_error(run_cli({"compile", path, "-o", tmp.file("x.fsp")}), 1, "'" + path + "': output0 must be [1, rows, anchors]");
  auto conv_model = [&](int rows, const std::string& task, int outputs) {
    OnnxBuilder b(17);
    std::string x = b.input("images", {1, 3, 32, 32});
    std::string y = b.op("Conv", "c", {x, b.initializer("w", {rows, 3, 1, 1}, std::vector<float>(rows * 3, 0.1f))});
    b.node("Reshape", "r", {y, b.initializer_ints("s", {3}, {1, rows, 1024})}, {}, 1, {"output0"});
    for (int i = 0; i < outputs; ++i) b.output("output0");
    b.metadata("task", task);
    b.save(path);
  };
  conv_model(84, "detect", 2);  // the same output listed twice
  expect_error(run_cli({"compile", path, "-o", tmp.file("x.fsp")}), 1, "'" + path + "': a detect model must have 1 output");
  conv_model(84, "segment", 1);  // a detect head labelled segment
  expect_error(run_cli({"compile", path, "-o", tmp.file("x.fsp")}), 1,
               "'" + path + "': a segment model must have 2 outputs");
  CHECK(!test::file_exists(tmp.file("x.fsp")));
  conv_model(84, "detect", 1);
  CHECK(run_cli({"compile", path, "-o", tmp.file("x.fsp"), "--quiet"}).status == 0);
}

TEST_CASE("compile / synth output: devices are written in place, symlinks never followed into clobbering",
          "[bad-input]") {
  test::TempDir tmp;
  std::string model = tmp.file("m.onnx");
  test::write_file(model, tiny_model());
  // -o /dev/full: the old OUT.tmp + rename replaced the device node with a regular file.
  expect_error(run_cli({"compile", model, "-o", "/dev/full"}), 1, "cannot write '/dev/full': No space left on device");
  expect_error(run_cli({"synth", "yolo11n", "--imgsz", "64", "-o", "/dev/full"}), 1,
               "cannot write '/dev/full': No space left on device");
  struct stat st {};
  REQUIRE(::lstat("/dev/full", &st) == 0);
  CHECK(S_ISCHR(st.st_mode));
  // /dev/null takes the bytes and stays a device.
  CHECK(run_cli({"compile", model, "-o", "/dev/null", "--quiet"}).status == 0);
  REQUIRE(::lstat("/dev/null", &st) == 0);
  CHECK(S_ISCHR(st.st_mode));

  // A symlink planted where the old code put its temporary file: its target is not touched.
  std::string out = tmp.file("out.fsp"), victim = tmp.file("victim.txt");
  test::write_file(victim, "precious");
  REQUIRE(::symlink(victim.c_str(), (out + ".tmp").c_str()) == 0);
  REQUIRE(run_cli({"compile", model, "-o", out, "--quiet"}).status == 0);
  CHECK(test::read_file(victim) == "precious");
  CHECK_NOTHROW(Plan::load_file(out));
  // No temporary file is left behind.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) entries += e.path().filename() != "";
  CHECK(entries == 4);  // m.onnx, out.fsp, victim.txt, out.fsp.tmp (the planted link)

  // -o through a symlink: the file it points at is replaced, the link stays a link; permissions stay.
  std::string real = tmp.file("real.fsp"), link = tmp.file("link.fsp");
  test::write_file(real, "old");
  REQUIRE(::chmod(real.c_str(), 0600) == 0);
  REQUIRE(::symlink(real.c_str(), link.c_str()) == 0);
  REQUIRE(run_cli({"compile", model, "-o", link, "--quiet"}).status == 0);
  REQUIRE(::lstat(link.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  REQUIRE(::stat(real.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_NOTHROW(Plan::load_file(real));

  // A directory, a missing directory.
  expect_error(run_cli({"compile", model, "-o", tmp.path()}), 1, "cannot write '" + tmp.path() + "': Is a directory");
  expect_error(run_cli({"compile", model, "-o", tmp.file("no/such/x.fsp")}), 1,
               "cannot write '" + tmp.file("no/such/x.fsp") + "': No such file or directory");
}

TEST_CASE("every write is checked: --json and standard output on a full device", "[bad-input]") {
  // Before: exit 0 with nothing written.
  test::TempDir tmp;
  std::string m = tiny_model();
  std::string plan = tmp.file("tiny.fsp");
  test::write_file(plan, as_string(compile_onnx(m.data(), m.size(), "tiny.onnx")));
  const std::string clip = test::source_path("assets/bedroom.mp4");
  expect_error(run_cli({"run", plan, "--input", clip, "--max-frames", "2", "--json", "/dev/full", "--quiet"}), 1,
               "cannot write '/dev/full': No space left on device");
  expect_error(run_cli({"edge", plan, "--input", clip, "--policy", "local", "--max-frames", "2", "--json", "/dev/full",
                        "--threads", "1", "--quiet"}),
               1, "cannot write '/dev/full': No space left on device");
  // The summary on standard output.
  std::string cmd = "'" + test::cli_path() + "' run '" + plan + "' --input '" + clip +
                    "' --max-frames 1 --quiet >/dev/full 2>'" + tmp.file("err") + "'";
  int raw = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(raw) == 1);
  CHECK(test::read_file(tmp.file("err")) == "error: cannot write to standard output: No space left on device\n");
}

TEST_CASE("wrong values that only the plan can judge are still command-line errors", "[bad-input]") {
  test::TempDir tmp;
  std::string m = tiny_model();  // 32 x 32
  std::string plan = tmp.file("tiny.fsp");
  test::write_file(plan, as_string(compile_onnx(m.data(), m.size(), "tiny.onnx")));
  const std::string clip = test::source_path("assets/bedroom.mp4");
  for (const char* mode : {"dense", "fluxshard"})
    expect_error(run_cli({"run", plan, "--input", clip, "--block", "7", "--mode", mode}), 2,
                 "fluxshard run: --block 7 must divide the plan's input size 32x32");
  expect_error(run_cli({"edge", plan, "--input", clip, "--block", "12", "--policy", "local"}), 2,
               "fluxshard edge: --block 12 must divide the plan's input size 32x32");
}

TEST_CASE("a damaged video: frame numbers follow the source's timestamps, lost frames are counted", "[bad-input]") {
  // Before: 64 KB of random bytes in the middle of bedroom.mp4 lost 6 frames without a word, and every
  // later "frame" was renumbered (frame 110 had the time of source frame 116).
  test::TempDir tmp;
  std::string m = tiny_model();
  std::string plan = tmp.file("tiny.fsp");
  test::write_file(plan, as_string(compile_onnx(m.data(), m.size(), "tiny.onnx")));
  std::string clip = test::read_file(test::source_path("assets/bedroom.mp4"));
  std::mt19937 rng(5);
  for (size_t i = clip.size() / 2; i < clip.size() / 2 + 65536; ++i) clip[i] = static_cast<char>(rng());
  std::string damaged = tmp.file("damaged.mp4");
  test::write_file(damaged, clip);
  for (const std::string& input : {test::source_path("assets/bedroom.mp4"), damaged}) {
    INFO(input);
    const bool is_damaged = input == damaged;
    auto r = run_cli({"run", plan, "--input", input, "--json", tmp.file("out.jsonl"), "--quiet", "--threads", "1"});
    REQUIRE(r.status == 0);
    std::istringstream lines(test::read_file(tmp.file("out.jsonl")));
    std::string line;
    std::vector<JsonValue> v;
    while (std::getline(lines, line)) v.push_back(JsonValue::parse(line));
    REQUIRE(v.size() > 1);
    const JsonValue& summary = v.back();
    int64_t prev = -1, gaps = 0;
    for (size_t i = 0; i + 1 < v.size(); ++i) {
      int64_t f = v[i].at("frame").as_int();
      CHECK(f > prev);
      gaps += f - prev - 1;
      prev = f;
      CHECK(std::abs(v[i].at("time_s").as_double() * 30.0 - static_cast<double>(f)) < 0.01);  // 30 fps clip
    }
    CHECK(summary.at("missing_frames").as_int() == gaps);
    CHECK(summary.at("frames").as_int() + gaps == 200);  // every source frame is either there or counted
    if (!is_damaged) {
      CHECK(gaps == 0);
      CHECK(r.err.empty());
      continue;
    }
    CHECK(gaps > 0);
    CHECK(summary.at("decode_errors").as_int() > 0);
    CHECK_THAT(r.err, Catch::Matches("warning: '" + damaged + "' is damaged: " + std::to_string(gaps) +
                                     " source frames missing \\(the first is frame [0-9]+; frame numbers follow the "
                                     "source's timestamps\\), [0-9]+ decoding errors?\n"));
  }
}
