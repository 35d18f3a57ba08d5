// The server's admission of an edge's Hello: protocol version, token (constant-time comparison), plan
// identity and input size, block size and the session parameters. Apart from the libuv server so that
// the wire fuzzer (fuzz/fuzz_wire.cpp) runs exactly the checks the server runs.
#pragma once

#include <string>

#include "net/server_session.h"
#include "net/wire.h"
#include "runtime/plan.h"

namespace fx::net {

struct HelloVerdict {
  bool ok = false;
  wire::ErrorCode code = wire::ErrorCode::Malformed;  // when !ok
  std::string reason;                                // when !ok: one line for the log and the Error
  SessionConfig cfg;                                 // when ok
};

// `token`: the server's token (empty: none required).
HelloVerdict admit_hello(const wire::HelloT& h, const Plan& plan, const std::string& token);

}  // namespace fx::net
