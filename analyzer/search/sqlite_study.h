// The SQLite study (study_storage.h's contract): one file, shared by the processes of one
// machine (or of machines on a file system SQLite can lock). docs/search.md, "The study
// database", documents its tables.
//
// A file holds one study per name: "default" in the tables `meta` and `trials` (the only study
// of files made before names existed, which therefore still open), any other NAME in
// `meta:NAME` and `trials:NAME`. ClaimNext takes SQLite's write lock (BEGIN IMMEDIATE, waiting
// up to a busy timeout), reads every trial, and either takes over a stale running trial or
// proposes and records the next number before it lets go. Besides the lease, a trial whose
// worker process is gone from this host (or was replaced under its pid) is stale at once.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "analyzer/search/study_storage.h"

namespace joulecast::sqlite {
class Database;
}

namespace joulecast::search {

class SqliteStudy : public StudyStorage {
 public:
  /// Opens or creates study `options.name` in file `path` (":memory:" keeps it in memory).
  /// Errors as OpenStudy.
  static Result<std::unique_ptr<SqliteStudy>> Open(const std::string& path, const StudyKey& key,
                                                   const StudyOptions& options);
  /// Opens an existing study to read it; never writes.
  static Result<std::unique_ptr<SqliteStudy>> OpenReadOnly(const std::string& path,
                                                           const std::string& name);
  /// ImportStudy for an SQLite file.
  static Status Import(const std::string& path, const std::string& name, const StudyKey& key,
                       const std::vector<StudyTrial>& trials);
  ~SqliteStudy() override;

  const StudyKey& key() const override { return key_; }
  const std::string& location() const override;
  const std::string& name() const override { return name_; }
  const std::string& worker() const override { return worker_; }
  Result<std::vector<StudyTrial>> Load() override;
  Result<Claim> ClaimNext(int max_trials, const Proposer& propose) override;
  Status Heartbeat(int number) override;
  Status Finish(int number, const TrialOutcome& outcome) override;
  Status Release(int number) override;

 private:
  SqliteStudy(std::unique_ptr<sqlite::Database> db, std::string name, double lease_s);
  std::string ClaimToken(int number) const;
  std::unique_ptr<sqlite::Database> db_;
  std::string name_;
  std::string meta_table_, trials_table_;  // Quoted identifiers.
  double lease_s_;
  std::string worker_;
  StudyKey key_;
  std::map<int, std::string> claims_;  // Each claimed trial's token: a takeover changes it.
  std::mutex mutex_;                   // One connection, two threads (loop and heartbeat).
};

}  // namespace joulecast::search
