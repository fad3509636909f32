#include "analyzer/analysis.h"

#include <filesystem>
#include <utility>

#include "analyzer/load_model.h"

namespace joulecast {

ReportInput Analysis::ReportView() const {
  ReportInput in{&graph, &cost};
  in.training = &training;
  in.carbon = &carbon;
  if (profile) {
    in.profile = &*profile;
    in.prediction = &*step;
    in.run = &*run;
    in.default_profile = default_profile;
  }
  return in;
}

ResolvedTraining ResolveTraining(const AnalysisRequest& request, const Graph& graph) {
  const TrainingSettings& file = graph.training;
  ResolvedTraining t;
  t.batch.value = graph.batch;
  t.batch.source = request.load.batch                    ? SettingSource::flag
                   : file.batch || !graph.batch_symbolic ? SettingSource::file
                                                         : SettingSource::default_value;
  t.epochs = ResolveSetting(request.epochs, file.epochs, int64_t{1});
  t.samples = ResolveSetting(request.samples, file.samples, kDefaultSamples);
  t.optimizer = ResolveSetting(std::optional<std::string>(), file.optimizer, std::string("adam"));
  t.precision = ResolveSetting(request.precision, file.precision, std::string("fp32"));
  return t;
}

Result<Analysis> RunAnalysis(const AnalysisRequest& request) {
  Analysis a;
  Result<CarbonIntensity> carbon = ResolveCarbon(request.carbon, request.carbon_table_path);
  if (!carbon.ok()) return carbon.status();
  a.carbon = *carbon;
  Result<Graph> graph = LoadModel(request.model, request.load);
  if (!graph.ok()) return graph.status();
  a.graph = std::move(*graph);
  a.training = ResolveTraining(request, a.graph);
  Result<ModelCost> cost = ComputeCosts(a.graph);
  if (!cost.ok()) return Status::Error(request.model + ": " + cost.status().message());
  a.cost = std::move(*cost);
  if (request.strict && !a.cost.unmodelled.empty()) {
    const LayerCost& lc = a.cost.layers[a.cost.unmodelled[0]];
    const Node& n = a.graph.nodes[lc.node];
    return Status::Error(request.model + ": node '" + n.name + "' (" + n.op_type + "): " +
                         lc.why_unmodelled + " (" + std::to_string(a.cost.unmodelled.size()) +
                         " unmodelled nodes; --strict makes them errors)");
  }
  std::string path = request.profile_path;
  a.default_profile = path.empty();
  if (a.default_profile) {
    path = request.default_profile_path;
    if (path.empty() || !std::filesystem::exists(path)) {
      if (request.require_profile) {
        return Status::Error("no profile: give --profile (the default " +
                             (path.empty() ? std::string("profile") : path) + " is missing)");
      }
      return a;
    }
  }
  Result<Profile> profile = LoadProfile(path);
  if (!profile.ok()) return profile.status();
  a.profile = std::move(*profile);
  const std::string& precision = a.training.precision.value;
  if (Status s = ProfilePrecision(*a.profile, precision); !s.ok()) {
    if (a.training.precision.source != SettingSource::file) return s;
    return Status::Error(request.model + ": /training/precision: " + s.message());
  }
  a.step = PredictStep(a.cost, *a.profile, precision);
  TrainingRun run;
  run.batch = a.cost.batch;
  run.samples = a.training.samples.value;
  run.epochs = a.training.epochs.value;
  run.carbon_g_per_kwh = a.carbon.g_per_kwh;
  a.run = PredictRun(*a.step, run);
  return a;
}

}  // namespace joulecast
