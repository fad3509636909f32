// Loads a model file with the front end its extension names: .onnx or .json.
#pragma once

#include <string>

#include "analyzer/core/ir.h"
#include "analyzer/core/load_options.h"
#include "analyzer/core/status.h"

namespace joulecast {

/// Loads `path` into a finalized, shape-inferred graph; fails naming the file for an
/// extension other than .onnx or .json, or for whatever the front end reports.
Result<Graph> LoadModel(const std::string& path, const LoadOptions& options);

}  // namespace joulecast
