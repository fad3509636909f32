// The PostgreSQL study (study_storage.h's contract): one database shared by workers on any
// number of machines, through libpq (docs/search-cluster.md).
//
// Three tables, made on first use: joulecast_studies (one row per --study-name),
// joulecast_study_meta (each study's key, as the SQLite meta table) and joulecast_trials (the
// SQLite trials columns, plus the lease: `attempt`, `lease_id` (the fencing token) and
// `lease_renewed_at`, in the server's time). Each call is one or two short transactions:
// - taking over a stale trial is one UPDATE of the lowest stale row, found with FOR UPDATE SKIP
//   LOCKED (two workers never wait for, or take, the same row);
// - a new trial is numbered and proposed under a transaction-level advisory lock on the study,
//   so proposals are made one at a time from the whole history and numbers never collide;
// - heartbeats, results and releases are single UPDATEs matched on the fencing token.
// Times come from the server's now() only. One connection per object, used by both threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "analyzer/search/study_storage.h"

namespace joulecast::search {

class PostgresConnection;

class PostgresStudy : public StudyStorage {
 public:
  /// Opens or creates study `options.name` in the database at `url`. Errors as OpenStudy.
  static Result<std::unique_ptr<PostgresStudy>> Open(const std::string& url, const StudyKey& key,
                                                     const StudyOptions& options);
  /// Opens an existing study to read it; never writes.
  static Result<std::unique_ptr<PostgresStudy>> OpenReadOnly(const std::string& url,
                                                             const std::string& name);
  /// ImportStudy for a PostgreSQL database.
  static Status Import(const std::string& url, const std::string& name, const StudyKey& key,
                       const std::vector<StudyTrial>& trials);
  ~PostgresStudy() override;

  const StudyKey& key() const override { return key_; }
  const std::string& location() const override { return url_; }
  const std::string& name() const override { return name_; }
  const std::string& worker() const override { return worker_; }
  Result<std::vector<StudyTrial>> Load() override;
  Result<Claim> ClaimNext(int max_trials, const Proposer& propose) override;
  Status Heartbeat(int number) override;
  Status Finish(int number, const TrialOutcome& outcome) override;
  Status Release(int number) override;

 private:
  PostgresStudy(std::unique_ptr<PostgresConnection> db, std::string url, std::string name,
                double lease_s);
  int64_t Token(int number) const;
  std::string Where() const;
  std::unique_ptr<PostgresConnection> db_;
  std::string url_, name_;
  double lease_s_;
  std::string worker_;
  int64_t study_id_ = 0;
  StudyKey key_;
  std::map<int, int64_t> claims_;  // Each claimed trial's fencing token (lease_id).
  std::mutex mutex_;               // One connection, two threads (loop and heartbeat).
};

}  // namespace joulecast::search
