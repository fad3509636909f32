// What `joulecast search` prints: a study's trials, its best trial and its Pareto front, as text,
// JSON (schema "joulecast.search/1", docs/search.md) or one self-contained HTML page with SVG
// charts that also sets several studies side by side (`joulecast search --report A.db B.db`).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/status.h"
#include "analyzer/search/search.h"
#include "analyzer/search/space.h"
#include "analyzer/search/study_storage.h"

namespace joulecast::search {

/// One study, ready to render.
struct StudyReport {
  std::string path;  ///< The study file or URL (":memory:" for one not kept), no password.
  std::string name = kDefaultStudyName;  ///< The study's name in it (--study-name).
  StudyKey key;                          ///< Its space and options.
  Space space;                           ///< Parsed from key.space.
  std::vector<StudyTrial> trials;        ///< In number order.
  std::vector<Params> params;            ///< Parallel to trials.
  /// The profile the predictions were made with, when known (a search just run).
  std::string profile_source;
  std::string profile_meter;  ///< Its meter kind; empty when unknown.
  bool profile_meter_real = false;
};

/// Reads study `name` of a file or a PostgreSQL URL for a report (never writes). Errors name
/// the file or URL.
Result<StudyReport> LoadStudyReport(const std::string& path,
                                    const std::string& name = kDefaultStudyName);
/// The report of a search just run.
Result<StudyReport> ReportOf(const SearchOutcome& outcome);

/// The option `flag` the study was made with ("" when not recorded).
std::string Option(const StudyReport& study, const std::string& flag);
/// "bo (ei) s.db": strategy, acquisition for bo, file name.
std::string StudyLabel(const StudyReport& study);

/// Index of the best done trial: highest accuracy, then lowest energy, then lowest number.
std::optional<size_t> BestTrial(const StudyReport& study);
/// Indices of the done trials no other done trial dominates (at least as accurate for at most
/// the energy, better in one), by increasing energy.
std::vector<size_t> ParetoFront(const StudyReport& study);
/// Measured training energy of every finished trial, summed (joules).
double EnergySpent(const StudyReport& study);

/// A table of the trials, then the best trial and the Pareto front.
std::string SearchText(const StudyReport& study);
/// The "joulecast.search/1" document.
std::string SearchJson(const StudyReport& study);
/// {"schema": "joulecast.search-report/1", "studies": [joulecast.search/1 documents]}.
std::string SearchReportJson(const std::vector<StudyReport>& studies);
/// One self-contained HTML page (inline SVG, no script, nothing fetched): best accuracy against
/// cumulative training energy per study, accuracy against energy with each Pareto front, the
/// accuracy against each parameter, and tables of the trials.
std::string SearchHtml(const std::vector<StudyReport>& studies);

}  // namespace joulecast::search
