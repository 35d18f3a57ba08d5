// In-place channel concatenation and split: a feature map that is one input of a channel Concat is
// stored directly as a channel slice of the Concat's output (its producer writes there), and the
// outputs of a channel Split are slices of its input. In YOLO11's C2f/C3k2 blocks both the Split and the
// Concat then move no data. A tensor is only aliased when every op touching it reads and writes through
// strided NHWC views (see can_view). Plain tensors alias at element offsets (channel_offset counts
// elements for them): a Reshape's output is its input's bytes, and a plain Concat / Split along an axis
// preceded only by size-1 axes keeps its parts as contiguous blocks of the whole.
#pragma once

#include <vector>

#include "compiler/ir.h"

namespace fx {

struct AliasPlan {
  std::vector<int> root;            // per tensor: the tensor owning its storage (itself if not aliased)
  std::vector<int> channel_offset;  // first channel (NHWC) or element (plain) of the tensor in its root
};

AliasPlan plan_aliases(const ir::Graph& g);

}  // namespace fx
