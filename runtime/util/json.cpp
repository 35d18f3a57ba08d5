#include "runtime/util/json.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "runtime/error.h"
#include "runtime/post/detections.h"
#include "runtime/post/masks.h"
#include "runtime/post/rle.h"

namespace fx {

// ------------------------------------------------------------------------------------------------
// Writer

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not one (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
size_t utf8_seq_len(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

void json_escape(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_seq_len(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
}

void json_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

void JsonWriter::before_value() {
  if (stack_.empty()) {
    if (root_done_) throw Error("json writer: a document is already complete (take() or clear() it first)");
    return;
  }
  if (stack_.back() == 'o') {
    if (!have_key_) throw Error("json writer: value inside an object without a key");
    have_key_ = false;
    return;
  }
  if (!first_.back()) out_.push_back(',');
  first_.back() = false;
}

void JsonWriter::after_value() {
  if (stack_.empty()) root_done_ = true;
}

JsonWriter& JsonWriter::begin_object() {
  before_value();
  out_.push_back('{');
  stack_.push_back('o');
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_object() {
  if (stack_.empty() || stack_.back() != 'o') throw Error("json writer: end_object without a matching begin_object");
  if (have_key_) throw Error("json writer: end_object after a key without a value");
  out_.push_back('}');
  stack_.pop_back();
  first_.pop_back();
  after_value();
  return *this;
}

JsonWriter& JsonWriter::begin_array() {
  before_value();
  out_.push_back('[');
  stack_.push_back('a');
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  if (stack_.empty() || stack_.back() != 'a') throw Error("json writer: end_array without a matching begin_array");
  out_.push_back(']');
  stack_.pop_back();
  first_.pop_back();
  after_value();
  return *this;
}

JsonWriter& JsonWriter::key(std::string_view k) {
  if (stack_.empty() || stack_.back() != 'o') throw Error("json writer: key outside an object");
  if (have_key_) throw Error("json writer: two keys in a row");
  if (!first_.back()) out_.push_back(',');
  first_.back() = false;
  json_escape(out_, k);
  out_.push_back(':');
  have_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::value(std::string_view s) {
  before_value();
  json_escape(out_, s);
  after_value();
  return *this;
}

JsonWriter& JsonWriter::value(bool b) {
  before_value();
  out_ += b ? "true" : "false";
  after_value();
  return *this;
}

JsonWriter& JsonWriter::value(long long v) {
  before_value();
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, r.ptr);
  after_value();
  return *this;
}

JsonWriter& JsonWriter::value(unsigned long long v) {
  before_value();
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out_.append(buf, r.ptr);
  after_value();
  return *this;
}

JsonWriter& JsonWriter::value(double v) {
  before_value();
  json_number(out_, v);
  after_value();
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  out_ += "null";
  after_value();
  return *this;
}

std::string JsonWriter::take() {
  std::string s = std::move(out_);
  clear();
  return s;
}

void JsonWriter::clear() {
  out_.clear();
  stack_.clear();
  first_.clear();
  have_key_ = false;
  root_done_ = false;
}

// ------------------------------------------------------------------------------------------------
// Values

JsonValue JsonValue::boolean(bool b) {
  JsonValue v;
  v.type_ = Type::Bool;
  v.b_ = b;
  return v;
}

JsonValue JsonValue::number(double d) {
  JsonValue v;
  v.type_ = Type::Number;
  v.num_ = d;
  return v;
}

JsonValue JsonValue::integer(int64_t i) {
  JsonValue v;
  v.type_ = Type::Number;
  v.is_int_ = true;
  v.int_ = i;
  v.num_ = static_cast<double>(i);
  return v;
}

JsonValue JsonValue::string(std::string s) {
  JsonValue v;
  v.type_ = Type::String;
  v.str_ = std::move(s);
  return v;
}

JsonValue JsonValue::array() {
  JsonValue v;
  v.type_ = Type::Array;
  return v;
}

JsonValue JsonValue::object() {
  JsonValue v;
  v.type_ = Type::Object;
  return v;
}

static const char* type_name(JsonValue::Type t) {
  switch (t) {
    case JsonValue::Type::Null: return "null";
    case JsonValue::Type::Bool: return "a boolean";
    case JsonValue::Type::Number: return "a number";
    case JsonValue::Type::String: return "a string";
    case JsonValue::Type::Array: return "an array";
    case JsonValue::Type::Object: return "an object";
  }
  return "?";
}

static void expect_type(const JsonValue& v, JsonValue::Type t) {
  if (v.type() != t)
    throw Error(std::string("json: expected ") + type_name(t) + ", found " + type_name(v.type()));
}

bool JsonValue::as_bool() const {
  expect_type(*this, Type::Bool);
  return b_;
}

double JsonValue::as_double() const {
  expect_type(*this, Type::Number);
  return num_;
}

int64_t JsonValue::as_int() const {
  expect_type(*this, Type::Number);
  if (is_int_) return int_;
  // A non-integer literal (2.0, 1e3) that holds an exact int64 value is accepted.
  if (std::nearbyint(num_) == num_ && num_ >= -9223372036854775808.0 && num_ < 9223372036854775808.0)
    return static_cast<int64_t>(num_);
  throw Error("json: expected an integer, found " + dump());
}

const std::string& JsonValue::as_string() const {
  expect_type(*this, Type::String);
  return str_;
}

size_t JsonValue::size() const {
  if (type_ != Type::Array && type_ != Type::Object)
    throw Error(std::string("json: expected an array or object, found ") + type_name(type_));
  return items_.size();
}

const JsonValue& JsonValue::operator[](size_t i) const {
  expect_type(*this, Type::Array);
  if (i >= items_.size())
    throw Error("json: index " + std::to_string(i) + " out of range (array of " + std::to_string(items_.size()) + ")");
  return items_[i];
}

const JsonValue* JsonValue::find(std::string_view key) const {
  expect_type(*this, Type::Object);
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i] == key) return &items_[i];
  return nullptr;
}

const JsonValue& JsonValue::at(std::string_view key) const {
  const JsonValue* v = find(key);
  if (!v) throw Error("json: missing key \"" + std::string(key) + "\"");
  return *v;
}

const std::vector<std::string>& JsonValue::keys() const {
  expect_type(*this, Type::Object);
  return keys_;
}

const std::vector<JsonValue>& JsonValue::items() const {
  if (type_ != Type::Array && type_ != Type::Object)
    throw Error(std::string("json: expected an array or object, found ") + type_name(type_));
  return items_;
}

JsonValue& JsonValue::push_back(JsonValue v) {
  expect_type(*this, Type::Array);
  items_.push_back(std::move(v));
  return items_.back();
}

JsonValue& JsonValue::set(std::string key, JsonValue v) {
  expect_type(*this, Type::Object);
  for (size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i] == key) return items_[i] = std::move(v);
  keys_.push_back(std::move(key));
  items_.push_back(std::move(v));
  return items_.back();
}

bool JsonValue::operator==(const JsonValue& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::Null: return true;
    case Type::Bool: return b_ == o.b_;
    case Type::Number:
      if (is_int_ && o.is_int_) return int_ == o.int_;
      return num_ == o.num_;
    case Type::String: return str_ == o.str_;
    case Type::Array: return items_ == o.items_;
    case Type::Object: {
      if (keys_.size() != o.keys_.size()) return false;
      for (size_t i = 0; i < keys_.size(); ++i) {
        const JsonValue* other = o.find(keys_[i]);
        if (!other || !(*other == items_[i])) return false;
      }
      return true;
    }
  }
  return false;
}

void JsonValue::write(JsonWriter& w) const {
  switch (type_) {
    case Type::Null: w.null(); break;
    case Type::Bool: w.value(b_); break;
    case Type::Number:
      if (is_int_)
        w.value(static_cast<long long>(int_));
      else
        w.value(num_);
      break;
    case Type::String: w.value(str_); break;
    case Type::Array:
      w.begin_array();
      for (const JsonValue& v : items_) v.write(w);
      w.end_array();
      break;
    case Type::Object:
      w.begin_object();
      for (size_t i = 0; i < keys_.size(); ++i) {
        w.key(keys_[i]);
        items_[i].write(w);
      }
      w.end_object();
      break;
  }
}

std::string JsonValue::dump() const {
  JsonWriter w;
  write(w);
  return w.take();
}

// ------------------------------------------------------------------------------------------------
// Reader

class JsonParser {
 public:
  JsonParser(std::string_view text, int max_depth) : s_(text), max_depth_(max_depth) {}

  JsonValue parse_document() {
    skip_ws();
    JsonValue v = parse_value(0);
    skip_ws();
    if (p_ < s_.size()) fail("unexpected data after the value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { fail_at(what, p_); }

  [[noreturn]] void fail_at(const std::string& what, size_t pos) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    throw Error("json: " + what + " at line " + std::to_string(line) + ", column " + std::to_string(col));
  }

  void skip_ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }

  bool literal(std::string_view word) {
    if (s_.substr(p_, word.size()) == word) {
      p_ += word.size();
      return true;
    }
    return false;
  }

  JsonValue parse_value(int depth) {
    if (p_ >= s_.size()) fail("unexpected end of input, expected a value");
    const char c = s_[p_];
    switch (c) {
      case '{': return parse_object(depth + 1);
      case '[': return parse_array(depth + 1);
      case '"': return JsonValue::string(parse_string());
      case 't':
        if (literal("true")) return JsonValue::boolean(true);
        break;
      case 'f':
        if (literal("false")) return JsonValue::boolean(false);
        break;
      case 'n':
        if (literal("null")) return JsonValue();
        break;
      default:
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    }
    fail("unexpected character '" + printable(c) + "', expected a value");
  }

  static std::string printable(char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) return std::string(1, c);
    static const char* hex = "0123456789abcdef";
    return std::string("\\x") + hex[u >> 4] + hex[u & 15];
  }

  void enter(int depth) {
    if (depth > max_depth_) fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
  }

  JsonValue parse_object(int depth) {
    enter(depth);
    ++p_;  // {
    JsonValue obj = JsonValue::object();
    skip_ws();
    if (p_ < s_.size() && s_[p_] == '}') {
      ++p_;
      return obj;
    }
    while (true) {
      skip_ws();
      if (p_ >= s_.size()) fail("unterminated object");
      if (s_[p_] != '"') fail(s_[p_] == '}' ? "trailing comma in object" : "expected a string key");
      std::string key = parse_string();
      skip_ws();
      if (p_ >= s_.size() || s_[p_] != ':') fail("expected ':' after an object key");
      ++p_;
      skip_ws();
      JsonValue v = parse_value(depth);
      obj.keys_.push_back(std::move(key));
      obj.items_.push_back(std::move(v));
      skip_ws();
      if (p_ >= s_.size()) fail("unterminated object");
      if (s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (s_[p_] == '}') {
        ++p_;
        return obj;
      }
      fail("expected ',' or '}' in object");
    }
  }

  JsonValue parse_array(int depth) {
    enter(depth);
    ++p_;  // [
    JsonValue arr = JsonValue::array();
    skip_ws();
    if (p_ < s_.size() && s_[p_] == ']') {
      ++p_;
      return arr;
    }
    while (true) {
      skip_ws();
      if (p_ < s_.size() && s_[p_] == ']') fail("trailing comma in array");
      arr.items_.push_back(parse_value(depth));
      skip_ws();
      if (p_ >= s_.size()) fail("unterminated array");
      if (s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (s_[p_] == ']') {
        ++p_;
        return arr;
      }
      fail("expected ',' or ']' in array");
    }
  }

  uint32_t hex4() {
    if (p_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[p_ + k];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        fail_at("invalid hex digit in \\u escape", p_ + k);
    }
    p_ += 4;
    return v;
  }

  std::string parse_string() {
    const size_t start = p_;
    ++p_;  // "
    std::string out;
    while (true) {
      if (p_ >= s_.size()) fail_at("unterminated string", start);
      const unsigned char c = static_cast<unsigned char>(s_[p_]);
      if (c == '"') {
        ++p_;
        return out;
      }
      if (c < 0x20) fail("unescaped control character in string");
      if (c == '\\') {
        if (p_ + 1 >= s_.size()) fail_at("unterminated string", start);
        const char e = s_[p_ + 1];
        p_ += 2;
        switch (e) {
          case '"': out.push_back('"'); break;
          case '\\': out.push_back('\\'); break;
          case '/': out.push_back('/'); break;
          case 'b': out.push_back('\b'); break;
          case 'f': out.push_back('\f'); break;
          case 'n': out.push_back('\n'); break;
          case 'r': out.push_back('\r'); break;
          case 't': out.push_back('\t'); break;
          case 'u': {
            const size_t esc = p_ - 2;
            uint32_t cp = hex4();
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (p_ + 2 > s_.size() || s_[p_] != '\\' || s_[p_ + 1] != 'u')
                fail_at("unpaired surrogate in \\u escape", esc);
              p_ += 2;
              const uint32_t lo = hex4();
              if (lo < 0xDC00 || lo > 0xDFFF) fail_at("unpaired surrogate in \\u escape", esc);
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
              fail_at("unpaired surrogate in \\u escape", esc);
            }
            append_utf8(out, cp);
            break;
          }
          default: fail_at("invalid escape '\\" + printable(e) + "'", p_ - 2);
        }
        continue;
      }
      if (c >= 0x80) {
        const size_t n = utf8_seq_len(s_, p_);
        if (n == 0) fail("invalid UTF-8 in string");
        out.append(s_.data() + p_, n);
        p_ += n;
        continue;
      }
      out.push_back(static_cast<char>(c));
      ++p_;
    }
  }

  JsonValue parse_number() {
    const size_t start = p_;
    auto digit = [&](size_t i) { return i < s_.size() && s_[i] >= '0' && s_[i] <= '9'; };
    size_t i = p_;
    if (s_[i] == '-') ++i;
    if (!digit(i)) fail_at("invalid number", start);
    if (s_[i] == '0') {
      ++i;
      if (digit(i)) fail_at("leading zero in number", start);
    } else {
      while (digit(i)) ++i;
    }
    bool integral = true;
    if (i < s_.size() && s_[i] == '.') {
      integral = false;
      ++i;
      if (!digit(i)) fail_at("invalid number (no digits after '.')", start);
      while (digit(i)) ++i;
    }
    if (i < s_.size() && (s_[i] == 'e' || s_[i] == 'E')) {
      integral = false;
      ++i;
      if (i < s_.size() && (s_[i] == '+' || s_[i] == '-')) ++i;
      if (!digit(i)) fail_at("invalid number (no digits in exponent)", start);
      while (digit(i)) ++i;
    }
    const char* b = s_.data() + start;
    const char* e = s_.data() + i;
    p_ = i;
    if (integral) {
      int64_t iv = 0;
      const auto r = std::from_chars(b, e, iv);
      if (r.ec == std::errc() && r.ptr == e) return JsonValue::integer(iv);
      // too large for int64: fall through to double
    }
    double d = 0.0;
    const auto r = std::from_chars(b, e, d);
    if (r.ec == std::errc::result_out_of_range) {
      // Underflow reads as zero; overflow is an error (it has no finite double).
      bool exp_negative = false;
      for (const char* q = b; q < e; ++q)
        if ((*q == 'e' || *q == 'E') && q + 1 < e && q[1] == '-') exp_negative = true;
      if (!exp_negative) fail_at("number out of range", start);
      return JsonValue::number(*b == '-' ? -0.0 : 0.0);
    }
    if (r.ec != std::errc() || r.ptr != e) fail_at("invalid number", start);
    return JsonValue::number(d);
  }

  std::string_view s_;
  size_t p_ = 0;
  int max_depth_;
};

JsonValue JsonValue::parse(std::string_view text, int max_depth) {
  return JsonParser(text, max_depth).parse_document();
}

// ------------------------------------------------------------------------------------------------

void write_detection_json(JsonWriter& w, const Detection& d, const std::string& class_name, const Mask* mask) {
  w.begin_object();
  w.key("cls").value(d.cls);
  w.key("name").value(class_name);
  // round(x * 100) / 100 is the double nearest to the rounded decimal, so it prints as e.g. 12.34.
  // (+ 0.0 turns a rounded -0 into 0.)
  w.key("score").value(std::round(static_cast<double>(d.score) * 1e4) / 1e4 + 0.0);
  w.key("box").begin_array();
  for (int k = 0; k < 4; ++k) w.value(std::round(static_cast<double>(d.box[k]) * 100.0) / 100.0 + 0.0);
  w.end_array();
  if (mask) {
    w.key("mask").begin_object();
    w.key("size").begin_array().value(mask->height).value(mask->width).end_array();
    w.key("counts").begin_array();
    for (uint32_t c : rle_encode(*mask)) w.value(static_cast<unsigned long long>(c));
    w.end_array();
    w.end_object();
  }
  w.end_object();
}

}  // namespace fx
