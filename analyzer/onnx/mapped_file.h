// A read-only memory map of a whole file (internal to the ONNX front end).
//
// Kept apart from the ONNX headers: <sys/mman.h> defines macros (MAP_TYPE) that clash with them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "analyzer/core/status.h"

namespace joulecast {

/// A private, read-only mapping of a regular file, advised for random access so that only the
/// pages actually read are faulted in. Unmapped on destruction.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  /// Maps `path`. Fails, naming the file, if it cannot be opened or mapped, is not a regular
  /// file, or is empty.
  Status Open(const std::string& path);
  /// The mapped bytes; empty before a successful Open.
  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace joulecast
