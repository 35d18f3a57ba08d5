#include "net/framing.h"

#include <algorithm>
#include <cstring>

namespace fx::net {

void append_frame(std::vector<uint8_t>& out, const uint8_t* msg, size_t size) {
  uint32_t n = static_cast<uint32_t>(size);
  uint8_t p[4] = {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
                  static_cast<uint8_t>(n >> 24)};
  out.insert(out.end(), p, p + 4);
  out.insert(out.end(), msg, msg + size);
}

bool FrameReader::feed(const uint8_t* data, size_t n, const Handler& on_message) {
  if (failed() || stopped_) return false;
  while (n > 0) {
    if (prefix_have_ < 4) {
      size_t k = std::min<size_t>(n, static_cast<size_t>(4 - prefix_have_));
      std::memcpy(prefix_ + prefix_have_, data, k);
      prefix_have_ += static_cast<int>(k);
      data += k, n -= k;
      if (prefix_have_ < 4) break;
      want_ = static_cast<uint32_t>(prefix_[0]) | static_cast<uint32_t>(prefix_[1]) << 8 |
              static_cast<uint32_t>(prefix_[2]) << 16 | static_cast<uint32_t>(prefix_[3]) << 24;
      if (want_ == 0) {
        error_ = "empty message (length prefix 0)";
        return false;
      }
      if (want_ > max_) {
        error_ = "message length " + std::to_string(want_) + " over the limit " + std::to_string(max_);
        return false;
      }
      body_.clear();
    }
    size_t k = std::min<size_t>(n, want_ - body_.size());
    size_t need = body_.size() + k;
    if (need > body_.capacity()) {
      // Geometric growth, capped by the announced length: the buffer is never more than twice the bytes
      // actually received.
      size_t cap = std::min<size_t>(want_, std::max(need, body_.capacity() * 2));
      body_.reserve(cap);
      peak_ = std::max(peak_, body_.capacity());
    }
    body_.insert(body_.end(), data, data + k);
    data += k, n -= k;
    if (body_.size() == want_) {
      prefix_have_ = 0;
      bool go_on = on_message(body_.data(), body_.size());
      body_.clear();
      // Do not keep a large buffer around between messages.
      if (body_.capacity() > (1u << 20)) body_.shrink_to_fit();
      if (!go_on) {
        stopped_ = true;
        return false;
      }
    }
  }
  return true;
}

std::string FrameReader::pending() const {
  if (prefix_have_ < 4) return "got " + std::to_string(prefix_have_) + " of 4 length bytes";
  return "got " + std::to_string(body_.size()) + " of " + std::to_string(want_) + " bytes";
}

}  // namespace fx::net
