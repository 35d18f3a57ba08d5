// Operating points a user picks by name: each preset is a documented set of the session's knobs
// (SessionOptions) and the mode it runs in. `balanced` is the default: SessionOptions{} equals
// preset_options(Preset::Balanced). Measured FLOP hit / speed-up / F1 / mAP50 vs dense of each on the
// clip table: perf/RESULTS.md, "Presets".
//
//   exact     exact mode with 16-px blocks: every recompute candidate is recomputed (no salience
//             skipping, no rounding of shifts, no truncation); the aligner's tau (0.01) and the change
//             test (tau_rel 0.15) both make candidates, the drift bound is 0.5; only the reference
//             image's approximation is left (--tau 0: dense inference bit for bit).
//   balanced  fluxshard mode with 32-px blocks (one per stride-32 cell): the change test (tau_rel 0.4,
//             0.2 on salient blocks) decides, the aligner's candidates count above a normalised SAD of
//             0.05, salient blocks are refreshed above 0.005, drift bound 3; salience gating while few
//             blocks change, nearest-offset reuse, the attention island compared at 0.2 (1.5x where its
//             own inputs were reused).
//   fast      balanced with a looser change test (0.6, the aligner's candidates above 0.08), drift
//             bound 6, salient blocks refreshed above 0.01, and the island compared at 0.35 (3x where its
//             own inputs were reused).
// Scene cuts (60% of the blocks changed) and fades (3 grey levels) refresh every block in all three.
#pragma once

#include <string>

#include "runtime/session.h"

namespace fx {

enum class Preset { Exact, Balanced, Fast };

const char* preset_name(Preset p);
Preset parse_preset(const std::string& s);  // throws fx::Error naming the presets
SessionMode preset_mode(Preset p);
// The preset's mode and knobs on top of SessionOptions' defaults (post-processing, threads and the other
// settings a preset does not name stay as they are in `base`).
SessionOptions preset_options(Preset p, SessionOptions base = {});
// The preset a cache mode runs without one named: exact -> exact, fluxshard -> balanced.
Preset default_preset(SessionMode m);

}  // namespace fx
