// COCO run-length encoding of binary masks (pycocotools' uncompressed and compressed forms).
//
// Pixels are visited in COLUMN-major order (x outer, y inner: index x * height + y, like pycocotools on a
// Fortran-ordered h x w array); counts alternate runs of 0s and 1s and always start with a run of 0s (which
// may be 0 long). The counts of a w x h mask sum to w * h. Examples: all zeros -> [w*h], all ones ->
// [0, w*h], an empty (0-pixel) mask -> [0].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/post/masks.h"  // Mask, mask_area, mask_iou

namespace fx {

std::vector<uint32_t> rle_encode(const Mask& m);

// Inverse of rle_encode; throws fx::Error when the counts do not sum to width * height.
Mask rle_decode(const std::vector<uint32_t>& counts, int width, int height);

// Area from counts (sum of the odd-position runs).
int64_t rle_area(const std::vector<uint32_t>& counts);

// pycocotools' compressed string form (rleToString / rleFrString: 6 bits per character, ASCII 48..111, counts
// from the fourth on stored as differences to the count two before). The decoder rejects malformed strings
// with fx::Error.
std::string rle_to_coco_string(const std::vector<uint32_t>& counts);
std::vector<uint32_t> rle_from_coco_string(const std::string& s);

}  // namespace fx
