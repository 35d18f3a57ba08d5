// The naive references: direct loops in the contract's order, std::fma for every term (padding terms
// included for Conv2d), the activation in double precision.
#include <cmath>

#include "ops/conv/conv.h"

namespace fx {
namespace {

float ref_act(Act act, float x) {
  switch (act) {
    case Act::None: return x;
    case Act::SiLU: return static_cast<float>(static_cast<double>(x) / (1.0 + std::exp(-static_cast<double>(x))));
    case Act::Sigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x))));
  }
  return x;
}

}  // namespace

void conv2d_reference(const ConvParams& p, const float* weight, const float* bias, const MapView& in,
                      const MapView& out, const MapView* residual, SpanList spans) {
  const int cin_g = p.cin / p.group, cout_g = p.cout / p.group;
  for (int s = 0; s < spans.count; ++s) {
    const Span& sp = spans.spans[s];
    const int oy = sp.y;
    for (int ox = sp.x0; ox < sp.x1; ++ox) {
      for (int co = 0; co < p.cout; ++co) {
        const int g = co / cout_g;
        float acc = bias ? bias[co] : 0.0f;
        for (int ky = 0; ky < p.kh; ++ky) {
          const int iy = oy * p.sh - p.pad_t + ky * p.dh;
          for (int kx = 0; kx < p.kw; ++kx) {
            const int ix = ox * p.sw - p.pad_l + kx * p.dw;
            const bool inside = iy >= 0 && iy < in.h && ix >= 0 && ix < in.w;
            for (int ci = 0; ci < cin_g; ++ci) {
              const float v = inside ? in.at(iy, ix)[g * cin_g + ci] : 0.0f;
              const float w = weight[((static_cast<int64_t>(co) * cin_g + ci) * p.kh + ky) * p.kw + kx];
              acc = std::fma(v, w, acc);
            }
          }
        }
        float r = ref_act(p.act, acc);
        if (residual) r += residual->at(oy, ox)[co];
        out.at(oy, ox)[co] = r;
      }
    }
  }
}

void conv_transpose2d_reference(const ConvTransposeParams& p, const float* weight, const float* bias,
                                const MapView& in, const MapView& out, SpanList spans) {
  const int cin_g = p.cin / p.group, cout_g = p.cout / p.group;
  for (int s = 0; s < spans.count; ++s) {
    const Span& sp = spans.spans[s];
    const int oy = sp.y;
    for (int ox = sp.x0; ox < sp.x1; ++ox) {
      for (int co = 0; co < p.cout; ++co) {
        const int g = co / cout_g, col = co % cout_g;
        float acc = bias ? bias[co] : 0.0f;
        for (int ky = 0; ky < p.kh; ++ky) {
          const int ny = oy + p.pad_t - ky * p.dh;  // = iy * sh
          if (ny < 0 || ny % p.sh != 0 || ny / p.sh >= in.h) continue;
          const int iy = ny / p.sh;
          for (int kx = 0; kx < p.kw; ++kx) {
            const int nx = ox + p.pad_l - kx * p.dw;
            if (nx < 0 || nx % p.sw != 0 || nx / p.sw >= in.w) continue;
            const int ix = nx / p.sw;
            for (int ci = 0; ci < cin_g; ++ci) {
              const int cig = g * cin_g + ci;
              const float w = weight[((static_cast<int64_t>(cig) * cout_g + col) * p.kh + ky) * p.kw + kx];
              acc = std::fma(in.at(iy, ix)[cig], w, acc);
            }
          }
        }
        out.at(oy, ox)[co] = ref_act(p.act, acc);
      }
    }
  }
}

}  // namespace fx
