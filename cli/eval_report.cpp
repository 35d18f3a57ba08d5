#include "cli/eval_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <type_traits>

#include "runtime/error.h"

namespace fx::cli {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Two accuracies within this are "equal" (half a percentage point of retention).
constexpr double kAccuracyTolerance = 0.005;

std::string fmt(const char* f, double v) {
  if (!std::isfinite(v)) return "n/a";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
std::string pct(double v) { return fmt("%.1f", 100 * v); }

// A meta value as text ("" when missing).
std::string meta_text(const JsonValue& meta, const char* key) {
  const JsonValue* v = meta.find(key);
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->as_string();
  if (v->is_bool()) return v->as_bool() ? "yes" : "no";
  if (v->is_integer()) return std::to_string(v->as_int());
  if (v->is_number()) return fmt("%g", v->as_double());
  return v->dump();
}
double meta_number(const JsonValue& meta, const char* key, double dflt) {
  const JsonValue* v = meta.find(key);
  return v && v->is_number() ? v->as_double() : dflt;
}
std::vector<std::string> meta_strings(const JsonValue& meta, const char* key) {
  std::vector<std::string> out;
  const JsonValue* v = meta.find(key);
  if (v && v->is_array())
    for (const JsonValue& x : v->items()) out.push_back(x.is_string() ? x.as_string() : x.dump());
  return out;
}

// A cell's row, or null.
class Index {
 public:
  explicit Index(const std::vector<EvalRow>& rows) {
    for (const EvalRow& r : rows) map_[key(r.system, r.clip, r.preset, r.edges)] = &r;
  }
  const EvalRow* get(const std::string& sys, const std::string& clip, const std::string& preset,
                     int64_t edges = 1) const {
    auto it = map_.find(key(sys, clip, preset, edges));
    return it == map_.end() ? nullptr : it->second;
  }

 private:
  static std::string key(const std::string& s, const std::string& c, const std::string& p, int64_t e) {
    return s + '\n' + c + '\n' + p + '\n' + std::to_string(e);
  }
  std::map<std::string, const EvalRow*> map_;
};

struct SystemDoc {
  std::string name, group, what, simplified, fair;
};

std::vector<SystemDoc> system_docs(const JsonValue& meta) {
  std::vector<SystemDoc> out;
  const JsonValue* v = meta.find("systems");
  if (!v || !v->is_array()) return out;
  for (const JsonValue& s : v->items()) {
    auto text = [&](const char* k) {
      const JsonValue* x = s.find(k);
      return x && x->is_string() ? x->as_string() : std::string();
    };
    out.push_back({text("name"), text("group"), text("what"), text("simplified"), text("fair")});
  }
  return out;
}

std::string table_row(const std::vector<std::string>& cells) {
  std::string s = "|";
  for (const std::string& c : cells) s += " " + c + " |";
  return s + "\n";
}
std::string table_head(const std::vector<std::string>& cells, size_t left_aligned = 1) {
  std::string s = table_row(cells) + "|";
  for (size_t i = 0; i < cells.size(); ++i) s += i < left_aligned ? "---|" : "---:|";
  return s + "\n";
}

// The preset the paper reports time composition, ablations and scalability at: medium when it ran.
std::string main_preset(const std::vector<std::string>& presets) {
  for (const std::string& p : presets)
    if (p == "medium") return p;
  return presets.empty() ? "" : presets.front();
}

}  // namespace

std::vector<std::string> eval_columns() {
  std::vector<std::string> cols;
  EvalRow r;
  visit_fields(r, [&](const char* name, auto&) { cols.push_back(name); });
  return cols;
}

JsonValue row_to_json(const EvalRow& r) {
  JsonValue o = JsonValue::object();
  visit_fields(r, [&](const char* name, const auto& v) {
    using T = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<T, std::string>)
      o.set(name, JsonValue::string(v));
    else if constexpr (std::is_same_v<T, int64_t>)
      o.set(name, JsonValue::integer(v));
    else
      o.set(name, std::isfinite(v) ? JsonValue::number(v) : JsonValue());
  });
  return o;
}

EvalRow row_from_json(const JsonValue& v) {
  if (!v.is_object()) throw Error("a row is not an object");
  EvalRow r;
  visit_fields(r, [&](const char* name, auto& f) {
    using T = std::decay_t<decltype(f)>;
    const JsonValue* x = v.find(name);
    if (!x) throw Error(std::string("a row has no '") + name + "'");
    try {
      if constexpr (std::is_same_v<T, std::string>)
        f = x->as_string();
      else if constexpr (std::is_same_v<T, int64_t>)
        f = x->as_int();
      else
        f = x->is_null() ? kNaN : x->as_double();
    } catch (const Error&) {
      throw Error(std::string("a row's '") + name + "' has the wrong type");
    }
  });
  return r;
}

std::string results_json(const EvalResults& r) {
  JsonValue root = JsonValue::object();
  root.set("meta", r.meta);
  JsonValue rows = JsonValue::array();
  for (const EvalRow& row : r.rows) rows.push_back(row_to_json(row));
  root.set("rows", std::move(rows));
  return root.dump() + "\n";
}

EvalResults parse_results(const std::string& text, const std::string& source) {
  try {
    JsonValue root = JsonValue::parse(text);
    if (!root.is_object()) throw Error("not a JSON object");
    const JsonValue* meta = root.find("meta");
    const JsonValue* rows = root.find("rows");
    if (!meta || !meta->is_object() || !rows || !rows->is_array())
      throw Error("needs a 'meta' object and a 'rows' array");
    EvalResults r;
    r.meta = *meta;
    for (const JsonValue& v : rows->items()) r.rows.push_back(row_from_json(v));
    return r;
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
}

std::string results_csv(const EvalResults& r) {
  std::string out;
  const std::vector<std::string> cols = eval_columns();
  for (size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + cols[i];
  out += "\n";
  for (const EvalRow& row : r.rows) {
    bool first = true;
    visit_fields(row, [&](const char*, const auto& v) {
      using T = std::decay_t<decltype(v)>;
      if (!first) out += ",";
      first = false;
      if constexpr (std::is_same_v<T, std::string>) {
        // Quoted when it holds a separator, a quote or a line break (RFC 4180).
        if (v.find_first_of(",\"\n\r") == std::string::npos) {
          out += v;
        } else {
          out += '"';
          for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
          out += '"';
        }
      } else if constexpr (std::is_same_v<T, int64_t>) {
        out += std::to_string(v);
      } else if (std::isfinite(v)) {
        char b[32];
        std::snprintf(b, sizeof b, "%.6g", v);
        out += b;
      }
    });
    out += "\n";
  }
  return out;
}

double row_accuracy(const EvalRow& r, std::string* which) {
  if (std::isfinite(r.gt_retention)) {
    if (which) *which = "retention vs ground truth";
    return r.gt_retention;
  }
  if (r.task == "segment") {
    if (which) *which = "mask IoU vs dense";
    return r.mask_iou;
  }
  if (which) *which = "F1 vs dense";
  return r.f1;
}

std::string report_markdown(const EvalResults& res) {
  const JsonValue& meta = res.meta;
  const Index idx(res.rows);
  const std::vector<SystemDoc> docs = system_docs(meta);
  const std::vector<std::string> presets = meta_strings(meta, "presets");
  const std::string mp = main_preset(presets);
  const double K = meta_number(meta, "edge_slowdown", 1);
  std::vector<int64_t> edge_counts;
  if (const JsonValue* e = meta.find("edges"); e && e->is_array())
    for (const JsonValue& x : e->items()) edge_counts.push_back(x.as_int());
  auto in_group = [&](const std::string& g) {
    std::vector<std::string> out;
    for (const SystemDoc& d : docs)
      if (d.group == g) out.push_back(d.name);
    return out;
  };
  const std::vector<std::string> baselines = in_group("baseline"), ablations = in_group("ablation"),
                                 sweeps = in_group("sweep");
  std::vector<std::string> compared = baselines;
  compared.push_back("fluxshard");
  std::vector<std::string> clips;
  for (const EvalRow& r : res.rows)
    if (std::find(clips.begin(), clips.end(), r.clip) == clips.end()) clips.push_back(r.clip);

  std::string md = "# FluxShard evaluation\n\n";
  md += "Made by `fluxshard eval` (" + meta_text(meta, "version") + ") on " + meta_text(meta, "date") +
        ". Machine: " + meta_text(meta, "machine") + ", " + meta_text(meta, "cores") +
        " cores; load average (1, 5, 15 min) " + meta_text(meta, "load_start") + " at the start, " +
        meta_text(meta, "load_end") + " at the end.\n\n";
  if (!meta_text(meta, "command").empty()) md += "Command: `" + meta_text(meta, "command") + "`\n\n";
  md +=
      "**Edge and cloud on one machine (an emulation).** The edge is emulated: each stretch of its compute "
      "lasts K = " +
      fmt("%g", K) +
      " times its CPU time (the edge thread sleeps the difference; an Orin-class "
      "device against an RTX-class server is roughly 5-10x for these models). The edge runs " +
      meta_text(meta, "edge_threads") + " kernel thread(s), the server " + meta_text(meta, "server_threads") +
      " on the `" + meta_text(meta, "server_backend") +
      "` backend, both in this process over loopback TCP; the "
      "uplink is a token bucket at the preset's rate (high 130 Mbit/s, medium 56, low 25) with an emulated "
      "RTT of " +
      meta_text(meta, "rtt_ms") +
      " ms. Frames are processed one after the other as fast as they "
      "complete; bandwidth is per second of video at the clip's frame rate.";
  if (meta_text(meta, "server_backend") != "cuda")
    md += " With a GPU the server runs with `--server-backend cuda`; this run did not use one.";
  md += "\n\n";
  md +=
      "**Accuracy.** Against dense inference of the same model: F1 and mAP50 of the boxes (IoU 0.5, "
      "class-aware) and, for segment models, the mask IoU of matched instances. Against ground truth (DAVIS "
      "masks) where the clip has it: segment mask IoU, detect box IoU with the box of each ground-truth "
      "object, both reported as retention = system / dense. The paper normalises by a larger model's output "
      "(YOLO11x); no larger model with real weights is available here, so ground truth stands in for it. "
      "Where a table shows one accuracy, it is the retention against ground truth when the clip has it, else "
      "the F1 (detect) or mask IoU (segment) against dense.\n\n";

  md +=
      "## Systems\n\nEvery system runs on the same engine (edge client, server, kernels, codec, link); only "
      "the policy differs.\n\n";
  md += table_head({"system", "group", "what it does", "what we simplified", "why the comparison is fair"}, 5);
  for (const SystemDoc& d : docs) md += table_row({"`" + d.name + "`", d.group, d.what, d.simplified, d.fair});
  md += "\n";

  std::vector<std::string> losses;
  std::vector<std::vector<std::string>> targets;  // target, clip, measured, verdict

  const JsonValue* clip_meta = meta.find("clips");
  for (const std::string& clip : clips) {
    std::string task, model;
    for (const EvalRow& r : res.rows)
      if (r.clip == clip) task = r.task, model = r.model;
    md += "## Clip `" + clip + "` (" + task + ", " + model + ")\n\n";
    if (clip_meta && clip_meta->is_array())
      for (const JsonValue& c : clip_meta->items())
        if (c.find("name") && c.at("name").is_string() && c.at("name").as_string() == clip) {
          md += "Source " + meta_text(c, "path") + ", " + meta_text(c, "width") + "x" + meta_text(c, "height") +
                " at " + meta_text(c, "fps") + " fps, " + meta_text(c, "frames") +
                " frames evaluated; ground truth: " + (meta_text(c, "gt").empty() ? "none" : meta_text(c, "gt")) +
                ".\n\n";
        }

    // A table with a column per preset and a row per system of `names` that has a cell there; cell()
    // returns "" where there is none.
    auto preset_table = [&](const std::vector<std::string>& names, const char* first,
                            const std::function<std::string(const std::string& sys, const std::string& preset)>& cell) {
      std::vector<std::string> head = {first};
      head.insert(head.end(), presets.begin(), presets.end());
      md += table_head(head);
      for (const std::string& s : names) {
        std::vector<std::string> row = {"`" + s + "`"};
        bool any = false;
        for (const std::string& p : presets) {
          std::string c = cell(s, p);
          any = any || !c.empty();
          row.push_back(c.empty() ? "-" : c);
        }
        if (any) md += table_row(row);
      }
    };

    // Table I: the setup's latencies.
    md += "### Setup (Table I)\n\n";
    md += table_head({"", "value"});
    if (const EvalRow* r = idx.get("offload", clip, mp))
      md += table_row({"server, dense (ms per frame, " + mp + ")", fmt("%.1f", r->server_ms)});
    if (const EvalRow* r = idx.get("local", clip, mp))
      md += table_row({"edge, dense (ms per frame, emulated K = " + fmt("%g", K) + ")", fmt("%.1f", r->edge_ms)});
    md += "\n";

    // Fig. 3: end-to-end latency.
    md += "### End-to-end latency (Fig. 3), ms per frame (mean; p95 in parentheses)\n\n";
    preset_table(compared, "system", [&](const std::string& sys, const std::string& p) -> std::string {
      const EvalRow* r = idx.get(sys, clip, p);
      return r ? fmt("%.1f", r->latency_ms) + " (" + fmt("%.1f", r->p95_ms) + ")" : "";
    });
    md += "\nFluxShard's speed-up (system latency / FluxShard latency):\n\n";
    preset_table(baselines, "vs", [&](const std::string& sys, const std::string& p) -> std::string {
      const EvalRow *r = idx.get(sys, clip, p), *f = idx.get("fluxshard", clip, p);
      return r && f ? fmt("%.2fx", r->latency_ms / f->latency_ms) : "";
    });
    md += "\n";

    // Table II: accuracy.
    md += "### Accuracy (Table II), %\n\n";
    md += "Retention against ground truth (system / dense) where the clip has it, else against dense:\n\n";
    preset_table(compared, "system", [&](const std::string& sys, const std::string& p) -> std::string {
      const EvalRow* r = idx.get(sys, clip, p);
      return r ? pct(row_accuracy(*r)) : "";
    });
    md += "\nIn detail at " + mp + ":\n\n";
    md += table_head(
        {"system", "F1 vs dense", "mAP50 vs dense", "mask IoU vs dense", "GT IoU", "GT IoU of dense", "GT retention"});
    for (const std::string& s : compared)
      if (const EvalRow* r = idx.get(s, clip, mp))
        md += table_row({"`" + s + "`", fmt("%.3f", r->f1), fmt("%.3f", r->map50), fmt("%.3f", r->mask_iou),
                         fmt("%.3f", r->gt_iou), fmt("%.3f", r->gt_dense_iou), pct(r->gt_retention)});
    md += "\n";

    // Table III: cache hit ratio and bandwidth.
    md += "### Cache hit ratio (Table III), % of cached positions reused (uplink MB/s in parentheses)\n\n";
    md +=
        "For COACH-style and hold, frames that keep the last result count as fully reused; local and offload "
        "recompute everything. Blocks reused (share of input blocks not sent / recomputed) at " +
        mp + ": ";
    {
      std::string list;
      for (const std::string& s : compared)
        if (const EvalRow* r = idx.get(s, clip, mp)) list += (list.empty() ? "" : ", ") + s + " " + pct(r->block_reuse);
      md += list + ".\n\n";
    }
    preset_table(compared, "system", [&](const std::string& sys, const std::string& p) -> std::string {
      const EvalRow* r = idx.get(sys, clip, p);
      return r ? pct(r->hit_ratio) + " (" + fmt("%.3f", r->mb_per_s) + ")" : "";
    });
    md += "\n";

    // Fig. 4: time composition.
    md += "### Time composition (Fig. 4), ms per frame at " + mp + "\n\n";
    md +=
        "Edge: the edge's compute (emulated speed); network: upload, RTT and waiting for the result, less the "
        "server's time; server: queue and compute on the server.\n\n";
    md += table_head({"system", "edge", "network", "server", "end to end", "frames on the server %", "frames held %"});
    for (const std::string& s : compared)
      if (const EvalRow* r = idx.get(s, clip, mp))
        md += table_row({"`" + s + "`", fmt("%.1f", r->edge_ms), fmt("%.1f", r->network_ms), fmt("%.1f", r->server_ms),
                         fmt("%.1f", r->latency_ms), pct(r->cloud_share), pct(r->held_share)});
    md += "\n";

    // Fig. 5: scalability.
    if (edge_counts.size() > 1) {
      const std::string sp = meta_text(meta, "scaling_preset").empty() ? mp : meta_text(meta, "scaling_preset");
      md += "### Scalability (Fig. 5): latency (ms per frame) with 1-" + std::to_string(edge_counts.back()) +
            " edges sharing one " + sp + " link\n\n";
      std::vector<std::string> h = {"system"};
      for (int64_t e : edge_counts) h.push_back(std::to_string(e));
      h.push_back("growth");
      md += table_head(h);
      for (const std::string& s : compared) {
        std::vector<std::string> row = {"`" + s + "`"};
        const EvalRow *first = idx.get(s, clip, sp, edge_counts.front()),
                      *last = idx.get(s, clip, sp, edge_counts.back());
        bool any = false;  // systems that ran with several edges (not the local ones: they share no link)
        for (int64_t e : edge_counts) {
          const EvalRow* r = idx.get(s, clip, sp, e);
          any = any || (r && e > 1);
          row.push_back(r ? fmt("%.1f", r->latency_ms) : "-");
        }
        row.push_back(first && last ? fmt("%.2fx", last->latency_ms / first->latency_ms) : "-");
        if (any) md += table_row(row);
      }
      md += "\n";
    }

    // Table IV: ablations, and the sweeps.
    auto variants = [&](const std::vector<std::string>& names, const char* title) {
      bool any = false;
      for (const std::string& s : names) any = any || idx.get(s, clip, mp);
      if (!any) return;
      md += std::string("### ") + title + " at " + mp + "\n\n";
      md += table_head(
          {"variant", "end to end (ms)", "cache hit (%)", "blocks reused (%)", "uplink MB/s", "accuracy (%)"});
      std::vector<std::string> all = {"fluxshard"};
      all.insert(all.end(), names.begin(), names.end());
      for (const std::string& s : all)
        if (const EvalRow* r = idx.get(s, clip, mp))
          md += table_row({"`" + s + "`", fmt("%.1f", r->latency_ms), pct(r->hit_ratio), pct(r->block_reuse),
                           fmt("%.3f", r->mb_per_s), pct(row_accuracy(*r))});
      md += "\n";
    };
    variants(ablations, "Ablations (Table IV)");
    variants(sweeps, "Sweeps (block size, tau)");

    // Targets of this clip.
    bool bw_ok = true, bw_any = false;
    std::string bw;
    int64_t fs_bytes = 0, fs_background = 0;
    for (const std::string& p : presets) {
      const EvalRow *f = idx.get("fluxshard", clip, p), *o = idx.get("offload", clip, p);
      if (!f || !o || !(o->mb_per_s > 0)) continue;
      bw_any = true;
      const double cut = 1 - f->mb_per_s / o->mb_per_s;
      bw_ok = bw_ok && cut >= 0.9;
      bw += (bw.empty() ? "" : ", ") + p + " " + pct(cut) + "%";
      fs_bytes += f->bytes_up, fs_background += f->background_bytes;
    }
    if (bw_any)
      targets.push_back({"bandwidth at least 90% below full offload at every preset", clip,
                         bw + " below (FluxShard's background updates: " +
                             pct(fs_bytes ? double(fs_background) / double(fs_bytes) : 0.0) + "% of its bytes)",
                         bw_ok ? "met" : "missed"});
    if (const EvalRow* f = idx.get("fluxshard", clip, mp), *o = idx.get("offload", clip, mp); f && o) {
      const double sp = o->latency_ms / f->latency_ms;
      targets.push_back({"latency at least 3x below full offload at medium (K = 6)", clip,
                         fmt("%.2fx", sp) + " at " + mp + ", K = " + fmt("%g", K),
                         sp >= 3 ? "met" : "missed by " + fmt("%.2f", 3 - sp) + "x"});
    }
    {
      std::string faster;
      bool ok = true, any = false;
      for (const std::string& p : presets) {
        const EvalRow* f = idx.get("fluxshard", clip, p);
        if (!f) continue;
        const double fa = row_accuracy(*f);
        for (const std::string& s : baselines) {
          const EvalRow* r = idx.get(s, clip, p);
          if (!r) continue;
          any = true;
          const double ra = row_accuracy(*r);
          if (r->latency_ms <= f->latency_ms) {
            const bool equal_acc = ra >= fa - kAccuracyTolerance;
            ok = ok && !equal_acc;
            faster += (faster.empty() ? "" : "; ") + s + " at " + p + " (" + fmt("%.1f", r->latency_ms) + " vs " +
                      fmt("%.1f", f->latency_ms) + " ms, accuracy " + pct(ra) + "% vs " + pct(fa) + "%)";
            losses.push_back("`" + clip + "`, " + p + ": `" + s + "` is faster than FluxShard (" +
                             fmt("%.1f", r->latency_ms) + " vs " + fmt("%.1f", f->latency_ms) + " ms per frame) " +
                             (equal_acc ? "at equal (within 0.5 points) or better accuracy" : "at lower accuracy") + " (" + pct(ra) +
                             "% vs " + pct(fa) + "%).");
          } else if (ra > fa + kAccuracyTolerance) {
            losses.push_back("`" + clip + "`, " + p + ": `" + s + "` is more accurate than FluxShard (" + pct(ra) +
                             "% vs " + pct(fa) + "%) and slower (" + fmt("%.1f", r->latency_ms) + " vs " +
                             fmt("%.1f", f->latency_ms) + " ms).");
          }
        }
      }
      if (any)
        targets.push_back({"latency below every baseline at every preset at equal or better accuracy", clip,
                           faster.empty() ? "below all" : "not below: " + faster,
                           ok ? (faster.empty() ? "met" : "met (the faster ones are less accurate)") : "missed"});
    }
    {
      const double need = task == "segment" ? 0.97 : 0.99;
      std::string got;
      bool ok = true, any = false;
      for (const std::string& p : presets)
        if (const EvalRow* f = idx.get("fluxshard", clip, p); f && std::isfinite(f->gt_retention)) {
          any = true;
          ok = ok && f->gt_retention >= need;
          got += (got.empty() ? "" : ", ") + p + " " + pct(f->gt_retention) + "%";
        }
      if (any)
        targets.push_back({std::string("retention against ground truth >= ") + (task == "segment" ? "97" : "99") +
                               "% of dense (" + task + ")",
                           clip, got, ok ? "met" : "missed"});
    }
    if (edge_counts.size() > 1) {
      const std::string sp = meta_text(meta, "scaling_preset").empty() ? mp : meta_text(meta, "scaling_preset");
      double fs_growth = kNaN;
      std::string flatter;
      std::map<std::string, double> growth;
      for (const std::string& s : compared) {
        const EvalRow *a = idx.get(s, clip, sp, edge_counts.front()), *b = idx.get(s, clip, sp, edge_counts.back());
        if (a && b) growth[s] = b->latency_ms / a->latency_ms;
      }
      if (growth.count("fluxshard")) {
        fs_growth = growth["fluxshard"];
        for (const auto& g : growth)
          if (g.first != "fluxshard" && g.second < fs_growth)
            flatter += (flatter.empty() ? "" : ", ") + g.first + " " + fmt("%.2fx", g.second);
        targets.push_back(
            {"latency growth from 1 to " + std::to_string(edge_counts.back()) + " edges the flattest of all systems",
             clip, "FluxShard " + fmt("%.2fx", fs_growth) + (flatter.empty() ? "" : "; flatter: " + flatter),
             flatter.empty() ? "met" : "missed"});
      }
    }
  }
  // The whole evaluation of one clip at one preset.
  {
    std::map<std::string, double> wall;
    for (const EvalRow& r : res.rows)
      if (r.edges == 1) wall[r.clip + " at " + r.preset] += r.wall_s;
    const JsonValue* ref = meta.find("reference_s");
    std::string got;
    bool ok = true;
    for (auto& w : wall) {
      double ref_s = 0;
      if (ref && ref->is_object())
        for (const std::string& c : clips)
          if (w.first.rfind(c + " at ", 0) == 0 && ref->find(c) && ref->at(c).is_number())
            ref_s = ref->at(c).as_double();
      const double total = w.second + ref_s;
      ok = ok && total < 300;
      got += (got.empty() ? "" : ", ") + w.first + ": " + fmt("%.0f", total) + " s";
    }
    if (!wall.empty())
      targets.push_back({"the whole evaluation of one clip at one preset under 5 minutes", "all",
                         got + " (load average at the start " + meta_text(meta, "load_start") + ")",
                         ok ? "met" : "missed"});
  }

  md += "## Targets\n\n";
  md += table_head({"target", "clip", "measured", "verdict"}, 4);
  for (const auto& t : targets) md += table_row(t);
  md += "\n";
  md += "## Where FluxShard does not win\n\n";
  if (losses.empty())
    md +=
        "Nowhere in this run: FluxShard is the fastest at every preset and no baseline is "
        "more accurate by more than half a point.\n";
  for (const std::string& l : losses) md += "- " + l + "\n";
  md += "\n";

  const std::vector<std::string> plots = meta_strings(meta, "plots");
  md += "## Plots\n\n";
  if (plots.empty()) {
    const std::string why = meta_text(meta, "plots_error");
    md += "Not made" + (why.empty() ? std::string(".") : ": " + why) + "\n";
  }
  for (const std::string& p : plots) md += "![" + p + "](" + p + ")\n";
  return md;
}

}  // namespace fx::cli
