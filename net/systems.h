// The systems `fluxshard eval` compares (DESIGN 8, the paper's section VII): FluxShard, the baselines a
// user would otherwise pick, and FluxShard's ablations and parameter sweeps. Every one is a set of
// options of the same engine (the edge client of net/edge_client.h against the server of net/server.h,
// the same kernels, codec, link and thresholds), so that a comparison differs in the policy only. The
// algorithms the baselines add are in runtime/baselines.h; this table says which options make up each
// system and documents it (what it does, what we simplified, why the comparison is fair) for the report.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "net/edge_client.h"

namespace fx::net {

enum class SystemGroup { Baseline, FluxShard, Ablation, Sweep };
const char* group_name(SystemGroup g);

struct SystemSpec {
  std::string name;  // as --systems names it
  SystemGroup group;
  std::string what;         // what it does
  std::string simplified;   // what we simplified against the published system
  std::string fair;         // why the comparison is fair
  bool small_plan = false;  // needs the small detector (--small-plan)
  bool local = false;       // runs on the edge only (no server)
};

// Every system, in report order: baselines, FluxShard, ablations, sweeps.
const std::vector<SystemSpec>& all_systems();
// nullptr when there is none of that name.
const SystemSpec* find_system(const std::string& name);

// What a system runs: the edge's options over `base` (which carries the user's session settings,
// threads, trace, slowdown and link) and its plan (`plan`, or `small_plan` for the systems that replace
// the model). `hold_k`: the hold baseline's period.
struct SystemSetup {
  EdgeOptions edge;
  std::shared_ptr<const Plan> plan;
};
SystemSetup system_setup(const SystemSpec& s, const EdgeOptions& base, std::shared_ptr<const Plan> plan,
                         std::shared_ptr<const Plan> small_plan, int hold_k);

// The codec settings every system uses unless its policy is a codec: JPEG at quality 90.
constexpr int kEvalJpegQuality = 90;
// COACH-style quantised upload: JPEG at quality 50.
constexpr int kCoachJpegQuality = 50;

}  // namespace fx::net
