#include "runtime/presets.h"

#include "runtime/error.h"

namespace fx {

const char* preset_name(Preset p) {
  switch (p) {
    case Preset::Exact: return "exact";
    case Preset::Balanced: return "balanced";
    case Preset::Fast: return "fast";
  }
  return "?";
}

Preset parse_preset(const std::string& s) {
  if (s == "exact") return Preset::Exact;
  if (s == "balanced") return Preset::Balanced;
  if (s == "fast") return Preset::Fast;
  throw Error("unknown preset '" + s + "' (exact, balanced or fast)");
}

SessionMode preset_mode(Preset p) { return p == Preset::Exact ? SessionMode::Exact : SessionMode::FluxShard; }

Preset default_preset(SessionMode m) { return m == SessionMode::Exact ? Preset::Exact : Preset::Balanced; }

SessionOptions preset_options(Preset p, SessionOptions o) {
  const SessionOptions d;  // balanced
  o.mode = preset_mode(p);
  o.aligner.block = d.aligner.block;
  o.aligner.tau = d.aligner.tau;
  o.sigma = d.sigma;
  o.stale_frames = d.stale_frames;
  o.gate_max_share = d.gate_max_share;
  o.tau_salient = d.tau_salient;
  o.change = d.change;
  o.tau_rel_salient = d.tau_rel_salient;
  o.staleness = d.staleness;
  o.eps_scale = d.eps_scale;
  o.island_eps = d.island_eps;
  o.island_reused_scale = d.island_reused_scale;
  switch (p) {
    case Preset::Exact:
      // 16-px blocks, and tight tests: exact mode recomputes every position that is not valid-by-shift,
      // so under motion its reuse is the shallow layers' whatever the share of fresh blocks, and a tighter
      // reference costs little (perf/RESULTS.md "Presets"). Every aligner candidate stays one (cap 0:
      // --tau 0 recomputes every block that differs, dense inference bit for bit). The mode ignores
      // sigma, the gate, tau_salient and the truncation knobs.
      o.aligner.block = 16;
      o.aligner.tau = 0.01f;
      o.change.tau_rel = 0.15f;
      o.change.cap = 0.f;
      o.staleness.drift_bound = 0.5f;
      break;
    case Preset::Balanced:
      break;
    case Preset::Fast:
      o.tau_salient = 0.01f;
      o.change.tau_rel = 0.6f;
      o.change.cap = 0.08f;
      o.staleness.drift_bound = 6.0f;
      o.island_eps = 0.35f;
      o.island_reused_scale = 3.0f;
      break;
  }
  return o;
}

}  // namespace fx
