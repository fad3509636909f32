// libFuzzer target for the ONNX front end: any bytes must give a graph or a one-line error that
// names the source, never a crash, a hang or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "analyzer/onnx/onnx_frontend.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const joulecast::LoadOptions options;
  joulecast::Result<joulecast::Graph> graph = joulecast::ParseOnnx(bytes, "fuzz.onnx", options);
  if (!graph.ok()) {
    const std::string message = graph.status().message();
    if (message.rfind("fuzz.onnx: ", 0) != 0 || message.find('\n') != std::string::npos) {
      __builtin_trap();
    }
  }
  return 0;
}
