// `fluxshard eval` (cli/cmd_eval.cpp, cli/eval_report.h): the CSV / JSON schema and the report's tables
// from a fixed small results file (tests/eval/results.json, values chosen so that each target verdict is
// known), its errors, and an end-to-end run on 5 frames of a bundled clip with two systems, resumed.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <sstream>

#include "runtime/util/json.h"
#include "test_util.h"

using namespace fx;

namespace {

bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

const char* kHeader =
    "system,group,clip,task,model,preset,edges,frames,latency_ms,p95_ms,edge_ms,network_ms,server_ms,mb_per_s,"
    "bytes_up,background_bytes,hit_ratio,block_reuse,held_share,cloud_share,f1,map50,mask_iou,gt_iou,gt_dense_iou,"
    "gt_retention,fallbacks,overruns,wall_s";

}  // namespace

TEST_CASE("eval --report: schema and paper-style tables from a fixed results file", "[cli][eval]") {
  test::TempDir tmp;
  const std::string fixed = test::read_file(test::source_path("tests/eval/results.json"));
  test::write_file(tmp.file("results.json"), fixed);
  auto r = test::run_cli({"eval", "--report", tmp.path(), "--no-plots"});
  INFO(r.err);
  REQUIRE(r.status == 0);

  // CSV: the documented columns, one line per row; NaN (mask IoU of a detect model) is an empty field.
  const auto csv = lines_of(test::read_file(tmp.file("results.csv")));
  REQUIRE(csv.size() == 14);
  CHECK(csv[0] == kHeader);
  CHECK(csv[1] ==
        "local,baseline,clipA,detect,yolo11n-640,high,1,10,600,900,600,0,0,0,0,0,0,0,0,0,1,0.95,,0.9,0.9,1,0,0,12.5");
  // JSON: the rows read back unchanged; the meta gains the plot list.
  const JsonValue in = JsonValue::parse(fixed), out = JsonValue::parse(test::read_file(tmp.file("results.json")));
  CHECK(out.at("rows") == in.at("rows"));
  CHECK(out.at("meta").at("plots").size() == 0);
  CHECK(out.at("meta").at("plots_error").as_string() == "--no-plots");
  for (const JsonValue& row : out.at("rows").items()) CHECK(row.keys().size() == 29);

  const std::string md = test::read_file(tmp.file("report.md"));
  // Fig. 3, Table II, Table III, Fig. 4, Fig. 5 and Table IV rows.
  CHECK(contains(md, "| `fluxshard` | 100.0 (150.0) | 100.0 (150.0) |\n"));
  CHECK(contains(md, "| `coach` | 0.80x | 1.50x |\n"));
  CHECK(contains(md, "| `fluxshard` | 99.5 | 98.5 |\n"));
  CHECK(contains(md, "| `fluxshard` | 80.0 (0.100) | 80.0 (0.300) |\n"));
  CHECK(contains(md, "| `coach` | 10.0 | 20.0 | 30.0 | 150.0 | 100.0 | 40.0 |\n"));
  CHECK(contains(md, "| `offload` | 300.0 | 600.0 | 2.00x |\n"));
  CHECK_FALSE(contains(md, "| `local` | 600.0 | - | - |"));  // local systems share no link
  CHECK(contains(md, "| `fs-no-salience` | 140.0 | 60.0 | 60.0 | 0.400 | 99.0 |\n"));
  CHECK(contains(md, "| edge, dense (ms per frame, emulated K = 6) | 600.0 |\n"));
  // The targets, each with the verdict its numbers give.
  CHECK(contains(md,
                 "| bandwidth at least 90% below full offload at every preset | clipA | high 95.0%, medium 85.0% "
                 "below (FluxShard's background updates: 0.0% of its bytes) | missed |"));
  CHECK(contains(
      md, "| latency at least 3x below full offload at medium (K = 6) | clipA | 3.00x at medium, K = 6 | met |"));
  CHECK(contains(md,
                 "| latency below every baseline at every preset at equal or better accuracy | clipA | not below: "
                 "coach at high (80.0 vs 100.0 ms, accuracy 95.0% vs 99.5%) | met (the faster ones are less "
                 "accurate) |"));
  CHECK(contains(md,
                 "| retention against ground truth >= 99% of dense (detect) | clipA | high 99.5%, medium 98.5% | "
                 "missed |"));
  CHECK(contains(md,
                 "| latency growth from 1 to 2 edges the flattest of all systems | clipA | FluxShard 1.50x; "
                 "flatter: coach 1.25x | missed |"));
  CHECK(contains(md, "clipA at high: 67 s, clipA at medium: 67 s"));
  CHECK(contains(md,
                 "- `clipA`, high: `coach` is faster than FluxShard (80.0 vs 100.0 ms per frame) at lower "
                 "accuracy (95.0% vs 99.5%)."));
  CHECK(contains(md, "K = 6 times its CPU time"));
  CHECK(contains(md, "this run did not use one"));
}

TEST_CASE("eval: bad command lines and results files", "[cli][eval]") {
  test::TempDir tmp;
  const std::string clip = test::source_path("assets/bedroom.mp4");
  auto r = test::run_cli({"eval", "plan.fsp", "--input", clip, clip, "--gt-masks", "a/%05d.png", "--out", tmp.path()});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "error: fluxshard eval: --gt-masks needs one pattern per clip (2 clips, 1 patterns"));
  r = test::run_cli({"eval", "plan.fsp", "--input", clip, "--systems", "fluxshard,dcnn", "--out", tmp.path()});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "error: fluxshard eval: --systems: unknown system 'dcnn'"));
  r = test::run_cli({"eval", "plan.fsp", "--input", clip, "--edges", "1,0", "--out", tmp.path()});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "--edges: '0' is not a number of edges from 1 to 16"));
  r = test::run_cli({"eval", "plan.fsp", "--input", clip, "--trace", "medium,slow", "--out", tmp.path()});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "error: fluxshard eval: --trace:"));
  test::write_file(tmp.file("results.json"), "{\"meta\": {}, \"rows\": [{\"system\": \"x\"}]}");
  r = test::run_cli({"eval", "--report", tmp.path(), "--no-plots"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "results.json: a row has no 'group'"));
}

TEST_CASE("eval end to end: 5 frames of a bundled clip, two systems, resumed", "[cli][eval]") {
  test::TempDir tmp;
  const std::string plan = tmp.file("yolo11n-320.fsp");
  REQUIRE(test::run_cli({"compile", test::source_path("assets/yolo11n-320.onnx"), "-o", plan, "--quiet"}).status == 0);
  const std::string out = tmp.file("eval");
  const std::vector<std::string> cmd = {"eval",
                                        plan,
                                        "--input",
                                        test::source_path("assets/bedroom.mp4"),
                                        "--systems",
                                        "local,fluxshard",
                                        "--trace",
                                        "medium",
                                        "--frames",
                                        "5",
                                        "--edge-slowdown",
                                        "2",
                                        "--out",
                                        out};
  auto r = test::run_cli(cmd);
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(contains(r.out, "2 cells (2 run now)"));
  const auto csv = lines_of(test::read_file(out + "/results.csv"));
  REQUIRE(csv.size() == 3);
  CHECK(csv[0] == kHeader);
  const JsonValue res = JsonValue::parse(test::read_file(out + "/results.json"));
  const JsonValue& rows = res.at("rows");
  REQUIRE(rows.size() == 2);
  const JsonValue &local = rows[0], &fs = rows[1];
  CHECK(local.at("system").as_string() == "local");
  CHECK(fs.at("system").as_string() == "fluxshard");
  for (const JsonValue* row : {&local, &fs}) {
    CHECK(row->at("frames").as_int() == 5);
    CHECK(row->at("clip").as_string() == "bedroom");
    CHECK(row->at("model").as_string() == "yolo11n-320");
    CHECK(row->at("latency_ms").as_double() > 0);
    CHECK(row->at("gt_retention").is_null());  // no ground truth given
  }
  // Local dense is the reference itself.
  CHECK(local.at("f1").as_double() == 1.0);
  CHECK(local.at("map50").as_double() == 1.0);
  CHECK(local.at("bytes_up").as_int() == 0);
  CHECK(local.at("hit_ratio").as_double() == 0.0);
  // FluxShard reached the server (its first frames at least: the reference is sent whole).
  CHECK(fs.at("bytes_up").as_int() > 0);
  CHECK(fs.at("f1").as_double() > 0.5);
  CHECK(res.at("meta").at("edge_slowdown").as_double() == 2.0);
  const std::string md = test::read_file(out + "/report.md");
  CHECK(contains(md, "## Clip `bedroom` (detect, yolo11n-320)"));
  CHECK(contains(md, "K = 2 times its CPU time"));
  // Plots where Debian's matplotlib is installed (scripts/setup.sh installs it).
  if (std::system("/usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1") == 0) {
    for (const char* p : {"latency.png", "bandwidth.png", "hit_ratio.png", "accuracy.png", "time_composition.png",
                          "accuracy_vs_latency.png", "scalability.png"}) {
      INFO(p);
      CHECK(test::read_file(out + "/" + p).substr(1, 3) == "PNG");
    }
    CHECK(res.at("meta").at("plots").size() == 7);
  }

  // Resumed: nothing is run again, the outputs are rewritten from the cells.
  r = test::run_cli(cmd);
  REQUIRE(r.status == 0);
  CHECK(contains(r.out, "2 cells (0 run now)"));
  CHECK(lines_of(test::read_file(out + "/results.csv")) == csv);
  // With other settings, the directory is refused.
  std::vector<std::string> other = cmd;
  other[other.size() - 3] = "3";  // --edge-slowdown 3
  r = test::run_cli(other);
  CHECK(r.status == 2);
  CHECK(contains(r.err, "holds a run with other settings (edge_slowdown: 2, now 3)"));
}
