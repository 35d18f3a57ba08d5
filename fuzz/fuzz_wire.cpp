// libFuzzer target: arbitrary bytes as the stream an edge sends to the server, through what the server
// runs on received bytes (fuzz/wire_session.h): framing, message decoding (identifier, verifier,
// version), the Hello admission and a session's FrameUpdate / Background handling (bitmaps, payload
// codecs, motion fields, the sparse executor, results and masks). Every refusal must be an fx::Error;
// anything else (a crash, a sanitizer report, another exception) is a bug.
// Seeds: make_fuzz_seeds ONNX_DIR PLAN_DIR WIRE_DIR.
#include "fuzz/wire_session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fx::fuzz::WireServer server;
  fx::fuzz::feed_wire_session(server, data, size);
  return 0;
}
