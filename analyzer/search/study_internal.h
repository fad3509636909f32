// Internal to the study implementations: what the SQLite and PostgreSQL studies share (the meta
// rows a study is keyed by, the check of a resumed study's key, worker ids, claim tokens).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "analyzer/search/study_storage.h"

namespace joulecast::search::internal {

/// The meta table's `application` value.
inline constexpr const char* kStudyApplication = "joulecast.study/1";

/// "host" of this machine ("localhost" when unknown).
std::string HostName();
/// "host:pid" of this process.
std::string WorkerId();
/// A random 63-bit number no other claim is likely to have (pid, time and a random device).
int64_t NewToken();

/// "s.db" for the default study, "s.db (study NAME)" for another; URLs without their password.
std::string StudyWhere(const std::string& location, const std::string& name);

/// The meta rows of a new study, in order: application, space, space_source, created_at, then
/// one "option:FLAG" per option.
std::vector<std::pair<std::string, std::string>> MetaRows(const StudyKey& key,
                                                          const std::string& created_at);

/// Checks a stored study's meta rows against `key`. Errors, one line starting with `where`: not
/// a joulecast study; another space; another value of an option (naming the flag).
Status CheckMeta(const std::map<std::string, std::string>& meta, const StudyKey& key,
                 const std::string& where);

/// The key a stored study's meta rows (in stored order) describe; an error when they are not a
/// joulecast study's.
Result<StudyKey> KeyFromMeta(const std::vector<std::pair<std::string, std::string>>& rows,
                             const std::string& where);

}  // namespace joulecast::search::internal
