// A thin C++ layer over SQLite for joulecast's databases (the search's studies, calibration's
// measurements): a connection, prepared statements and write transactions, each released on
// scope exit, so that no error path leaks a handle or leaves a transaction open.
//
// Nothing here throws or decides what an error means: calls report failure as false, and
// Database::Error words SQLite's reason as "<path>: <what>: <reason>" for the caller's Status.
// <sqlite3.h> stays out of this header.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace joulecast::sqlite {

/// One connection, closed on destruction. Not thread-safe; one per thread.
class Database {
 public:
  enum class Mode {
    read_only,   ///< Fails unless the file exists; never writes.
    read_write,  ///< Fails unless the file exists.
    create,      ///< Read-write, creating the file if missing.
  };

  /// Opens `path` (":memory:" for a database in memory); check ok(). Once open, a call that
  /// meets another connection's lock waits up to `busy_timeout_ms` before it fails.
  Database(const std::string& path, Mode mode, int busy_timeout_ms);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// The open succeeded.
  bool ok() const { return open_rc_ == 0; }
  /// The file as given.
  const std::string& path() const { return path_; }
  /// "<path>: <what>: <SQLite's reason for the last failure>" (the open's when !ok()).
  std::string Error(const std::string& what) const;
  /// The last failure was SQLITE_NOTADB: the file is not an SQLite database.
  bool NotADatabase() const;

  /// Runs `sql`, one or more statements without results; false on failure.
  bool Exec(const char* sql);
  /// Rows changed by the last INSERT, UPDATE or DELETE.
  int Changes() const;

 private:
  friend class Statement;
  sqlite3* db_ = nullptr;
  std::string path_;
  int open_rc_ = 0;
};

/// A prepared statement, finalized on destruction. Parameters are numbered from 1, columns
/// from 0. REQUIRES: the Database outlives it.
class Statement {
 public:
  /// Prepares `sql`; check ok().
  Statement(Database& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  /// Prepared, and no step has failed.
  bool ok() const { return ok_; }

  /// Binds parameter `i`: text (copied), an integer, a number, or NULL for nullopt.
  void Bind(int i, const std::string& text);
  void Bind(int i, int64_t value);
  void Bind(int i, double value);
  void Bind(int i, const std::optional<double>& value);

  /// Runs one step: true when a row is ready to read; false when done or failed (see ok()).
  bool Step();
  /// Runs a statement that returns no rows to its end: true when it completed.
  bool Run();

  /// Column `i` of the current row: text ("" for NULL), integer, number, or nullopt for NULL.
  std::string Text(int i) const;
  int64_t Int(int i) const;
  double Real(int i) const;
  std::optional<double> OptReal(int i) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
  bool ok_ = false;
};

/// A write transaction (BEGIN IMMEDIATE: it takes the write lock, waiting up to the busy
/// timeout), rolled back on destruction unless committed.
class Transaction {
 public:
  /// Does not begin: call Begin().
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  /// Takes the write lock; false on failure (busy past the timeout, not a database, ...).
  bool Begin();
  /// Commits; false on failure, when the destructor rolls back.
  bool Commit();

 private:
  Database& db_;
  bool open_ = false;
};

}  // namespace joulecast::sqlite
