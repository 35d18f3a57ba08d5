#include "runtime/post/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "runtime/error.h"
#include "runtime/post/nms.h"

namespace fx {

double box_iou(const float* a, const float* b) {
  const double aw = static_cast<double>(a[2]) - a[0], ah = static_cast<double>(a[3]) - a[1];
  const double bw = static_cast<double>(b[2]) - b[0], bh = static_cast<double>(b[3]) - b[1];
  const double area_a = aw > 0 && ah > 0 ? aw * ah : 0.0;
  const double area_b = bw > 0 && bh > 0 ? bw * bh : 0.0;
  const double iw = std::min<double>(a[2], b[2]) - std::max<double>(a[0], b[0]);
  const double ih = std::min<double>(a[3], b[3]) - std::max<double>(a[1], b[1]);
  const double inter = iw > 0 && ih > 0 ? iw * ih : 0.0;
  const double uni = area_a + area_b - inter;
  return uni > 0 ? inter / uni : 0.0;
}

namespace {

double ratio_or_one(int64_t num, int64_t den) {
  return den == 0 ? 1.0 : static_cast<double>(num) / static_cast<double>(den);
}

double f1_of(int64_t tp, int64_t fp, int64_t fn) { return ratio_or_one(2 * tp, 2 * tp + fp + fn); }

}  // namespace

MatchResult match_detections(const std::vector<Detection>& pred, const std::vector<Detection>& ref, float iou_thr,
                             bool class_aware) {
  MatchResult r;
  std::vector<float> scores(pred.size());
  for (size_t i = 0; i < pred.size(); ++i) scores[i] = pred[i].score;
  const std::vector<int> order = order_by_score(scores.data(), static_cast<int>(pred.size()));
  std::vector<char> used(ref.size(), 0);
  double iou_sum = 0.0;
  for (int pi : order) {
    const Detection& p = pred[pi];
    int best = -1;
    double best_iou = 0.0;
    for (size_t j = 0; j < ref.size(); ++j) {
      if (used[j] || (class_aware && ref[j].cls != p.cls)) continue;
      const double iou = box_iou(p, ref[j]);
      if (iou >= iou_thr && (best < 0 || iou > best_iou)) {
        best = static_cast<int>(j);
        best_iou = iou;
      }
    }
    if (best >= 0) {
      used[best] = 1;
      r.pairs.emplace_back(pi, best);
      r.pair_iou.push_back(best_iou);
      iou_sum += best_iou;
    }
  }
  r.tp = static_cast<int>(r.pairs.size());
  r.fp = static_cast<int>(pred.size()) - r.tp;
  r.fn = static_cast<int>(ref.size()) - r.tp;
  r.precision = ratio_or_one(r.tp, r.tp + r.fp);
  r.recall = ratio_or_one(r.tp, r.tp + r.fn);
  r.f1 = f1_of(r.tp, r.fp, r.fn);
  r.mean_iou = r.tp > 0 ? iou_sum / r.tp : 0.0;
  return r;
}

static double pair_mask_iou(const std::pair<int, int>& pr, const std::vector<Mask>& pred_masks,
                            const std::vector<Mask>& ref_masks) {
  if (pr.first < 0 || static_cast<size_t>(pr.first) >= pred_masks.size() || pr.second < 0 ||
      static_cast<size_t>(pr.second) >= ref_masks.size())
    throw Error("mask_iou_matched: matched pair (" + std::to_string(pr.first) + ", " + std::to_string(pr.second) +
                ") has no mask (" + std::to_string(pred_masks.size()) + " predicted, " +
                std::to_string(ref_masks.size()) + " reference masks)");
  return mask_iou(pred_masks[pr.first], ref_masks[pr.second]);
}

double mask_iou_matched(const MatchResult& m, const std::vector<Mask>& pred_masks, const std::vector<Mask>& ref_masks) {
  if (m.pairs.empty()) return pred_masks.empty() && ref_masks.empty() ? 1.0 : 0.0;
  double sum = 0.0;
  for (const auto& pr : m.pairs) sum += pair_mask_iou(pr, pred_masks, ref_masks);
  return sum / static_cast<double>(m.pairs.size());
}

void MatchAccumulator::add(const MatchResult& m) {
  ++frames;
  tp += m.tp;
  fp += m.fp;
  fn += m.fn;
  frames_with_pred += m.tp + m.fp > 0;
  frames_with_ref += m.tp + m.fn > 0;
  frames_with_either += m.tp + m.fp + m.fn > 0;
  for (double v : m.pair_iou) iou_sum += v;
}

void MatchAccumulator::add(const MatchResult& m, const std::vector<Mask>& pred_masks,
                           const std::vector<Mask>& ref_masks) {
  // Compute first so a bad pair leaves the accumulator unchanged.
  double sum = 0.0;
  for (const auto& pr : m.pairs) sum += pair_mask_iou(pr, pred_masks, ref_masks);
  add(m);
  mask_iou_sum += sum;
  mask_pairs += static_cast<int64_t>(m.pairs.size());
}

double MatchAccumulator::precision() const { return ratio_or_one(tp, tp + fp); }
double MatchAccumulator::recall() const { return ratio_or_one(tp, tp + fn); }
double MatchAccumulator::f1() const { return f1_of(tp, fp, fn); }
double MatchAccumulator::mean_iou() const { return tp > 0 ? iou_sum / static_cast<double>(tp) : 0.0; }
double MatchAccumulator::mean_mask_iou() const {
  if (mask_pairs > 0) return mask_iou_sum / static_cast<double>(mask_pairs);
  return frames_with_either == 0 ? 1.0 : 0.0;
}

void ApAccumulator::add(const std::vector<Detection>& pred, const std::vector<Detection>& ref) {
  const MatchResult m = match_detections(pred, ref, iou_thr_, true);
  std::vector<char> tp(pred.size(), 0);
  for (const auto& pr : m.pairs) tp[static_cast<size_t>(pr.first)] = 1;
  auto grow = [&](int cls) {
    if (cls < 0) throw Error("mAP: negative class " + std::to_string(cls));
    if (static_cast<size_t>(cls) >= refs_.size())
      refs_.resize(static_cast<size_t>(cls) + 1, 0), by_class_.resize(refs_.size());
  };
  for (size_t i = 0; i < pred.size(); ++i) {
    grow(pred[i].cls);
    by_class_[static_cast<size_t>(pred[i].cls)].push_back({pred[i].score, tp[i] != 0});
    preds_above_floor_ += pred[i].score > floor_;
  }
  for (const Detection& r : ref) grow(r.cls), ++refs_[static_cast<size_t>(r.cls)];
  ++frames_;
}

double ApAccumulator::map() const {
  double sum = 0;
  int classes = 0;
  std::vector<Scored> d;
  std::vector<double> prec, rec;
  for (size_t c = 0; c < refs_.size(); ++c) {
    if (refs_[c] == 0) continue;
    ++classes;
    d = by_class_[c];
    // Rank by score; equal scores rank true positives last (the pessimistic order, independent of the
    // frames' order).
    std::sort(d.begin(), d.end(),
              [](const Scored& a, const Scored& b) { return a.score != b.score ? a.score > b.score : a.tp < b.tp; });
    prec.assign(d.size(), 0);
    rec.assign(d.size(), 0);
    int64_t tps = 0;
    for (size_t i = 0; i < d.size(); ++i) {
      tps += d[i].tp;
      prec[i] = static_cast<double>(tps) / static_cast<double>(i + 1);
      rec[i] = static_cast<double>(tps) / static_cast<double>(refs_[c]);
    }
    for (size_t i = d.size(); i-- > 1;) prec[i - 1] = std::max(prec[i - 1], prec[i]);  // envelope
    double ap = 0;
    size_t k = 0;
    for (int r = 0; r <= 100; ++r) {
      const double at = r / 100.0;
      while (k < rec.size() && rec[k] < at - 1e-12) ++k;
      if (k < rec.size()) ap += prec[k];
    }
    sum += ap / 101.0;
  }
  if (classes == 0) return preds_above_floor_ == 0 ? 1.0 : 0.0;
  return sum / classes;
}

namespace {
bool gt_foreground(const uint8_t* p) { return p[0] > 127 || p[1] > 127 || p[2] > 127; }
}  // namespace

std::vector<GtObject> gt_objects(const uint8_t* rgb, int width, int height) {
  std::vector<GtObject> out;
  std::vector<uint32_t> colours;
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const uint8_t* p = rgb + (static_cast<size_t>(y) * width + x) * 3;
      if (!gt_foreground(p)) continue;
      const uint32_t c = (uint32_t(p[0]) << 16) | (uint32_t(p[1]) << 8) | p[2];
      size_t k = std::find(colours.begin(), colours.end(), c) - colours.begin();
      if (k == colours.size()) {
        colours.push_back(c);
        GtObject o;
        o.box[0] = static_cast<float>(x), o.box[1] = static_cast<float>(y);
        o.box[2] = static_cast<float>(x + 1), o.box[3] = static_cast<float>(y + 1);
        out.push_back(o);
      }
      GtObject& o = out[k];
      o.box[0] = std::min(o.box[0], static_cast<float>(x));
      o.box[1] = std::min(o.box[1], static_cast<float>(y));
      o.box[2] = std::max(o.box[2], static_cast<float>(x + 1));
      o.box[3] = std::max(o.box[3], static_cast<float>(y + 1));
      ++o.pixels;
    }
  return out;
}

double gt_mask_iou(const uint8_t* rgb, int width, int height, const std::vector<Mask>& masks) {
  const size_t n = static_cast<size_t>(width) * height;
  std::vector<uint8_t> obj(n), pred(n, 0);
  for (size_t i = 0; i < n; ++i) obj[i] = gt_foreground(rgb + 3 * i);
  for (const Mask& m : masks) {
    if (m.width != width || m.height != height) continue;
    size_t area = 0, on = 0;
    for (size_t i = 0; i < n; ++i) {
      area += m.data[i];
      on += m.data[i] & obj[i];
    }
    if (area && on * 2 > area)
      for (size_t i = 0; i < n; ++i) pred[i] |= m.data[i];
  }
  size_t inter = 0, uni = 0;
  for (size_t i = 0; i < n; ++i) {
    inter += pred[i] & obj[i];
    uni += pred[i] | obj[i];
  }
  return uni ? static_cast<double>(inter) / uni : 1.0;
}

double gt_box_iou(const std::vector<GtObject>& objects, const std::vector<Detection>& dets) {
  if (objects.empty()) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (const GtObject& o : objects) {
    double best = 0;
    for (const Detection& d : dets) best = std::max(best, box_iou(o.box, d.box));
    sum += best;
  }
  return sum / static_cast<double>(objects.size());
}

}  // namespace fx
