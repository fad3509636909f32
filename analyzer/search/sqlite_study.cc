#include "analyzer/search/sqlite_study.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>

#include "analyzer/search/study_internal.h"
#include "common/sqlite.h"
#include "common/utc_time.h"

namespace joulecast::search {

namespace {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;
using namespace internal;

// How long a worker waits for another's write lock. Proposals are made under it (a second or
// two with hundreds of trials), so this is generous.
constexpr int kBusyTimeoutMs = 120000;

constexpr const char* kTrialsColumns = R"sql((
  number INTEGER PRIMARY KEY,
  params TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  accuracy REAL,
  energy_j REAL,
  energy_real INTEGER NOT NULL DEFAULT 0,
  meter TEXT NOT NULL DEFAULT '',
  predicted_energy_j REAL,
  predicted_low_j REAL,
  predicted_high_j REAL,
  time_s REAL,
  error TEXT NOT NULL DEFAULT '',
  started_at TEXT NOT NULL,
  finished_at TEXT NOT NULL DEFAULT '',
  worker TEXT NOT NULL,
  worker_host TEXT NOT NULL,
  worker_pid INTEGER NOT NULL,
  worker_start INTEGER NOT NULL,
  claimed_unix REAL NOT NULL,
  claim TEXT NOT NULL,
  runs INTEGER NOT NULL DEFAULT 1))sql";

constexpr const char* kColumns =
    "number, params, status, accuracy, energy_j, energy_real, meter, predicted_energy_j, "
    "predicted_low_j, predicted_high_j, time_s, error, started_at, finished_at, worker, "
    "worker_host, worker_pid, worker_start, claimed_unix, runs";

// Who is running a trial, as recorded with it.
struct Owner {
  std::string host;
  int64_t pid = 0;
  int64_t start = 0;        // The process's start time in clock ticks after boot (/proc/PID/stat).
  double claimed_unix = 0;  // When the lease was taken or last renewed.
};

// Field 22 of /proc/PID/stat: when the process started. 0 when unknown; -1 when there is no
// such process.
int64_t ProcessStart(int64_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  if (!f) {
    if (pid > 0 && kill(static_cast<pid_t>(pid), 0) == 0) return 0;
    return errno == EPERM ? 0 : -1;
  }
  std::string stat((std::istreambuf_iterator<char>(f)), {});
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::stoll(field);
  }
  return 0;
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

StudyTrial ReadTrial(Statement& q, Owner* owner) {
  StudyTrial t;
  t.number = static_cast<int>(q.Int(0));
  t.params_json = q.Text(1);
  t.status = q.Text(2);
  t.accuracy = q.OptReal(3);
  t.energy_j = q.OptReal(4);
  t.energy_real = q.Int(5) != 0;
  t.meter = q.Text(6);
  t.predicted_energy_j = q.OptReal(7);
  t.predicted_low_j = q.OptReal(8);
  t.predicted_high_j = q.OptReal(9);
  t.time_s = q.OptReal(10);
  t.error = q.Text(11);
  t.started_at = q.Text(12);
  t.finished_at = q.Text(13);
  t.worker = q.Text(14);
  if (owner) {
    owner->host = q.Text(15);
    owner->pid = q.Int(16);
    owner->start = q.Int(17);
    owner->claimed_unix = q.Real(18);
  }
  t.runs = static_cast<int>(q.Int(19));
  return t;
}

std::string Token() { return std::to_string(NewToken()); }

std::string Quoted(const std::string& identifier) { return "\"" + identifier + "\""; }
std::string MetaTable(const std::string& name) {
  return name == kDefaultStudyName ? "meta" : "meta:" + name;
}
std::string TrialsTable(const std::string& name) {
  return name == kDefaultStudyName ? "trials" : "trials:" + name;
}

// The tables of the file; nullopt when it cannot be read (SQLITE_NOTADB and the like).
std::optional<std::vector<std::string>> Tables(Database& d) {
  Statement q(d, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  std::vector<std::string> names;
  while (q.Step()) names.push_back(q.Text(0));
  if (!q.ok()) return std::nullopt;
  return names;
}

bool Has(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& n : names) {
    if (n == name) return true;
  }
  return false;
}

// Creates study `name`'s two tables and writes its meta rows, inside the caller's transaction.
bool CreateStudy(Database& d, const std::string& name, const StudyKey& key) {
  const std::string sql = "CREATE TABLE " + Quoted(MetaTable(name)) +
                          " (key TEXT PRIMARY KEY, value TEXT NOT NULL);\nCREATE TABLE " +
                          Quoted(TrialsTable(name)) + kTrialsColumns + ";";
  if (!d.Exec(sql.c_str())) return false;
  for (const auto& [k, v] : MetaRows(key, UtcNow())) {
    Statement insert(d, "INSERT INTO " + Quoted(MetaTable(name)) + " (key, value) VALUES (?1, ?2)");
    insert.Bind(1, k);
    insert.Bind(2, v);
    if (!insert.Run()) return false;
  }
  return true;
}

}  // namespace

SqliteStudy::SqliteStudy(std::unique_ptr<Database> db, std::string name, double lease_s)
    : db_(std::move(db)),
      name_(std::move(name)),
      meta_table_(Quoted(MetaTable(name_))),
      trials_table_(Quoted(TrialsTable(name_))),
      lease_s_(lease_s),
      worker_(WorkerId()) {}

SqliteStudy::~SqliteStudy() = default;

const std::string& SqliteStudy::location() const { return db_->path(); }

Result<std::unique_ptr<SqliteStudy>> SqliteStudy::Open(const std::string& path, const StudyKey& key,
                                                       const StudyOptions& options) {
  auto db = std::make_unique<Database>(path, Database::Mode::create, kBusyTimeoutMs);
  if (!db->ok()) return Status::Error(db->Error("cannot open or create the study"));
  Database& d = *db;
  std::unique_ptr<SqliteStudy> study(new SqliteStudy(std::move(db), options.name, options.lease_s));
  const std::string where = StudyWhere(path, options.name);
  const std::string not_a_study =
      path + ": not a joulecast study; give another --study, or remove it";
  Transaction tx(d);
  if (!tx.Begin()) {
    if (d.NotADatabase()) return Status::Error(not_a_study);
    return Status::Error(d.Error("cannot write the study"));
  }
  std::optional<std::vector<std::string>> tables = Tables(d);
  if (!tables) {
    if (d.NotADatabase()) return Status::Error(not_a_study);
    return Status::Error(d.Error("cannot read the study"));
  }
  bool joulecast_file = tables->empty() || Has(*tables, "meta");
  for (const std::string& t : *tables) joulecast_file = joulecast_file || t.rfind("meta:", 0) == 0;
  if (!Has(*tables, MetaTable(options.name))) {
    if (!tables->empty() && !joulecast_file) return Status::Error(not_a_study);
    if (!CreateStudy(d, options.name, key)) {
      return Status::Error(d.Error("cannot create the study's tables"));
    }
    study->key_ = key;
  } else {
    std::map<std::string, std::string> meta;
    {
      Statement read(d, "SELECT key, value FROM " + study->meta_table_);
      if (!read.ok()) return Status::Error(not_a_study);
      while (read.Step()) meta[read.Text(0)] = read.Text(1);
    }
    if (Status s = CheckMeta(meta, key, where); !s.ok()) return s;
    study->key_ = key;
    study->key_.space_source = meta["space_source"];
  }
  if (!tx.Commit()) return Status::Error(d.Error("cannot write the study"));
  return study;
}

Result<std::unique_ptr<SqliteStudy>> SqliteStudy::OpenReadOnly(const std::string& path,
                                                               const std::string& name) {
  auto db = std::make_unique<Database>(path, Database::Mode::read_only, kBusyTimeoutMs);
  if (!db->ok()) return Status::Error(db->Error("cannot open the study"));
  Database& d = *db;
  std::unique_ptr<SqliteStudy> study(new SqliteStudy(std::move(db), name, 0));
  std::optional<std::vector<std::string>> tables = Tables(d);
  if (!tables) return Status::Error(path + ": not a joulecast study");
  if (!Has(*tables, MetaTable(name))) {
    std::string names;
    for (const std::string& t : *tables) {
      if (t == "meta") names += std::string(names.empty() ? "" : ", ") + kDefaultStudyName;
      if (t.rfind("meta:", 0) == 0) names += (names.empty() ? "" : ", ") + t.substr(5);
    }
    if (names.empty()) return Status::Error(path + ": not a joulecast study");
    return Status::Error(path + ": no study named " + name + " (it holds " + names +
                         "): give --study-name");
  }
  std::vector<std::pair<std::string, std::string>> rows;
  {
    Statement read(d, "SELECT key, value FROM " + study->meta_table_ + " ORDER BY rowid");
    if (!read.ok()) return Status::Error(path + ": not a joulecast study");
    while (read.Step()) rows.push_back({read.Text(0), read.Text(1)});
  }
  Result<StudyKey> key = KeyFromMeta(rows, path);
  if (!key.ok()) return key.status();
  study->key_ = std::move(*key);
  return study;
}

Status SqliteStudy::Import(const std::string& path, const std::string& name, const StudyKey& key,
                           const std::vector<StudyTrial>& trials) {
  Database d(path, Database::Mode::create, kBusyTimeoutMs);
  if (!d.ok()) return Status::Error(d.Error("cannot open or create the study"));
  const std::string where = StudyWhere(path, name);
  Transaction tx(d);
  if (!tx.Begin()) return Status::Error(d.Error("cannot write the study"));
  std::optional<std::vector<std::string>> tables = Tables(d);
  if (!tables) return Status::Error(path + ": not a joulecast study; give another file");
  if (Has(*tables, MetaTable(name))) {
    Statement count(d, "SELECT count(*) FROM " + Quoted(TrialsTable(name)));
    if (!count.Step()) return Status::Error(d.Error("cannot read the study"));
    if (count.Int(0) > 0) {
      return Status::Error(where + ": already holds a study with " + std::to_string(count.Int(0)) +
                           " trials; nothing was copied (give another target or --study-name)");
    }
    const std::string drop =
        "DROP TABLE " + Quoted(MetaTable(name)) + "; DROP TABLE " + Quoted(TrialsTable(name)) + ";";
    if (!d.Exec(drop.c_str())) return Status::Error(d.Error("cannot replace the empty study"));
  } else if (!tables->empty() && !Has(*tables, "meta")) {
    bool joulecast_file = false;
    for (const std::string& t : *tables) joulecast_file |= t.rfind("meta:", 0) == 0;
    if (!joulecast_file) return Status::Error(path + ": not a joulecast study; give another file");
  }
  if (!CreateStudy(d, name, key)) return Status::Error(d.Error("cannot create the study"));
  for (const StudyTrial& t : trials) {
    Statement ins(d, "INSERT INTO " + Quoted(TrialsTable(name)) + " (" + kColumns +
                         ", claim) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                         "?14, ?15, '', 0, 0, 0, ?16, '')");
    ins.Bind(1, static_cast<int64_t>(t.number));
    ins.Bind(2, t.params_json);
    ins.Bind(3, t.status);
    ins.Bind(4, t.accuracy);
    ins.Bind(5, t.energy_j);
    ins.Bind(6, static_cast<int64_t>(t.energy_real));
    ins.Bind(7, t.meter);
    ins.Bind(8, t.predicted_energy_j);
    ins.Bind(9, t.predicted_low_j);
    ins.Bind(10, t.predicted_high_j);
    ins.Bind(11, t.time_s);
    ins.Bind(12, t.error);
    ins.Bind(13, t.started_at);
    ins.Bind(14, t.finished_at);
    ins.Bind(15, t.worker);
    ins.Bind(16, static_cast<int64_t>(t.runs));
    if (!ins.Run()) return Status::Error(d.Error("cannot copy trial " + std::to_string(t.number)));
  }
  if (!tx.Commit()) return Status::Error(d.Error("cannot write the study"));
  return Status();
}

Result<std::vector<StudyTrial>> SqliteStudy::Load() {
  std::lock_guard lock(mutex_);
  Statement q(*db_,
              std::string("SELECT ") + kColumns + " FROM " + trials_table_ + " ORDER BY number");
  std::vector<StudyTrial> out;
  while (q.Step()) out.push_back(ReadTrial(q, nullptr));
  if (!q.ok()) return Status::Error(db_->Error("cannot read the trials"));
  return out;
}

Result<Claim> SqliteStudy::ClaimNext(int max_trials, const Proposer& propose) {
  std::lock_guard lock(mutex_);
  Transaction tx(*db_);
  if (!tx.Begin()) return Status::Error(db_->Error("cannot lock the study to claim a trial"));
  std::vector<StudyTrial> trials;
  std::vector<Owner> owners;
  {
    Statement q(*db_,
                std::string("SELECT ") + kColumns + " FROM " + trials_table_ + " ORDER BY number");
    while (q.Step()) {
      Owner o;
      trials.push_back(ReadTrial(q, &o));
      owners.push_back(o);
    }
    if (!q.ok()) return Status::Error(db_->Error("cannot read the trials"));
  }
  const std::string host = HostName();
  const int64_t my_pid = getpid();
  const int64_t my_start = ProcessStart(my_pid);
  const double now = UnixNow();
  auto stale = [&](const Owner& o) {
    if (o.pid <= 0) return true;  // released
    if (now - o.claimed_unix > lease_s_) return true;
    if (o.host != host) return false;  // only the lease tells for another host
    if (o.pid == my_pid && o.start == my_start) return false;
    const int64_t start = ProcessStart(o.pid);
    return start < 0 || (start > 0 && o.start > 0 && start != o.start);
  };

  Claim claim;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].status != "running") continue;
    if (!stale(owners[i])) {
      ++claim.running;
      continue;
    }
    StudyTrial t = trials[i];
    t.worker = worker_;
    t.started_at = UtcNow();
    t.runs += 1;
    Statement u(*db_, "UPDATE " + trials_table_ +
                          " SET worker = ?1, worker_host = ?2, worker_pid = ?3, "
                          "worker_start = ?4, claimed_unix = ?5, started_at = ?6, claim = ?8, "
                          "runs = runs + 1 WHERE number = ?7");
    u.Bind(1, t.worker);
    u.Bind(2, host);
    u.Bind(3, my_pid);
    u.Bind(4, my_start);
    u.Bind(5, now);
    u.Bind(6, t.started_at);
    u.Bind(7, static_cast<int64_t>(t.number));
    const std::string token = Token();
    u.Bind(8, token);
    if (!u.Run() || !tx.Commit()) {
      return Status::Error(db_->Error("cannot take over trial " + std::to_string(t.number)));
    }
    claims_[t.number] = token;
    claim.kind = Claim::Kind::trial;
    claim.trial = std::move(t);
    claim.rerun = true;
    claim.running = 0;
    return claim;
  }
  if (static_cast<int>(trials.size()) >= max_trials) {
    claim.kind = Claim::Kind::full;
    return claim;
  }
  const int number = trials.empty() ? 0 : trials.back().number + 1;
  Result<std::optional<Proposal>> proposal = propose(trials, number);
  if (!proposal.ok()) return proposal.status();
  if (!*proposal) {
    claim.kind = Claim::Kind::exhausted;
    return claim;
  }
  StudyTrial t;
  t.number = number;
  t.params_json = (*proposal)->params_json;
  t.status = "running";
  t.started_at = UtcNow();
  t.worker = worker_;
  if (const std::optional<Prediction>& p = (*proposal)->prediction) {
    t.predicted_energy_j = p->energy_j;
    t.predicted_low_j = p->low_j;
    t.predicted_high_j = p->high_j;
  }
  Statement ins(*db_, "INSERT INTO " + trials_table_ +
                          " (number, params, status, predicted_energy_j, predicted_low_j, "
                          "predicted_high_j, started_at, worker, worker_host, worker_pid, "
                          "worker_start, claimed_unix, claim) VALUES (?1, ?2, 'running', ?3, ?4, "
                          "?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
  ins.Bind(1, static_cast<int64_t>(t.number));
  ins.Bind(2, t.params_json);
  ins.Bind(3, t.predicted_energy_j);
  ins.Bind(4, t.predicted_low_j);
  ins.Bind(5, t.predicted_high_j);
  ins.Bind(6, t.started_at);
  ins.Bind(7, t.worker);
  ins.Bind(8, host);
  ins.Bind(9, my_pid);
  ins.Bind(10, my_start);
  ins.Bind(11, now);
  const std::string token = Token();
  ins.Bind(12, token);
  if (!ins.Run() || !tx.Commit()) {
    return Status::Error(db_->Error("cannot record trial " + std::to_string(number)));
  }
  claims_[number] = token;
  claim.kind = Claim::Kind::trial;
  claim.trial = std::move(t);
  claim.running = 0;
  return claim;
}

Status SqliteStudy::Heartbeat(int number) {
  std::lock_guard lock(mutex_);
  const std::string what = "cannot renew the lease of trial " + std::to_string(number);
  Transaction tx(*db_);
  if (!tx.Begin()) return Status::Error(db_->Error(what));
  Statement u(*db_, "UPDATE " + trials_table_ +
                        " SET claimed_unix = ?1 WHERE number = ?2 AND status = 'running' AND "
                        "claim = ?3 AND worker_pid > 0");
  u.Bind(1, UnixNow());
  u.Bind(2, static_cast<int64_t>(number));
  u.Bind(3, ClaimToken(number));
  if (!u.Run()) return Status::Error(db_->Error(what));
  if (db_->Changes() != 1) {
    return Status::Error(StudyWhere(location(), name_) + ": trial " + std::to_string(number) +
                         " is no longer this worker's: its lease was lost (taken over or "
                         "released)");
  }
  if (!tx.Commit()) return Status::Error(db_->Error(what));
  return Status();
}

Status SqliteStudy::Finish(int number, const TrialOutcome& o) {
  std::lock_guard lock(mutex_);
  Transaction tx(*db_);
  const std::string what = "cannot record the result of trial " + std::to_string(number);
  if (!tx.Begin()) return Status::Error(db_->Error(what));
  Statement u(*db_, "UPDATE " + trials_table_ +
                        " SET status = ?1, accuracy = ?2, energy_j = ?3, energy_real = ?4, "
                        "meter = ?5, time_s = ?6, error = ?7, finished_at = ?8 "
                        "WHERE number = ?9 AND status = 'running' AND claim = ?10 AND "
                        "worker_pid > 0");
  u.Bind(1, std::string(o.ok ? "done" : "failed"));
  u.Bind(2, o.ok ? std::optional<double>(o.accuracy) : std::nullopt);
  u.Bind(3, o.ok ? std::optional<double>(o.energy_j) : std::nullopt);
  u.Bind(4, static_cast<int64_t>(o.ok && o.energy_real));
  u.Bind(5, o.meter);
  u.Bind(6, o.time_s);
  u.Bind(7, o.ok ? std::string() : o.error);
  u.Bind(8, UtcNow());
  u.Bind(9, static_cast<int64_t>(number));
  u.Bind(10, ClaimToken(number));
  if (!u.Run()) return Status::Error(db_->Error(what));
  if (db_->Changes() != 1) {
    return Status::Error(StudyWhere(location(), name_) + ": trial " + std::to_string(number) +
                         " is no longer this worker's: it was taken over (it ran longer than the "
                         "lease) or released; its result here is not recorded");
  }
  if (!tx.Commit()) return Status::Error(db_->Error(what));
  claims_.erase(number);
  return Status();
}

std::string SqliteStudy::ClaimToken(int number) const {
  auto it = claims_.find(number);
  return it == claims_.end() ? std::string() : it->second;
}

Status SqliteStudy::Release(int number) {
  std::lock_guard lock(mutex_);
  Transaction tx(*db_);
  const std::string what = "cannot release trial " + std::to_string(number);
  if (!tx.Begin()) return Status::Error(db_->Error(what));
  Statement u(*db_, "UPDATE " + trials_table_ +
                        " SET worker_pid = 0 WHERE number = ?1 AND status = 'running' AND "
                        "claim = ?2");
  u.Bind(1, static_cast<int64_t>(number));
  u.Bind(2, ClaimToken(number));
  if (!u.Run() || !tx.Commit()) return Status::Error(db_->Error(what));
  return Status();
}

}  // namespace joulecast::search
