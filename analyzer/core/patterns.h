// Recognises layers that exporters decompose into several elementwise nodes, so that the
// per-kind breakdown attributes their cost to the layer they implement:
// - LayerNorm at opsets < 17: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div (then an
//   optional Mul and Add with parameters) -> `norm`;
// - GELU with Erf: Div, Erf, Add, Mul, Mul -> `activation`;
// - SiLU / swish: Sigmoid, Mul -> `activation`;
// - ReduceMean or ReduceMax over the spatial axes only -> `pool` (global pooling).
// The nodes keep their own ops and exact elementwise costs; only their kind changes.
#pragma once

#include <optional>
#include <vector>

#include "analyzer/core/ir.h"

namespace joulecast {

/// For each node, the kind of the decomposed layer it belongs to, or nullopt.
/// REQUIRES: graph finalized.
std::vector<std::optional<Kind>> RecognizeDecomposedLayers(const Graph& graph);

}  // namespace joulecast
