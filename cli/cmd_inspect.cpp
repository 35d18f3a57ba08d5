#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/common.h"
#include "runtime/backend.h"
#include "runtime/plan.h"

namespace fx::cli {

namespace fb = ::fluxshard::plan;

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? "," : "") + std::to_string(s[i]);
  return o + "]";
}

std::string op_label(const OpDesc& op) {
  std::string k = op_kind_name(op.kind);
  const Act act = op.kind == OpKind::Conv ? op.conv.act : op.kind == OpKind::ConvTranspose ? op.conv_t.act : Act::None;
  if (act == Act::SiLU) k += "+SiLU";
  if (act == Act::Sigmoid) k += "+Sigmoid";
  if (op.has_residual) k += "+Add";
  return k;
}

const char* region_str(fb::Region r) {
  switch (r) {
    case fb::Region::Local: return "local";
    case fb::Region::Global: return "global";
    case fb::Region::Epilogue: return "epilogue";
  }
  return "?";
}

void json_string(const std::string& s) {
  std::putchar('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') std::printf("\\%c", c);
    else if (c < 0x20) std::printf("\\u%04x", c);
    else std::putchar(c);
  }
  std::putchar('"');
}

}  // namespace

int cmd_inspect(const Args& args) {
  args.max_positionals(1);
  auto plan = Plan::load_file(args.positional(0, "PLAN.fsp"));
  bool json = args.has("--json");
  // --backend: where each op runs on that backend (its own kernels, or the CPU fallback).
  std::shared_ptr<Device> device;
  if (args.has("--backend")) device = make_device(plan, backend_options(args));
  auto runs_on = [&](int i) -> std::string {
    return device->supports(i) ? device->options().kind : "cpu (fallback)";
  };
  uint64_t region_flops[3] = {0, 0, 0};
  int region_ops[3] = {0, 0, 0};
  if (json) {
    std::printf("{\"plan\":");
    json_string(plan->source());
    std::printf(",\"task\":");
    json_string(plan->task());
    std::printf(",\"input\":[%d,%d],\"classes\":%zu,\"arena_bytes\":%llu,\"nodes\":[", plan->input_h(),
                plan->input_w(), plan->class_names().size(), static_cast<unsigned long long>(plan->arena_bytes()));
  } else {
    std::printf("%s: %s, input %dx%d, %zu classes, arena %.1f MB\n\n", plan->source().c_str(), plan->task().c_str(),
                plan->input_w(), plan->input_h(), plan->class_names().size(), plan->arena_bytes() / 1e6);
    if (device) std::printf("backend: %s\n\n", device->name().c_str());
    std::printf("%4s  %-22s %-44s %-18s %6s  %-11s %-8s %10s%s\n", "#", "op", "name", "output", "stride", "halo t,l,b,r",
                "region", "MFLOPs", device ? "  runs on" : "");
  }
  for (int i = 0; i < plan->op_count(); ++i) {
    const OpDesc& op = plan->op(i);
    const TensorInfo& out = plan->tensor(op.out[0]);
    const OpDesc::Spatial& s = op.spatial;
    const fb::Region region = op.region;
    const int ri = static_cast<int>(region);
    if (ri >= 0 && ri < 3) {
      region_flops[ri] += op.flops;
      region_ops[ri]++;
    }
    const int ht = s.halo_top, hl = s.halo_left, hb = s.halo_bottom, hr = s.halo_right;
    std::string name = op.name;
    if (json) {
      std::printf("%s{\"index\":%d,\"op\":", i ? "," : "", i);
      json_string(op_label(op));
      std::printf(",\"name\":");
      json_string(name);
      std::printf(
          ",\"output_shape\":%s,\"layout\":\"%s\",\"stride\":%d,\"halo\":[%d,%d,%d,%d],\"region\":\"%s\",\"flops\":%"
          "llu",
          shape_str(out.shape).c_str(), out.layout == PlanLayout::NHWC ? "NHWC" : "plain", out.stride, ht, hl, hb, hr,
          region_str(region), static_cast<unsigned long long>(op.flops));
      if (device) {
        std::printf(",\"runs_on\":");
        json_string(runs_on(i));
      }
      if (s.kernel_h > 1 || s.stride_h > 1 || s.upsample > 1)
        std::printf(",\"kernel\":[%d,%d],\"conv_stride\":[%d,%d],\"pads\":[%d,%d,%d,%d],\"upsample\":%d", s.kernel_h,
                    s.kernel_w, s.stride_h, s.stride_w, s.pad_top, s.pad_left, s.pad_bottom, s.pad_right, s.upsample);
      std::printf("}");
    } else {
      if (name.size() > 44) name = "..." + name.substr(name.size() - 41);
      char halo[32];
      std::snprintf(halo, sizeof halo, "%d,%d,%d,%d", ht, hl, hb, hr);
      std::printf("%4d  %-22s %-44s %-18s %6d  %-11s %-8s %10.2f%s%s\n", i, op_label(op).c_str(), name.c_str(),
                  shape_str(out.shape).c_str(), out.stride, halo, region_str(region), op.flops / 1e6,
                  device ? "  " : "", device ? runs_on(i).c_str() : "");
    }
  }
  uint64_t total = plan->total_flops();
  if (json) {
    std::printf("],\"total_flops\":%llu,\"local_flops\":%llu,\"global_flops\":%llu,\"epilogue_flops\":%llu}\n",
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(region_flops[0]),
                static_cast<unsigned long long>(region_flops[1]), static_cast<unsigned long long>(region_flops[2]));
  } else {
    std::printf("\ntotal: %d ops, %.3f GFLOPs (2 x multiply-adds)\n", plan->op_count(), total / 1e9);
    const char* names[3] = {"local", "global", "epilogue"};
    for (int r = 0; r < 3; ++r)
      std::printf("  %-8s %4d ops  %8.3f GFLOPs  %5.1f%%\n", names[r], region_ops[r], region_flops[r] / 1e9,
                  total ? 100.0 * region_flops[r] / total : 0.0);
  }
  return 0;
}

}  // namespace fx::cli
