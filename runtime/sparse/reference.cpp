#include "runtime/sparse/reference.h"

#include <cstring>
#include <string>

#include "runtime/error.h"

namespace fx {

void apply_block_update(const uint8_t* prev, const std::vector<Label>& labels, const uint8_t* frame, int W, int H,
                        int block, uint8_t* out) {
  const int cols = W / block, rows = H / block;
  if (labels.size() != static_cast<size_t>(cols) * rows)
    throw Error("block update: " + std::to_string(labels.size()) + " labels for " + std::to_string(cols * rows) +
                " blocks");
  for (int by = 0; by < rows; ++by)
    for (int bx = 0; bx < cols; ++bx) {
      Label l = labels[static_cast<size_t>(by) * cols + bx];
      int x0 = bx * block, y0 = by * block;
      int sx = x0, sy0 = y0;
      const uint8_t* src = frame;
      if (l != kInvalid) {
        sx = x0 + shift_dx(l), sy0 = y0 + shift_dy(l);
        if (sx < 0 || sy0 < 0 || sx + block > W || sy0 + block > H)
          throw Error("block (" + std::to_string(bx) + "," + std::to_string(by) +
                      ") moves outside the reference image");
        src = prev;
      }
      for (int y = 0; y < block; ++y)
        std::memcpy(out + (static_cast<size_t>(y0 + y) * W + x0) * 3, src + (static_cast<size_t>(sy0 + y) * W + sx) * 3,
                    static_cast<size_t>(block) * 3);
    }
}

}  // namespace fx
