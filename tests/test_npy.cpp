// .npy reading and writing: round trips, byte-exact headers (as numpy / ort_reference.js), and clear
// errors on bad, hostile or truncated files.
#include <catch2/catch.hpp>


#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/io/npy.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

using fx::test::TempDir;

using fx::test::error_of;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A .npy file with an arbitrary header dict (version 1 or 2), padded like numpy, plus raw data bytes.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string h = dict;
  while ((prefix + h.size() + 1) % 64 != 0) h += ' ';
  h += '\n';
  std::string out = std::string("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  const size_t n = h.size();
  out += static_cast<char>(n & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  if (major != 1) {
    out += static_cast<char>((n >> 16) & 0xff);
    out += static_cast<char>((n >> 24) & 0xff);
  }
  return out + h + data;
}

std::string float_bytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

}  // namespace

TEST_CASE("npy round trip for several shapes", "[npy]") {
  TempDir t;
  const std::vector<std::vector<int64_t>> shapes = {{1, 3, 4, 5}, {7}, {}, {0, 3}, {2, 1, 0}, {1, 84, 21}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1e3f, 1e3f);
  for (const auto& shape : shapes) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    std::vector<float> data(static_cast<size_t>(n));
    for (auto& x : data) x = u(rng);
    const std::string path = t.file("a.npy");
    fx::write_npy(path, shape, data.data());
    const fx::NpyArray a = fx::read_npy(path);
    CHECK(a.shape == shape);
    CHECK(a.size() == n);
    CHECK((a.data == data));
    // The memory reader agrees.
    const std::vector<uint8_t> bytes = fx::encode_npy(shape, data.data());
    CHECK(fs::file_size(path) == bytes.size());
    const fx::NpyArray m = fx::read_npy_memory(bytes.data(), bytes.size(), "mem");
    CHECK(m.shape == shape);
    CHECK((m.data == data));
  }
  // Special values survive bit for bit.
  const std::vector<float> special = {0.f, -0.f, 1e-45f, 3.4028235e38f, -std::numeric_limits<float>::infinity()};
  fx::write_npy(t.file("s.npy"), {5}, special.data());
  const auto s = fx::read_npy(t.file("s.npy"));
  CHECK(std::memcmp(s.data.data(), special.data(), 20) == 0);
}

TEST_CASE("npy header bytes are those of ort_reference.js / numpy", "[npy]") {
  // ort_reference.js writeNpy: header dict, then spaces so that 10 + len + 1 is a multiple of 64, then '\n';
  // version 1.0, little-endian uint16 length.
  auto expected = [](const std::string& shape_text) {
    std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape_text + "), }";
    const size_t pad = 64 - ((10 + dict.size() + 1) % 64);
    dict += std::string(pad % 64, ' ') + "\n";
    std::string h = std::string("\x93NUMPY\x01\x00", 8);
    h += static_cast<char>(dict.size() & 0xff);
    h += static_cast<char>(dict.size() >> 8);
    return h + dict;
  };
  CHECK(fx::npy_header({1, 3, 640, 640}) == expected("1, 3, 640, 640"));
  CHECK(fx::npy_header({5}) == expected("5,"));
  CHECK(fx::npy_header({}) == expected(""));
  CHECK(fx::npy_header({1, 84, 8400}) == expected("1, 84, 8400"));

  // Literal bytes, as `node` produced them with ort_reference.js's writeNpy for shape [1, 3, 2, 2].
  const std::string h = fx::npy_header({1, 3, 2, 2});
  REQUIRE(h.size() == 128);
  CHECK(h.substr(0, 10) == std::string("\x93NUMPY\x01\x00\x76\x00", 10));
  CHECK(h.substr(10, 64) == "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 2, 2), ");
  CHECK(h.substr(74, 53) == "}" + std::string(52, ' '));
  CHECK(h.back() == '\n');
  for (const auto& shape : std::vector<std::vector<int64_t>>{{}, {1}, {1, 3, 640, 640}, {123456789, 2}})
    CHECK(fx::npy_header(shape).size() % 64 == 0);
}

TEST_CASE("npy reader accepts what numpy writes", "[npy]") {
  const std::vector<float> v = {1.5f, -2.f, 3.25f, 4.f, 5.f, 6.f};
  // numpy >= 1.23 adds growth-axis spaces after the dict; key order and spacing vary.
  auto a = [&](const std::string& bytes) { return fx::read_npy_memory(bytes.data(), bytes.size(), "x.npy"); };
  auto r1 =
      a(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }                    ", float_bytes(v)));
  CHECK(r1.shape == std::vector<int64_t>{2, 3});
  CHECK((r1.data == v));
  auto r2 = a(make_npy("{'shape':(6,),'fortran_order':False,'descr':'<f4'}", float_bytes(v), 2));
  CHECK(r2.shape == std::vector<int64_t>{6});
  CHECK((r2.data == v));
  auto r3 = a(make_npy("{\"descr\": \"|f4\", \"fortran_order\": False, \"shape\": (3L, 2L)}", float_bytes(v), 3));
  CHECK(r3.shape == std::vector<int64_t>{3, 2});
  auto r4 = a(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", float_bytes({42.f})));
  CHECK(r4.shape.empty());
  CHECK(r4.data == std::vector<float>{42.f});
  // Bytes after the data are ignored (numpy reads exactly the array).
  auto r5 = a(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", float_bytes(v)));
  CHECK(r5.data == std::vector<float>{1.5f, -2.f});
}

TEST_CASE("npy errors are one clear line", "[npy][errors]") {
  TempDir t;
  auto err_file = [&](const std::string& name, const std::string& bytes) {
    write_bytes(t.file(name), bytes);
    return error_of([&] { fx::read_npy(t.file(name)); });
  };
  const std::string q = "'" + t.path() + "/";

  CHECK(error_of([&] { fx::read_npy(t.file("missing.npy")); }) ==
        "cannot open " + q + "missing.npy': No such file or directory");
  CHECK(err_file("magic.npy", "PK\x03\x04 this is a zip") == q + "magic.npy' is not a .npy file (bad magic)");
  CHECK(err_file("empty.npy", "") == q + "empty.npy' is not a .npy file (bad magic)");
  CHECK(err_file("f8.npy", make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                                    std::string(16, '\0'))) == q + "f8.npy' is not a float32 .npy file (descr '<f8')");
  CHECK(err_file("be.npy", make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                    std::string(8, '\0'))) == q + "be.npy' is not a float32 .npy file (descr '>f4')");
  CHECK(err_file("i4.npy", make_npy("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                                    std::string(8, '\0'))) == q + "i4.npy' is not a float32 .npy file (descr '<i4')");
  CHECK(err_file("rec.npy", make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }",
                                     std::string(8, '\0'))) ==
        q + "rec.npy' is not a float32 .npy file (structured dtype)");
  CHECK(err_file("fortran.npy",
                 make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", std::string(16, '\0'))) ==
        q + "fortran.npy' is in Fortran order; only C-order arrays are supported");
  CHECK(err_file("short.npy", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 640, 640), }",
                                       std::string(1000, '\0'))) ==
        q + "short.npy' is truncated: the header promises 1228800 float32 values (4915200 bytes), 1000 bytes follow");
  CHECK(err_file("cut_header.npy",
                 make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "").substr(0, 40)) ==
        q + "cut_header.npy' is truncated (incomplete .npy header)");
  CHECK(err_file("v9.npy", std::string("\x93NUMPY\x09\x00\x10\x00", 10) + std::string(16, ' ')) ==
        q + "v9.npy' has unsupported .npy format version 9.0");
  CHECK(err_file("garbage.npy",
                 make_npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", std::string(8, '\0'))) ==
        q + "garbage.npy' has a malformed .npy header ('fortran_order' is not True or False)");
  CHECK(err_file("noshape.npy", make_npy("{'descr': '<f4', 'fortran_order': False}", std::string(8, '\0'))) ==
        q + "noshape.npy' has a malformed .npy header (missing 'descr', 'fortran_order' or 'shape')");
  CHECK(err_file("neg.npy",
                 make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", std::string(8, '\0'))) ==
        q + "neg.npy' has a malformed .npy header (a dimension is not a non-negative integer)");

  // Hostile shapes: huge products (overflowing or not) are rejected before any allocation.
  CHECK(err_file("huge.npy", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000), }",
                                      std::string(64, '\0'))) ==
        q + "huge.npy' is truncated: the header promises 1000000000000000 float32 values (4000000000000000 bytes), 64 "
            "bytes follow");
  CHECK(err_file("overflow.npy",
                 make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
                          "")) == q + "overflow.npy' is truncated: the header's shape (4294967296, 4294967296, "
                                      "4294967296) is larger than the 0 bytes that follow");
  CHECK(err_file("bigdim.npy",
                 make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "")) ==
        q + "bigdim.npy' has a malformed .npy header (a dimension is too large)");
  // A header length far beyond the file.
  CHECK(err_file("hlen.npy", std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12) + "{'descr'") ==
        q + "hlen.npy' has a malformed .npy header (header length 2147483647)");

  // Writing into a directory that does not exist.
  const float one = 1.f;
  CHECK(error_of([&] { fx::write_npy("/nonexistent_dir_fx/a.npy", {1}, &one); }) ==
        "cannot write '/nonexistent_dir_fx/a.npy': No such file or directory");
}

TEST_CASE("npy memory reader survives random corruption", "[npy][fuzz]") {
  std::vector<float> v(24);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  const std::vector<uint8_t> good = fx::encode_npy({2, 3, 4}, v.data());
  std::mt19937 rng(1234);
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> b = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % b.size();
      switch (rng() % 4) {
        case 0: b[at] = static_cast<uint8_t>(rng()); break;
        case 1: b.resize(at); break;
        case 2: b[at] = static_cast<uint8_t>("0123456789(),' {}:LTF"[rng() % 21]); break;
        default: b.insert(b.begin() + static_cast<long>(at), static_cast<uint8_t>(rng())); break;
      }
      if (b.empty()) break;
    }
    try {
      const fx::NpyArray a = fx::read_npy_memory(b.data(), b.size(), "fuzz");
      REQUIRE(static_cast<size_t>(a.size()) == a.data.size());
      REQUIRE(a.data.size() * 4 <= b.size());
      ++parsed;
    } catch (const fx::Error&) {
      ++rejected;
    }
  }
  CHECK(parsed > 0);
  CHECK(rejected > 0);
}
