// fluxshard eval PLAN.fsp --input CLIP... --systems LIST --trace LIST [--edges LIST] --out DIR: the paper's
// comparisons (DESIGN 8) on this engine. Every system of net/systems.h runs as edge + server on this
// machine (an in-process server over loopback TCP, each edge an EdgeClient with the emulated slowdown);
// each (system, clip, preset, edges) cell is saved in DIR/cells as soon as it is done, so an interrupted
// run resumes where it stopped. Then results.csv, results.json, the plots (perf/eval_plots.py,
// matplotlib) and report.md (cli/eval_report.h).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/cmd_eval_cell.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/eval_report.h"
#include "cli/output_file.h"
#include "cli/progress.h"
#include "net/server.h"
#include "net/shaper.h"
#include "net/systems.h"
#include "runtime/error.h"
#include "runtime/util/clock.h"
#include "runtime/version.h"

namespace fx::cli {

namespace {

const char* const kPlots[] = {"latency.png",          "bandwidth.png",           "hit_ratio.png",  "accuracy.png",
                              "time_composition.png", "accuracy_vs_latency.png", "scalability.png"};

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return "";
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void make_dir(const std::string& path) {
  std::string at;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    at = path.substr(0, i);
    if (at.empty()) continue;
    if (::mkdir(at.c_str(), 0777) != 0 && errno != EEXIST)
      throw Error("cannot create '" + at + "': " + std::strerror(errno));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) throw Error("'" + path + "' is not a directory");
}

void write_text(const std::string& path, const std::string& text) { write_output_file(path, text.data(), text.size()); }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    size_t k = s.find(sep, at);
    out.push_back(s.substr(at, k - at));
    if (k == std::string::npos) break;
    at = k + 1;
  }
  return out;
}

std::string first_line_of(const std::string& path, const std::string& prefix) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(prefix, 0) == 0) {
      size_t c = line.find(':');
      std::string v = c == std::string::npos ? line : line.substr(c + 1);
      return v.substr(v.find_first_not_of(' ') == std::string::npos ? v.size() : v.find_first_not_of(' '));
    }
  return "";
}

std::string load_average() {
  std::string s = read_text("/proc/loadavg");
  std::istringstream in(s);
  std::string a, b, c;
  in >> a >> b >> c;
  return a.empty() ? "unknown" : a + " " + b + " " + c;
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

// --systems: names and groups (all, baselines, fluxshard, ablations, sweeps), comma-separated.
std::vector<const net::SystemSpec*> parse_systems(const std::string& list) {
  std::vector<const net::SystemSpec*> out;
  auto add = [&](const net::SystemSpec* s) {
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  };
  for (const std::string& item : split(list, ',')) {
    bool found = false;
    for (const net::SystemSpec& s : net::all_systems()) {
      const std::string g = net::group_name(s.group);
      if (item == "all" || item == s.name || item == g + "s" || (item == "fluxshard" && g == "fluxshard")) {
        add(&s);
        found = true;
      }
    }
    if (!found) {
      std::string names;
      for (const net::SystemSpec& s : net::all_systems()) names += ", " + s.name;
      throw UsageError("fluxshard eval: --systems: unknown system '" + item + "' (all, baselines, ablations, sweeps" +
                       names + ")");
    }
  }
  // Report order.
  std::vector<const net::SystemSpec*> ordered;
  for (const net::SystemSpec& s : net::all_systems())
    if (std::find(out.begin(), out.end(), &s) != out.end()) ordered.push_back(&s);
  return ordered;
}

// Where perf/eval_plots.py is: --plot-script, $FLUXSHARD_PLOT_SCRIPT, next to a build tree or an
// installation of this binary, or under the working directory.
std::string plot_script(const Args& args) {
  if (args.has("--plot-script")) return args.get("--plot-script");
  if (const char* e = std::getenv("FLUXSHARD_PLOT_SCRIPT"); e && *e) return e;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = 0;
    std::string dir(exe);
    dir = dir.substr(0, dir.find_last_of('/'));
    for (const std::string& c : {dir + "/../../perf/eval_plots.py", dir + "/../share/fluxshard/eval_plots.py"})
      if (file_exists(c)) return c;
  }
  return "perf/eval_plots.py";
}

// Runs `python3 SCRIPT results.json DIR`; returns "" or why no plots were made.
std::string make_plots(const std::string& script, const std::string& dir) {
  if (!file_exists(script)) return "the plot script '" + script + "' was not found";
  const std::string log = dir + "/plots.log";
  pid_t pid = fork();
  if (pid < 0) return "cannot start python3";
  if (pid == 0) {
    if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(127);
    std::string json = dir + "/results.json";
    // Debian's interpreter first: it is the one python3-matplotlib (scripts/setup.sh) installs into, and a
    // python3 earlier on PATH (a virtual environment, pyenv) may lack it.
    const char* py = std::getenv("FLUXSHARD_PYTHON");
    if (!py || !*py) py = file_exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
    execlp(py, py, script.c_str(), json.c_str(), dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return "";
  std::string why = read_text(log);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  why = why.substr(why.find_last_of('\n') == std::string::npos ? 0 : why.find_last_of('\n') + 1);
  return WIFEXITED(st) && WEXITSTATUS(st) == 127 ? "python3 is not installed" : "the plot script failed: " + why;
}

// results.csv, plots, report.md from results (and results.json with the plots listed).
void write_outputs(EvalResults& res, const std::string& dir, const Args& args) {
  res.meta.set("plots", JsonValue::array());
  write_text(dir + "/results.json", results_json(res));
  write_text(dir + "/results.csv", results_csv(res));
  if (args.has("--no-plots")) {
    res.meta.set("plots_error", JsonValue::string("--no-plots"));
  } else {
    for (const char* p : kPlots) ::unlink((dir + "/" + p).c_str());
    const std::string err = make_plots(plot_script(args), dir);
    JsonValue plots = JsonValue::array();
    for (const char* p : kPlots)
      if (file_exists(dir + "/" + p)) plots.push_back(JsonValue::string(p));
    res.meta.set("plots", plots);
    if (!err.empty()) {
      res.meta.set("plots_error", JsonValue::string(err));
      std::fprintf(stderr, "eval: warning: no plots: %s\n", err.c_str());
    }
  }
  write_text(dir + "/results.json", results_json(res));
  write_text(dir + "/report.md", report_markdown(res));
}

std::string cell_file(const std::string& dir, const std::string& sys, const std::string& clip,
                      const std::string& preset, int edges) {
  return dir + "/cells/" + sanitize_file_part(sys + "__" + clip + "__" + preset + "__e" + std::to_string(edges)) +
         ".json";
}

}  // namespace

int cmd_eval(const Args& args) {
  const bool quiet = args.has("--quiet");
  if (args.has("--report")) {
    // Regenerate the outputs of a finished (or partial) run from its results.json.
    args.max_positionals(0);
    const std::string dir = args.get("--report");
    const std::string text = read_text(dir + "/results.json");
    if (text.empty()) throw Error("cannot read '" + dir + "/results.json'");
    EvalResults res = parse_results(text, dir + "/results.json");
    write_outputs(res, dir, args);
    if (!quiet) std::printf("wrote %s/report.md, results.csv and results.json\n", dir.c_str());
    return 0;
  }
  args.max_positionals(1);
  const std::string& plan_path = args.positional(0, "PLAN.fsp");
  const std::vector<std::string> inputs = args.get_list("--input");
  if (inputs.empty()) throw UsageError("fluxshard eval: missing --input CLIP...");
  const std::vector<std::string> gts = args.get_list("--gt-masks");
  if (!gts.empty() && gts.size() != inputs.size())
    throw UsageError("fluxshard eval: --gt-masks needs one pattern per clip (" + std::to_string(inputs.size()) +
                     " clips, " + std::to_string(gts.size()) + " patterns; '-' for a clip without)");
  if (!args.has("--out")) throw UsageError("fluxshard eval: missing --out DIR");
  const std::string out = args.get("--out");
  std::vector<const net::SystemSpec*> systems = parse_systems(args.get("--systems", "all"));
  std::vector<std::string> presets = split(args.get("--trace", "high,medium,low"), ',');
  for (const std::string& p : presets) {
    try {
      net::RateTrace::preset(p);
    } catch (const Error& e) {
      throw UsageError("fluxshard eval: --trace: " + std::string(e.what()));
    }
  }
  std::vector<int> edge_counts;
  for (const std::string& e : split(args.get("--edges", "1"), ',')) {
    char* end = nullptr;
    long v = std::strtol(e.c_str(), &end, 10);
    if (e.empty() || *end || v < 1 || v > 16)
      throw UsageError("fluxshard eval: --edges: '" + e + "' is not a number of edges from 1 to 16");
    if (std::find(edge_counts.begin(), edge_counts.end(), static_cast<int>(v)) == edge_counts.end())
      edge_counts.push_back(static_cast<int>(v));
  }
  std::sort(edge_counts.begin(), edge_counts.end());
  const int max_frames = args.get_int("--frames", 0, 0, 1 << 20);
  const double slowdown = args.get_double("--edge-slowdown", 6, 1, 1000);
  const int edge_threads = args.get_int("--edge-threads", 1, 1, 256);
  const int server_threads = args.get_int("--server-threads", std::max(1, default_threads() - edge_threads), 1, 256);
  const double rtt = args.get_double("--rtt-ms", 20, 0, 10000);
  const int hold_k = args.get_int("--hold-k", 3, 2, 1000);
  const std::string backend = args.get_choice("--server-backend", "cpu", {"cpu", "cuda"});
  const int device = args.get_int("--server-device", 0, 0, 64);
  const Precision precision = parse_precision(args.get_choice("--server-precision", "fp32", {"fp32", "fp16"}));
  if (backend == "cpu" && precision != Precision::FP32)
    throw UsageError("fluxshard eval: --server-precision fp16 needs --server-backend cuda");

  auto plan = Plan::load_file(plan_path);
  const std::string task = plan->task();
  std::shared_ptr<const Plan> small;
  if (args.has("--small-plan")) {
    small = Plan::load_file(args.get("--small-plan"));
    if (small->task() != "detect") throw UsageError("fluxshard eval: --small-plan must be a detect model");
  }
  // Systems that cannot run here: the smaller model replaces a detector only; the small detector is needed.
  std::vector<const net::SystemSpec*> run_systems;
  for (const net::SystemSpec* s : systems) {
    if (s->name == "small" && task != "detect") {
      std::fprintf(stderr, "eval: skipping small: no smaller %s model to replace the plan with\n", task.c_str());
      continue;
    }
    if (s->small_plan && !small)
      throw UsageError("fluxshard eval: system " + s->name + " needs the small detector: --small-plan PLAN.fsp " +
                       "(e.g. fluxshard compile assets/yolo11n-320.onnx -o small.fsp)");
    run_systems.push_back(s);
  }
  if (run_systems.empty()) throw UsageError("fluxshard eval: no system to run");

  make_dir(out);
  make_dir(out + "/cells");
  // The settings that decide the cells' results: a resumed run must have the same.
  JsonValue config = JsonValue::object();
  config.set("plan", JsonValue::string(plan_path));
  config.set("plan_hash", JsonValue::string(std::to_string(plan->hash())));
  config.set("small_plan_hash", JsonValue::string(small ? std::to_string(small->hash()) : ""));
  config.set("frames", JsonValue::integer(max_frames));
  config.set("edge_slowdown", JsonValue::number(slowdown));
  config.set("edge_threads", JsonValue::integer(edge_threads));
  config.set("server_threads", JsonValue::integer(server_threads));
  config.set("server_backend", JsonValue::string(backend));
  config.set("rtt_ms", JsonValue::number(rtt));
  config.set("hold_k", JsonValue::integer(hold_k));
  config.set("conf", JsonValue::number(args.get_double("--conf", 0.25, 0, 1)));
  config.set("iou", JsonValue::number(args.get_double("--iou", 0.7, 0, 1)));
  {
    JsonValue clips = JsonValue::array();
    for (size_t i = 0; i < inputs.size(); ++i)
      clips.push_back(JsonValue::string(inputs[i] + (gts.empty() || gts[i] == "-" ? "" : " gt " + gts[i])));
    config.set("clips", clips);
  }
  const std::string config_path = out + "/eval_config.json";
  if (file_exists(config_path)) {
    JsonValue old = JsonValue::parse(read_text(config_path));
    for (const std::string& k : config.keys()) {
      const JsonValue* v = old.find(k);
      if (!v || *v != config.at(k))
        throw UsageError("fluxshard eval: " + out + " holds a run with other settings (" + k + ": " +
                         (v ? v->dump() : "missing") + ", now " + config.at(k).dump() +
                         "); use another --out or remove " + out);
    }
  } else {
    write_text(config_path, config.dump() + "\n");
  }

  const std::string load_start = load_average();
  auto wall0 = Clock::now();
  // The cells, in run order: every system at every preset, then the scaling runs (systems that use the
  // link) at the scaling preset.
  struct Cell {
    const net::SystemSpec* sys;
    size_t clip;
    std::string preset;
    int edges;
  };
  std::string scaling_preset = presets.front();
  for (const std::string& p : presets)
    if (p == "medium") scaling_preset = p;
  std::vector<Cell> cells;
  std::vector<std::string> clip_names;
  for (size_t c = 0; c < inputs.size(); ++c) {
    std::string base = inputs[c].substr(inputs[c].find_last_of('/') + 1);
    clip_names.push_back(base.substr(0, base.find_last_of('.')).empty() ? base
                                                                        : base.substr(0, base.find_last_of('.')));
    for (const std::string& p : presets)
      for (const net::SystemSpec* s : run_systems) cells.push_back({s, c, p, 1});
    for (int e : edge_counts)
      if (e > 1)
        for (const net::SystemSpec* s : run_systems)
          if (!s->local && (s->group == net::SystemGroup::Baseline || s->group == net::SystemGroup::FluxShard))
            cells.push_back({s, c, scaling_preset, e});
  }
  std::vector<bool> done(cells.size(), false);
  std::vector<size_t> pending_per_clip(inputs.size(), 0);
  for (size_t i = 0; i < cells.size(); ++i) {
    done[i] =
        file_exists(cell_file(out, cells[i].sys->name, clip_names[cells[i].clip], cells[i].preset, cells[i].edges));
    if (!done[i]) ++pending_per_clip[cells[i].clip];
  }

  // The server, when a pending cell needs one.
  std::unique_ptr<net::Server> server;
  std::thread server_thread;
  auto stop_server = [&] {
    if (server_thread.joinable()) {
      server->stop();
      server_thread.join();
    }
  };
  struct ServerGuard {
    std::function<void()> f;
    ~ServerGuard() { f(); }
  } guard{stop_server};
  bool need_server = false;
  for (size_t i = 0; i < cells.size(); ++i) need_server = need_server || (!done[i] && !cells[i].sys->local);
  if (need_server) {
    net::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    so.threads = server_threads;
    so.backend = backend;
    so.device = device;
    so.precision = precision;
    so.log = [](const std::string&) {};
    server = std::make_unique<net::Server>(plan, so);
    server->start();
    server_thread = std::thread([&] { server->run(); });
  }

  CellContext ctx;
  ctx.plan = plan;
  ctx.small_plan = small;
  ctx.task = task;
  ctx.hold_k = hold_k;
  std::map<int, std::vector<std::pair<int, double>>> profiles;
  ctx.edge_profiles = &profiles;
  net::EdgeOptions& base = ctx.base;
  base.server = server ? "127.0.0.1:" + std::to_string(server->port()) : "";
  base.threads = edge_threads;
  base.rtt_ms = rtt;
  base.edge_slowdown = slowdown;
  base.session.post = post_options(args);
  base.session.backend.threads = edge_threads;
  base.log = [](const std::string&) {};
  // A frame waits for its result however loaded this machine is: a fallback would run it on the emulated
  // edge and measure the machine, not the policy (fallbacks are counted in the results).
  base.result_timeout_ms = 30000;
  base.hang_timeout_ms = 60000;

  // Progress: one unit per frame of every edge of every pending cell (and of each dense reference).
  JsonValue ref_seconds = JsonValue::object();
  if (file_exists(out + "/cells/reference.json")) {
    JsonValue old = JsonValue::parse(read_text(out + "/cells/reference.json"));
    if (old.is_object()) ref_seconds = old;
  }
  std::vector<EvalClip> clips(inputs.size());
  JsonValue clips_meta = JsonValue::array();
  int64_t total = 0, progress_done = 0;
  size_t ran = 0;
  std::vector<int64_t> clip_frames(inputs.size(), 0);
  for (size_t c = 0; c < inputs.size(); ++c) {
    VideoReader probe(inputs[c]);
    int64_t n = probe.frame_count_estimate();
    if (n <= 0) n = 100;
    if (max_frames > 0) n = std::min<int64_t>(n, max_frames);
    clip_frames[c] = n;
    if (pending_per_clip[c]) total += n;
    for (size_t i = 0; i < cells.size(); ++i)
      if (!done[i] && cells[i].clip == c) total += n * cells[i].edges;
  }
  Progress progress(total, !quiet);
  std::string note;
  auto tick = [&] {
    ++progress_done;
    progress.update(progress_done, note);
  };
  for (size_t c = 0; c < inputs.size(); ++c) {
    const std::string gt = gts.empty() || gts[c] == "-" ? "" : gts[c];
    if (pending_per_clip[c]) {
      note = clip_names[c] + ": dense reference";
      progress.update(progress_done, note);
      clips[c] = load_clip(inputs[c], gt, max_frames, plan, default_threads());
      clips[c].name = clip_names[c];
      progress_done += clip_frames[c];
      ref_seconds.set(clip_names[c], JsonValue::number(clips[c].ref_seconds));
      write_text(out + "/cells/reference.json", ref_seconds.dump() + "\n");
      for (size_t i = 0; i < cells.size(); ++i) {
        if (done[i] || cells[i].clip != c) continue;
        const Cell& cell = cells[i];
        note = cell.sys->name + " " + clip_names[c] + " " + cell.preset +
               (cell.edges > 1 ? " x" + std::to_string(cell.edges) : "");
        progress.update(progress_done, note);
        EvalRow row = run_cell(ctx, *cell.sys, clips[c], cell.preset, cell.edges, tick);
        write_text(cell_file(out, cell.sys->name, clip_names[c], cell.preset, cell.edges),
                   row_to_json(row).dump() + "\n");
        done[i] = true;
        ++ran;
      }
    }
    JsonValue cm = JsonValue::object();
    cm.set("name", JsonValue::string(clip_names[c]));
    cm.set("path", JsonValue::string(inputs[c]));
    cm.set("gt", JsonValue::string(gt));
    VideoReader probe(inputs[c]);
    cm.set("width", JsonValue::integer(probe.width()));
    cm.set("height", JsonValue::integer(probe.height()));
    cm.set("fps", JsonValue::number(probe.fps()));
    cm.set("frames",
           JsonValue::integer(clips[c].frames.empty() ? clip_frames[c] : static_cast<int64_t>(clips[c].frames.size())));
    clips_meta.push_back(cm);
    clips[c] = EvalClip{};  // its frames are not needed any more
  }
  progress.finish();
  stop_server();

  // Every cell's row, in cell order.
  EvalResults res;
  for (const Cell& cell : cells) {
    const std::string f = cell_file(out, cell.sys->name, clip_names[cell.clip], cell.preset, cell.edges);
    res.rows.push_back(row_from_json(JsonValue::parse(read_text(f))));
  }
  JsonValue& meta = res.meta;
  meta.set("version", JsonValue::string(version_string()));
  meta.set("date", JsonValue::string(utc_now()));
  std::string cpu = first_line_of("/proc/cpuinfo", "model name");
  meta.set("machine", JsonValue::string(cpu.empty() ? "unknown CPU" : cpu));
  meta.set("cores", JsonValue::integer(default_threads()));
  meta.set("load_start", JsonValue::string(load_start));
  meta.set("load_end", JsonValue::string(load_average()));
  std::string command = "fluxshard eval " + plan_path;
  for (const std::string& i : inputs) command += " " + i;
  meta.set("command",
           JsonValue::string(command + " --systems " + args.get("--systems", "all") + " --trace " +
                             args.get("--trace", "high,medium,low") + " --edges " + args.get("--edges", "1")));
  for (const std::string& k : config.keys()) meta.set(k, config.at(k));
  meta.set("wall_s", JsonValue::number(ms_since(wall0) / 1e3));
  JsonValue pl = JsonValue::array();
  for (const std::string& p : presets) pl.push_back(JsonValue::string(p));
  meta.set("presets", pl);
  JsonValue el = JsonValue::array();
  for (int e : edge_counts) el.push_back(JsonValue::integer(e));
  meta.set("edges", el);
  meta.set("scaling_preset", JsonValue::string(scaling_preset));
  JsonValue sl = JsonValue::array();
  for (const net::SystemSpec* s : run_systems) {
    JsonValue o = JsonValue::object();
    o.set("name", JsonValue::string(s->name));
    o.set("group", JsonValue::string(net::group_name(s->group)));
    o.set("what", JsonValue::string(s->name == "hold" ? "Every k-th frame (k = " + std::to_string(hold_k) +
                                                            "): " + s->what.substr(s->what.find(':') + 2)
                                                      : s->what));
    o.set("simplified", JsonValue::string(s->simplified));
    o.set("fair", JsonValue::string(s->fair));
    sl.push_back(o);
  }
  meta.set("systems", sl);
  meta.set("clips", clips_meta);
  meta.set("reference_s", ref_seconds);
  write_outputs(res, out, args);
  if (!quiet)
    std::printf("%zu cells (%zu run now) in %.0f s: %s/report.md, results.csv, results.json\n", cells.size(), ran,
                ms_since(wall0) / 1e3, out.c_str());
  return 0;
}

}  // namespace fx::cli
