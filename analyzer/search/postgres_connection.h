// One libpq connection to a PostgreSQL server, as the PostgreSQL study uses it: parameters as
// text, results as rows of text, and every piece of work retried over a lost connection until a
// deadline, so that a server restart costs a retry and a server gone for good a clear one-line
// error, never a hang. <libpq-fe.h> stays in postgres_connection.cc.
//
// The connection is opened with a connect timeout, TCP keepalives and a TCP user timeout (a
// peer that stops answering is noticed in seconds), and a statement timeout and an
// idle-in-transaction timeout on the server's side (a worker that stops mid-transaction does not
// hold locks for long). Keywords in the URL itself override these.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/status.h"

namespace joulecast::search {

/// Rows of one result, each value as text (empty and null() for NULL).
class PostgresRows {
 public:
  /// Takes the values of a result: row-major, `columns` per row.
  PostgresRows(int columns, std::vector<std::optional<std::string>> values, int64_t affected)
      : columns_(columns), values_(std::move(values)), affected_(affected) {}
  /// Rows returned.
  int size() const { return columns_ == 0 ? 0 : static_cast<int>(values_.size()) / columns_; }
  /// Rows an INSERT, UPDATE or DELETE changed.
  int64_t affected() const { return affected_; }
  bool null(int row, int col) const { return !At(row, col).has_value(); }
  std::string Text(int row, int col) const { return At(row, col).value_or(""); }
  int64_t Int(int row, int col) const;
  std::optional<double> OptReal(int row, int col) const;

 private:
  const std::optional<std::string>& At(int row, int col) const {
    return values_[static_cast<size_t>(row) * columns_ + col];
  }
  int columns_;
  std::vector<std::optional<std::string>> values_;
  int64_t affected_;
};

/// A statement's parameter: text, or NULL.
using PgParam = std::optional<std::string>;
/// A number as a parameter (exact: 17 significant digits).
PgParam PgReal(const std::optional<double>& v);
PgParam PgInt(int64_t v);

class PostgresConnection {
 public:
  struct Options {
    /// How long work is retried over a lost or refused connection before it fails (seconds).
    double retry_s = 60;
    bool read_only = false;  ///< Every transaction read-only.
    /// Server-side statement timeout (waits for a lock included).
    int statement_timeout_ms = 120000;
    /// A transaction left idle this long is ended by the server (and its locks freed).
    int idle_in_transaction_timeout_ms = 60000;
    int connect_timeout_s = 10;
  };

  /// Connects to `url` (postgresql:// or postgres://), retrying up to options.retry_s. Errors,
  /// one line naming the URL (without its password): a malformed URL or unknown parameter (at
  /// once), the server cannot be reached, the login is refused.
  static Result<std::unique_ptr<PostgresConnection>> Open(const std::string& url,
                                                          const Options& options);
  ~PostgresConnection();
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  /// Runs one statement with $1.. parameters. Errors: the server's message, prefixed by `what`.
  Result<PostgresRows> Exec(const std::string& what, const std::string& sql,
                            const std::vector<PgParam>& params = {});

  /// Runs `work` (statements through Exec, a transaction begun and committed inside it), again
  /// from the start after a lost connection, a server restart, a serialisation failure or a
  /// deadlock, reconnecting with backoff until options.retry_s have passed; an open transaction
  /// is rolled back before each retry. Any other error is returned at once.
  Status WithRetry(const std::function<Status()>& work);

  /// The URL without its password, for messages.
  const std::string& where() const { return where_; }

 private:
  PostgresConnection(std::string url, Options options);
  Status Connect();
  struct Handle;
  std::string url_, where_;
  Options options_;
  std::unique_ptr<Handle> handle_;
  bool retriable_ = false;  // The last failure was a lost connection or a transient conflict.
};

}  // namespace joulecast::search
