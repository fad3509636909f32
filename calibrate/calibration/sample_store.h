// Where calibration keeps its measurements: a SQLite database written one sample at a time, each
// in its own transaction, so that a calibration killed at any moment (Ctrl-C, a crash, a full
// disk) loses at most the measurement in progress, and a run with the same options resumes where
// it stopped without repeating anything.
//
// A database belongs to one set of options (a canonical "key=value;..." text, docs/calibrate.md):
// opening it with other options is an error that names what differs, because mixing samples
// from another meter, thread count or design would corrupt the fit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/status.h"

struct sqlite3;

namespace joulecast {

/// One measured network of a sample: per-step means over repeats and their noise.
struct MeasuredNetwork {
  double energy_j = 0;     ///< Per step, mean over repeats.
  double energy_se_j = 0;  ///< Standard error of that mean.
  double time_s = 0;       ///< Per step, mean over repeats.
  double time_se_s = 0;
  int repeats = 0;         ///< MeasureTraining runs averaged.
  int64_t steps = 0;       ///< Measured steps per repeat.
  double rse = 0;          ///< energy_se_j / energy_j.
};

/// One row of the samples table.
struct StoredSample {
  std::string design;       ///< DesignName().
  std::string kind;         ///< KindName() of the design's kind.
  int64_t index = 0;        ///< Point of the design's Halton sequence.
  std::string config_json;
  std::string probe_json;
  std::string base_json;
  int64_t batch = 0;
  MeasuredNetwork probe, base;
  /// Standard errors of probe - base per step, from the paired rounds (each round measures
  /// both, so drifts of the machine cancel in the difference).
  double delta_energy_se_j = 0;
  double delta_time_se_s = 0;
  double measure_s = 0;     ///< Wall time spent measuring the sample.
  std::string meter_kind;
  int threads = 0;          ///< Intra-op threads libtorch used.
  std::string measured_at;  ///< UTC, ISO 8601.
};

class SampleStore {
 public:
  /// Opens `path`, creating it (and its tables) if missing. Errors, one line naming the file: it
  /// cannot be opened or created; it is not a joulecast calibration database; it was made with
  /// options other than `options_key` (naming the first that differs, and what to do).
  static Result<std::unique_ptr<SampleStore>> Open(const std::string& path,
                                                   const std::string& options_key);
  ~SampleStore();
  SampleStore(const SampleStore&) = delete;
  SampleStore& operator=(const SampleStore&) = delete;

  /// Every sample stored for these options, in the order they were measured.
  Result<std::vector<StoredSample>> Load() const;
  /// Stores one sample in its own transaction. A sample with the same design and index is an
  /// error (it would be measured twice). Errors name the file (disk full, read-only, ...).
  Status Insert(const StoredSample& sample);

  /// A 16-hex-digit hash of the options key, stored with every row.
  const std::string& options_hash() const { return hash_; }
  const std::string& path() const { return path_; }

 private:
  SampleStore(sqlite3* db, std::string path, std::string hash)
      : db_(db), path_(std::move(path)), hash_(std::move(hash)) {}
  sqlite3* db_;
  std::string path_;
  std::string hash_;
};

/// FNV-1a 64 of `text` as 16 lower-case hex digits.
std::string HashHex(const std::string& text);

}  // namespace joulecast
