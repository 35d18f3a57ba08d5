// JSON: a streaming writer for JSON-lines output and a small, strict reader for tools and tests.
//
// Writer: begin_object / key / value ... / end_object, no whitespace, no trailing commas (misuse throws
// fx::Error: a value without a key inside an object, a key outside one, unbalanced ends, a second top-level
// value). Strings are escaped per RFC 8259 ("\"", "\\", control characters as \n, \t, ... or \u00XX); valid
// UTF-8 passes through unchanged, an invalid byte is written as \ufffd so the output is always valid JSON.
// Doubles are written in the shortest form that reads back to the same double (std::to_chars, locale
// independent); NaN and infinities are written as null.
//
// Reader: JsonValue::parse accepts exactly RFC 8259 JSON (one value, surrounding whitespace allowed) and
// throws fx::Error("json: <what> at line L, column C") on anything else: unterminated strings, trailing
// commas, invalid escapes, lone surrogates, invalid UTF-8, control characters in strings, leading zeros,
// numbers out of double range, trailing garbage, and nesting deeper than max_depth (default 64; the parser
// never recurses deeper than that).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fx {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(int v) { return value(static_cast<long long>(v)); }
  JsonWriter& value(long v) { return value(static_cast<long long>(v)); }
  JsonWriter& value(long long v);
  JsonWriter& value(unsigned v) { return value(static_cast<unsigned long long>(v)); }
  JsonWriter& value(unsigned long v) { return value(static_cast<unsigned long long>(v)); }
  JsonWriter& value(unsigned long long v);
  JsonWriter& value(float v) { return value(static_cast<double>(v)); }
  JsonWriter& value(double v);
  JsonWriter& null();

  // Shorthand for key(k).value(v).
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

  const std::string& str() const { return out_; }
  bool complete() const { return root_done_ && stack_.empty(); }
  // Returns the text written so far and resets the writer for the next document (JSON lines).
  std::string take();
  void clear();

 private:
  void before_value();
  void after_value();
  std::string out_;
  std::vector<char> stack_;  // 'o' object, 'a' array
  std::vector<bool> first_;  // per level: nothing written yet
  bool have_key_ = false;    // in an object: a key was written, its value is due
  bool root_done_ = false;
};

// Appends s as a JSON string literal (with quotes) to out.
void json_escape(std::string& out, std::string_view s);
// Appends the shortest round-trip text of v ("null" for NaN / infinities).
void json_number(std::string& out, double v);

class JsonValue {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  JsonValue() = default;  // null
  static JsonValue boolean(bool b);
  static JsonValue number(double v);
  static JsonValue integer(int64_t v);
  static JsonValue string(std::string s);
  static JsonValue array();
  static JsonValue object();

  static JsonValue parse(std::string_view text, int max_depth = 64);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_integer() const { return type_ == Type::Number && is_int_; }  // integer literal within int64
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Typed access; throws fx::Error on a type mismatch (as_int also when the number is not an integer).
  bool as_bool() const;
  double as_double() const;
  int64_t as_int() const;
  const std::string& as_string() const;

  // Arrays and objects: number of elements / members.
  size_t size() const;
  const JsonValue& operator[](size_t i) const;  // array element, throws when out of range
  const JsonValue* find(std::string_view key) const;  // object member (the first with that key) or null
  const JsonValue& at(std::string_view key) const;    // object member, throws when missing
  const std::vector<std::string>& keys() const;       // object keys in document order
  const std::vector<JsonValue>& items() const;        // array elements / object values in order

  // Building (for tests and tools).
  JsonValue& push_back(JsonValue v);                  // array
  JsonValue& set(std::string key, JsonValue v);       // object: replaces an existing member

  // Structural equality: numbers by value (integer 2 == 2.0), objects regardless of member order.
  bool operator==(const JsonValue& o) const;
  bool operator!=(const JsonValue& o) const { return !(*this == o); }

  void write(JsonWriter& w) const;
  std::string dump() const;

 private:
  Type type_ = Type::Null;
  bool b_ = false;
  bool is_int_ = false;
  double num_ = 0.0;
  int64_t int_ = 0;
  std::string str_;
  std::vector<std::string> keys_;  // objects
  std::vector<JsonValue> items_;   // arrays, and object values parallel to keys_
  friend class JsonParser;
};

struct Detection;
struct Mask;

// {"cls":0,"name":"person","score":0.873,"box":[x1,y1,x2,y2]} with box coordinates rounded to 0.01 and the
// score to 1e-4; with a mask, also "mask":{"size":[h,w],"counts":[...]} (COCO uncompressed RLE, column-major,
// see runtime/post/rle.h).
void write_detection_json(JsonWriter& w, const Detection& d, const std::string& class_name, const Mask* mask);

}  // namespace fx
