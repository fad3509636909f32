#include "analyzer/search/postgres_connection.h"

#include <dlfcn.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <type_traits>

#include "analyzer/search/study_storage.h"

namespace joulecast::search {

namespace {

using Clock = std::chrono::steady_clock;

// libpq's messages, on one line: "FATAL:  x\nDETAIL: y\n" -> "FATAL: x DETAIL: y".
std::string OneLine(const char* message) {
  std::string out;
  bool space = false;
  for (const char* p = message ? message : ""; *p; ++p) {
    const bool blank = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
    if (blank) {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += *p;
  }
  return out.empty() ? std::string("no reason given") : out;
}

// Failures to connect that no retry can mend: a refused login, a database that is not there.
bool HopelessConnect(const std::string& message) {
  for (const char* s : {"authentication failed", "does not exist", "no password supplied",
                        "permission denied", "invalid", "not permitted"}) {
    if (message.find(s) != std::string::npos) return true;
  }
  return false;
}

bool RetriableState(const char* state) {
  if (!state) return false;
  const std::string s = state;
  return s.rfind("08", 0) == 0 || s == "57P01" || s == "57P02" || s == "57P03" || s == "40001" ||
         s == "40P01" || s == "25P03";
}

// libpq, opened the first time a PostgreSQL study is (dlopen): linked in, it and the libraries
// it needs (TLS, Kerberos, LDAP) cost every joulecast command 3-4 ms and 5 MB at start-up.
// The functions used, once: each becomes a pointer of its own type, looked up by its name.
#define JOULECAST_LIBPQ_FUNCTIONS(X) \
  X(PQclear) \
  X(PQcmdTuples) \
  X(PQconnectdbParams) \
  X(PQconninfoFree) \
  X(PQconninfoParse) \
  X(PQerrorMessage) \
  X(PQexec) \
  X(PQexecParams) \
  X(PQfinish) \
  X(PQfreemem) \
  X(PQgetisnull) \
  X(PQgetlength) \
  X(PQgetvalue) \
  X(PQnfields) \
  X(PQntuples) \
  X(PQresultErrorField) \
  X(PQresultErrorMessage) \
  X(PQresultStatus) \
  X(PQsetNoticeProcessor) \
  X(PQstatus) \
  X(PQtransactionStatus)

struct LibPq {
#define JOULECAST_LIBPQ_POINTER(name) decltype(&::name) name = nullptr;
  JOULECAST_LIBPQ_FUNCTIONS(JOULECAST_LIBPQ_POINTER)
#undef JOULECAST_LIBPQ_POINTER
};

struct LoadedLibPq {
  LibPq lib;
  std::string error;  // empty when every function was found
};

const LoadedLibPq& LoadLibPq() {
  static const LoadedLibPq loaded = [] {
    LoadedLibPq l;
    dlerror();
    void* handle = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      const char* why = dlerror();
      l.error = std::string("cannot load libpq.so.5 (") + (why ? why : "unknown dlopen error") +
                "): install Debian's libpq5";
      return l;
    }
    auto Symbol = [&](const char* name, auto* fn) {
      *fn = reinterpret_cast<std::remove_pointer_t<decltype(fn)>>(dlsym(handle, name));
      if (!*fn && l.error.empty()) l.error = std::string("libpq.so.5 has no ") + name;
    };
#define JOULECAST_LIBPQ_LOOKUP(name) Symbol(#name, &l.lib.name);
    JOULECAST_LIBPQ_FUNCTIONS(JOULECAST_LIBPQ_LOOKUP)
#undef JOULECAST_LIBPQ_LOOKUP
    return l;
  }();
  return loaded;
}
#undef JOULECAST_LIBPQ_FUNCTIONS

// The loaded library. REQUIRES: LoadLibPq() succeeded (PostgresConnection::Open checks).
const LibPq& Pq() { return LoadLibPq().lib; }

}  // namespace

struct PostgresConnection::Handle {
  PGconn* conn = nullptr;
  ~Handle() {
    if (conn) Pq().PQfinish(conn);
  }
};

int64_t PostgresRows::Int(int row, int col) const {
  const std::string t = Text(row, col);
  if (t == "t") return 1;
  if (t == "f") return 0;
  return std::strtoll(t.c_str(), nullptr, 10);
}

std::optional<double> PostgresRows::OptReal(int row, int col) const {
  if (null(row, col)) return std::nullopt;
  return std::strtod(Text(row, col).c_str(), nullptr);
}

PgParam PgReal(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", *v);
  return std::string(buf);
}

PgParam PgInt(int64_t v) { return std::to_string(v); }

PostgresConnection::PostgresConnection(std::string url, Options options)
    : url_(std::move(url)), where_(Redacted(url_)), options_(options) {}

PostgresConnection::~PostgresConnection() = default;

Result<std::unique_ptr<PostgresConnection>> PostgresConnection::Open(const std::string& url,
                                                                     const Options& options) {
  if (const std::string& error = LoadLibPq().error; !error.empty()) {
    return Status::Error(Redacted(url) + ": PostgreSQL studies need libpq: " + error);
  }
  char* parse_error = nullptr;
  PQconninfoOption* parsed = Pq().PQconninfoParse(url.c_str(), &parse_error);
  if (!parsed) {
    const std::string why = OneLine(parse_error);
    Pq().PQfreemem(parse_error);
    return Status::Error(Redacted(url) + ": not a usable PostgreSQL URL: " + why +
                         " (use postgresql://USER@HOST[:PORT]/DB)");
  }
  Pq().PQconninfoFree(parsed);
  std::unique_ptr<PostgresConnection> c(new PostgresConnection(url, options));
  if (Status s = c->WithRetry([] { return Status(); }); !s.ok()) return s;
  return c;
}

Status PostgresConnection::Connect() {
  handle_.reset();
  const std::string timeout = std::to_string(options_.connect_timeout_s);
  const std::string server_options =
      "-c statement_timeout=" + std::to_string(options_.statement_timeout_ms) +
      " -c idle_in_transaction_session_timeout=" +
      std::to_string(options_.idle_in_transaction_timeout_ms) +
      (options_.read_only ? " -c default_transaction_read_only=on" : "");
  // Ours first: the URL's own keywords, expanded from dbname last, win.
  const char* keys[] = {"connect_timeout",  "keepalives",
                        "keepalives_idle",  "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout",
                        "application_name", "options",
                        "dbname",           nullptr};
  const char* values[] = {
      timeout.c_str(),        "1",          "10",   "5", "3", "30000", "joulecast",
      server_options.c_str(), url_.c_str(), nullptr};
  auto h = std::make_unique<Handle>();
  h->conn = Pq().PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!h->conn) return Status::Error(where_ + ": cannot connect: out of memory");
  if (Pq().PQstatus(h->conn) != CONNECTION_OK) {
    const std::string why = OneLine(Pq().PQerrorMessage(h->conn));
    retriable_ = !HopelessConnect(why);
    return Status::Error(where_ + ": cannot connect to the study's server: " + why);
  }
  // The server's notices ("relation already exists, skipping") are not for the user.
  Pq().PQsetNoticeProcessor(
      h->conn, [](void*, const char*) {}, nullptr);
  handle_ = std::move(h);
  return Status();
}

Result<PostgresRows> PostgresConnection::Exec(const std::string& what, const std::string& sql,
                                              const std::vector<PgParam>& params) {
  retriable_ = false;
  if (!handle_) {
    retriable_ = true;
    return Status::Error(where_ + ": " + what + ": not connected");
  }
  std::vector<const char*> values;
  for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
  std::unique_ptr<PGresult, void (*)(PGresult*)> res(
      Pq().PQexecParams(handle_->conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                   values.data(), nullptr, nullptr, 0),
      Pq().PQclear);
  const ExecStatusType status = res ? Pq().PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = res ? Pq().PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
    retriable_ = Pq().PQstatus(handle_->conn) == CONNECTION_BAD || RetriableState(state);
    const std::string why =
        OneLine(res ? Pq().PQresultErrorMessage(res.get()) : Pq().PQerrorMessage(handle_->conn));
    return Status::Error(where_ + ": " + what + ": " + why);
  }
  const int rows = Pq().PQntuples(res.get()), cols = Pq().PQnfields(res.get());
  std::vector<std::optional<std::string>> out;
  out.reserve(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      if (Pq().PQgetisnull(res.get(), r, c)) {
        out.emplace_back();
      } else {
        out.emplace_back(
            std::string(Pq().PQgetvalue(res.get(), r, c), Pq().PQgetlength(res.get(), r, c)));
      }
    }
  }
  const char* tuples = Pq().PQcmdTuples(res.get());
  return PostgresRows(cols, std::move(out), tuples && *tuples ? std::atoll(tuples) : 0);
}

Status PostgresConnection::WithRetry(const std::function<Status()>& work) {
  const auto deadline =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(options_.retry_s * 1000));
  auto backoff = std::chrono::milliseconds(100);
  for (int attempt = 1;; ++attempt) {
    Status s = handle_ ? Status() : Connect();
    if (s.ok()) {
      try {
        s = work();
      } catch (...) {
        if (handle_ && Pq().PQtransactionStatus(handle_->conn) != PQTRANS_IDLE) {
          Pq().PQclear(Pq().PQexec(handle_->conn, "ROLLBACK"));
        }
        throw;
      }
      if (s.ok()) return s;
      if (handle_ && Pq().PQtransactionStatus(handle_->conn) != PQTRANS_IDLE &&
          Pq().PQstatus(handle_->conn) == CONNECTION_OK) {
        Pq().PQclear(Pq().PQexec(handle_->conn, "ROLLBACK"));
      }
      if (!retriable_) return s;
      if (handle_ && Pq().PQstatus(handle_->conn) == CONNECTION_BAD) handle_.reset();
    } else if (!retriable_) {
      return s;
    }
    if (Clock::now() + backoff > deadline) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.0f", options_.retry_s);
      return Status::Error(s.message() + " (gave up after " + std::to_string(attempt) +
                           " attempts in " + seconds + " s)");
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace joulecast::search
