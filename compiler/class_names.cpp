#include "compiler/class_names.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "runtime/error.h"

namespace fx {

namespace {

struct Scanner {
  const std::string& s;
  size_t i = 0;

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("the model's class names (metadata 'names') are malformed: " + what + " at character " +
                std::to_string(i + 1));
  }
  void skip_space() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool take(char c) {
    skip_space();
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  }
  void expect(char c, const char* what) {
    if (!take(c)) fail(std::string("expected ") + what);
  }

  int index() {
    skip_space();
    size_t start = i;
    int64_t v = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (v <= kMaxClassIndex) v = v * 10 + (s[i] - '0');
      ++i;
    }
    if (i == start) fail("expected a class index");
    if (v > kMaxClassIndex) {
      std::string digits = i - start > 20 ? s.substr(start, 20) + "..." : s.substr(start, i - start);
      i = start;
      fail("class index " + digits + " out of range (0 to " + std::to_string(kMaxClassIndex) + ")");
    }
    return static_cast<int>(v);
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // A quoted string with Python's escapes (\\ \' \" \n \t \r \xHH \uHHHH \UHHHHHHHH).
  std::string quoted() {
    skip_space();
    if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) fail("expected a quoted class name");
    const char q = s[i++];
    std::string out;
    for (;;) {
      if (i >= s.size()) fail("unterminated class name");
      char c = s[i++];
      if (c == q) return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) fail("unterminated class name");
      char e = s[i++];
      int hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
      if (hex) {
        uint32_t cp = 0;
        for (int k = 0; k < hex; ++k, ++i) {
          if (i >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i]))) fail("invalid escape in a class name");
          cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(s[i]))
                                                   ? s[i] - '0'
                                                   : std::tolower(static_cast<unsigned char>(s[i])) - 'a' + 10);
        }
        if (cp > 0x10FFFF) fail("invalid escape in a class name");
        put_utf8(out, cp);
        continue;
      }
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '\\':
        case '\'':
        case '"':
          out += e;
          break;
        default:
          fail(std::string("unknown escape '\\") + e + "' in a class name");
      }
    }
  }
};

}  // namespace

std::vector<std::string> parse_class_names(const std::string& literal) {
  std::vector<std::string> names;
  std::vector<bool> given;
  Scanner sc{literal};
  sc.skip_space();
  if (sc.i == literal.size()) return names;
  sc.expect('{', "'{'");
  while (!sc.take('}')) {
    int idx = sc.index();
    sc.expect(':', "':' after a class index");
    std::string name = sc.quoted();
    size_t k = static_cast<size_t>(idx);
    if (k >= names.size()) names.resize(k + 1), given.resize(k + 1);
    if (given[k]) sc.fail("class index " + std::to_string(idx) + " given twice");
    names[k] = std::move(name);
    given[k] = true;
    if (sc.take(',')) continue;  // Python allows a trailing comma
    sc.expect('}', "',' or '}'");
    break;
  }
  sc.skip_space();
  if (sc.i != literal.size()) sc.fail("unexpected text after '}'");
  return names;
}

}  // namespace fx
