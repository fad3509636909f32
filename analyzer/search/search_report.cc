#include "analyzer/search/search_report.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "analyzer/report/format.h"

namespace joulecast::search {

namespace {

using Json = nlohmann::ordered_json;

Status FillParams(StudyReport& r) {
  r.params.clear();
  for (const StudyTrial& t : r.trials) {
    Result<Params> p = ParamsFromJson(t.params_json, r.space);
    if (!p.ok()) {
      return Status::Error(r.path + ": trial " + std::to_string(t.number) + ": " +
                           p.status().message());
    }
    r.params.push_back(std::move(*p));
  }
  return Status();
}

bool Done(const StudyTrial& t) { return t.status == "done" && t.accuracy && t.energy_j; }

Json Optional(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

Json TrialJson(const StudyTrial& t) {
  Json j;
  j["number"] = t.number;
  j["params"] = Json::parse(t.params_json, nullptr, false);
  j["status"] = t.status;
  j["accuracy"] = Optional(t.accuracy);
  j["energy_j"] = Optional(t.energy_j);
  j["energy_real"] = t.energy_real;
  j["meter"] = t.meter.empty() ? Json(nullptr) : Json(t.meter);
  j["predicted_energy_j"] = Optional(t.predicted_energy_j);
  j["predicted_energy_low_j"] = Optional(t.predicted_low_j);
  j["predicted_energy_high_j"] = Optional(t.predicted_high_j);
  j["prediction_error"] =
      t.energy_j && t.predicted_energy_j && *t.predicted_energy_j > 0 && *t.energy_j > 0
          ? Json(*t.predicted_energy_j / *t.energy_j - 1)
          : Json(nullptr);
  j["time_s"] = Optional(t.time_s);
  j["error"] = t.error.empty() ? Json(nullptr) : Json(t.error);
  j["started_at"] = t.started_at;
  j["finished_at"] = t.finished_at.empty() ? Json(nullptr) : Json(t.finished_at);
  j["worker"] = t.worker;
  j["runs"] = t.runs;
  return j;
}

Json StudyJson(const StudyReport& r) {
  Json j;
  j["schema"] = "joulecast.search/1";
  j["study"] = r.path;
  j["study_name"] = r.name;
  j["space"] = r.key.space_source;
  Json options = Json::object();
  for (const auto& [flag, value] : r.key.options) options[flag] = value;
  j["options"] = options;
  if (r.profile_source.empty()) {
    j["profile"] = nullptr;
  } else {
    j["profile"] = {{"source", r.profile_source},
                    {"meter", r.profile_meter},
                    {"meter_real", r.profile_meter_real}};
  }
  int done = 0, failed = 0, running = 0;
  for (const StudyTrial& t : r.trials) {
    done += t.status == "done";
    failed += t.status == "failed";
    running += t.status == "running";
  }
  j["counts"] = {
      {"trials", r.trials.size()}, {"done", done}, {"failed", failed}, {"running", running}};
  j["energy_spent_j"] = EnergySpent(r);
  Json trials = Json::array();
  for (const StudyTrial& t : r.trials) trials.push_back(TrialJson(t));
  j["trials"] = trials;
  std::optional<size_t> best = BestTrial(r);
  j["best"] = best ? TrialJson(r.trials[*best]) : Json(nullptr);
  Json pareto = Json::array();
  for (size_t i : ParetoFront(r)) pareto.push_back(TrialJson(r.trials[i]));
  j["pareto"] = pareto;
  return j;
}

std::string Cell(const std::optional<double>& v, const char* unit) {
  return v ? report::Quantity(*v, unit) : "-";
}

std::string Accuracy(const std::optional<double>& v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", *v * 100);
  return buf;
}

}  // namespace

Result<StudyReport> LoadStudyReport(const std::string& path, const std::string& name) {
  std::error_code ec;
  if (!IsPostgresUrl(path) && !std::filesystem::is_regular_file(path, ec)) {
    return Status::Error(path + ": no such study file");
  }
  Result<std::unique_ptr<StudyStorage>> study = OpenStudyReadOnly(path, name);
  if (!study.ok()) return study.status();
  StudyReport r;
  r.path = Redacted(path);
  r.name = name;
  r.key = (*study)->key();
  Result<Space> space = ParseSpace(r.key.space, r.key.space_source);
  if (!space.ok()) return Status::Error(path + ": its space: " + space.status().message());
  r.space = std::move(*space);
  Result<std::vector<StudyTrial>> trials = (*study)->Load();
  if (!trials.ok()) return trials.status();
  r.trials = std::move(*trials);
  if (Status s = FillParams(r); !s.ok()) return s;
  return r;
}

Result<StudyReport> ReportOf(const SearchOutcome& o) {
  StudyReport r;
  r.path = o.study_path;
  r.name = o.study_name;
  r.key = o.key;
  r.space = o.space;
  r.trials = o.trials;
  if (o.profile) {
    r.profile_source = o.profile->source;
    r.profile_meter = o.profile->meter_kind;
    r.profile_meter_real = o.profile->meter_real;
  }
  if (Status s = FillParams(r); !s.ok()) return s;
  return r;
}

std::string Option(const StudyReport& r, const std::string& flag) {
  for (const auto& [f, v] : r.key.options) {
    if (f == flag) return v;
  }
  return "";
}

std::string StudyLabel(const StudyReport& r) {
  std::string strategy = Option(r, "strategy");
  std::string label = strategy.empty() ? "study" : strategy;
  if (strategy == "bo") {
    label += " (" + Option(r, "acquisition");
    if (Option(r, "objectives").find("energy") != std::string::npos) label += ", pareto";
    label += ")";
  } else if (strategy == "random" && Option(r, "sampler") == "halton") {
    label += " (halton)";
  }
  if (Option(r, "energy-budget") != "none" && !Option(r, "energy-budget").empty()) {
    label += " budget";
  }
  if (r.path != ":memory:") label += " " + std::filesystem::path(r.path).filename().string();
  if (r.name != kDefaultStudyName) label += " " + r.name;
  return label;
}

std::optional<size_t> BestTrial(const StudyReport& r) {
  std::optional<size_t> best;
  for (size_t i = 0; i < r.trials.size(); ++i) {
    const StudyTrial& t = r.trials[i];
    if (!Done(t)) continue;
    if (!best) {
      best = i;
      continue;
    }
    const StudyTrial& b = r.trials[*best];
    if (*t.accuracy > *b.accuracy || (*t.accuracy == *b.accuracy && *t.energy_j < *b.energy_j)) {
      best = i;
    }
  }
  return best;
}

std::vector<size_t> ParetoFront(const StudyReport& r) {
  std::vector<size_t> done;
  for (size_t i = 0; i < r.trials.size(); ++i) {
    if (Done(r.trials[i])) done.push_back(i);
  }
  // By energy, then by accuracy (best first): a trial is on the front when it is more accurate
  // than every cheaper one.
  std::stable_sort(done.begin(), done.end(), [&](size_t a, size_t b) {
    const StudyTrial &x = r.trials[a], &y = r.trials[b];
    if (*x.energy_j != *y.energy_j) return *x.energy_j < *y.energy_j;
    return *x.accuracy > *y.accuracy;
  });
  std::vector<size_t> front;
  double best = -1;
  for (size_t i : done) {
    if (*r.trials[i].accuracy > best) {
      front.push_back(i);
      best = *r.trials[i].accuracy;
    }
  }
  return front;
}

double EnergySpent(const StudyReport& r) {
  double sum = 0;
  for (const StudyTrial& t : r.trials) sum += t.energy_j.value_or(0);
  return sum;
}

std::string SearchText(const StudyReport& r) {
  std::string out;
  int done = 0, failed = 0, running = 0;
  for (const StudyTrial& t : r.trials) {
    done += t.status == "done";
    failed += t.status == "failed";
    running += t.status == "running";
  }
  out += "search: space " + r.key.space_source + ", strategy " + Option(r, "strategy");
  if (Option(r, "strategy") == "bo") out += " (acquisition " + Option(r, "acquisition") + ")";
  out += ", objectives " + Option(r, "objectives") + ", seed " + Option(r, "seed");
  if (Option(r, "energy-budget") != "none") {
    out += ", energy budget " + Option(r, "energy-budget");
  }
  out +=
      "\nstudy " +
      (r.path == ":memory:"
           ? std::string("in memory (not saved: give --study)")
           : r.path + (r.name == kDefaultStudyName ? std::string() : " (study " + r.name + ")")) +
      ": " + std::to_string(r.trials.size()) + " trials, " + std::to_string(done) + " done, " +
      std::to_string(failed) + " failed" +
      (running ? ", " + std::to_string(running) + " running" : std::string()) +
      "; training energy spent " + report::Quantity(EnergySpent(r), "J") + "\n";
  if (!r.profile_source.empty()) {
    out += "predicted with " + r.profile_source + " (meter " + r.profile_meter +
           (r.profile_meter_real ? ")" : ": estimated, not measured)") + "\n";
  }
  out += "\n";
  std::vector<std::vector<std::string>> rows = {
      {"#", "status", "accuracy", "energy", "predicted", "time", "params"}};
  for (size_t i = 0; i < r.trials.size(); ++i) {
    const StudyTrial& t = r.trials[i];
    rows.push_back({std::to_string(t.number), t.status, Accuracy(t.accuracy), Cell(t.energy_j, "J"),
                    Cell(t.predicted_energy_j, "J"), t.time_s ? report::Duration(*t.time_s) : "-",
                    ParamsLabel(r.params[i])});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const bool right = c == 0 || (c >= 2 && c <= 5);
      std::string pad(width[c] - row[c].size(), ' ');
      if (c + 1 == row.size())
        line += row[c];
      else
        line += (right ? pad + row[c] : row[c] + pad) + "  ";
    }
    out += line + "\n";
  }
  for (const StudyTrial& t : r.trials) {
    if (t.status == "failed") {
      out += "trial " + std::to_string(t.number) + " failed: " + t.error + "\n";
    }
  }
  out += "\n";
  if (std::optional<size_t> best = BestTrial(r)) {
    const StudyTrial& b = r.trials[*best];
    out += "best: trial " + std::to_string(b.number) + ", accuracy " + Accuracy(b.accuracy) +
           ", energy " + Cell(b.energy_j, "J") + ": " + ParamsLabel(r.params[*best]) + "\n";
  } else {
    out += "best: none (no trial finished)\n";
  }
  std::string front;
  for (size_t i : ParetoFront(r)) {
    front += (front.empty() ? "" : ", ") + std::to_string(r.trials[i].number) + " (" +
             Accuracy(r.trials[i].accuracy) + ", " + Cell(r.trials[i].energy_j, "J") + ")";
  }
  out += "pareto front (accuracy against energy): " + (front.empty() ? "none" : front) + "\n";
  return out;
}

std::string SearchJson(const StudyReport& r) { return StudyJson(r).dump(2) + "\n"; }

std::string SearchReportJson(const std::vector<StudyReport>& studies) {
  Json j;
  j["schema"] = "joulecast.search-report/1";
  j["studies"] = Json::array();
  for (const StudyReport& r : studies) j["studies"].push_back(StudyJson(r));
  return j.dump(2) + "\n";
}

}  // namespace joulecast::search
