#include "common/sqlite.h"

#include <sqlite3.h>

namespace joulecast::sqlite {

namespace {

int OpenFlags(Database::Mode mode) {
  switch (mode) {
    case Database::Mode::read_only:
      return SQLITE_OPEN_READONLY;
    case Database::Mode::read_write:
      return SQLITE_OPEN_READWRITE;
    case Database::Mode::create:
      return SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  }
  return SQLITE_OPEN_READONLY;
}

}  // namespace

Database::Database(const std::string& path, Mode mode, int busy_timeout_ms) : path_(path) {
  open_rc_ = sqlite3_open_v2(path.c_str(), &db_, OpenFlags(mode), nullptr);
  if (open_rc_ == SQLITE_OK) sqlite3_busy_timeout(db_, busy_timeout_ms);
}

Database::~Database() { sqlite3_close(db_); }

std::string Database::Error(const std::string& what) const {
  // Without a handle (out of memory) SQLite has only the open's result code to go by.
  return path_ + ": " + what + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(open_rc_));
}

bool Database::NotADatabase() const { return sqlite3_errcode(db_) == SQLITE_NOTADB; }

bool Database::Exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

int Database::Changes() const { return sqlite3_changes(db_); }

Statement::Statement(Database& db, const std::string& sql) {
  ok_ = sqlite3_prepare_v2(db.db_, sql.c_str(), -1, &stmt_, nullptr) == SQLITE_OK;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::Bind(int i, const std::string& text) {
  sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void Statement::Bind(int i, int64_t value) { sqlite3_bind_int64(stmt_, i, value); }

void Statement::Bind(int i, double value) { sqlite3_bind_double(stmt_, i, value); }

void Statement::Bind(int i, const std::optional<double>& value) {
  if (value) {
    Bind(i, *value);
  } else {
    sqlite3_bind_null(stmt_, i);
  }
}

bool Statement::Step() {
  if (!ok_) return false;
  const int rc = sqlite3_step(stmt_);
  ok_ = rc == SQLITE_ROW || rc == SQLITE_DONE;
  return rc == SQLITE_ROW;
}

bool Statement::Run() {
  if (!ok_) return false;
  const int rc = sqlite3_step(stmt_);
  ok_ = rc == SQLITE_ROW || rc == SQLITE_DONE;
  return rc == SQLITE_DONE;
}

std::string Statement::Text(int i) const {
  const unsigned char* t = sqlite3_column_text(stmt_, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}

int64_t Statement::Int(int i) const { return sqlite3_column_int64(stmt_, i); }

double Statement::Real(int i) const { return sqlite3_column_double(stmt_, i); }

std::optional<double> Statement::OptReal(int i) const {
  if (sqlite3_column_type(stmt_, i) == SQLITE_NULL) return std::nullopt;
  return Real(i);
}

Transaction::~Transaction() {
  if (open_) db_.Exec("ROLLBACK");
}

bool Transaction::Begin() {
  open_ = db_.Exec("BEGIN IMMEDIATE");
  return open_;
}

bool Transaction::Commit() {
  if (!db_.Exec("COMMIT")) return false;
  open_ = false;
  return true;
}

}  // namespace joulecast::sqlite
