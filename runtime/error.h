// The one exception type of the C++ layers. Its message is a single line meant for the user
// ("cannot open video 'x.mp4': No such file or directory"); the CLI prints it and exits non-zero, the C
// API turns it into a status code. Exceptions never cross the C boundary.
#pragma once

#include <stdexcept>
#include <string>

namespace fx {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace fx
