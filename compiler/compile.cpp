#include "compiler/compile.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "compiler/alias_plan.h"
#include "compiler/memory_plan.h"
#include "compiler/onnx_loader.h"
#include "compiler/passes/passes.h"
#include "compiler/plan_writer.h"
#include "compiler/shape_inference.h"
#include "compiler/spatial.h"
#include "runtime/error.h"
#include "runtime/version.h"

namespace fx {

ir::Graph compile_graph(ir::Graph g, CompileReport* report) {
  CompileReport r;
  r.folded = passes::fold_constants(g);
  r.dead += passes::remove_dead_nodes(g);
  r.batchnorms = passes::fold_batchnorm(g);
  r.activations = passes::fuse_conv_activation(g);
  r.residuals = passes::fuse_conv_residual(g);
  passes::canonicalize_ops(g);
  r.dead += passes::remove_dead_nodes(g);
  g.compact();
  infer_shapes(g);
  r.relayouts = passes::assign_layouts(g);
  g.compact();
  analyze_spatial(g);
  r.nodes = static_cast<int>(g.live_nodes().size());
  if (report) *report = r;
  return g;
}

std::vector<uint8_t> compile_onnx(const void* data, size_t size, const std::string& source, CompileReport* report) {
  ir::Graph g = compile_graph(load_onnx(data, size, source), report);
  AliasPlan aliases = plan_aliases(g);
  MemoryPlan mem = plan_memory(g, aliases);
  if (report) {
    report->arena_bytes = mem.arena_bytes;
    report->naive_bytes = mem.naive_bytes;
  }
  return write_plan(g, aliases, mem, version_string());
}

std::vector<uint8_t> compile_onnx_file(const std::string& path, CompileReport* report) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open '" + path + "': " + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return compile_onnx(bytes.data(), bytes.size(), path, report);
}

}  // namespace fx
