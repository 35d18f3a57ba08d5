// The edge <-> cloud wire format (schema/wire.fbs): encoding of messages into length-prefixed frames and
// the checks every received message passes before anything in it is used: file identifier, FlatBuffers
// verification, protocol version, a body present. Messages are handled in their object-API form
// (fluxshard::wire::MessageT): a verified buffer is unpacked into owned C++ values, bounded by the
// message size, which the framing layer has already capped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "schema/wire_generated.h"

namespace fx::net {

namespace wire = ::fluxshard::wire;

// Bumped on any change old peers cannot handle; both sides must speak the same version.
constexpr uint32_t kProtocolVersion = 1;
// Default hard limit on one message (bytes after the length prefix).
constexpr uint32_t kDefaultMaxMessage = 64u << 20;
// Limit before a connection is authenticated (a Hello is small).
constexpr uint32_t kHandshakeMaxMessage = 64u << 10;

// Serialises `body` as one frame: 4-byte little-endian length, then the FlatBuffer (identifier "FXW1",
// Message.version = `version`).
std::vector<uint8_t> encode_frame(const wire::BodyUnion& body, uint32_t version = kProtocolVersion);

template <typename T>
std::vector<uint8_t> encode_frame(T msg, uint32_t version = kProtocolVersion) {
  wire::BodyUnion body;
  body.Set(std::move(msg));
  return encode_frame(body, version);
}

enum class DecodeStatus { Ok, TooShort, BadIdentifier, Malformed, BadVersion, NoBody };

struct Decoded {
  DecodeStatus status = DecodeStatus::Malformed;
  std::string error;       // one line when status != Ok
  uint32_t version = 0;    // the peer's version (also set for BadVersion)
  wire::MessageT message;  // valid when status == Ok
  bool ok() const { return status == DecodeStatus::Ok; }
};

// Checks and unpacks one message body (the bytes after the length prefix).
Decoded decode_message(const uint8_t* data, size_t size);

const char* body_name(wire::Body b);

// Text a peer sent (an edge's name, a Bye reason, a server's Error message), made safe for one log
// line: bytes outside printable ASCII become '?', and at most `max` bytes are kept ("..." marks a cut).
std::string peer_text(const std::string& s, size_t max = 200);

// A frame holding an Error message.
std::vector<uint8_t> error_frame(wire::ErrorCode code, const std::string& message);

}  // namespace fx::net
