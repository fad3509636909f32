#include "calibrate/calibration/sample_store.h"

#include <sqlite3.h>

#include <cstdio>
#include <map>
#include <utility>

namespace joulecast {

namespace {

constexpr const char* kApplication = "joulecast.calibration/1";

constexpr const char* kSchema = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE samples (
  design TEXT NOT NULL,
  kind TEXT NOT NULL,
  sample_index INTEGER NOT NULL,
  options_hash TEXT NOT NULL,
  config TEXT NOT NULL,
  probe TEXT NOT NULL,
  base TEXT NOT NULL,
  batch INTEGER NOT NULL,
  probe_energy_j REAL NOT NULL, probe_energy_se_j REAL NOT NULL,
  probe_time_s REAL NOT NULL, probe_time_se_s REAL NOT NULL,
  probe_repeats INTEGER NOT NULL, probe_steps INTEGER NOT NULL, probe_rse REAL NOT NULL,
  base_energy_j REAL NOT NULL, base_energy_se_j REAL NOT NULL,
  base_time_s REAL NOT NULL, base_time_se_s REAL NOT NULL,
  base_repeats INTEGER NOT NULL, base_steps INTEGER NOT NULL, base_rse REAL NOT NULL,
  delta_energy_se_j REAL NOT NULL, delta_time_se_s REAL NOT NULL,
  measure_s REAL NOT NULL,
  meter_kind TEXT NOT NULL,
  threads INTEGER NOT NULL,
  measured_at TEXT NOT NULL,
  PRIMARY KEY (design, sample_index, options_hash));
)sql";

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return stmt_; }
  void Bind(int i, const std::string& s) {
    sqlite3_bind_text(stmt_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, double v) { sqlite3_bind_double(stmt_, i, v); }
  std::string Text(int i) {
    const unsigned char* t = sqlite3_column_text(stmt_, i);
    return t ? reinterpret_cast<const char*>(t) : "";
  }
  int64_t Int(int i) { return sqlite3_column_int64(stmt_, i); }
  double Real(int i) { return sqlite3_column_double(stmt_, i); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

std::string Error(sqlite3* db, const std::string& path, const std::string& what) {
  return path + ": " + what + ": " + sqlite3_errmsg(db);
}

// "a=1;b=2" -> {a: 1, b: 2}, in order.
std::vector<std::pair<std::string, std::string>> Fields(const std::string& key) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find(';', start);
    if (end == std::string::npos) end = key.size();
    std::string item = key.substr(start, end - start);
    size_t eq = item.find('=');
    if (!item.empty()) {
      out.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
    }
    start = end + 1;
  }
  return out;
}

// The first option that differs, as "seed is 1 there, 2 here".
std::string FirstDifference(const std::string& stored, const std::string& now) {
  auto a = Fields(stored), b = Fields(now);
  std::map<std::string, std::string> am(a.begin(), a.end());
  for (const auto& [k, v] : b) {
    auto it = am.find(k);
    if (it == am.end()) return k + " is not recorded there";
    if (it->second != v) return k + " is " + it->second + " there, " + v + " here";
  }
  for (const auto& [k, v] : a) {
    bool found = false;
    for (const auto& [k2, v2] : b) found = found || k2 == k;
    if (!found) return k + " is recorded there but not set here";
  }
  return "the options differ";
}

}  // namespace

std::string HashHex(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

Result<std::unique_ptr<SampleStore>> SampleStore::Open(const std::string& path,
                                                       const std::string& options_key) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = path + ": cannot open or create the calibration database: " +
                          (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return Status::Error(message);
  }
  std::unique_ptr<SampleStore> store(new SampleStore(db, path, HashHex(options_key)));
  sqlite3_busy_timeout(db, 5000);
  // Write access is checked now, before anything is measured: BEGIN IMMEDIATE takes the write
  // lock (and fails on a read-only file or folder).
  if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::string what = sqlite3_errmsg(db);
    if (sqlite3_errcode(db) == SQLITE_NOTADB) {
      return Status::Error(path + ": not a SQLite database; give another --db, or remove it");
    }
    return Status::Error(path + ": cannot write the calibration database: " + what);
  }
  auto fail = [&](const std::string& message) -> Result<std::unique_ptr<SampleStore>> {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return Status::Error(message);
  };
  int64_t tables = 0;
  {
    Statement count(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
    if (!count.ok() || sqlite3_step(count.get()) != SQLITE_ROW) {
      if (sqlite3_errcode(db) == SQLITE_NOTADB) {
        return fail(path + ": not a SQLite database; give another --db, or remove it");
      }
      return fail(Error(db, path, "cannot read the calibration database"));
    }
    tables = count.Int(0);
  }
  if (tables == 0) {
    if (sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return fail(Error(db, path, "cannot create the calibration tables"));
    }
    Statement meta(db, "INSERT INTO meta (key, value) VALUES ('application', ?1), "
                       "('options', ?2), ('options_hash', ?3)");
    meta.Bind(1, std::string(kApplication));
    meta.Bind(2, options_key);
    meta.Bind(3, store->hash_);
    if (!meta.ok() || sqlite3_step(meta.get()) != SQLITE_DONE) {
      return fail(Error(db, path, "cannot create the calibration tables"));
    }
  } else {
    std::map<std::string, std::string> meta;
    {
      Statement read(db, "SELECT key, value FROM meta");
      if (!read.ok()) {
        return fail(path + ": not a joulecast calibration database (it has other tables); "
                           "give another --db, or remove it");
      }
      while (sqlite3_step(read.get()) == SQLITE_ROW) meta[read.Text(0)] = read.Text(1);
    }
    if (meta["application"] != kApplication) {
      return fail(path + ": not a joulecast calibration database (" +
                  (meta["application"].empty() ? std::string("no application recorded")
                                               : "it is " + meta["application"]) +
                  "); give another --db, or remove it");
    }
    if (meta["options"] != options_key) {
      return fail(path + ": holds samples of a calibration with other options (" +
                  FirstDifference(meta["options"], options_key) +
                  "): run with the same options to resume it, or give another --db (or remove "
                  "it) to start afresh");
    }
  }
  if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(Error(db, path, "cannot write the calibration database"));
  }
  return store;
}

SampleStore::~SampleStore() { sqlite3_close(db_); }

Result<std::vector<StoredSample>> SampleStore::Load() const {
  Statement q(db_,
              "SELECT design, kind, sample_index, config, probe, base, batch, "
              "probe_energy_j, probe_energy_se_j, probe_time_s, probe_time_se_s, probe_repeats, "
              "probe_steps, probe_rse, base_energy_j, base_energy_se_j, base_time_s, "
              "base_time_se_s, base_repeats, base_steps, base_rse, delta_energy_se_j, "
              "delta_time_se_s, measure_s, meter_kind, threads, measured_at FROM samples WHERE options_hash = ?1 ORDER BY rowid");
  if (!q.ok()) return Status::Error(Error(db_, path_, "cannot read the samples"));
  q.Bind(1, hash_);
  std::vector<StoredSample> out;
  int rc;
  while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
    StoredSample s;
    s.design = q.Text(0);
    s.kind = q.Text(1);
    s.index = q.Int(2);
    s.config_json = q.Text(3);
    s.probe_json = q.Text(4);
    s.base_json = q.Text(5);
    s.batch = q.Int(6);
    int col = 7;
    for (MeasuredNetwork* m : {&s.probe, &s.base}) {
      m->energy_j = q.Real(col++);
      m->energy_se_j = q.Real(col++);
      m->time_s = q.Real(col++);
      m->time_se_s = q.Real(col++);
      m->repeats = static_cast<int>(q.Int(col++));
      m->steps = q.Int(col++);
      m->rse = q.Real(col++);
    }
    s.delta_energy_se_j = q.Real(21);
    s.delta_time_se_s = q.Real(22);
    s.measure_s = q.Real(23);
    s.meter_kind = q.Text(24);
    s.threads = static_cast<int>(q.Int(25));
    s.measured_at = q.Text(26);
    out.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return Status::Error(Error(db_, path_, "cannot read the samples"));
  return out;
}

Status SampleStore::Insert(const StoredSample& s) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Status::Error(Error(db_, path_, "cannot store a sample"));
  }
  Statement q(db_,
              "INSERT INTO samples (design, kind, sample_index, options_hash, config, probe, base, "
              "batch, probe_energy_j, probe_energy_se_j, probe_time_s, probe_time_se_s, "
              "probe_repeats, probe_steps, probe_rse, base_energy_j, base_energy_se_j, "
              "base_time_s, base_time_se_s, base_repeats, base_steps, base_rse, delta_energy_se_j, "
              "delta_time_se_s, measure_s, meter_kind, threads, measured_at) VALUES (?1, ?2, ?3, "
              "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, "
              "?22, ?23, ?24, ?25, ?26, ?27, ?28)");
  bool ok = q.ok();
  if (ok) {
    q.Bind(1, s.design);
    q.Bind(2, s.kind);
    q.Bind(3, s.index);
    q.Bind(4, hash_);
    q.Bind(5, s.config_json);
    q.Bind(6, s.probe_json);
    q.Bind(7, s.base_json);
    q.Bind(8, s.batch);
    int col = 9;
    for (const MeasuredNetwork* m : {&s.probe, &s.base}) {
      q.Bind(col++, m->energy_j);
      q.Bind(col++, m->energy_se_j);
      q.Bind(col++, m->time_s);
      q.Bind(col++, m->time_se_s);
      q.Bind(col++, static_cast<int64_t>(m->repeats));
      q.Bind(col++, m->steps);
      q.Bind(col++, m->rse);
    }
    q.Bind(23, s.delta_energy_se_j);
    q.Bind(24, s.delta_time_se_s);
    q.Bind(25, s.measure_s);
    q.Bind(26, s.meter_kind);
    q.Bind(27, static_cast<int64_t>(s.threads));
    q.Bind(28, s.measured_at);
    ok = sqlite3_step(q.get()) == SQLITE_DONE;
  }
  if (!ok) {
    std::string message = Error(db_, path_, "cannot store a sample");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return Status::Error(message);
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    std::string message = Error(db_, path_, "cannot store a sample");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return Status::Error(message);
  }
  return Status();
}

}  // namespace joulecast
