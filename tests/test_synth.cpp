// `fluxshard synth`: synthetic YOLO11 graphs. The yolo11n graphs must be node for node the bundled
// Ultralytics exports (op types, names, attributes, wiring, constants, tensor shapes; only the weight
// values differ); every scale and task must compile, and the small ones run to finite, plausible outputs;
// FLOPs must agree with Ultralytics' published GFLOPs; weights are a pure function of the seed; bad
// command lines are one-line errors with exit status 2.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <set>

#include "compiler/compile.h"
#include "compiler/onnx_loader.h"
#include "compiler/shape_inference.h"
#include "compiler/synth/yolo11_synth.h"
#include "runtime/dense_executor.h"
#include "runtime/error.h"
#include "runtime/plan.h"
#include "test_util.h"

using namespace fx;

namespace {

std::string synth(char scale, const std::string& task, int imgsz, uint64_t seed = 0, int opset = 19,
                  const std::string& head = "8.3", SynthInfo* info = nullptr) {
  SynthOptions o;
  o.scale = scale;
  o.task = task;
  o.imgsz = imgsz;
  o.seed = seed;
  o.opset = opset;
  o.head = head;
  return synth_yolo11(o, info);
}

ir::Graph shaped(const std::string& bytes, const std::string& source) {
  ir::Graph g = load_onnx(bytes.data(), bytes.size(), source);
  infer_shapes(g);
  return g;
}

// A topological order that does not depend on the order the file lists its nodes in (the bundled
// assets were re-serialised by ONNX Runtime's quantiser, which reorders nodes breadth-first): Kahn's
// algorithm taking the ready node with the smallest name first.
std::vector<int> canonical_order(const ir::Graph& g) {
  std::vector<int> live = g.live_nodes();
  std::map<int, int> pending;                 // node -> inputs not yet produced
  std::map<int, std::vector<int>> readers;    // tensor -> nodes reading it
  std::set<std::pair<std::string, int>> ready;
  for (int n : live) {
    std::set<int> producers;
    for (int t : g.node(n).inputs)
      if (t >= 0 && g.producer(t) >= 0 && !producers.count(t)) {
        producers.insert(t);
        readers[t].push_back(n);
      }
    pending[n] = static_cast<int>(producers.size());
    if (producers.empty()) ready.insert({g.node(n).name, n});
  }
  std::vector<int> order;
  while (!ready.empty()) {
    int n = ready.begin()->second;
    ready.erase(ready.begin());
    order.push_back(n);
    for (int t : g.node(n).outputs)
      for (int r : readers[t])
        if (--pending[r] == 0) ready.insert({g.node(r).name, r});
  }
  return order;
}

bool same_attr(const ir::Attribute& a, const ir::Attribute& b) {
  return a.kind == b.kind && a.i == b.i && a.f == b.f && a.s == b.s && a.ints == b.ints && a.floats == b.floats;
}

// Learned weights: the values differ (random here, quantised in the assets); their shapes must not.
bool is_weight(const ir::Node& n, size_t input) {
  return (n.op == "Conv" || n.op == "ConvTranspose") && input >= 1 && n.name != "/model.23/dfl/conv/Conv";
}

void compare_with_export(const std::string& asset, const std::string& synth_bytes) {
  INFO("comparing with " << asset);
  std::string real_bytes = test::read_file(test::source_path("assets/" + asset));
  ir::Graph real = shaped(real_bytes, asset), syn = shaped(synth_bytes, "synth");
  CHECK(real.opset == syn.opset);
  REQUIRE(real.inputs.size() == syn.inputs.size());
  REQUIRE(real.outputs.size() == syn.outputs.size());
  for (size_t i = 0; i < real.inputs.size(); ++i) {
    CHECK(real.tensor(real.inputs[i]).name == syn.tensor(syn.inputs[i]).name);
    CHECK(real.tensor(real.inputs[i]).shape == syn.tensor(syn.inputs[i]).shape);
  }
  for (size_t i = 0; i < real.outputs.size(); ++i) {
    CHECK(real.tensor(real.outputs[i]).name == syn.tensor(syn.outputs[i]).name);
    CHECK(real.tensor(real.outputs[i]).shape == syn.tensor(syn.outputs[i]).shape);
  }
  std::vector<int> ro = canonical_order(real), so = canonical_order(syn);
  REQUIRE(ro.size() == real.live_nodes().size());
  REQUIRE(so.size() == syn.live_nodes().size());
  REQUIRE(ro.size() == so.size());
  int mismatches = 0;
  for (size_t k = 0; k < ro.size() && mismatches < 5; ++k) {
    const ir::Node &rn = real.node(ro[k]), &sn = syn.node(so[k]);
    INFO("node " << k << ": " << rn.op << " '" << rn.name << "' vs " << sn.op << " '" << sn.name << "'");
    bool ok = rn.op == sn.op && rn.name == sn.name && rn.attrs.size() == sn.attrs.size() &&
              rn.inputs.size() == sn.inputs.size() && rn.outputs.size() == sn.outputs.size();
    if (ok)
      for (const auto& [key, a] : rn.attrs) {
        auto it = sn.attrs.find(key);
        ok = ok && it != sn.attrs.end() && same_attr(a, it->second);
      }
    for (size_t i = 0; ok && i < rn.inputs.size(); ++i) {
      if (rn.inputs[i] < 0 || sn.inputs[i] < 0) {
        ok = rn.inputs[i] == sn.inputs[i];
        continue;
      }
      const ir::Tensor &rt = real.tensor(rn.inputs[i]), &st = syn.tensor(sn.inputs[i]);
      ok = rt.constant == st.constant && rt.shape == st.shape && rt.dtype == st.dtype;
      if (ok && !rt.constant) ok = rt.name == st.name;  // the same producer (names are the exporter's)
      if (ok && rt.constant && !is_weight(rn, i)) ok = rt.data == st.data;  // shapes, anchors, strides, scales
      INFO("input " << i << " '" << rt.name << "' " << ir::shape_string(rt.shape) << " vs '" << st.name << "' "
                    << ir::shape_string(st.shape));
      CHECK(ok);
    }
    for (size_t i = 0; ok && i < rn.outputs.size(); ++i) {
      const ir::Tensor &rt = real.tensor(rn.outputs[i]), &st = syn.tensor(sn.outputs[i]);
      ok = rt.name == st.name && rt.shape == st.shape;
      INFO("output " << i << " " << ir::shape_string(rt.shape) << " vs " << ir::shape_string(st.shape));
      CHECK(ok);
    }
    CHECK(ok);
    mismatches += !ok;
  }
  CHECK(mismatches == 0);
}

struct Run {
  std::shared_ptr<const Plan> plan;
  std::vector<std::vector<float>> outputs;
};

Run compile_and_run(const std::string& bytes) {
  std::vector<uint8_t> plan_bytes = compile_onnx(bytes.data(), bytes.size(), "synth.onnx");
  Run r;
  r.plan = Plan::from_bytes(plan_bytes.data(), plan_bytes.size(), "synth.fsp");
  DenseExecutor exec(r.plan, std::make_shared<ThreadPool>(2));
  const TensorInfo& in = r.plan->tensor(r.plan->input());
  uint64_t s = 12345;
  float* x = exec.input_data();
  for (int64_t i = 0; i < in.numel; ++i) {  // a seeded "image" in [0, 1]
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = static_cast<float>(s >> 40) / 16777216.0f;
  }
  exec.invoke();
  for (size_t i = 0; i < r.plan->outputs().size(); ++i) {
    const TensorInfo& t = r.plan->tensor(r.plan->outputs()[i]);
    r.outputs.emplace_back(exec.output_data(i), exec.output_data(i) + t.numel);
  }
  return r;
}

// Output checks: shapes, finiteness, and values in the ranges a YOLO head gives (activations stayed O(1)).
void check_outputs(const Run& r, const std::string& task, int imgsz) {
  const int64_t a = (imgsz / 8) * (imgsz / 8) + (imgsz / 16) * (imgsz / 16) + (imgsz / 32) * (imgsz / 32);
  const int64_t rows = 4 + 80 + (task == "segment" ? 32 : 0);
  REQUIRE(r.plan->task() == task);
  REQUIRE(r.plan->class_names().size() == 80);
  CHECK(r.plan->class_names()[0] == "person");
  REQUIRE(r.outputs.size() == (task == "segment" ? 2u : 1u));
  CHECK(r.plan->tensor(r.plan->outputs()[0]).shape == std::vector<int64_t>{1, rows, a});
  if (task == "segment")
    CHECK(r.plan->tensor(r.plan->outputs()[1]).shape == std::vector<int64_t>{1, 32, imgsz / 4, imgsz / 4});
  for (const auto& o : r.outputs) {
    size_t bad = 0;
    for (float v : o) bad += !std::isfinite(v);
    CHECK(bad == 0);
  }
  const std::vector<float>& y = r.outputs[0];
  auto at = [&](int64_t row, int64_t k) { return y[static_cast<size_t>(row * a + k)]; };
  size_t odd_boxes = 0, odd_scores = 0, odd_masks = 0;
  for (int64_t k = 0; k < a; ++k) {
    // DFL distances lie in [0, 15] strides: centres within 7.5 strides of the image, sizes up to 30.
    for (int j = 0; j < 2; ++j) odd_boxes += at(j, k) < -240 || at(j, k) > imgsz + 240;
    for (int j = 2; j < 4; ++j) odd_boxes += at(j, k) <= 0 || at(j, k) > 960;
    for (int j = 4; j < 84; ++j) odd_scores += at(j, k) < 0 || at(j, k) > 1;
    for (int64_t j = 84; j < rows; ++j) odd_masks += std::fabs(at(j, k)) > 100;
  }
  CHECK(odd_boxes == 0);
  CHECK(odd_scores == 0);
  CHECK(odd_masks == 0);
}

}  // namespace

TEST_CASE("synth yolo11n detect 640 is node for node the Ultralytics export", "[synth]") {
  compare_with_export("yolo11n-640.onnx", synth('n', "detect", 640));
}

TEST_CASE("synth yolo11n segment 640 (opset 12) is node for node the Ultralytics export", "[synth]") {
  compare_with_export("yolo11n-seg-640.onnx", synth('n', "segment", 640, 0, 12));
}

TEST_CASE("synth yolo11n detect 320 (opset 12, 8.4 head) is node for node the Ultralytics export", "[synth]") {
  compare_with_export("yolo11n-320.onnx", synth('n', "detect", 320, 0, 12, "8.4"));
}

TEST_CASE("synth n and s graphs compile and run to finite, plausible outputs", "[synth]") {
  for (char scale : {'n', 's'})
    for (const char* task : {"detect", "segment"}) {
      INFO("yolo11" << scale << " " << task << " 320");
      check_outputs(compile_and_run(synth(scale, task, 320)), task, 320);
    }
  // The other layouts and opsets, small.
  for (const char* task : {"detect", "segment"})
    for (int opset : {12, 13, 17, 21})
      for (const char* head : {"8.3", "8.4"}) {
        INFO("yolo11n " << task << " 128, opset " << opset << ", head " << head);
        check_outputs(compile_and_run(synth('n', task, 128, 3, opset, head)), task, 128);
      }
}

TEST_CASE("synth FLOPs match Ultralytics' published GFLOPs at 640; m, l and x compile", "[synth][flops]") {
  // Ultralytics' tables (thop, fused models). thop counts a ConvTranspose2d as a convolution evaluated at
  // every output pixel: 4x the multiply-adds of the 2x2 stride-2 upsample in Proto, which the compiler
  // counts as executed; the segment comparison adds thop's extra 3x back.
  struct Row {
    char scale;
    double detect, segment;
    int64_t npr;  // Proto channels
  };
  const Row rows[] = {{'n', 6.5, 10.4, 64}, {'s', 21.5, 35.5, 128}, {'m', 68.0, 123.3, 256},
                      {'l', 86.9, 142.2, 256}, {'x', 194.9, 319.0, 384}};
  for (const Row& row : rows)
    for (const char* task : {"detect", "segment"}) {
      SynthInfo info;
      std::string bytes = synth(row.scale, task, 640, 0, 19, "8.3", &info);
      std::vector<uint8_t> plan_bytes = compile_onnx(bytes.data(), bytes.size(), info.model_name);
      auto plan = Plan::from_bytes(plan_bytes.data(), plan_bytes.size(), info.model_name);
      double gflops = static_cast<double>(plan->total_flops()) / 1e9;
      CHECK(plan->total_flops() == info.flops);
      bool seg = std::strcmp(task, "segment") == 0;
      double thop = gflops + (seg ? 3.0 * 2.0 * row.npr * row.npr * 4 * 80.0 * 80.0 / 1e9 : 0.0);
      double published = seg ? row.segment : row.detect;
      INFO(info.model_name << ": " << gflops << " GFLOPs (thop convention " << thop << "), published " << published);
      CHECK(std::fabs(thop - published) <= 0.03 * published);
    }
}

TEST_CASE("synth parameter counts are Ultralytics' (fused)", "[synth]") {
  // yolo11.yaml's summaries count BN's two parameters per channel; fused, each BN leaves one bias.
  SynthInfo n, s, nseg;
  synth('n', "detect", 64, 0, 19, "8.3", &n);
  synth('s', "detect", 64, 0, 19, "8.3", &s);
  synth('n', "segment", 64, 0, 19, "8.3", &nseg);
  CHECK(n.parameters == 2616248);
  CHECK(s.parameters == 9443760);
  CHECK(nseg.parameters == 2868664);
}

TEST_CASE("synth: the same seed gives the same bytes, another seed other weights", "[synth]") {
  std::string a = synth('n', "segment", 160, 7), b = synth('n', "segment", 160, 7), c = synth('n', "segment", 160, 8);
  CHECK(a == b);
  CHECK(a != c);
  ir::Graph ga = load_onnx(a.data(), a.size(), "a"), gc = load_onnx(c.data(), c.size(), "c");
  for (const char* name : {"model.0.conv.weight", "model.10.m.0.attn.qkv.conv.weight", "model.23.cv3.2.2.weight"}) {
    INFO(name);
    int ta = ga.find_tensor(name), tc = gc.find_tensor(name);
    REQUIRE(ta >= 0);
    REQUIRE(tc >= 0);
    CHECK(ga.tensor(ta).shape == gc.tensor(tc).shape);
    CHECK(ga.tensor(ta).data != gc.tensor(tc).data);
  }
  // Constants that are not weights do not depend on the seed.
  for (const char* name : {"model.23.dfl.conv.weight", "/model.23/strides", "/model.23/anchors_0"}) {
    INFO(name);
    int ta = ga.find_tensor(name), tc = gc.find_tensor(name);
    REQUIRE(ta >= 0);
    REQUIRE(tc >= 0);
    CHECK(ga.tensor(ta).data == gc.tensor(tc).data);
  }
  // The backbone weights depend on (seed, name) only: detect and segment graphs share them.
  std::string d = synth('n', "detect", 320, 7);
  ir::Graph gd = load_onnx(d.data(), d.size(), "d");
  CHECK(gd.tensor(gd.find_tensor("model.8.m.0.m.1.cv2.conv.weight")).data ==
        ga.tensor(ga.find_tensor("model.8.m.0.m.1.cv2.conv.weight")).data);
}

TEST_CASE("synth options are validated", "[synth]") {
  SynthOptions o;
  o.imgsz = 100;
  CHECK_THROWS_AS(synth_yolo11(o), Error);
  o.imgsz = 640;
  o.scale = 'q';
  CHECK_THROWS_AS(synth_yolo11(o), Error);
  o.scale = 'n';
  o.task = "pose";
  CHECK_THROWS_AS(synth_yolo11(o), Error);
  o.task = "detect";
  o.opset = 11;
  CHECK_THROWS_AS(synth_yolo11(o), Error);
}

TEST_CASE("fluxshard synth: command line", "[synth][cli]") {
  test::TempDir tmp;
  std::string out = tmp.file("m.onnx");
  test::CliResult ok = test::run_cli({"synth", "yolo11n-seg", "--imgsz", "96", "--seed", "5", "-o", out});
  INFO(ok.err);
  REQUIRE(ok.status == 0);
  CHECK(test::count_lines(ok.out) == 1);
  std::string bytes = test::read_file(out);
  CHECK(bytes == synth('n', "segment", 96, 5));

  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"synth", "yolo11q", "-o", out}, {"synth", "yolo11n", "--imgsz", "100", "-o", out},
        {"synth", "yolo11n", "--task", "pose", "-o", out}, {"synth", "yolo11n", "--seed", "-1", "-o", out},
        {"synth", "yolo11n"}, {"synth", "yolo11n-seg", "--task", "detect", "-o", out}}) {
    test::CliResult r = test::run_cli(bad);
    INFO(bad[1] << " " << (bad.size() > 2 ? bad[2] : "") << ": " << r.err);
    CHECK(r.status == 2);
    CHECK(test::count_lines(r.err) == 1);
    CHECK(r.err.rfind("error: ", 0) == 0);
  }
}
