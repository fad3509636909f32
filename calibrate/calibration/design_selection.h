// Where calibration places its last layer timings: where the model is least sure.
//
// Each design's first timings fill its configuration space evenly (its Halton sequence,
// layer_design.h). The rest are chosen among the next points of the sequence: those whose time
// the family fitted without each fifth of the timings so far predicts least alike (query by
// committee). Where the timings pin a family down its fits agree; they part where it
// extrapolates (sizes past the timed ones) or where two regimes meet, and that is where another
// timing teaches the fit most. The choice depends only on the first timings, so a stopped
// calibration chooses the same again when it resumes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "analyzer/core/costs.h"
#include "analyzer/core/ir.h"
#include "analyzer/core/status.h"
#include "calibrate/calibration/layer_design.h"
#include "calibrate/calibration/time_fit.h"

namespace joulecast {

/// How many of a design's `count` timings fill its space first (the rest are chosen): two
/// thirds, rounded up, and at least 3 (the committee needs 3 folds).
int SpaceFillingTimings(int count);

/// A design's or calibration network's JSON architecture loaded at `batch`. Errors: one that
/// does not load.
Result<Graph> LoadTimedArchitecture(const std::string& json, int64_t batch);

/// A JSON architecture loaded at `batch` and costed as calibration times it (its input needing a
/// gradient or not). Errors: an architecture that does not load or cost.
Result<ModelCost> CostOfTimedArchitecture(const std::string& json, int64_t batch,
                                          bool input_needs_grad);

/// The layer a design's one-layer architecture holds, costed as it is timed. Errors: as above,
/// or an architecture with no layer.
Result<LayerCost> CostOfTimedLayer(const std::string& json, int64_t batch, bool input_needs_grad);

/// The `count` indices of `design` (from `first` on, among the next `pool`) whose forward +
/// backward time the folds of FitFamilyFolds() on `timed` (its timings at one precision) predict
/// most apart, in increasing order. With fewer than 3 timings (no committee), the first `count`.
/// Errors: an unknown design, a candidate that does not cost.
Result<std::vector<int64_t>> LeastSureIndices(const std::string& design,
                                              const std::vector<LayerTimingSample>& timed,
                                              int64_t first, int count, int pool, uint64_t seed,
                                              const LayerDesignLimits& limits, bool async);

}  // namespace joulecast
