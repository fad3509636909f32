// The network families of Yarally et al. (CAIN 2023) as shorthand for a plain layer list.
//
// A family document such as {"family": "SimpleCNN", "nr_conv_layers": 2, "nr_linear_layers": 3,
// "input": {"shape": [1, 28, 28]}, "classes": 10} expands to the layer list the paper's code
// built; the JSON front end then loads that list like any other. docs/json-architecture.md gives
// the formulas. C, H and W in them are the network input's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyzer/core/status.h"

namespace joulecast {

/// Largest nr_conv_layers and nr_linear_layers accepted.
inline constexpr int64_t kMaxFamilyLayers = 1000;

/// One network of a family, by its size knobs.
struct FamilySpec {
  std::string family;              ///< "DensePolyNN", "DenseLinearNN", "SimpleCNN", "SimpleCNN2".
  int64_t nr_conv_layers = 2;      ///< Conv blocks; used by SimpleCNN and SimpleCNN2 only.
  int64_t nr_linear_layers = 3;    ///< Linear layers, the classifier included.
  int64_t classes = 10;            ///< Outputs of the last linear layer.
  std::vector<int64_t> input_chw;  ///< C,H,W of one sample (just C·H·W features for dense ones).
  std::string name;                ///< The expanded document's "name"; empty: the family's.
};

/// The family names, in the order the docs list them.
const std::vector<std::string>& FamilyNames();

/// Expands `spec` into the plain layer-list architecture (pretty-printed JSON text).
/// Fails with one line, "<source>: <JSON pointer>: <what>", for an unknown family, counts below
/// 1 or absurdly large, or a conv stack that pools the spatial dims down to 0.
Result<std::string> ExpandFamily(const FamilySpec& spec, const std::string& source);

}  // namespace joulecast
