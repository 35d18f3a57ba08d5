// The class names of an Ultralytics export: its `names` metadata is a Python dict literal,
// {0: 'person', 1: 'bicycle', ..., 80: "people's"}, as Python's repr() writes it. A small hand-written
// scanner (no regex: std::regex recurses per character and overflowed the stack on a 30,000-character
// name); each problem is one line naming what is wrong and where.
#pragma once

#include <string>
#include <vector>

namespace fx {

constexpr int kMaxClassIndex = 99999;

// Names by index (indices not given are empty strings). Empty input: no names. Throws fx::Error on a
// malformed literal, an index out of 0..kMaxClassIndex or an index given twice.
std::vector<std::string> parse_class_names(const std::string& literal);

}  // namespace fx
