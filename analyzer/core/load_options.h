// Options every front end takes when turning a model file into an IR graph.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace joulecast {

struct LoadOptions {
  /// Binds a symbolic batch dimension. Unset: a symbolic batch is evaluated at 1.
  /// A model whose batch is fixed keeps its own; a different value here is an error.
  std::optional<int64_t> batch;
  /// C,H,W of one sample (`--input CxHxW`): binds symbolic non-batch input dims, and for a JSON
  /// architecture replaces `input.shape`. A value contradicting a fixed dim is an error.
  std::optional<std::vector<int64_t>> input_chw;
};

}  // namespace joulecast
