#include "calibrate/calibration/timing_store.h"

#include <sqlite3.h>

#include <utility>

namespace joulecast {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS timings ("
    " design TEXT NOT NULL, idx INTEGER NOT NULL, precision TEXT NOT NULL, json TEXT NOT NULL,"
    " batch INTEGER NOT NULL, input_needs_grad INTEGER NOT NULL, a REAL NOT NULL, b REAL NOT NULL,"
    " seconds REAL NOT NULL, PRIMARY KEY (design, idx, precision));";

std::string Error(sqlite3* db, const std::string& path, const std::string& what) {
  return path + ": " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
}

}  // namespace

Result<std::unique_ptr<TimingStore>> TimingStore::Open(const std::string& path,
                                                       const std::string& options_key) {
  sqlite3* db = nullptr;
  const int flags = options_key.empty() ? SQLITE_OPEN_READWRITE
                                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string e = Error(db, path, "cannot open the calibration database");
    sqlite3_close(db);
    return Status::Error(e);
  }
  std::unique_ptr<TimingStore> store(new TimingStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Status::Error(Error(db, path, "not a joulecast calibration database (or not writable)"));
  }
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'options'", -1, &st, nullptr);
  std::string stored;
  bool found = false;
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    found = true;
    stored = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  if (options_key.empty()) {
    if (!found) return Status::Error(path + ": holds no calibration measurements");
  } else if (!found) {
    sqlite3_prepare_v2(db, "INSERT INTO meta (key, value) VALUES ('options', ?)", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, options_key.c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Status::Error(Error(db, path, "cannot write"));
  } else if (stored != options_key) {
    // Name the first option that differs.
    size_t i = 0;
    while (i < stored.size() && i < options_key.size() && stored[i] == options_key[i]) ++i;
    const size_t start = options_key.rfind(';', i == 0 ? 0 : i - 1);
    const size_t from = start == std::string::npos ? 0 : start + 1;
    const std::string now = options_key.substr(from, options_key.find(';', from) - from);
    return Status::Error(path + ": holds measurements made with other options (first difference "
                         "near '" + now + "'); use another --db, or the options it was made with");
  }
  return store;
}

TimingStore::~TimingStore() { sqlite3_close(db_); }

std::string TimingStore::Meta(const std::string& key) const {
  sqlite3_stmt* st = nullptr;
  std::string value;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = ?", -1, &st, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) value = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return value;
}

Status TimingStore::SetMeta(const std::string& key, const std::string& value) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", -1, &st,
                         nullptr) != SQLITE_OK) {
    return Status::Error(Error(db_, path_, "cannot write"));
  }
  sqlite3_bind_text(st, 1, key.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, value.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Status::Error(Error(db_, path_, "cannot write"));
  return Status();
}

Result<std::vector<TimingRow>> TimingStore::Load() const {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT design, idx, precision, json, batch, input_needs_grad, a, b, "
                              "seconds FROM timings ORDER BY rowid", -1, &st, nullptr) != SQLITE_OK) {
    return Status::Error(Error(db_, path_, "cannot read"));
  }
  std::vector<TimingRow> rows;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    TimingRow r;
    r.design = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    r.index = sqlite3_column_int64(st, 1);
    r.precision = reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
    r.json = reinterpret_cast<const char*>(sqlite3_column_text(st, 3));
    r.batch = sqlite3_column_int64(st, 4);
    r.input_needs_grad = sqlite3_column_int(st, 5) != 0;
    r.a = sqlite3_column_double(st, 6);
    r.b = sqlite3_column_double(st, 7);
    r.seconds = sqlite3_column_double(st, 8);
    rows.push_back(std::move(r));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Status::Error(Error(db_, path_, "cannot read"));
  return rows;
}

Status TimingStore::Insert(const TimingRow& r) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "INSERT INTO timings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &st,
                         nullptr) != SQLITE_OK) {
    return Status::Error(Error(db_, path_, "cannot write"));
  }
  sqlite3_bind_text(st, 1, r.design.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, r.index);
  sqlite3_bind_text(st, 3, r.precision.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 4, r.json.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 5, r.batch);
  sqlite3_bind_int(st, 6, r.input_needs_grad ? 1 : 0);
  sqlite3_bind_double(st, 7, r.a);
  sqlite3_bind_double(st, 8, r.b);
  sqlite3_bind_double(st, 9, r.seconds);
  const int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Status::Error(Error(db_, path_, "cannot store a measurement"));
  return Status();
}

}  // namespace joulecast
