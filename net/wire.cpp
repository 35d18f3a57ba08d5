#include "net/wire.h"

#include <algorithm>
#include <cstring>

#include "net/framing.h"

namespace fx::net {

std::vector<uint8_t> encode_frame(const wire::BodyUnion& body, uint32_t version) {
  flatbuffers::FlatBufferBuilder fbb(256);
  auto b = body.Pack(fbb);
  wire::MessageBuilder mb(fbb);
  mb.add_version(version);
  mb.add_body_type(body.type);
  mb.add_body(b);
  fbb.Finish(mb.Finish(), wire::MessageIdentifier());
  std::vector<uint8_t> out;
  append_frame(out, fbb.GetBufferPointer(), fbb.GetSize());
  return out;
}

Decoded decode_message(const uint8_t* data, size_t size) {
  Decoded d;
  if (size < 8) {
    d.status = DecodeStatus::TooShort;
    d.error = "message of " + std::to_string(size) + " bytes is too short";
    return d;
  }
  if (!flatbuffers::BufferHasIdentifier(data, wire::MessageIdentifier())) {
    d.status = DecodeStatus::BadIdentifier;
    d.error = "wrong file identifier (not a FluxShard wire message)";
    return d;
  }
  // 8-byte aligned copy when needed: the verifier and the accessors assume the buffer's alignment.
  std::vector<uint64_t> aligned;
  if (reinterpret_cast<uintptr_t>(data) % 8 != 0) {
    aligned.resize((size + 7) / 8);
    std::memcpy(aligned.data(), data, size);
    data = reinterpret_cast<const uint8_t*>(aligned.data());
  }
  flatbuffers::Verifier v(data, size, /*max_depth=*/16, /*max_tables=*/100000);
  if (!wire::VerifyMessageBuffer(v)) {
    d.status = DecodeStatus::Malformed;
    d.error = "message fails FlatBuffers verification";
    return d;
  }
  const wire::Message* m = wire::GetMessage(data);
  d.version = m->version();
  if (m->version() != kProtocolVersion) {
    d.status = DecodeStatus::BadVersion;
    d.error = "unsupported protocol version " + std::to_string(m->version()) + " (this side speaks " +
              std::to_string(kProtocolVersion) + ")";
    return d;
  }
  if (m->body_type() == wire::Body::NONE || !m->body()) {
    d.status = DecodeStatus::NoBody;
    d.error = "message has no body";
    return d;
  }
  if (static_cast<int>(m->body_type()) > static_cast<int>(wire::Body::MAX)) {
    d.status = DecodeStatus::NoBody;
    d.error = "unknown message type " + std::to_string(static_cast<int>(m->body_type()));
    return d;
  }
  m->UnPackTo(&d.message);
  if (!d.message.body.value) {
    d.status = DecodeStatus::NoBody;
    d.error = "message has no body";
    return d;
  }
  d.status = DecodeStatus::Ok;
  return d;
}

const char* body_name(wire::Body b) {
  const char* n = wire::EnumNameBody(b);
  return n && *n ? n : "unknown";
}

std::vector<uint8_t> error_frame(wire::ErrorCode code, const std::string& message) {
  wire::ErrorT e;
  e.code = code;
  e.message = message;
  return encode_frame(std::move(e));
}

std::string peer_text(const std::string& s, size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max) + 3);
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    out.push_back(ch >= 0x20 && ch < 0x7f ? static_cast<char>(ch) : '?');
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace fx::net
