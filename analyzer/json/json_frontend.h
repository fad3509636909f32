// The JSON architecture front end: a JSON architecture file into a finalized, shape-inferred IR
// graph. The format (docs/json-architecture.md) is a contract: a list of layers, each fed by the
// one before or by the layers named in "from", plus the paper's network families as shorthand.
// nlohmann-json stays inside this library.
#pragma once

#include <string>
#include <string_view>

#include "analyzer/core/ir.h"
#include "analyzer/core/load_options.h"
#include "analyzer/core/status.h"

namespace joulecast {

/// Loads `path`. Errors are one line naming the file, the field by JSON pointer
/// ("/layers/3/kernel") and what was expected.
Result<Graph> LoadJsonFile(const std::string& path, const LoadOptions& options);

/// The same from text in memory (tests, fuzzers, search); `source` names it in messages.
Result<Graph> ParseJsonArchitecture(std::string_view text, const std::string& source,
                                    const LoadOptions& options);

}  // namespace joulecast
