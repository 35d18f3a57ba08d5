// Length-prefixed framing of a byte stream: each message is a 4-byte little-endian length L followed by
// L bytes. The reader checks L against a hard limit before buffering any byte of the body and grows its
// buffer only as bytes arrive (never more than L), so a peer cannot make it allocate from a length it
// merely announced.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fx::net {

// Appends the 4-byte length prefix and the message.
void append_frame(std::vector<uint8_t>& out, const uint8_t* msg, size_t size);

class FrameReader {
 public:
  // on_message(data, size) receives each complete message body; it returns false to stop reading (the
  // rest of the input is ignored, e.g. because the connection is closing).
  using Handler = std::function<bool(const uint8_t* data, size_t size)>;

  explicit FrameReader(uint32_t max_message) : max_(max_message) {}

  // The limit for messages whose prefix has not been read yet.
  void set_limit(uint32_t max_message) { max_ = max_message; }
  uint32_t limit() const { return max_; }

  // Consumes `n` bytes. Returns false on a framing error (a zero length or one over the limit; error()
  // says which) or when the handler asked to stop; nothing more may be fed after that.
  bool feed(const uint8_t* data, size_t n, const Handler& on_message);

  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }
  // Bytes held for the message being assembled, and the buffer's capacity (its memory).
  size_t buffered() const { return body_.size(); }
  size_t capacity() const { return body_.capacity(); }
  size_t peak_capacity() const { return peak_; }
  // Inside a message (part of a prefix or body received): the stream ending now truncates it.
  bool mid_message() const { return prefix_have_ > 0; }
  // "got N of M bytes" for a truncated message.
  std::string pending() const;

 private:
  uint32_t max_;
  uint8_t prefix_[4] = {0, 0, 0, 0};
  int prefix_have_ = 0;
  uint32_t want_ = 0;  // body length of the message being assembled (valid when prefix_have_ == 4)
  std::vector<uint8_t> body_;
  std::string error_;
  bool stopped_ = false;
  size_t peak_ = 0;
};

}  // namespace fx::net
