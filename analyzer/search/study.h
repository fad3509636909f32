// A study: the SQLite database a search keeps its trials in (docs/search.md, "The study
// database"), so that a search can be resumed, extended and run by several workers at once.
//
// One table of trials, numbered from 0, each 'running', 'done' or 'failed', and a meta table with
// the search space and the options a resumed search must share. Every write is its own
// transaction, so a process killed at any moment leaves a consistent study: at worst a trial
// 'running' under a worker that no longer exists, which the next claim re-runs under the same
// number.
//
// Workers cooperate through ClaimNext: it takes SQLite's write lock (BEGIN IMMEDIATE, waiting up
// to a busy timeout), reads every trial, and either takes over a stale running trial or proposes
// and records the next number, all before it lets go. Two workers never get the same number, and
// each proposes from the history it read under the lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/status.h"
#include "analyzer/search/trainer.h"

namespace joulecast::sqlite {
class Database;
}

namespace joulecast::search {

/// One row of the trials table.
struct StudyTrial {
  int number = 0;
  std::string params_json;         ///< ParamsJson() of the trial's parameters.
  std::string status;              ///< "running", "done" or "failed".
  std::optional<double> accuracy;  ///< Set when done.
  std::optional<double> energy_j;  ///< Measured training energy; set when done.
  bool energy_real = false;        ///< The energy came from a hardware counter.
  std::string meter;
  std::optional<double> predicted_energy_j;  ///< The analyzer's prediction, before training.
  std::optional<double> predicted_low_j, predicted_high_j;
  std::optional<double> time_s;         ///< Wall time of the trial, once finished.
  std::string error;                    ///< Why it failed.
  std::string started_at, finished_at;  ///< UTC, ISO 8601; finished_at empty while running.
  std::string worker;                   ///< "host:pid" of the worker that runs or ran it.
  int runs = 1;                         ///< How many times it was started (> 1: re-run).
};

/// What must match when a study is opened again, and what it is labelled with.
struct StudyKey {
  std::string space;         ///< The space, canonical JSON: a different space is an error.
  std::string space_source;  ///< The space's file, for messages and reports.
  /// Options by their flag name ("strategy" -> "bo"), in order: any difference is an error that
  /// names the flag.
  std::vector<std::pair<std::string, std::string>> options;
};

/// A prediction recorded with a claimed trial.
struct Prediction {
  double energy_j = 0, low_j = 0, high_j = 0;
};

/// What a proposer returns: the next trial's parameters (ParamsJson) and its prediction, or
/// nullopt when the strategy has nothing left.
struct Proposal {
  std::string params_json;
  std::optional<Prediction> prediction;
};

/// Called by ClaimNext, under the write lock, with every trial in number order and the number the
/// proposal will get.
using Proposer = std::function<Result<std::optional<Proposal>>(
    const std::vector<StudyTrial>& trials, int number)>;

struct Claim {
  enum class Kind {
    trial,      ///< `trial` is this worker's to run: a new trial, or a stale one taken over.
    full,       ///< The study holds `max_trials` trials (some may still run elsewhere).
    exhausted,  ///< The proposer had nothing left.
  };
  Kind kind = Kind::full;
  StudyTrial trial;    ///< For Kind::trial.
  bool rerun = false;  ///< The trial was left running by a worker that is gone.
};

class Study {
 public:
  /// Opens `path` for a search, creating it if missing; ":memory:" keeps the study in memory.
  /// `lease_s`: a running trial older than this counts as stale even if its worker lives (and
  /// is the only test for workers on another host). Errors, one line naming the file: it cannot
  /// be opened or written; it is not a joulecast study; it was made with another space or
  /// other options (naming the first flag that differs, and what to do).
  static Result<std::unique_ptr<Study>> Open(const std::string& path, const StudyKey& key,
                                             double lease_s = 24 * 3600);
  /// Opens an existing study to read it (reports); never writes.
  static Result<std::unique_ptr<Study>> OpenReadOnly(const std::string& path);
  ~Study();
  Study(const Study&) = delete;
  Study& operator=(const Study&) = delete;

  /// What the study was made with (read from the file).
  const StudyKey& key() const { return key_; }
  const std::string& path() const;
  /// This process's worker id, "host:pid".
  const std::string& worker() const { return worker_; }

  /// Every trial, in number order.
  Result<std::vector<StudyTrial>> Load() const;

  /// Under the write lock: takes over the lowest-numbered stale running trial (its worker's
  /// process is gone, it was released, or it is older than the lease) if there is one; else,
  /// when fewer than `max_trials` trials exist, asks `propose` and records its proposal as a
  /// running trial with the next number. A proposer error is returned and nothing is written.
  Result<Claim> ClaimNext(int max_trials, const Proposer& propose);

  /// Records a finished trial: done with accuracy and energy when outcome.ok, else failed with
  /// its error. Fails (writing nothing) unless this object claimed the trial and still holds
  /// the claim: a takeover as stale (past the lease) or a Release ends it.
  Status Finish(int number, const TrialOutcome& outcome);

  /// Gives a running trial of this worker back (an interrupted trial): the next claim, by any
  /// worker, re-runs it under the same number.
  Status Release(int number);

 private:
  Study(std::unique_ptr<sqlite::Database> db, double lease_s);
  std::string ClaimToken(int number) const;
  std::unique_ptr<sqlite::Database> db_;
  double lease_s_;
  std::string worker_;
  StudyKey key_;
  std::map<int, std::string> claims_;  // Each claimed trial's token: a takeover changes it.
};

}  // namespace joulecast::search
