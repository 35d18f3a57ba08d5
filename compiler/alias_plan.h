// In-place channel concatenation and split: a feature map that is one input of a channel Concat is
// stored directly as a channel slice of the Concat's output (its producer writes there), and the
// outputs of a channel Split are slices of its input. In YOLO11's C2f/C3k2 blocks both the Split and the
// Concat then move no data. A tensor is only aliased when every op touching it reads and writes through
// strided NHWC views (see can_view). The output of a Reshape of a plain tensor is the same bytes as its
// input (channel offset 0).
#pragma once

#include <vector>

#include "compiler/ir.h"

namespace fx {

struct AliasPlan {
  std::vector<int> root;            // per tensor: the tensor owning its storage (itself if not aliased)
  std::vector<int> channel_offset;  // first channel of the tensor inside its root
};

AliasPlan plan_aliases(const ir::Graph& g);

}  // namespace fx
