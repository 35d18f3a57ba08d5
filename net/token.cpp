#include "net/token.h"

#include <fstream>
#include <sstream>

#include "runtime/error.h"

namespace fx::net {

std::string read_token_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot read token file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  std::string t = ss.str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ' || t.back() == '\t')) t.pop_back();
  if (t.empty()) throw Error("token file '" + path + "' is empty");
  if (t.size() > 4096) throw Error("token file '" + path + "' holds more than 4096 bytes");
  return t;
}

bool token_equal(const std::vector<uint8_t>& given, const std::string& expected) {
  const size_t n = given.size() > expected.size() ? given.size() : expected.size();
  unsigned diff = given.size() != expected.size();
  for (size_t i = 0; i < n; ++i) {
    uint8_t a = i < given.size() ? given[i] : 0;
    uint8_t b = i < expected.size() ? static_cast<uint8_t>(expected[i]) : 0;
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0;
}

}  // namespace fx::net
