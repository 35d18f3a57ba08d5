// The reference image R_t (DESIGN 5): per block of B x B pixels, either *fresh* (copied from the current
// frame) or *moved* by v (copied from R_{t-1} at p + v). Both sides of an edge-cloud session (and the
// edge's proxy of the server's reference) evolve R by exactly this rule, so they stay byte-identical
// when given the same labels and fresh pixels.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/sparse/labels.h"

namespace fx {

// prev, frame, out: packed RGB24, width x height; labels: (width/block) x (height/block), row-major,
// kInvalid for fresh blocks. out must not alias prev. Throws fx::Error when a moved block's source
// leaves the image.
void apply_block_update(const uint8_t* prev, const std::vector<Label>& labels, const uint8_t* frame, int width,
                        int height, int block, uint8_t* out);

}  // namespace fx
