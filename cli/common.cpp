#include "cli/common.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include "runtime/error.h"

namespace fx::cli {

int default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 256u));
}

int thread_option(const Args& args) { return args.get_int("--threads", default_threads(), 1, 256); }

PostOptions post_options(const Args& args) {
  PostOptions post;
  post.decode.conf = static_cast<float>(args.get_double("--conf", 0.25, 0.0, 1.0));
  post.decode.iou = static_cast<float>(args.get_double("--iou", 0.7, 0.0, 1.0));
  return post;
}

std::ofstream json_output(const Args& args) {
  std::ofstream json;
  if (!args.has("--json")) return json;
  json.open(args.get("--json"), std::ios::trunc);
  if (!json) throw Error("cannot write '" + args.get("--json") + "'");
  return json;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? "," : "") + std::to_string(s[i]);
  return o + "]";
}

std::string sanitize_file_part(const std::string& name) {
  std::string o = name;
  for (char& c : o)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) c = '_';
  return o;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace fx::cli
