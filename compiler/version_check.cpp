// The compiler library's link anchor for the generated ONNX protobuf code: the protobuf runtime must
// match the headers protoc generated against.
#include <google/protobuf/stubs/common.h>

namespace fx {

void check_protobuf_version() { GOOGLE_PROTOBUF_VERIFY_VERSION; }

}  // namespace fx
