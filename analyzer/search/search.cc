#include "analyzer/search/search.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "analyzer/core/costs.h"
#include "analyzer/energy/predict.h"
#include "analyzer/json/json_frontend.h"

namespace joulecast::search {

namespace {

std::string Real(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// "1.23 kJ": three significant digits and an SI prefix.
std::string Joules(double j) {
  const char* prefixes[] = {"", "k", "M", "G"};
  int p = 0;
  while (j >= 1000 && p < 3) {
    j /= 1000;
    ++p;
  }
  char buf[40];
  if (p == 0 && j < 1) {
    std::snprintf(buf, sizeof buf, "%.3g mJ", j * 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g %sJ", j, prefixes[p]);
  }
  return buf;
}

std::string Percent(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", x * 100);
  return buf;
}

Result<std::string> ReadFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::Error(path + ": is a folder");
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::Error(path + ": cannot open the search space");
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// The strategy's view of the study: running trials (another worker's) are pending, so they are
// not proposed again and BO conditions on them (StrategyOptions::pending).
std::vector<Observation> History(const Space& space, const std::vector<StudyTrial>& trials) {
  std::vector<Observation> history;
  for (const StudyTrial& t : trials) {
    Result<Params> params = ParamsFromJson(t.params_json, space);
    if (!params.ok()) continue;
    Observation o;
    o.params = std::move(*params);
    o.ok = t.status == "done" && t.accuracy.has_value();
    o.pending = t.status == "running";
    o.accuracy = t.accuracy.value_or(0);
    o.energy_j = t.energy_j.value_or(0);
    o.predicted_energy_j = t.predicted_energy_j.value_or(0);
    history.push_back(std::move(o));
  }
  return history;
}

bool EnergyAware(const StrategyOptions& o) {
  bool pareto = false;
  for (const std::string& objective : o.objectives) pareto = pareto || objective == "energy";
  return o.energy_budget_j.has_value() || o.acquisition == "ei-per-joule" || pareto;
}

// Renews a trial's lease every third of it from a thread of its own while the trial trains,
// and says once if the lease was lost (the trial's result will then be refused).
class LeaseKeeper {
 public:
  LeaseKeeper(StudyStorage& study, int number, double lease_s,
              const std::function<void(const std::string&)>& say)
      : thread_([this, &study, number, lease_s, say] {
          const auto period = std::chrono::duration<double>(lease_s / 3);
          std::unique_lock lock(mutex_);
          bool warned = false;
          while (!cv_.wait_for(lock, period, [this] { return done_; })) {
            lock.unlock();
            Status s = study.Heartbeat(number);
            lock.lock();
            if (!s.ok() && !warned && !done_) {
              say("warning: " + s.message());
              warned = true;
            }
          }
        }) {}
  ~LeaseKeeper() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// How long a worker with nothing to claim waits before it looks again for a trial whose lease
// ran out: a third of the lease, from 0.2 s to 5 s.
std::chrono::milliseconds PollInterval(double lease_s) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::clamp(lease_s / 3, 0.2, 5.0) * 1000));
}

}  // namespace

EnergyOracle::EnergyOracle(const Space& space, const Profile* profile, std::string precision)
    : space_(space), profile_(profile), precision_(std::move(precision)) {}

Result<std::optional<Prediction>> EnergyOracle::Predict(const Params& params) {
  Result<std::string> architecture = ExpandArchitecture(space_, params);
  if (!architecture.ok()) return architecture.status();
  const Training training = TrainingFor(space_, params);
  const std::string key = *architecture + "\n" + std::to_string(training.batch_size) + "," +
                          std::to_string(training.epochs) + "," +
                          std::to_string(training.train_samples);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second;

  auto compute = [&]() -> Result<std::optional<Prediction>> {
    const std::string where = space_.source + " at " + ParamsText(params);
    LoadOptions load;
    load.batch = training.batch_size;
    Result<Graph> graph = ParseJsonArchitecture(*architecture, where, load);
    if (!graph.ok()) return graph.status();
    Result<ModelCost> cost = ComputeCosts(*graph);
    if (!cost.ok()) return Status::Error(where + ": " + cost.status().message());
    if (!profile_) return std::optional<Prediction>();
    TrainingRun run;
    run.samples = training.train_samples;
    run.epochs = training.epochs;
    run.batch = cost->batch;
    const RunPrediction r = PredictRun(PredictStep(*cost, *profile_, precision_), run);
    return std::optional<Prediction>(
        Prediction{r.total.mid.energy_j, r.total.low.energy_j, r.total.high.energy_j});
  };
  return cache_.emplace(key, compute()).first->second;
}

std::string ParamsLabel(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    out += (out.empty() ? "" : ", ") + name + "=";
    if (const double* d = std::get_if<double>(&value)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.4g", *d);
      out += buf;
    } else if (const int64_t* i = std::get_if<int64_t>(&value)) {
      out += std::to_string(*i);
    } else {
      out += std::get<std::string>(value);
    }
  }
  return out;
}

Result<StudyKey> KeyFor(const std::string& space_text, const std::string& space_source,
                        const StrategyOptions& o) {
  StudyKey key;
  try {
    key.space = nlohmann::json::parse(space_text).dump();
  } catch (const std::exception& e) {
    return Status::Error(space_source + ": not JSON: " + e.what());
  }
  key.space_source = space_source;
  std::string objectives;
  for (const std::string& s : o.objectives) objectives += (objectives.empty() ? "" : ",") + s;
  key.options = {{"strategy", o.strategy},
                 {"sampler", o.sampler},
                 {"acquisition", o.acquisition},
                 {"objectives", objectives},
                 {"seed", std::to_string(o.seed)},
                 {"energy-budget", o.energy_budget_j ? Real(*o.energy_budget_j) + "J" : "none"},
                 {"initial-trials", std::to_string(o.initial_trials)},
                 {"candidates", std::to_string(o.candidates)},
                 {"grid-points", std::to_string(o.grid_points)}};
  return key;
}

Result<SearchOutcome> RunSearch(const SearchOptions& options, Trainer& trainer,
                                const std::atomic<bool>* stop,
                                const std::function<void(const std::string&)>& log) {
  auto say = [&](const std::string& line) {
    if (log) log(line);
  };
  if (options.trials < 1) return Status::Error("--trials must be at least 1");
  SearchOutcome out;
  Result<std::string> text = ReadFile(options.space_path);
  if (!text.ok()) return text.status();
  Result<Space> space = ParseSpace(*text, options.space_path);
  if (!space.ok()) return space.status();
  out.space = std::move(*space);

  std::string profile_path = options.profile_path;
  out.default_profile = profile_path.empty();
  if (out.default_profile && !options.default_profile_path.empty() &&
      std::filesystem::exists(options.default_profile_path)) {
    profile_path = options.default_profile_path;
  }
  if (!profile_path.empty()) {
    Result<Profile> profile = LoadProfile(profile_path);
    if (!profile.ok()) return profile.status();
    if (Status s = ProfilePrecision(*profile, options.precision); !s.ok()) return s;
    out.profile = std::move(*profile);
  } else if (EnergyAware(options.strategy)) {
    return Status::Error(
        "--energy-budget, --acquisition ei-per-joule and --objectives accuracy,energy predict "
        "each candidate's energy and need a profile: give --profile P (joulecast calibrate "
        "makes one)");
  }

  StrategyOptions strategy_options = options.strategy;
  strategy_options.budget_trials = options.trials;
  Result<std::unique_ptr<Strategy>> strategy = MakeStrategy(out.space, strategy_options);
  if (!strategy.ok()) return strategy.status();

  Result<StudyKey> key = KeyFor(*text, options.space_path, options.strategy);
  if (!key.ok()) return key.status();
  StudyOptions study_options;
  study_options.name = options.study_name;
  study_options.lease_s = options.lease_s;
  Result<std::unique_ptr<StudyStorage>> opened = OpenStudy(options.study_path, *key, study_options);
  if (!opened.ok()) return opened.status();
  StudyStorage& study = **opened;
  out.key = study.key();
  out.study_path = Redacted(options.study_path);
  out.study_name = options.study_name;
  const std::string where = out.study_path + (options.study_name == kDefaultStudyName
                                                  ? std::string()
                                                  : " (study " + options.study_name + ")");

  EnergyOracle oracle(out.space, out.profile ? &*out.profile : nullptr, options.precision);
  const EnergyPredictor predictor = [&](const Params& p) -> Result<double> {
    Result<std::optional<Prediction>> r = oracle.Predict(p);
    if (!r.ok()) return r.status();
    return *r ? (*r)->energy_j : 0.0;
  };
  // Proposals that do not build are recorded and then failed with the reason, not trained.
  std::map<int, Status> unbuildable;
  const Proposer propose = [&](const std::vector<StudyTrial>& trials,
                               int number) -> Result<std::optional<Proposal>> {
    Result<std::optional<Params>> next =
        (*strategy)->Propose(History(out.space, trials), number, predictor);
    if (!next.ok()) return next.status();
    if (!*next) return std::optional<Proposal>();
    Proposal proposal;
    proposal.params_json = ParamsJson(**next);
    Result<std::optional<Prediction>> predicted = oracle.Predict(**next);
    if (predicted.ok()) {
      proposal.prediction = *predicted;
    } else {
      unbuildable[number] = predicted.status();
    }
    return std::optional<Proposal>(std::move(proposal));
  };

  if (Result<std::vector<StudyTrial>> before = study.Load(); before.ok() && !before->empty()) {
    int done = 0, running = 0;
    for (const StudyTrial& t : *before) {
      done += t.status != "running";
      running += t.status == "running";
    }
    say("resuming " + where + ": " + std::to_string(done) + " trials finished" +
        (running ? ", " + std::to_string(running) + " running or left running" : std::string()) +
        "; the study is to hold " + std::to_string(options.trials));
  }

  bool said_waiting = false;
  for (;;) {
    if (stop && stop->load()) {
      out.interrupted = true;
      break;
    }
    Result<Claim> claim = [&]() -> Result<Claim> {
      try {
        return study.ClaimNext(options.trials, propose);
      } catch (const std::exception& e) {
        return Status::Error(std::string("proposing the next trial failed: ") + e.what());
      }
    }();
    if (!claim.ok()) return claim.status();
    if (claim->kind == Claim::Kind::exhausted) {
      out.exhausted = true;
      say("the " + options.strategy.strategy + " strategy has no more points to propose");
      break;
    }
    if (claim->kind == Claim::Kind::full && claim->running == 0) break;
    if (claim->kind == Claim::Kind::full) {
      if (!said_waiting) {
        say("waiting for " + std::to_string(claim->running) +
            " trials running in other workers (taking over any whose lease runs out)");
        said_waiting = true;
      }
      std::this_thread::sleep_for(PollInterval(options.lease_s));
      continue;
    }
    said_waiting = false;
    const StudyTrial& t = claim->trial;
    Result<Params> params = ParamsFromJson(t.params_json, out.space);
    if (!params.ok()) {
      return Status::Error(where + ": trial " + std::to_string(t.number) + ": " +
                           params.status().message());
    }
    TrialRequest request;
    request.trial = t.number;
    request.params = *params;
    request.training = TrainingFor(out.space, *params);
    request.seed = options.strategy.seed;
    Result<std::string> architecture = ExpandArchitecture(out.space, *params);
    Status cannot_build = architecture.ok() ? Status() : architecture.status();
    if (auto it = unbuildable.find(t.number); it != unbuildable.end()) cannot_build = it->second;
    if (cannot_build.ok() && claim->rerun) {
      Result<std::optional<Prediction>> p = oracle.Predict(*params);
      if (!p.ok()) cannot_build = p.status();
    }
    std::string predicted =
        t.predicted_energy_j ? ", predicted " + Joules(*t.predicted_energy_j) : std::string();
    say(std::string(claim->rerun ? "re-running" : "trial") + " " + std::to_string(t.number) +
        (claim->rerun
             ? " (left running by a worker that is gone), attempt " + std::to_string(t.runs)
             : std::string()) +
        ": " + ParamsLabel(*params) + predicted);

    TrialOutcome outcome;
    if (!cannot_build.ok()) {
      outcome.ok = false;
      outcome.error = cannot_build.message();
    } else {
      request.architecture_json = *architecture;
      Result<TrialOutcome> trained = [&] {
        LeaseKeeper lease(study, t.number, options.lease_s, say);
        return trainer.Train(request);
      }();
      if (!trained.ok()) {
        Status released = study.Release(t.number);
        return Status::Error(trained.status().message() + " (trial " + std::to_string(t.number) +
                             (released.ok()
                                  ? " is left for the next run to redo)"
                                  : " could not be released: " + released.message() + ")"));
      }
      outcome = std::move(*trained);
    }
    if (Status s = study.Finish(t.number, outcome); !s.ok()) {
      say("warning: " + s.message());
      continue;
    }
    ++out.ran;
    if (outcome.ok) {
      char time[32];
      std::snprintf(time, sizeof time, "%.1f s", outcome.time_s);
      say("trial " + std::to_string(t.number) + " done: accuracy " + Percent(outcome.accuracy) +
          ", energy " + Joules(outcome.energy_j) + " (" + outcome.meter +
          (outcome.energy_real ? "" : ", not a hardware counter") + ")" + predicted + ", " + time);
    } else {
      say("trial " + std::to_string(t.number) + " failed: " + outcome.error);
    }
  }
  Result<std::vector<StudyTrial>> trials = study.Load();
  if (!trials.ok()) return trials.status();
  out.trials = std::move(*trials);
  return out;
}

}  // namespace joulecast::search
