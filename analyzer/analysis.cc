#include "analyzer/analysis.h"

#include <filesystem>
#include <utility>

#include "analyzer/load_model.h"

namespace joulecast {

ReportInput Analysis::ReportView() const {
  ReportInput in{&graph, &cost};
  if (profile) {
    in.profile = &*profile;
    in.prediction = &*step;
    in.run = &*run;
    in.default_profile = default_profile;
  }
  return in;
}

Result<Analysis> RunAnalysis(const AnalysisRequest& request) {
  Analysis a;
  Result<Graph> graph = LoadModel(request.model, request.load);
  if (!graph.ok()) return graph.status();
  a.graph = std::move(*graph);
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
  if (Status s = ProfilePrecision(*a.profile, request.precision); !s.ok()) return s;
  a.step = PredictStep(a.cost, *a.profile, request.precision);
  TrainingRun run = request.run;
  run.batch = a.cost.batch;
  a.run = PredictRun(*a.step, run);
  return a;
}

}  // namespace joulecast
