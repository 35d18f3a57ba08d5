#include "cli/args.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "runtime/error.h"

namespace fx::cli {

Args::Args(std::string command, std::vector<OptionSpec> spec, const std::vector<std::string>& argv)
    : command_(std::move(command)), spec_(std::move(spec)) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.size() > 1 && a[0] == '-' &&
        !(a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
      std::string name = a, value;
      bool inline_value = false;
      size_t eq = a.find('=');
      if (eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        inline_value = true;
      }
      const OptionSpec* s = nullptr;
      for (const auto& o : spec_)
        if (o.name == name) s = &o;
      if (!s)
        throw UsageError("fluxshard " + command_ + ": unknown option '" + name + "' (see fluxshard " + command_ +
                         " --help)");
      if (s->takes_value) {
        if (!inline_value) {
          if (i + 1 >= argv.size()) throw UsageError("fluxshard " + command_ + ": option '" + name + "' needs a value");
          value = argv[++i];
        }
      } else if (inline_value) {
        throw UsageError("fluxshard " + command_ + ": option '" + name + "' takes no value");
      }
      if (values_.count(name)) throw UsageError("fluxshard " + command_ + ": option '" + name + "' given twice");
      values_[name] = value;
      std::vector<std::string>& list = lists_[name];
      list.push_back(value);
      while (s->multi && !inline_value && i + 1 < argv.size() && !(argv[i + 1].size() > 1 && argv[i + 1][0] == '-'))
        list.push_back(argv[++i]);
    } else {
      positionals_.push_back(a);
    }
  }
}

const std::string& Args::positional(size_t i, const char* meaning) const {
  if (i >= positionals_.size())
    throw UsageError("fluxshard " + command_ + ": missing " + meaning + " (see fluxshard " + command_ + " --help)");
  return positionals_[i];
}

void Args::max_positionals(size_t n) const {
  if (positionals_.size() > n)
    throw UsageError("fluxshard " + command_ + ": unexpected argument '" + positionals_[n] + "'");
}

std::string Args::get(const std::string& name, const std::string& dflt) const {
  auto it = values_.find(name);
  return it == values_.end() ? dflt : it->second;
}

std::vector<std::string> Args::get_list(const std::string& name) const {
  auto it = lists_.find(name);
  return it == lists_.end() ? std::vector<std::string>{} : it->second;
}

int Args::get_int(const std::string& name, int dflt, int lo, int hi) const {
  auto it = values_.find(name);
  if (it == values_.end()) return dflt;
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    throw UsageError("fluxshard " + command_ + ": " + name + " must be an integer from " + std::to_string(lo) + " to " +
                std::to_string(hi) + " (got '" + s + "')");
  return static_cast<int>(v);
}

double Args::get_double(const std::string& name, double dflt, double lo, double hi) const {
  auto it = values_.find(name);
  if (it == values_.end()) return dflt;
  const std::string& s = it->second;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno != 0 || !std::isfinite(v) || v < lo || v > hi) {
    char range[96];
    std::snprintf(range, sizeof range, "%g to %g", lo, hi);
    throw UsageError("fluxshard " + command_ + ": " + name + " must be a number from " + range + " (got '" + s + "')");
  }
  return v;
}

std::string Args::get_choice(const std::string& name, const std::string& dflt,
                             const std::vector<std::string>& choices) const {
  std::string v = get(name, dflt);
  for (const auto& c : choices)
    if (c == v) return v;
  std::string list;
  for (size_t i = 0; i < choices.size(); ++i) list += (i ? ", " : "") + choices[i];
  throw UsageError("fluxshard " + command_ + ": " + name + " must be one of " + list + " (got '" + v + "')");
}

std::string Args::usage() const {
  std::string s;
  for (const auto& o : spec_) {
    std::string left = "  " + o.name + (o.multi ? " VALUE..." : o.takes_value ? " VALUE" : "");
    if (left.size() < 26) left.resize(26, ' ');
    s += left + " " + o.help + "\n";
  }
  return s;
}

}  // namespace fx::cli
