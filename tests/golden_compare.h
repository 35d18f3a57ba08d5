// Outputs against ONNX Runtime's (a golden), channel by channel: axis 1 of an output is a row of output0
// (box coordinates, class scores, mask coefficients) or a prototype map. A whole-tensor range would let
// output0's box rows (~640) set the tolerance of its class-score rows (<= 1), leaving the scores
// unchecked element by element, so each channel is measured on its own: class-score rows by their
// absolute error (scores are probabilities, and the rows of absent classes span ~1e-5, where the two
// runtimes' sigmoid tails differ by ~1e-7), every other channel relative to its own range.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>

#include "golden_format.h"

namespace fx::test {

struct ChannelError {
  double rel = 0;  // max over non-score channels of max |ours - ref| / the channel's range
  size_t rel_channel = 0;
  double score_abs = 0;  // max |ours - ref| over the class-score rows
  size_t score_channel = 0;
  size_t non_finite = 0;  // non-finite values of ours
  std::string str() const {
    std::ostringstream s;
    s << "worst channel error " << rel << " of its own range (channel " << rel_channel << ")";
    if (score_abs > 0 || score_channel > 0)
      s << ", class scores max abs error " << score_abs << " (row " << score_channel << ")";
    return s.str();
  }
};

// `ours` holds ref.values.size() floats in the golden's order; channels [score_begin, score_end) are class
// scores. A channel whose values are all equal is measured against a range of 1e-6.
inline ChannelError channel_error(const float* ours, const GoldenOutput& ref, size_t score_begin = 0,
                                  size_t score_end = 0) {
  ChannelError e;
  const size_t per = ref.channel_size();
  for (size_t c = 0; per && c < ref.values.size() / per; ++c) {
    double m = 0;
    for (size_t k = c * per; k < (c + 1) * per; ++k) {
      e.non_finite += !std::isfinite(ours[k]);
      m = std::max(m, std::fabs(static_cast<double>(ours[k]) - ref.values[k]));
    }
    if (c >= score_begin && c < score_end) {
      if (m >= e.score_abs) e.score_abs = m, e.score_channel = c;
    } else {
      const double r = m / std::max(1e-6, static_cast<double>(ref.ch_max[c]) - ref.ch_min[c]);
      if (r >= e.rel) e.rel = r, e.rel_channel = c;
    }
  }
  return e;
}

}  // namespace fx::test
