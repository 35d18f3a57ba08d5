// Start-up profiling of a side's execution time as a function of the number of fresh blocks (f_e on the
// edge, f_c on the server; DESIGN 6.5): a scratch sparse executor is reset on a textured image, then
// updates with a growing share of fresh blocks (random blocks of another image; the rest stay) are timed
// and post-processing is added. The best of `repeats` runs per point.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "runtime/backend.h"

namespace fx::net {

std::vector<std::pair<int, double>> profile_sparse(std::shared_ptr<const Device> device, int block, int repeats = 2);

}  // namespace fx::net
