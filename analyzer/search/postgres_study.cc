#include "analyzer/search/postgres_study.h"

#include <algorithm>

#include "analyzer/search/postgres_connection.h"
#include "analyzer/search/study_internal.h"

namespace joulecast::search {

namespace {

using namespace internal;

// pg_advisory_xact_lock(kLockClass, 0) guards the schema; (kLockClass, study id) a study's
// numbering and proposals.
constexpr const char* kLockClass = "1785689452";

constexpr const char* kSchema[] = {
    R"sql(CREATE TABLE IF NOT EXISTS joulecast_studies (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()))sql",
    R"sql(CREATE TABLE IF NOT EXISTS joulecast_study_meta (
  study_id bigint NOT NULL REFERENCES joulecast_studies (id) ON DELETE CASCADE,
  position integer NOT NULL,
  key text NOT NULL,
  value text NOT NULL,
  PRIMARY KEY (study_id, key)))sql",
    R"sql(CREATE TABLE IF NOT EXISTS joulecast_trials (
  study_id bigint NOT NULL REFERENCES joulecast_studies (id) ON DELETE CASCADE,
  number integer NOT NULL,
  params text NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  accuracy double precision,
  energy_j double precision,
  energy_real boolean NOT NULL DEFAULT false,
  meter text NOT NULL DEFAULT '',
  predicted_energy_j double precision,
  predicted_low_j double precision,
  predicted_high_j double precision,
  time_s double precision,
  error text NOT NULL DEFAULT '',
  started_at text NOT NULL,
  finished_at text NOT NULL DEFAULT '',
  worker text NOT NULL,
  attempt integer NOT NULL DEFAULT 1,
  lease_id bigint NOT NULL,
  lease_renewed_at timestamptz NOT NULL,
  PRIMARY KEY (study_id, number)))sql",
    R"sql(CREATE INDEX IF NOT EXISTS joulecast_trials_running
  ON joulecast_trials (study_id, number) WHERE status = 'running')sql",
};

constexpr const char* kNowText =
    "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

constexpr const char* kColumns =
    "number, params, status, accuracy, energy_j, energy_real, meter, predicted_energy_j, "
    "predicted_low_j, predicted_high_j, time_s, error, started_at, finished_at, worker, attempt, "
    "lease_id";

// A running trial's lease has run out (or it was released): $2 is the lease in seconds.
constexpr const char* kStale =
    "status = 'running' AND lease_renewed_at < now() - make_interval(secs => $2::float8)";

StudyTrial ReadTrial(const PostgresRows& r, int row) {
  StudyTrial t;
  t.number = static_cast<int>(r.Int(row, 0));
  t.params_json = r.Text(row, 1);
  t.status = r.Text(row, 2);
  t.accuracy = r.OptReal(row, 3);
  t.energy_j = r.OptReal(row, 4);
  t.energy_real = r.Int(row, 5) != 0;
  t.meter = r.Text(row, 6);
  t.predicted_energy_j = r.OptReal(row, 7);
  t.predicted_low_j = r.OptReal(row, 8);
  t.predicted_high_j = r.OptReal(row, 9);
  t.time_s = r.OptReal(row, 10);
  t.error = r.Text(row, 11);
  t.started_at = r.Text(row, 12);
  t.finished_at = r.Text(row, 13);
  t.worker = r.Text(row, 14);
  t.runs = static_cast<int>(r.Int(row, 15));
  return t;
}

// A statement's result, or an early return of its error from the enclosing Status function.
#define JC_TRY(var, expr) \
  auto var = (expr);      \
  if (!var.ok()) return var.status()

Status CreateSchema(PostgresConnection& db) {
  JC_TRY(lock, db.Exec("cannot lock the schema",
                       std::string("SELECT pg_advisory_xact_lock(") + kLockClass + ", 0)"));
  for (const char* sql : kSchema) {
    JC_TRY(created, db.Exec("cannot create the study's tables", sql));
  }
  return Status();
}

// The id of study `name`, or 0 when there is none.
Result<int64_t> StudyId(PostgresConnection& db, const std::string& name) {
  JC_TRY(r, db.Exec("cannot read the studies", "SELECT id FROM joulecast_studies WHERE name = $1",
                    {name}));
  return r->size() == 0 ? int64_t{0} : r->Int(0, 0);
}

Status InsertMeta(PostgresConnection& db, int64_t id, const StudyKey& key) {
  JC_TRY(now, db.Exec("cannot read the server's time", std::string("SELECT ") + kNowText));
  int position = 0;
  for (const auto& [k, v] : MetaRows(key, now->Text(0, 0))) {
    JC_TRY(row, db.Exec("cannot create the study",
                        "INSERT INTO joulecast_study_meta (study_id, position, key, value) "
                        "VALUES ($1, $2, $3, $4)",
                        {PgInt(id), PgInt(position++), k, v}));
  }
  return Status();
}

Result<std::vector<std::pair<std::string, std::string>>> ReadMeta(PostgresConnection& db,
                                                                  int64_t id) {
  JC_TRY(r, db.Exec("cannot read the study",
                    "SELECT key, value FROM joulecast_study_meta WHERE study_id = $1 "
                    "ORDER BY position",
                    {PgInt(id)}));
  std::vector<std::pair<std::string, std::string>> rows;
  for (int i = 0; i < r->size(); ++i) rows.push_back({r->Text(i, 0), r->Text(i, 1)});
  return rows;
}

PostgresConnection::Options ConnectionOptions(double lease_s, bool read_only) {
  PostgresConnection::Options o;
  // A worker cut off from the server for longer than its lease has lost its trial anyway.
  o.retry_s = std::clamp(lease_s, 5.0, 120.0);
  o.read_only = read_only;
  return o;
}

}  // namespace

PostgresStudy::PostgresStudy(std::unique_ptr<PostgresConnection> db, std::string url,
                             std::string name, double lease_s)
    : db_(std::move(db)),
      url_(std::move(url)),
      name_(std::move(name)),
      lease_s_(lease_s),
      worker_(WorkerId()) {}

PostgresStudy::~PostgresStudy() = default;

std::string PostgresStudy::Where() const { return StudyWhere(url_, name_); }

int64_t PostgresStudy::Token(int number) const {
  auto it = claims_.find(number);
  return it == claims_.end() ? -1 : it->second;
}

Result<std::unique_ptr<PostgresStudy>> PostgresStudy::Open(const std::string& url,
                                                           const StudyKey& key,
                                                           const StudyOptions& options) {
  Result<std::unique_ptr<PostgresConnection>> db =
      PostgresConnection::Open(url, ConnectionOptions(options.lease_s, false));
  if (!db.ok()) return db.status();
  std::unique_ptr<PostgresStudy> study(
      new PostgresStudy(std::move(*db), url, options.name, options.lease_s));
  PostgresConnection& c = *study->db_;
  Status s = c.WithRetry([&]() -> Status {
    JC_TRY(begin, c.Exec("cannot begin", "BEGIN"));
    if (Status schema = CreateSchema(c); !schema.ok()) return schema;
    JC_TRY(id, StudyId(c, options.name));
    study->key_ = key;
    if (*id == 0) {
      JC_TRY(made, c.Exec("cannot create the study",
                          "INSERT INTO joulecast_studies (name) VALUES ($1) RETURNING id",
                          {options.name}));
      study->study_id_ = made->Int(0, 0);
      if (Status m = InsertMeta(c, study->study_id_, key); !m.ok()) return m;
    } else {
      study->study_id_ = *id;
      JC_TRY(rows, ReadMeta(c, *id));
      std::map<std::string, std::string> meta(rows->begin(), rows->end());
      if (Status m = CheckMeta(meta, key, study->Where()); !m.ok()) return m;
      study->key_.space_source = meta["space_source"];
    }
    JC_TRY(commit, c.Exec("cannot create the study", "COMMIT"));
    return Status();
  });
  if (!s.ok()) return s;
  return study;
}

Result<std::unique_ptr<PostgresStudy>> PostgresStudy::OpenReadOnly(const std::string& url,
                                                                   const std::string& name) {
  Result<std::unique_ptr<PostgresConnection>> db =
      PostgresConnection::Open(url, ConnectionOptions(10, true));
  if (!db.ok()) return db.status();
  std::unique_ptr<PostgresStudy> study(new PostgresStudy(std::move(*db), url, name, 0));
  PostgresConnection& c = *study->db_;
  Status s = c.WithRetry([&]() -> Status {
    JC_TRY(exists, c.Exec("cannot read the studies",
                          "SELECT to_regclass('joulecast_studies') IS NOT NULL"));
    if (exists->Int(0, 0) == 0) {
      return Status::Error(Redacted(url) + ": holds no joulecast study");
    }
    JC_TRY(id, StudyId(c, name));
    if (*id == 0) {
      JC_TRY(names, c.Exec("cannot read the studies",
                           "SELECT string_agg(name, ', ' ORDER BY name) FROM joulecast_studies"));
      return Status::Error(Redacted(url) + ": no study named " + name + " (it holds " +
                           (names->null(0, 0) ? std::string("none") : names->Text(0, 0)) +
                           "): give --study-name");
    }
    study->study_id_ = *id;
    JC_TRY(rows, ReadMeta(c, *id));
    JC_TRY(key, KeyFromMeta(*rows, study->Where()));
    study->key_ = std::move(*key);
    return Status();
  });
  if (!s.ok()) return s;
  return study;
}

Status PostgresStudy::Import(const std::string& url, const std::string& name, const StudyKey& key,
                             const std::vector<StudyTrial>& trials) {
  Result<std::unique_ptr<PostgresConnection>> db =
      PostgresConnection::Open(url, ConnectionOptions(10, false));
  if (!db.ok()) return db.status();
  PostgresConnection& c = **db;
  const std::string where = StudyWhere(url, name);
  return c.WithRetry([&]() -> Status {
    JC_TRY(begin, c.Exec("cannot begin", "BEGIN"));
    if (Status schema = CreateSchema(c); !schema.ok()) return schema;
    JC_TRY(old, StudyId(c, name));
    if (*old != 0) {
      JC_TRY(count,
             c.Exec("cannot read the study",
                    "SELECT count(*) FROM joulecast_trials WHERE study_id = $1", {PgInt(*old)}));
      if (count->Int(0, 0) > 0) {
        return Status::Error(where + ": already holds a study with " + count->Text(0, 0) +
                             " trials; nothing was copied (give another target or --study-name)");
      }
      JC_TRY(gone, c.Exec("cannot replace the empty study",
                          "DELETE FROM joulecast_studies WHERE id = $1", {PgInt(*old)}));
    }
    JC_TRY(made, c.Exec("cannot create the study",
                        "INSERT INTO joulecast_studies (name) VALUES ($1) RETURNING id", {name}));
    const int64_t id = made->Int(0, 0);
    if (Status m = InsertMeta(c, id, key); !m.ok()) return m;
    for (const StudyTrial& t : trials) {
      JC_TRY(row, c.Exec("cannot copy trial " + std::to_string(t.number),
                         std::string("INSERT INTO joulecast_trials (study_id, ") + kColumns +
                             ", lease_renewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                             "$10, $11, $12, $13, $14, $15, $16, $17, 0, '-infinity')",
                         {PgInt(id), PgInt(t.number), t.params_json, t.status, PgReal(t.accuracy),
                          PgReal(t.energy_j), std::string(t.energy_real ? "t" : "f"), t.meter,
                          PgReal(t.predicted_energy_j), PgReal(t.predicted_low_j),
                          PgReal(t.predicted_high_j), PgReal(t.time_s), t.error, t.started_at,
                          t.finished_at, t.worker, PgInt(t.runs)}));
    }
    JC_TRY(commit, c.Exec("cannot write the study", "COMMIT"));
    return Status();
  });
}

Result<std::vector<StudyTrial>> PostgresStudy::Load() {
  std::lock_guard lock(mutex_);
  std::vector<StudyTrial> out;
  Status s = db_->WithRetry([&]() -> Status {
    JC_TRY(r, db_->Exec("cannot read the trials",
                        std::string("SELECT ") + kColumns +
                            " FROM joulecast_trials WHERE study_id = $1 ORDER BY number",
                        {PgInt(study_id_)}));
    out.clear();
    for (int i = 0; i < r->size(); ++i) out.push_back(ReadTrial(*r, i));
    return Status();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Claim> PostgresStudy::ClaimNext(int max_trials, const Proposer& propose) {
  std::lock_guard lock(mutex_);
  // Made before the first try: a retry after a commit whose answer was lost finds its trial.
  const int64_t token = NewToken();
  const PgParam id = PgInt(study_id_), lease = PgReal(lease_s_), mine = PgInt(token);
  Claim claim;
  Status proposer_error;
  Status s = db_->WithRetry([&]() -> Status {
    claim = Claim();
    JC_TRY(taken,
           db_->Exec("cannot take over a stale trial",
                     std::string("UPDATE joulecast_trials SET attempt = attempt + 1, "
                                 "lease_id = $3, lease_renewed_at = now(), worker = $4, "
                                 "started_at = ") +
                         kNowText + " WHERE study_id = $1 AND " + kStale +
                         " AND number = (SELECT number FROM joulecast_trials WHERE "
                         "study_id = $1 AND " +
                         kStale + " ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING " +
                         kColumns,
                     {id, lease, mine, worker_}));
    if (taken->size() == 1) {
      claim.kind = Claim::Kind::trial;
      claim.trial = ReadTrial(*taken, 0);
      claim.rerun = true;
      return Status();
    }
    JC_TRY(begin, db_->Exec("cannot begin a claim", "BEGIN"));
    JC_TRY(locked,
           db_->Exec("cannot lock the study to claim a trial",
                     std::string("SELECT pg_advisory_xact_lock(") + kLockClass + ", $1::integer)",
                     {id}));
    JC_TRY(rows, db_->Exec("cannot read the trials",
                           std::string("SELECT ") + kColumns + ", NOT (" + kStale +
                               ") FROM joulecast_trials WHERE study_id = $1 ORDER BY number",
                           {id, lease}));
    std::vector<StudyTrial> trials;
    for (int i = 0; i < rows->size(); ++i) {
      trials.push_back(ReadTrial(*rows, i));
      const bool running = trials.back().status == "running";
      if (running && rows->Int(i, 16) == token) {  // An earlier try committed it.
        claim.kind = Claim::Kind::trial;
        claim.trial = trials.back();
        claim.rerun = claim.trial.runs > 1;
      } else if (running && rows->Int(i, 17) != 0) {
        ++claim.running;
      }
    }
    if (claim.kind == Claim::Kind::trial || static_cast<int>(trials.size()) >= max_trials) {
      if (claim.kind == Claim::Kind::trial) claim.running = 0;
      JC_TRY(commit, db_->Exec("cannot end the claim", "COMMIT"));
      return Status();
    }
    const int number = trials.empty() ? 0 : trials.back().number + 1;
    Result<std::optional<Proposal>> proposal = propose(trials, number);
    if (!proposal.ok() || !*proposal) {
      JC_TRY(rollback, db_->Exec("cannot end the claim", "ROLLBACK"));
      if (!proposal.ok()) {
        proposer_error = proposal.status();
        return proposer_error;
      }
      claim.kind = Claim::Kind::exhausted;
      return Status();
    }
    const std::optional<Prediction>& p = (*proposal)->prediction;
    JC_TRY(inserted,
           db_->Exec("cannot record trial " + std::to_string(number),
                     std::string("INSERT INTO joulecast_trials (study_id, number, params, status, "
                                 "predicted_energy_j, predicted_low_j, predicted_high_j, "
                                 "started_at, worker, lease_id, lease_renewed_at) VALUES ($1, $2, "
                                 "$3, 'running', $4, $5, $6, ") +
                         kNowText + ", $7, $8, now()) RETURNING " + kColumns,
                     {id, PgInt(number), (*proposal)->params_json,
                      PgReal(p ? std::optional<double>(p->energy_j) : std::nullopt),
                      PgReal(p ? std::optional<double>(p->low_j) : std::nullopt),
                      PgReal(p ? std::optional<double>(p->high_j) : std::nullopt), worker_, mine}));
    JC_TRY(commit, db_->Exec("cannot record trial " + std::to_string(number), "COMMIT"));
    claim.kind = Claim::Kind::trial;
    claim.trial = ReadTrial(*inserted, 0);
    claim.running = 0;
    return Status();
  });
  if (!s.ok()) return s;
  if (claim.kind == Claim::Kind::trial) claims_[claim.trial.number] = token;
  return claim;
}

Status PostgresStudy::Heartbeat(int number) {
  std::lock_guard lock(mutex_);
  bool lost = false;
  Status s = db_->WithRetry([&]() -> Status {
    JC_TRY(r, db_->Exec("cannot renew the lease of trial " + std::to_string(number),
                        "UPDATE joulecast_trials SET lease_renewed_at = now() WHERE study_id = $1 "
                        "AND number = $2 AND status = 'running' AND lease_id = $3",
                        {PgInt(study_id_), PgInt(number), PgInt(Token(number))}));
    lost = r->affected() != 1;
    return Status();
  });
  if (!s.ok()) return s;
  if (lost) {
    return Status::Error(Where() + ": trial " + std::to_string(number) +
                         " is no longer this worker's: its lease was lost (taken over or "
                         "released)");
  }
  return Status();
}

Status PostgresStudy::Finish(int number, const TrialOutcome& o) {
  std::lock_guard lock(mutex_);
  const std::string what = "cannot record the result of trial " + std::to_string(number);
  const int64_t token = Token(number);
  bool recorded = false;
  Status s = db_->WithRetry([&]() -> Status {
    JC_TRY(r, db_->Exec(what,
                        std::string("UPDATE joulecast_trials SET status = $4, accuracy = $5, "
                                    "energy_j = $6, energy_real = $7, meter = $8, time_s = $9, "
                                    "error = $10, finished_at = ") +
                            kNowText +
                            " WHERE study_id = $1 AND number = $2 AND status = 'running' AND "
                            "lease_id = $3",
                        {PgInt(study_id_), PgInt(number), PgInt(token),
                         std::string(o.ok ? "done" : "failed"),
                         PgReal(o.ok ? std::optional<double>(o.accuracy) : std::nullopt),
                         PgReal(o.ok ? std::optional<double>(o.energy_j) : std::nullopt),
                         std::string(o.ok && o.energy_real ? "t" : "f"), o.meter, PgReal(o.time_s),
                         o.ok ? std::string() : o.error}));
    recorded = r->affected() == 1;
    if (recorded) return Status();
    // A retry after a commit whose answer was lost: the row is finished under our token.
    JC_TRY(row, db_->Exec(what,
                          "SELECT status <> 'running' AND lease_id = $3 FROM joulecast_trials "
                          "WHERE study_id = $1 AND number = $2",
                          {PgInt(study_id_), PgInt(number), PgInt(token)}));
    recorded = row->size() == 1 && row->Int(0, 0) != 0;
    return Status();
  });
  if (!s.ok()) return s;
  if (!recorded) {
    return Status::Error(Where() + ": trial " + std::to_string(number) +
                         " is no longer this worker's: it was taken over (its lease ran out) or "
                         "released; its result here is not recorded");
  }
  claims_.erase(number);
  return Status();
}

Status PostgresStudy::Release(int number) {
  std::lock_guard lock(mutex_);
  return db_->WithRetry([&]() -> Status {
    JC_TRY(r, db_->Exec("cannot release trial " + std::to_string(number),
                        "UPDATE joulecast_trials SET lease_id = 0, lease_renewed_at = "
                        "'-infinity' WHERE study_id = $1 AND number = $2 AND status = 'running' "
                        "AND lease_id = $3",
                        {PgInt(study_id_), PgInt(number), PgInt(Token(number))}));
    return Status();
  });
}

}  // namespace joulecast::search
