// The `names` metadata of Ultralytics exports (compiler/class_names.h): Python dict literals as repr()
// writes them, and one clear error for anything else.
#include <catch2/catch.hpp>

#include "compiler/class_names.h"
#include "runtime/error.h"

using fx::parse_class_names;

namespace {
std::string prefix = "the model's class names (metadata 'names') are malformed: ";
}

TEST_CASE("class names: what Ultralytics writes", "[compiler][names]") {
  CHECK(parse_class_names("").empty());
  CHECK(parse_class_names("  {}  ").empty());
  CHECK(parse_class_names("{0: 'person', 1: 'bicycle', 2: 'car'}") ==
        std::vector<std::string>{"person", "bicycle", "car"});
  // repr() switches to double quotes for a name with an apostrophe; escapes; gaps; a trailing comma.
  CHECK(parse_class_names("{0: \"people's\", 2: 'a\\'b\\\\c', 3: 'tab\\there',}") ==
        std::vector<std::string>{"people's", "", "a'b\\c", "tab\there"});
  // Non-ASCII names come as UTF-8, or as \x / \u escapes for non-printables.
  CHECK(parse_class_names("{0: 'caf\xc3\xa9', 1: '\\xe9\\u20ac\\U0001F600'}") ==
        std::vector<std::string>{"caf\xc3\xa9", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"});
  CHECK(parse_class_names("{99999: 'last'}").size() == 100000);
}

TEST_CASE("class names: a very long name is fine (no recursion per character)", "[compiler][names]") {
  std::string name(300000, 'x');
  auto names = parse_class_names("{0: '" + name + "', 1: 'y'}");
  REQUIRE(names.size() == 2);
  CHECK(names[0] == name);
}

TEST_CASE("class names: malformed literals name the problem and the place", "[compiler][names]") {
  CHECK_THROWS_WITH(parse_class_names("{99999999999: 'x'}"),
                    prefix + "class index 99999999999 out of range (0 to 99999) at character 2");
  CHECK_THROWS_WITH(parse_class_names("{100000: 'x'}"),
                    prefix + "class index 100000 out of range (0 to 99999) at character 2");
  CHECK_THROWS_WITH(parse_class_names("{" + std::string(40, '9') + ": 'x'}"),
                    prefix + "class index 99999999999999999999... out of range (0 to 99999) at character 2");
  CHECK_THROWS_WITH(parse_class_names("{0: 'a', 0: 'b'}"), prefix + "class index 0 given twice at character 16");
  CHECK_THROWS_WITH(parse_class_names("['a', 'b']"), prefix + "expected '{' at character 1");
  CHECK_THROWS_WITH(parse_class_names("{0 'a'}"), prefix + "expected ':' after a class index at character 4");
  CHECK_THROWS_WITH(parse_class_names("{-1: 'a'}"), prefix + "expected a class index at character 2");
  CHECK_THROWS_WITH(parse_class_names("{0: person}"), prefix + "expected a quoted class name at character 5");
  CHECK_THROWS_WITH(parse_class_names("{0: 'person"), prefix + "unterminated class name at character 12");
  CHECK_THROWS_WITH(parse_class_names("{0: 'a' 1: 'b'}"), prefix + "expected ',' or '}' at character 9");
  CHECK_THROWS_WITH(parse_class_names("{0: 'a'} x"), prefix + "unexpected text after '}' at character 10");
  CHECK_THROWS_WITH(parse_class_names("{0: 'a\\q'}"), prefix + "unknown escape '\\q' in a class name at character 9");
  CHECK_THROWS_WITH(parse_class_names("{0: '\\xZZ'}"), prefix + "invalid escape in a class name at character 8");
}
