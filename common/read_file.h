// Reading a file that a user names (an architecture, a search space) whole, without reading
// more than the caller accepts; and naming a model after its file.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace joulecast {

/// The bytes of the file at `path`, cut once they pass `max_bytes` (the caller then sees it is
/// too large without the rest being read). nullopt when it cannot be read, with `*error` set to
/// "cannot open: <reason>" or "cannot read the file".
std::optional<std::string> ReadFileUpTo(const std::string& path, size_t max_bytes,
                                        std::string* error);

/// The file name without its folder and its last extension: "models/vgg16.onnx" -> "vgg16".
std::string FileStem(const std::string& path);

}  // namespace joulecast
