// libFuzzer target for the JSON architecture front end: any bytes must come back as a graph or
// as a one-line error, never a crash, a hang or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "analyzer/json/json_frontend.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  joulecast::Result<joulecast::Graph> graph =
      joulecast::ParseJsonArchitecture(text, "fuzz.json", {});
  if (!graph.ok() && graph.status().message().find('\n') != std::string::npos) {
    __builtin_trap();  // Every error must be one line.
  }
  return 0;
}
