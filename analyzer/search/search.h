// The search loop behind `joulecast search` (docs/search.md): opens or resumes a study, and for
// each trial claims a number, has the strategy propose parameters (with every candidate's
// training energy predicted by the analyzer), records the prediction, trains the trial and
// records what it gave, until the study holds the asked number of trials, the strategy has
// nothing left, or a stop is asked for.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "analyzer/core/status.h"
#include "analyzer/energy/profile.h"
#include "analyzer/search/space.h"
#include "analyzer/search/strategy.h"
#include "analyzer/search/study_storage.h"
#include "analyzer/search/trainer.h"

namespace joulecast::search {

/// Predicts a point's whole training run from the space, the analyzer and a profile: the
/// expanded architecture is loaded with the JSON front end at the training's batch, costed, and
/// predicted over epochs x train_samples (analyzer/energy/predict.h). Results are cached by what
/// they depend on (architecture, batch, epochs, samples), so the many candidates of a BO proposal
/// that share an architecture cost one prediction.
class EnergyOracle {
 public:
  /// `profile` may be null: points are then only checked to build, with no prediction.
  /// `precision` is the training precision predicted (the profile must have it).
  EnergyOracle(const Space& space, const Profile* profile, std::string precision = "fp32");

  /// The prediction of `params` (nullopt without a profile). Errors, one line: the architecture
  /// does not expand, load or cost (naming the parameters).
  Result<std::optional<Prediction>> Predict(const Params& params);

  /// Distinct architectures predicted so far.
  size_t cached() const { return cache_.size(); }

 private:
  const Space& space_;
  const Profile* profile_;
  std::string precision_;
  std::map<std::string, Result<std::optional<Prediction>>> cache_;
};

struct SearchOptions {
  std::string space_path;
  StrategyOptions strategy;  ///< Its budget_trials is set from `trials`.
  int trials = 25;           ///< Trials the study should hold when the search ends.
  /// The study: an SQLite file (":memory:" keeps nothing) or a postgresql:// URL.
  std::string study_path = ":memory:";
  std::string study_name = kDefaultStudyName;  ///< The study inside it (--study-name).
  /// The profile predictions use; empty: `default_profile_path` if that file exists, else no
  /// predictions (then the energy-aware options are errors).
  std::string profile_path;
  std::string default_profile_path;
  /// A running trial's lease (seconds): renewed every third of it while the trial trains; a
  /// trial not renewed for this long is taken over by another worker.
  double lease_s = 60;
  /// Training precision the predictions are for (fp32, bf16, fp16); the profile must have it.
  std::string precision = "fp32";
};

/// What a search ran, and the whole study after it.
struct SearchOutcome {
  Space space;
  StudyKey key;
  std::string study_path;  ///< Without a URL's password.
  std::string study_name;
  std::optional<Profile> profile;  ///< The profile predictions used.
  bool default_profile = false;    ///< It was picked because none was given.
  std::vector<StudyTrial> trials;  ///< Every trial of the study, in number order.
  int ran = 0;                     ///< Trials this run trained.
  bool interrupted = false;        ///< `stop` ended it early.
  bool exhausted = false;          ///< The strategy had nothing left to propose.
};

/// "beta1=0.4588, learning_rate=0.0346, nr_conv=4" for people: reals to 4 significant digits
/// (ParamsText writes them exactly).
std::string ParamsLabel(const Params& params);

/// The space file and options a study is keyed by: the canonical space JSON and the options
/// that must match on resume (strategy, sampler, acquisition, objectives, seed, energy-budget,
/// initial-trials, candidates, grid-points).
Result<StudyKey> KeyFor(const std::string& space_text, const std::string& space_source,
                        const StrategyOptions& options);

/// Runs the search. `stop` (if given) is checked between trials: once true, the search ends
/// after the current trial with interrupted = true. `log` gets one line per event (a trial
/// started or finished, a resumed or re-run trial). While the study holds the asked number of
/// trials but some still run in other workers, it waits, and takes over any whose lease runs
/// out, so that it ends with every trial finished. Errors, one line: a bad space, profile or
/// options; a study that cannot be opened or was made with other options; a trainer error
/// (the trial it was running is released for the next run to redo); a study server that
/// cannot be reached.
Result<SearchOutcome> RunSearch(const SearchOptions& options, Trainer& trainer,
                                const std::atomic<bool>* stop = nullptr,
                                const std::function<void(const std::string&)>& log = nullptr);

}  // namespace joulecast::search
