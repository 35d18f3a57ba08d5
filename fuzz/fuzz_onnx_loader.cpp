// libFuzzer target: arbitrary bytes through the ONNX loader and the whole compiler. Every failure must
// be an fx::Error; anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "compiler/compile.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    fx::compile_onnx(data, size, "fuzz.onnx");
  } catch (const fx::Error&) {
  }
  return 0;
}
