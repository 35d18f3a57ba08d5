// Shared-secret authentication of edges: `--token-file F` on both sides. The server compares the token
// an edge presents in its Hello in constant time (the time depends on the lengths only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fx::net {

// The file's contents without trailing whitespace / newlines. Throws fx::Error when it cannot be read,
// is empty, or is longer than 4096 bytes.
std::string read_token_file(const std::string& path);

bool token_equal(const std::vector<uint8_t>& given, const std::string& expected);

}  // namespace fx::net
