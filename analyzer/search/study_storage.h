// A study: where a search keeps its trials (docs/search.md, "The study database"), so that a
// search can be resumed, extended and run by any number of workers at once. Two
// implementations: an SQLite file (sqlite_study.h), shared by the processes of one machine, and
// a PostgreSQL database (postgres_study.h), shared by workers on many machines. Both pass one
// contract suite (study_contract_test.cc).
//
// The contract:
// - Trials are numbered from 0 in the order they are claimed; a number is never reused, and a
//   trial's parameters never change. Each trial is 'running', 'done' or 'failed'.
// - A running trial is held under a lease: claiming it starts the lease, Heartbeat renews it. A
//   trial whose lease was not renewed for `lease_s` (the claiming worker's option: give every
//   worker of a study the same), or that was released, is stale: the next ClaimNext, by any
//   worker, takes it over under the same number, the same parameters and attempt + 1.
// - Every claim carries a fencing token (kept inside the object that claimed): Finish, Heartbeat
//   and Release succeed only while the trial is still running under that token, so a late result
//   from a lease that was taken over is refused and never overwrites the new attempt's.
// - ClaimNext proposes under a study-wide lock, from every trial (running ones included), so
//   that two workers never get the same number and each proposal sees the ones before it. No
//   lock or transaction is held between calls: training happens outside any.
// - Each call is its own short transaction: a worker killed at any moment leaves a consistent
//   study, at worst a trial running under a lease nobody renews.
// - The methods of one object may be called from two threads (the search loop, and the
//   heartbeat while a trial trains); the object serialises them over its one connection.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/core/status.h"
#include "analyzer/search/trainer.h"

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
  int runs = 1;  ///< The attempt: how many times it was claimed (> 1: taken over and re-run).
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

/// Called by ClaimNext, under the study-wide lock, with every trial in number order (running
/// ones included) and the number the proposal will get.
using Proposer = std::function<Result<std::optional<Proposal>>(
    const std::vector<StudyTrial>& trials, int number)>;

struct Claim {
  enum class Kind {
    trial,      ///< `trial` is this worker's to run: a new trial, or a stale one taken over.
    full,       ///< The study holds `max_trials` trials (`running` of them still run).
    exhausted,  ///< The proposer had nothing left.
  };
  Kind kind = Kind::full;
  StudyTrial trial;    ///< For Kind::trial.
  bool rerun = false;  ///< The trial was taken over: its lease ran out or it was released.
  int running = 0;     ///< For Kind::full: trials running under a live lease.
};

/// How a worker opens a study.
struct StudyOptions {
  /// The study inside the file or database (--study-name): letters, digits, '_', '-' and '.',
  /// at most 64. "default" is the one study of files made before names existed.
  std::string name = "default";
  /// A running trial whose lease was not renewed for this long is stale (seconds, > 0).
  double lease_s = 60;
};

/// The study name a file or database holds when none is given.
inline constexpr const char* kDefaultStudyName = "default";

class StudyStorage {
 public:
  virtual ~StudyStorage() = default;

  /// What the study was made with.
  virtual const StudyKey& key() const = 0;
  /// The file or URL it was opened from (for messages).
  virtual const std::string& location() const = 0;
  /// The study's name inside it.
  virtual const std::string& name() const = 0;
  /// This process's worker id, "host:pid".
  virtual const std::string& worker() const = 0;

  /// Every trial, in number order.
  virtual Result<std::vector<StudyTrial>> Load() = 0;

  /// Takes over the lowest-numbered stale running trial if there is one; else, under the
  /// study-wide lock, when fewer than `max_trials` trials exist, asks `propose` and records its
  /// proposal as a running trial with the next number. A proposer error is returned and nothing
  /// is written.
  virtual Result<Claim> ClaimNext(int max_trials, const Proposer& propose) = 0;

  /// Renews the lease of trial `number`, claimed by this object. Errors: the lease was lost (the
  /// trial was taken over or released; the message says so), or the store cannot be reached.
  virtual Status Heartbeat(int number) = 0;

  /// Records a finished trial: done with accuracy and energy when outcome.ok, else failed with
  /// its error. Fails (writing nothing) unless this object claimed the trial and its fencing
  /// token is still the trial's: a takeover or a Release ends it.
  virtual Status Finish(int number, const TrialOutcome& outcome) = 0;

  /// Gives a running trial of this worker back (an interrupted trial): the next claim, by any
  /// worker, re-runs it under the same number.
  virtual Status Release(int number) = 0;
};

/// Whether `location` names a PostgreSQL database (postgresql:// or postgres://) rather than an
/// SQLite file.
bool IsPostgresUrl(const std::string& location);

/// `location` for messages: a URL without its password.
std::string Redacted(const std::string& location);

/// Checks a --study-name. Error: one line saying what is allowed.
Status CheckStudyName(const std::string& name);

/// Opens study `options.name` in `location` (an SQLite file, created if missing, ":memory:"
/// for one in memory, or a PostgreSQL URL) for a search, creating the study if missing.
/// Errors, one line naming the file or URL: it cannot be opened or written; it is not a
/// joulecast study; the study was made with another space or other options (naming the first
/// flag that differs, and what to do); the server cannot be reached.
Result<std::unique_ptr<StudyStorage>> OpenStudy(const std::string& location, const StudyKey& key,
                                                const StudyOptions& options);

/// Opens an existing study to read it (reports, copies); never writes. Errors: as OpenStudy,
/// and no study of that name.
Result<std::unique_ptr<StudyStorage>> OpenStudyReadOnly(const std::string& location,
                                                        const std::string& name);

/// Writes a whole study (its key and trials, as read from another) into `location` as study
/// `name`, in one transaction: all of it or nothing. Running trials arrive released, so the
/// next worker re-runs them under their numbers. Errors: the target already holds a study of
/// that name with trials (nothing is overwritten), or it cannot be written.
Status ImportStudy(const std::string& location, const std::string& name, const StudyKey& key,
                   const std::vector<StudyTrial>& trials);

}  // namespace joulecast::search
