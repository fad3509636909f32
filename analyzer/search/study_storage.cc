#include "analyzer/search/study_storage.h"

#include <unistd.h>

#include <chrono>
#include <random>

#include "analyzer/search/postgres_study.h"
#include "analyzer/search/sqlite_study.h"
#include "analyzer/search/study_internal.h"

namespace joulecast::search {

namespace internal {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::string WorkerId() { return HostName() + ":" + std::to_string(getpid()); }

int64_t NewToken() {
  static std::mt19937_64 rng(
      std::random_device{}() ^ static_cast<uint64_t>(getpid()) << 32 ^
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return static_cast<int64_t>(rng() >> 1);
}

std::string StudyWhere(const std::string& location, const std::string& name) {
  return Redacted(location) + (name == kDefaultStudyName ? "" : " (study " + name + ")");
}

std::vector<std::pair<std::string, std::string>> MetaRows(const StudyKey& key,
                                                          const std::string& created_at) {
  std::vector<std::pair<std::string, std::string>> rows = {{"application", kStudyApplication},
                                                           {"space", key.space},
                                                           {"space_source", key.space_source},
                                                           {"created_at", created_at}};
  for (const auto& [flag, value] : key.options) rows.push_back({"option:" + flag, value});
  return rows;
}

namespace {
std::string OptionText(const std::string& flag, const std::string& value) {
  return "--" + flag + " " + (value.empty() ? "(unset)" : value);
}
}  // namespace

Status CheckMeta(const std::map<std::string, std::string>& meta, const StudyKey& key,
                 const std::string& where) {
  auto get = [&](const std::string& k) {
    auto it = meta.find(k);
    return it == meta.end() ? std::string() : it->second;
  };
  if (get("application") != kStudyApplication) {
    return Status::Error(where + ": not a joulecast study; give another --study, or remove it");
  }
  if (get("space") != key.space) {
    return Status::Error(where + ": this study was made with another search space (" +
                         get("space_source") + "), not " + key.space_source +
                         ": run with that space to resume it, or give another --study");
  }
  for (const auto& [flag, value] : key.options) {
    const std::string stored = get("option:" + flag);
    if (stored != value) {
      return Status::Error(where + ": this study was made with " + OptionText(flag, stored) +
                           ", not " + OptionText(flag, value) +
                           ": run with the same options to resume it, or give another --study");
    }
  }
  return Status();
}

Result<StudyKey> KeyFromMeta(const std::vector<std::pair<std::string, std::string>>& rows,
                             const std::string& where) {
  StudyKey key;
  std::string application;
  for (const auto& [k, v] : rows) {
    if (k == "application") application = v;
    if (k == "space") key.space = v;
    if (k == "space_source") key.space_source = v;
    if (k.rfind("option:", 0) == 0) key.options.push_back({k.substr(7), v});
  }
  if (application != kStudyApplication) return Status::Error(where + ": not a joulecast study");
  return key;
}

}  // namespace internal

bool IsPostgresUrl(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string Redacted(const std::string& location) {
  if (!IsPostgresUrl(location)) return location;
  const size_t start = location.find("://") + 3;
  const size_t at = location.find('@', start);
  const size_t slash = location.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) return location;
  const size_t colon = location.find(':', start);
  if (colon == std::string::npos || colon > at) return location;
  return location.substr(0, colon) + ":***" + location.substr(at);
}

Status CheckStudyName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || c == '.');
  }
  if (ok) return Status();
  return Status::Error("--study-name '" + name +
                       "': use 1 to 64 letters, digits, '_', '-' or '.', like bo-run-2");
}

Result<std::unique_ptr<StudyStorage>> OpenStudy(const std::string& location, const StudyKey& key,
                                                const StudyOptions& options) {
  if (Status s = CheckStudyName(options.name); !s.ok()) return s;
  if (!(options.lease_s > 0)) return Status::Error("--lease-s must be more than 0");
  if (IsPostgresUrl(location)) {
    Result<std::unique_ptr<PostgresStudy>> s = PostgresStudy::Open(location, key, options);
    if (!s.ok()) return s.status();
    return std::unique_ptr<StudyStorage>(std::move(*s));
  }
  Result<std::unique_ptr<SqliteStudy>> s = SqliteStudy::Open(location, key, options);
  if (!s.ok()) return s.status();
  return std::unique_ptr<StudyStorage>(std::move(*s));
}

Result<std::unique_ptr<StudyStorage>> OpenStudyReadOnly(const std::string& location,
                                                        const std::string& name) {
  if (Status s = CheckStudyName(name); !s.ok()) return s;
  if (IsPostgresUrl(location)) {
    Result<std::unique_ptr<PostgresStudy>> s = PostgresStudy::OpenReadOnly(location, name);
    if (!s.ok()) return s.status();
    return std::unique_ptr<StudyStorage>(std::move(*s));
  }
  Result<std::unique_ptr<SqliteStudy>> s = SqliteStudy::OpenReadOnly(location, name);
  if (!s.ok()) return s.status();
  return std::unique_ptr<StudyStorage>(std::move(*s));
}

Status ImportStudy(const std::string& location, const std::string& name, const StudyKey& key,
                   const std::vector<StudyTrial>& trials) {
  if (Status s = CheckStudyName(name); !s.ok()) return s;
  if (IsPostgresUrl(location)) return PostgresStudy::Import(location, name, key, trials);
  return SqliteStudy::Import(location, name, key, trials);
}

}  // namespace joulecast::search
