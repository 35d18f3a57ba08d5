// The pieces of the evaluation's baseline policies (DESIGN 8) that the engine runs: each baseline is the
// same pipeline (planner, sparse executor, edge client, server) with one of these choices in place of
// FluxShard's, so a comparison differs in the policy only. Which options make up each system, and what
// each simplifies, is in net/systems.h.
//
//   global_motion   MotionDeltaCNN-style alignment: one vector for the whole frame (the median of the
//                   block vectors) aligns every block; the block's change is its SAD at that vector
//   frame_change    COACH-style whole-frame similarity: the mean absolute difference of two images
//   roi_blocks      ROI-style selection: the blocks a small detector's boxes cover
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/motion/aligner.h"
#include "runtime/post/detections.h"

namespace fx {

// Replaces every block's vector of `field` (as MotionAligner::estimate left it for cur against ref) by one
// global vector and re-evaluates the block there: cost = SAD / (B * B * 3 * 255), candidate = cost above
// opt.tau (the aligner's integer rule). The global vector is, of zero, the component-wise median of the
// block vectors (the lower median for an even count) and the most frequent non-zero block vector, the
// one with the least SAD summed over the frame (ties: that order). A block whose source at that vector
// leaves ref takes the nearest vector that stays inside and is a candidate and exposed (its content is
// new). Returns the global vector.
MotionVector global_motion(const uint8_t* cur, const uint8_t* ref, int width, int height, const AlignerOptions& opt,
                           MotionField& field);

// Mean absolute difference / 255 of two packed images of `bytes` bytes (0: identical, 1: black vs white).
double frame_change(const uint8_t* a, const uint8_t* b, size_t bytes);

// fresh[k] = 1 for every block of a width x height grid of `block` pixels that a box (input pixels, grown
// by `margin` pixels on each side) overlaps, else 0.
void roi_blocks(const std::vector<Detection>& boxes, int width, int height, int block, int margin,
                std::vector<uint8_t>& fresh);

}  // namespace fx
