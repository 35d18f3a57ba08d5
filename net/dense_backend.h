// A server backend that runs dense inference on a session's reference image instead of the CPU sparse
// executor: `--backend cuda` (runtime/cuda/cuda_executor.h, built only with FLUXSHARD_HAVE_CUDA). The
// reference image itself still evolves on the CPU by the block-update rule, so the edge's proxy stays
// exact whatever the backend.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/plan.h"

namespace fx::net {

class DenseBackend {
 public:
  virtual ~DenseBackend() = default;
  // Dense inference on a packed RGB24 image of the plan's input size.
  virtual void run(const uint8_t* rgb) = 0;
  // Host copy of output i after run().
  virtual const float* output(size_t i) = 0;
  virtual const char* name() const = 0;
};

// True when this build can make a backend of that name ("cuda").
bool dense_backend_available(const std::string& name);
// Throws fx::Error with one line when the backend is unknown or not built in.
std::unique_ptr<DenseBackend> make_dense_backend(const std::string& name, std::shared_ptr<const Plan> plan);

}  // namespace fx::net
