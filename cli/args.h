// Command-line parsing for the `fluxshard` subcommands: each command declares its options up front;
// anything else (an unknown flag, a missing value, a number out of range, a missing positional) is a
// one-line fx::Error naming the command, which main() prints before exiting with status 2.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "runtime/error.h"

namespace fx::cli {

// A wrong command line (as opposed to bad input data): main() exits with status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

struct OptionSpec {
  std::string name;       // "--threads"
  bool takes_value;       // false: a boolean switch
  std::string help;
  bool multi = false;  // takes every following argument up to the next option ("--input a.mp4 b.mp4")
};

class Args {
 public:
  Args(std::string command, std::vector<OptionSpec> spec, const std::vector<std::string>& argv);

  const std::string& command() const { return command_; }
  // The i-th positional argument, which must exist (its meaning names it in the error).
  const std::string& positional(size_t i, const char* meaning) const;
  size_t positional_count() const { return positionals_.size(); }
  // Requires at most `n` positionals.
  void max_positionals(size_t n) const;

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& dflt = "") const;
  // Every value of a multi option (one for an ordinary one; empty when absent).
  std::vector<std::string> get_list(const std::string& name) const;
  int get_int(const std::string& name, int dflt, int lo, int hi) const;
  double get_double(const std::string& name, double dflt, double lo, double hi) const;
  // One of `choices` (error lists them).
  std::string get_choice(const std::string& name, const std::string& dflt,
                         const std::vector<std::string>& choices) const;

  std::string usage() const;

 private:
  std::string command_;
  std::vector<OptionSpec> spec_;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::vector<std::string>> lists_;
  std::vector<std::string> positionals_;
};

}  // namespace fx::cli
