// A baseline: the prediction of an earlier `joulecast analyze --format json` report (schema
// joulecast.analysis/1, docs/analysis-json.md), which a gate compares the current prediction to.
#pragma once

#include <cstdint>
#include <string>

#include "analyzer/core/status.h"
#include "analyzer/gate/budget.h"

namespace joulecast::gate {

/// Predicted energy at one level, with its interval.
struct LevelEnergy {
  double energy_j = 0, energy_j_low = 0, energy_j_high = 0;
};

struct Baseline {
  std::string source;                      ///< The file it was read from.
  std::string model_name;                  ///< /model/name
  std::string model_source;                ///< /model/source
  int64_t batch = 0;                       ///< /prediction/run/batch
  int64_t samples = 0;                     ///< /prediction/run/samples
  int64_t epochs = 0;                      ///< /prediction/run/epochs
  std::string profile_created;             ///< /prediction/profile/created
  std::string profile_device;              ///< /prediction/profile/device
  LevelEnergy per_step, per_epoch, total;  ///< /prediction/{per_step,per_epoch,total}

  /// The energy at `level`.
  const LevelEnergy& At(Level level) const;
};

/// Parses report JSON text; `source` names it in messages. Every field above is required, and
/// the energies must be finite and > 0 (a relative limit needs a positive baseline). Errors are
/// one line naming `source` and the field as a JSON pointer.
Result<Baseline> ParseBaseline(const std::string& text, const std::string& source);

/// Reads and parses the report at `path`.
Result<Baseline> ReadBaseline(const std::string& path);

}  // namespace joulecast::gate
