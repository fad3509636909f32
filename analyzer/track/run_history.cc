#include "analyzer/track/run_history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "analyzer/report/format.h"
#include "common/sqlite.h"

namespace joulecast::track {

namespace {

constexpr int kBusyTimeoutMs = 10000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  started TEXT NOT NULL,
  command TEXT NOT NULL,
  exit_code INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'interrupted')),
  meter TEXT NOT NULL,
  meter_real INTEGER NOT NULL,
  energy_j REAL NOT NULL,
  duration_s REAL NOT NULL,
  predicted_j REAL,
  predicted_low_j REAL,
  predicted_high_j REAL,
  profile TEXT NOT NULL DEFAULT '',
  model TEXT NOT NULL DEFAULT ''
);
)sql";

}  // namespace

std::string DefaultHistoryPath() {
  if (const char* p = std::getenv("JOULECAST_HISTORY"); p && *p) return p;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) {
    return std::string(x) + "/joulecast/history.db";
  }
  if (const char* h = std::getenv("HOME"); h && *h) {
    return std::string(h) + "/.local/share/joulecast/history.db";
  }
  return "";
}

Status AppendRun(const std::string& path, const TrackedRun& run) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  sqlite::Database db(path, sqlite::Database::Mode::create, kBusyTimeoutMs);
  if (!db.ok()) return Status::Error(db.Error("cannot open the history"));
  if (!db.Exec(kSchema)) return Status::Error(db.Error("not a joulecast history"));
  sqlite::Statement insert(
      db,
      "INSERT INTO runs (started, command, exit_code, status, meter, meter_real, energy_j, "
      "duration_s, predicted_j, predicted_low_j, predicted_high_j, profile, model) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
  if (!insert.ok()) return Status::Error(db.Error("not a joulecast history"));
  insert.Bind(1, run.started_utc);
  insert.Bind(2, CommandLineOf(run.command));
  insert.Bind(3, int64_t{run.exit_code});
  insert.Bind(4, std::string(RunStatusName(run.status)));
  insert.Bind(5, run.meter);
  insert.Bind(6, int64_t{run.meter_real});
  insert.Bind(7, run.energy_j);
  insert.Bind(8, run.duration_s);
  const TrackPrediction* p = run.prediction ? &*run.prediction : nullptr;
  insert.Bind(9, p ? std::optional<double>(p->energy_j) : std::nullopt);
  insert.Bind(10, p ? std::optional<double>(p->low_j) : std::nullopt);
  insert.Bind(11, p ? std::optional<double>(p->high_j) : std::nullopt);
  insert.Bind(12, p ? p->profile : std::string());
  insert.Bind(13, p ? p->model : std::string());
  if (!insert.Run()) return Status::Error(db.Error("cannot add the run to the history"));
  return Status();
}

Result<std::vector<HistoryRow>> ReadHistory(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return Status::Error(path + ": no history yet (joulecast track adds a run to it)");
  }
  sqlite::Database db(path, sqlite::Database::Mode::read_only, kBusyTimeoutMs);
  if (!db.ok()) return Status::Error(db.Error("cannot open the history"));
  sqlite::Statement q(db,
                      "SELECT id, started, command, exit_code, status, meter, meter_real, "
                      "energy_j, duration_s, predicted_j, predicted_low_j, predicted_high_j, "
                      "profile, model FROM runs ORDER BY id");
  if (!q.ok()) return Status::Error(db.Error("not a joulecast history"));
  std::vector<HistoryRow> rows;
  while (q.Step()) {
    HistoryRow r;
    r.id = q.Int(0);
    r.started_utc = q.Text(1);
    r.command = q.Text(2);
    r.exit_code = static_cast<int>(q.Int(3));
    r.status = q.Text(4);
    r.meter = q.Text(5);
    r.meter_real = q.Int(6) != 0;
    r.energy_j = q.Real(7);
    r.duration_s = q.Real(8);
    r.predicted_j = q.OptReal(9);
    r.predicted_low_j = q.OptReal(10);
    r.predicted_high_j = q.OptReal(11);
    r.profile = q.Text(12);
    r.model = q.Text(13);
    rows.push_back(std::move(r));
  }
  if (!q.ok()) return Status::Error(db.Error("cannot read the history"));
  return rows;
}

std::vector<ProfileError> ProfileErrors(const std::vector<HistoryRow>& rows) {
  std::vector<ProfileError> out;
  for (const HistoryRow& r : rows) {
    if (r.status != "ok" || !r.predicted_j || !(*r.predicted_j > 0)) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const ProfileError& e) { return e.profile == r.profile; });
    if (it == out.end()) it = out.insert(out.end(), ProfileError{r.profile});
    it->mean_abs_error += std::fabs(r.energy_j / *r.predicted_j - 1);  // a sum until the end
    ++it->runs;
    if ((r.predicted_low_j && r.energy_j < *r.predicted_low_j) ||
        (r.predicted_high_j && r.energy_j > *r.predicted_high_j)) {
      ++it->outside_interval;
    }
  }
  for (ProfileError& e : out) e.mean_abs_error /= e.runs;
  return out;
}

std::string RenderHistory(const std::string& path, const std::vector<HistoryRow>& rows, bool json) {
  const std::vector<ProfileError> errors = ProfileErrors(rows);
  if (json) {
    nlohmann::ordered_json runs = nlohmann::ordered_json::array();
    for (const HistoryRow& r : rows) {
      auto opt = [](const std::optional<double>& v) {
        return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
      };
      runs.push_back({{"id", r.id},
                      {"started", r.started_utc},
                      {"command", r.command},
                      {"exit_code", r.exit_code},
                      {"status", r.status},
                      {"meter", r.meter},
                      {"meter_real", r.meter_real},
                      {"energy_j", r.energy_j},
                      {"duration_s", r.duration_s},
                      {"predicted_j", opt(r.predicted_j)},
                      {"predicted_j_low", opt(r.predicted_low_j)},
                      {"predicted_j_high", opt(r.predicted_high_j)},
                      {"profile", r.profile},
                      {"model", r.model}});
    }
    nlohmann::ordered_json profiles = nlohmann::ordered_json::array();
    for (const ProfileError& e : errors) {
      profiles.push_back({{"profile", e.profile},
                          {"runs", e.runs},
                          {"mean_abs_error", e.mean_abs_error},
                          {"outside_interval", e.outside_interval}});
    }
    nlohmann::ordered_json j = {{"schema", "joulecast.history/1"},
                                {"history", path},
                                {"runs", runs},
                                {"profiles", profiles}};
    return j.dump(2) + "\n";
  }
  std::string out = "history " + path + ": " + std::to_string(rows.size()) +
                    (rows.size() == 1 ? " run\n" : " runs\n");
  for (const HistoryRow& r : rows) {
    out += "#" + std::to_string(r.id) + "  " + r.started_utc + "  " + r.status + " (exit " +
           std::to_string(r.exit_code) + ")  " + report::Duration(r.duration_s) + "  " +
           report::Quantity(r.energy_j, "J") + " " + r.meter + (r.meter_real ? "" : " (estimated)");
    if (r.predicted_j && *r.predicted_j > 0) {
      out += "  predicted " + report::Quantity(*r.predicted_j, "J") + " (" +
             report::SignedPercent(r.energy_j / *r.predicted_j - 1) + ")";
    }
    out += "\n    " + r.command + "\n";
  }
  if (errors.empty()) {
    out += "no completed run with a prediction yet (joulecast track --predict MODEL)\n";
  }
  for (const ProfileError& e : errors) {
    out += "profile " + e.profile + ": mean absolute error " + report::Percent(e.mean_abs_error, 1) +
           " over " + std::to_string(e.runs) +
           (e.runs == 1 ? " completed run" : " completed runs") + ", " +
           std::to_string(e.outside_interval) + " outside the interval\n";
  }
  return out;
}

}  // namespace joulecast::track
