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
#include "net/dense_backend.h"
#include "runtime/sparse/truncation.h"
#include "net/wire.h"
#include "ops/thread_pool.h"
#include "runtime/detector.h"
#include "runtime/op_runner.h"
#include "runtime/plan.h"
#include "runtime/sparse/sparse_executor.h"

namespace fx::net {

struct SessionConfig {
  int block = 16;
  Codec codec = Codec::Raw;
  bool approximate = false;
  float conf = 0.25f, iou = 0.7f;
  float island_eps = 0;        // approximate mode without a truncation table (see net/truncation.h)
  float island_reused_scale = 1;  // approximate mode: SparseParams::island_reused_scale
  float salience_conf = 1;     // below conf: results also carry the salience prior
  std::string backend = "cpu";
};

class ServerSession {
 public:
  ServerSession(std::shared_ptr<const Plan> plan, std::shared_ptr<ThreadPool> pool,
                std::shared_ptr<const OpRunner> runner, std::shared_ptr<const TruncationTable> truncation,
                SessionConfig cfg);

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

  std::shared_ptr<const Plan> plan_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<const TruncationTable> truncation_;
  SessionConfig cfg_;
  BlockGrid grid_;
  OutputLayout layout_;
  std::unique_ptr<SparseExecutor> exec_;     // cpu backend
  std::unique_ptr<DenseBackend> dense_;      // other backends: R evolves here, inference is dense
  std::vector<uint8_t> ref_[2];              // R for dense backends
  int ref_cur_ = 0;
  bool initialised_ = false;
  std::vector<uint8_t> frame_;   // decoded fresh pixels of the current update
  std::vector<uint8_t> fresh_;
  std::vector<Label> labels_, motion_;
  std::vector<float> default_eps_;
  float recomputed_share_ = 0;
};

}  // namespace fx::net
