// The compute side of one edge's session on the server: its reference image R and feature cache (a
// SparseExecutor), brought forward by the edge's FrameUpdate and Background messages in wire order, and
// the results of FrameUpdates (detections in letterboxed input pixels, masks at the source resolution,
// hashes of the raw outputs and of R). Runs on the server's compute thread, never on the loop.
//
// Everything in a message is checked before use: block counts and bitmaps against the grid, motion
// vectors against the image (a moved block must stay inside R), payloads by their codec (net/codec.h),
// the first update of a session must be a full one. A violation throws fx::Error with one line; the
// server then closes that connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/codec.h"
#include "net/wire.h"
#include "runtime/backend.h"
#include "runtime/pipeline.h"
#include "runtime/plan.h"

namespace fx::net {

struct SessionConfig {
  int block = 16;
  Codec codec = Codec::Raw;
  bool approximate = false;
  float conf = 0.25f, iou = 0.7f;
  float island_eps = 0;        // approximate mode without a truncation table (see net/truncation.h)
  float island_reused_scale = 1;  // approximate mode: SparseParams::island_reused_scale
  float salience_conf = 1;     // below conf: results also carry the salience prior
};

// The frame pipeline's options for a session of this configuration.
SessionOptions session_options(const SessionConfig& cfg);

// The frame pipeline's execute and decode stages (runtime/pipeline.h) on the server's device, which all
// sessions share (one set of weights; each session its own executor, on a GPU its own stream).
class ServerSession {
 public:
  ServerSession(std::shared_ptr<const Device> device, SessionConfig cfg);

  void apply_frame(const wire::FrameUpdateT& u, wire::ResultT& out);
  void apply_background(const wire::BackgroundT& b, wire::AckT& out);

  bool initialised() const { return initialised_; }
  const uint8_t* reference() const;
  uint64_t reference_hash() const;

 private:
  // Decodes the fresh blocks of `bs` into frame_ and the fresh mask into fresh_.
  void take_blocks(const wire::BlockSetT* bs, bool full);
  // Brings R and the caches forward; labels_ already set.
  void apply(const std::vector<Label>* motion, int bucket);
  void fill_result(int src_w, int src_h, wire::ResultT& out);

  SessionConfig cfg_;
  FramePipeline pipe_;
  BlockGrid grid_;
  bool initialised_ = false;
  std::vector<uint8_t> frame_;   // decoded fresh pixels of the current update
  std::vector<uint8_t> fresh_;
  std::vector<Label> labels_, motion_;
  float recomputed_share_ = 0;
};

}  // namespace fx::net
