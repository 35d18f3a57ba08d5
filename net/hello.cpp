#include "net/hello.h"

#include <cstdio>

#include "net/token.h"

namespace fx::net {

namespace {
HelloVerdict refuse(wire::ErrorCode code, std::string reason) {
  HelloVerdict v;
  v.code = code;
  v.reason = std::move(reason);
  return v;
}
}  // namespace

HelloVerdict admit_hello(const wire::HelloT& h, const Plan& plan, const std::string& token) {
  if (h.protocol_version != kProtocolVersion)
    return refuse(wire::ErrorCode::Version, "unsupported protocol version " + std::to_string(h.protocol_version) +
                                                " (server speaks " + std::to_string(kProtocolVersion) + ")");
  if (!token.empty() && !token_equal(h.token, token))
    return refuse(wire::ErrorCode::Unauthorized, h.token.empty() ? "missing token" : "wrong token");
  if (h.plan_hash != plan.hash() || h.input_w != plan.input_w() || h.input_h != plan.input_h()) {
    // Without a token the plan's checksum is all a Hello needs: an unauthenticated peer is not told it.
    char msg[200];
    if (token.empty())
      std::snprintf(msg, sizeof msg, "plan mismatch: edge runs %dx%d plan %016llx, the server another", h.input_w,
                    h.input_h, static_cast<unsigned long long>(h.plan_hash));
    else
      std::snprintf(msg, sizeof msg, "plan mismatch: edge runs %dx%d plan %016llx, server %dx%d plan %016llx",
                    h.input_w, h.input_h, static_cast<unsigned long long>(h.plan_hash), plan.input_w(), plan.input_h(),
                    static_cast<unsigned long long>(plan.hash()));
    return refuse(wire::ErrorCode::PlanMismatch, msg);
  }
  if (h.block < 4 || h.block > 128 || plan.input_w() % h.block || plan.input_h() % h.block)
    return refuse(wire::ErrorCode::PlanMismatch,
                  "block size " + std::to_string(h.block) + " does not divide the input");
  int codec = static_cast<int>(h.codec), mode = static_cast<int>(h.mode);
  if (codec < 0 || codec > 3 || mode < 0 || mode > 1 || !(h.conf >= 0 && h.conf <= 1) || !(h.iou >= 0 && h.iou <= 1) ||
      !(h.island_eps >= 0 && h.island_eps <= 1e3) ||
      !(h.island_reused_scale >= 1 && h.island_reused_scale <= 1e6) || !(h.salience_conf >= 0 && h.salience_conf <= 1))
    return refuse(wire::ErrorCode::Malformed, "invalid session parameters in Hello");
  HelloVerdict v;
  v.ok = true;
  v.cfg.block = h.block;
  v.cfg.codec = codec_from_int(codec);
  v.cfg.approximate = h.mode == wire::Mode::Approximate;
  v.cfg.conf = h.conf;
  v.cfg.iou = h.iou;
  v.cfg.island_eps = h.island_eps;
  v.cfg.island_reused_scale = h.island_reused_scale;
  v.cfg.salience_conf = h.salience_conf;
  return v;
}

}  // namespace fx::net
