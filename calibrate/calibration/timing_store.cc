#include "calibrate/calibration/timing_store.h"

#include <utility>

#include "common/sqlite.h"

namespace joulecast {

namespace {

using sqlite::Database;
using sqlite::Statement;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS timings ("
    " design TEXT NOT NULL, idx INTEGER NOT NULL, precision TEXT NOT NULL, json TEXT NOT NULL,"
    " batch INTEGER NOT NULL, input_needs_grad INTEGER NOT NULL, a REAL NOT NULL, b REAL NOT NULL,"
    " seconds REAL NOT NULL, PRIMARY KEY (design, idx, precision));";

}  // namespace

TimingStore::TimingStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}

TimingStore::~TimingStore() = default;

Result<std::unique_ptr<TimingStore>> TimingStore::Open(const std::string& path,
                                                       const std::string& options_key) {
  auto db = std::make_unique<Database>(
      path, options_key.empty() ? Database::Mode::read_write : Database::Mode::create, 5000);
  if (!db->ok()) return Status::Error(db->Error("cannot open the calibration database"));
  Database& d = *db;
  std::unique_ptr<TimingStore> store(new TimingStore(std::move(db)));
  if (!d.Exec(kSchema)) {
    return Status::Error(d.Error("not a joulecast calibration database (or not writable)"));
  }
  std::string stored;
  bool found = false;
  {
    Statement q(d, "SELECT value FROM meta WHERE key = 'options'");
    found = q.Step();
    if (found) stored = q.Text(0);
  }
  if (options_key.empty()) {
    if (!found) return Status::Error(path + ": holds no calibration measurements");
  } else if (!found) {
    Statement insert(d, "INSERT INTO meta (key, value) VALUES ('options', ?)");
    insert.Bind(1, options_key);
    if (!insert.Run()) return Status::Error(d.Error("cannot write"));
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

std::string TimingStore::Meta(const std::string& key) const {
  Statement q(*db_, "SELECT value FROM meta WHERE key = ?");
  q.Bind(1, key);
  return q.Step() ? q.Text(0) : "";
}

Status TimingStore::SetMeta(const std::string& key, const std::string& value) {
  Statement q(*db_, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  q.Bind(1, key);
  q.Bind(2, value);
  if (!q.Run()) return Status::Error(db_->Error("cannot write"));
  return Status();
}

Result<std::vector<TimingRow>> TimingStore::Load() const {
  Statement q(*db_,
              "SELECT design, idx, precision, json, batch, input_needs_grad, a, b, seconds "
              "FROM timings ORDER BY rowid");
  std::vector<TimingRow> rows;
  while (q.Step()) {
    rows.push_back({.design = q.Text(0),
                    .index = q.Int(1),
                    .precision = q.Text(2),
                    .json = q.Text(3),
                    .batch = q.Int(4),
                    .input_needs_grad = q.Int(5) != 0,
                    .a = q.Real(6),
                    .b = q.Real(7),
                    .seconds = q.Real(8)});
  }
  if (!q.ok()) return Status::Error(db_->Error("cannot read"));
  return rows;
}

Status TimingStore::Insert(const TimingRow& r) {
  Statement q(*db_, "INSERT INTO timings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!q.ok()) return Status::Error(db_->Error("cannot write"));
  q.Bind(1, r.design);
  q.Bind(2, r.index);
  q.Bind(3, r.precision);
  q.Bind(4, r.json);
  q.Bind(5, r.batch);
  q.Bind(6, static_cast<int64_t>(r.input_needs_grad ? 1 : 0));
  q.Bind(7, r.a);
  q.Bind(8, r.b);
  q.Bind(9, r.seconds);
  if (!q.Run()) return Status::Error(db_->Error("cannot store a measurement"));
  return Status();
}

}  // namespace joulecast
