// Where the time x power calibration keeps its measurements: a SQLite database written one
// measurement at a time, each in its own transaction, so that a calibration stopped at any
// moment loses at most the measurement in progress and the same command resumes it. A database
// belongs to one set of options; opening it with others is an error naming the first that
// differs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "analyzer/core/status.h"

namespace joulecast::sqlite {
class Database;
}

namespace joulecast {

/// One stored measurement: a layer timing (design, forward_s, backward_s), an optimizer step
/// (design "optimizer", json {"params": N, "tensors": T}, seconds per step in `a`) or a network
/// window (design "network", time_s in `a`, energy_j in `b`, per step).
struct TimingRow {
  std::string design;
  int64_t index = 0;
  std::string precision = "fp32";
  std::string json;          ///< The architecture measured.
  int64_t batch = 0;
  bool input_needs_grad = true;
  double a = 0, b = 0;
  double seconds = 0;        ///< Wall time spent measuring it.
};

class TimingStore {
 public:
  /// Opens or creates `path` for `options_key`; an empty key opens an existing database made
  /// with any options (to fit what it holds). Errors name the file and what to do.
  static Result<std::unique_ptr<TimingStore>> Open(const std::string& path,
                                                   const std::string& options_key);
  ~TimingStore();
  TimingStore(const TimingStore&) = delete;
  TimingStore& operator=(const TimingStore&) = delete;

  /// Every stored row, in the order measured.
  Result<std::vector<TimingRow>> Load() const;
  /// Stores one row in its own transaction; the same design, index and precision twice is an
  /// error.
  Status Insert(const TimingRow& row);
  /// A value kept beside the measurements (what the profile says it was measured on); ""
  /// when unset.
  std::string Meta(const std::string& key) const;
  Status SetMeta(const std::string& key, const std::string& value);

 private:
  explicit TimingStore(std::unique_ptr<sqlite::Database> db);
  std::unique_ptr<sqlite::Database> db_;
};

}  // namespace joulecast
