// Shared between gate.cc and gate_render.cc; not part of the library's interface.
#pragma once

#include <string>

#include "analyzer/energy/predict.h"
#include "analyzer/gate/budget.h"

namespace joulecast::gate {

/// An allowed increase as the user wrote it: "+5%" for 0.05.
std::string AllowedPercent(double fraction);

/// The run prediction at `level`.
const Bounded& At(const RunPrediction& run, Level level);

}  // namespace joulecast::gate
