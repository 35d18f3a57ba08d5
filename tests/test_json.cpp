// JSON writer / reader (runtime/util/json.h) and the detection record.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "runtime/error.h"
#include "runtime/post/detections.h"
#include "runtime/post/masks.h"
#include "runtime/util/json.h"

using namespace fx;

namespace {

std::string write_string(const std::string& s) {
  JsonWriter w;
  w.value(s);
  return w.take();
}

std::string write_number(double v) {
  JsonWriter w;
  w.value(v);
  return w.take();
}

// The message of the fx::Error that parsing `text` throws ("" if it parses).
std::string parse_error(const std::string& text) {
  try {
    JsonValue::parse(text);
  } catch (const fx::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("json writer: string escaping", "[json]") {
  CHECK(write_string("plain") == "\"plain\"");
  CHECK(write_string("a\"b\\c/d") == "\"a\\\"b\\\\c/d\"");
  CHECK(write_string("\n\r\t\b\f") == "\"\\n\\r\\t\\b\\f\"");
  CHECK(write_string(std::string("\x01\x1f\x00z", 4)) == "\"\\u0001\\u001f\\u0000z\"");
  CHECK(write_string("\x7f") == "\"\x7f\"");
  // Valid UTF-8 passes through: 2-, 3- and 4-byte sequences.
  CHECK(write_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Invalid bytes become U+FFFD: a lone continuation byte, a truncated sequence, an overlong form, a surrogate.
  CHECK(write_string("a\x80z") == "\"a\\ufffdz\"");
  CHECK(write_string("\xc3") == "\"\\ufffd\"");
  CHECK(write_string("\xc0\xaf") == "\"\\ufffd\\ufffd\"");
  CHECK(write_string("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");
}

TEST_CASE("json writer: numbers", "[json]") {
  CHECK(write_number(0.1) == "0.1");
  CHECK(write_number(-2.5) == "-2.5");
  CHECK(write_number(3.0) == "3");
  CHECK(write_number(1e300) == "1e+300");
  CHECK(write_number(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(write_number(std::numeric_limits<double>::infinity()) == "null");
  CHECK(write_number(-std::numeric_limits<double>::infinity()) == "null");
  JsonWriter w;
  w.begin_array()
      .value(0)
      .value(-7)
      .value(std::numeric_limits<long long>::min())
      .value(std::numeric_limits<unsigned long long>::max())
      .value(true)
      .value(false)
      .null()
      .value(0.25f)
      .end_array();
  CHECK(w.str() == "[0,-7,-9223372036854775808,18446744073709551615,true,false,null,0.25]");
  // Shortest round trip for arbitrary doubles.
  std::mt19937_64 rng(1);
  for (int i = 0; i < 2000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, 8);
    if (!std::isfinite(d)) continue;
    const std::string s = write_number(d);
    const JsonValue v = JsonValue::parse(s);
    REQUIRE(v.as_double() == d);
  }
}

TEST_CASE("json writer: structure, no trailing commas, misuse rejected", "[json]") {
  JsonWriter w;
  w.begin_object();
  w.key("a").begin_array().value(1).value(2).begin_object().key("b").null().end_object().end_array();
  w.field("c", true);
  w.key("d").begin_object().end_object();
  w.key("e").begin_array().end_array();
  w.field("f", "x");
  w.end_object();
  CHECK(w.complete());
  CHECK(w.str() == R"({"a":[1,2,{"b":null}],"c":true,"d":{},"e":[],"f":"x"})");
  CHECK_THROWS_AS(w.value(1), fx::Error);  // second top-level value
  CHECK(w.take() == R"({"a":[1,2,{"b":null}],"c":true,"d":{},"e":[],"f":"x"})");
  CHECK(w.str().empty());
  w.value(5);  // after take(), a new document
  CHECK(w.str() == "5");

  JsonWriter m;
  m.begin_object();
  CHECK_THROWS_AS(m.value(1), fx::Error);  // value without key
  CHECK_THROWS_AS(m.end_array(), fx::Error);
  m.key("k");
  CHECK_THROWS_AS(m.key("k2"), fx::Error);
  CHECK_THROWS_AS(m.end_object(), fx::Error);  // key without value
  m.value(1).end_object();
  CHECK(m.str() == R"({"k":1})");
  JsonWriter a;
  a.begin_array();
  CHECK_THROWS_AS(a.key("x"), fx::Error);
  CHECK_THROWS_AS(a.end_object(), fx::Error);
  CHECK_FALSE(a.complete());
}

TEST_CASE("json reader: values, escapes and accessors", "[json]") {
  const JsonValue v = JsonValue::parse(
      " { \"n\" : -12 , \"d\": 2.5e-3, \"s\": \"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\", "
      "\"arr\": [true, false, null, [], {}], \"big\": 123456789012345678901234567890 }\n");
  REQUIRE(v.is_object());
  CHECK(v.size() == 5);
  CHECK(v.at("n").is_integer());
  CHECK(v.at("n").as_int() == -12);
  CHECK(v.at("d").as_double() == 2.5e-3);
  CHECK(v.at("s").as_string() == "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
  const JsonValue& arr = v.at("arr");
  REQUIRE(arr.size() == 5);
  CHECK(arr[0].as_bool());
  CHECK_FALSE(arr[1].as_bool());
  CHECK(arr[2].is_null());
  CHECK(arr[3].is_array());
  CHECK(arr[4].is_object());
  CHECK_FALSE(v.at("big").is_integer());  // beyond int64: a double
  CHECK(v.at("big").as_double() == Approx(1.2345678901234568e29));
  CHECK(v.find("missing") == nullptr);
  CHECK_THROWS_AS(v.at("missing"), fx::Error);
  CHECK_THROWS_AS(v.at("s").as_int(), fx::Error);
  CHECK_THROWS_AS(v.at("d").as_int(), fx::Error);
  CHECK(JsonValue::parse("2.0").as_int() == 2);
  CHECK_THROWS_AS(arr[7], fx::Error);
  CHECK(v.keys() == std::vector<std::string>{"n", "d", "s", "arr", "big"});
  CHECK(JsonValue::parse("-0").as_double() == 0.0);
  CHECK(JsonValue::parse("1e-400").as_double() == 0.0);  // underflow reads as 0
}

namespace {

JsonValue random_value(std::mt19937& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth >= 5 ? 4 : 6);
  switch (kind(rng)) {
    case 0: return JsonValue();
    case 1: return JsonValue::boolean(rng() & 1);
    case 2: return JsonValue::integer((int64_t)(((uint64_t)rng() << 32) | rng()) >> (rng() % 64));
    case 3: {
      std::uniform_real_distribution<double> u(-1, 1);
      return JsonValue::number(u(rng) * std::pow(10.0, (int)(rng() % 40) - 20));
    }
    case 4: {
      static const char* pieces[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f", "\xc3\xa9",
                                     "\xe2\x82\xac", "\xf0\x9f\x98\x80", "{", "]", ",", ":", "null"};
      std::string s;
      const int n = rng() % 12;
      for (int i = 0; i < n; ++i) s += pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
      return JsonValue::string(s);
    }
    case 5: {
      JsonValue a = JsonValue::array();
      const int n = rng() % 5;
      for (int i = 0; i < n; ++i) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      JsonValue o = JsonValue::object();
      const int n = rng() % 5;
      for (int i = 0; i < n; ++i)
        o.set("k" + std::to_string(rng() % 10) + (i % 2 ? "\xc3\xa9" : ""), random_value(rng, depth + 1));
      return o;
    }
  }
}

}  // namespace

TEST_CASE("json: parse(write(x)) == x on random documents", "[json]") {
  std::mt19937 rng(2024);
  for (int i = 0; i < 500; ++i) {
    const JsonValue x = random_value(rng, 0);
    const std::string text = x.dump();
    INFO(text);
    const JsonValue y = JsonValue::parse(text);
    REQUIRE(y == x);
    REQUIRE(y.dump() == text);
  }
  // Equality is structural: member order does not matter, numbers compare by value.
  CHECK(JsonValue::parse(R"({"a":1,"b":[2.0]})") == JsonValue::parse(R"({"b":[2],"a":1.0})"));
  CHECK(JsonValue::parse(R"({"a":1})") != JsonValue::parse(R"({"a":2})"));
  CHECK(JsonValue::parse(R"([1,2])") != JsonValue::parse(R"([2,1])"));
}

TEST_CASE("json reader: malformed input is rejected with a clear one-line message", "[json]") {
  struct Bad {
    std::string text, expect;
  };
  const std::vector<Bad> cases{
      {"", "unexpected end of input"},
      {"   ", "unexpected end of input"},
      {"\"abc", "unterminated string"},
      {"[\"abc", "unterminated string"},
      {"\"ab\\", "unterminated string"},
      {"[1,2,]", "trailing comma in array"},
      {"{\"a\":1,}", "trailing comma in object"},
      {"[1 2]", "expected ',' or ']'"},
      {"{\"a\" 1}", "expected ':'"},
      {"{1:2}", "expected a string key"},
      {"{\"a\":1", "unterminated object"},
      {"[1,", "unexpected end of input"},
      {"[", "unexpected end of input"},
      {"01", "leading zero"},
      {"-", "invalid number"},
      {"1.", "no digits after '.'"},
      {".5", "unexpected character"},
      {"1e", "no digits in exponent"},
      {"+1", "unexpected character"},
      {"1e999", "out of range"},
      {"NaN", "unexpected character"},
      {"Infinity", "unexpected character"},
      {"tru", "unexpected character"},
      {"nul", "unexpected character"},
      {"\"\\x\"", "invalid escape"},
      {"\"\\u12zz\"", "invalid hex digit"},
      {"\"\\u12", "truncated \\u escape"},
      {"\"\\ud800\"", "unpaired surrogate"},
      {"\"\\udc00\"", "unpaired surrogate"},
      {"\"\\ud800\\u0041\"", "unpaired surrogate"},
      {std::string("\"a\x01\""), "unescaped control character"},
      {"\"a\nb\"", "unescaped control character"},
      {"\"\xc3\x28\"", "invalid UTF-8"},
      {"\"\xff\"", "invalid UTF-8"},
      {"1 2", "unexpected data after the value"},
      {"{} x", "unexpected data after the value"},
      {"[1]]", "unexpected data after the value"},
  };
  for (const Bad& b : cases) {
    INFO("input: " << b.text);
    const std::string msg = parse_error(b.text);
    CHECK(msg.rfind("json: ", 0) == 0);
    CHECK(msg.find(b.expect) != std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.find("line ") != std::string::npos);
  }
  CHECK(parse_error("{\n  \"a\": [1,\n  2,]\n}").find("line 3, column 5") != std::string::npos);
}

TEST_CASE("json reader: nesting depth is limited", "[json]") {
  auto nested = [](int n) { return std::string(n, '[') + std::string(n, ']'); };
  CHECK_NOTHROW(JsonValue::parse(nested(64)));
  CHECK(parse_error(nested(65)).find("nesting deeper than 64") != std::string::npos);
  CHECK(parse_error(nested(1000)).find("nesting deeper than 64") != std::string::npos);
  CHECK(parse_error(std::string(1000000, '[')).find("nesting deeper than 64") != std::string::npos);
  std::string objs;
  for (int i = 0; i < 1000; ++i) objs += "{\"a\":";
  CHECK(parse_error(objs).find("nesting deeper than 64") != std::string::npos);
  CHECK_NOTHROW(JsonValue::parse(nested(10), 10));
  CHECK_THROWS_AS(JsonValue::parse(nested(11), 10), fx::Error);
}

TEST_CASE("json reader: random corruption never crashes", "[json]") {
  std::mt19937 rng(77);
  const std::string alphabet = "{}[],:\"\\0123456789.eE+-truefalsn \x01\x80\xc3\xa9u";
  int parsed = 0, rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = random_value(rng, 0).dump();
    const int edits = 1 + rng() % 4;
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(pos, 1); break;
        default: text.insert(pos, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    try {
      const JsonValue v = JsonValue::parse(text);
      (void)v.dump();
      ++parsed;
    } catch (const fx::Error&) {
      ++rejected;
    }
  }
  CHECK(rejected > 1000);
  CHECK(parsed > 50);
}

TEST_CASE("json: detection records", "[json]") {
  Detection d;
  d.cls = 0;
  d.score = 0.87312f;
  d.box[0] = 10.123f;
  d.box[1] = 20.456f;
  d.box[2] = 30.789f;
  d.box[3] = 40.001f;
  JsonWriter w;
  write_detection_json(w, d, "person", nullptr);
  CHECK(w.take() == R"({"cls":0,"name":"person","score":0.8731,"box":[10.12,20.46,30.79,40]})");

  Mask m;
  m.width = 3;
  m.height = 2;
  m.data = {0, 1, 1, 0, 1, 0};
  d.cls = 7;
  d.score = 1.0f;
  d.box[0] = -0.001f;  // rounds to -0, written as 0
  d.box[1] = 1279.996f;
  write_detection_json(w, d, "tr\"uck", &m);
  const std::string line = w.take();
  CHECK(line ==
        R"({"cls":7,"name":"tr\"uck","score":1,"box":[0,1280,30.79,40],"mask":{"size":[2,3],"counts":[2,3,1]}})");
  const JsonValue v = JsonValue::parse(line);
  CHECK(v.at("name").as_string() == "tr\"uck");
  CHECK(v.at("mask").at("size")[0].as_int() == 2);
  CHECK(v.at("mask").at("counts").size() == 3);
  CHECK(v.at("box")[2].as_double() == 30.79);
}
