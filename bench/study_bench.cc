// Numbers for workers sharing a study (docs/benchmarks.md, "Search studies on PostgreSQL"):
// - the latency of claiming a trial (a new one proposed under the study's lock, and a stale one
//   taken over) and of recording its result, in a study that already holds 200 finished trials,
//   against a PostgreSQL URL and an SQLite file;
// - one BO proposal with 200 finished and 8 running trials (10,000 candidates, the paper's
//   space, Kriging believer), against the same without the running ones.
// Usage: study_bench POSTGRES_URL [SQLITE_FILE]. It reports; it never passes or fails on timing.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "analyzer/search/paper_space_testing.h"
#include "analyzer/search/rng.h"
#include "analyzer/search/space.h"
#include "analyzer/search/strategy.h"
#include "analyzer/search/study_storage.h"

namespace joulecast::search {
namespace {

using Clock = std::chrono::steady_clock;

// Says what failed and gives the exit code.
int Failed(const std::string& what, const Status& s) {
  std::fprintf(stderr, "study_bench: %s: %s\n", what.c_str(), s.message().c_str());
  return 2;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Summary {
  double median = 0, p95 = 0, max = 0;
};

Summary Summarise(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Summary s;
  s.median = ms[ms.size() / 2];
  s.p95 = ms[std::min(ms.size() - 1, ms.size() * 95 / 100)];
  s.max = ms.back();
  return s;
}

void Print(const std::string& what, const Summary& s) {
  std::printf("  %-46s median %7.2f ms   p95 %7.2f ms   max %7.2f ms\n", what.c_str(), s.median,
              s.p95, s.max);
}

Proposer Trivial() {
  return [](const std::vector<StudyTrial>&, int number) -> Result<std::optional<Proposal>> {
    Proposal p;
    p.params_json = "{\"x\": " + std::to_string(number) + "}";
    return std::optional<Proposal>(p);
  };
}

TrialOutcome Done() {
  TrialOutcome o;
  o.ok = true;
  o.accuracy = 0.5;
  o.energy_j = 1;
  o.meter = "bench";
  return o;
}

// Claim latencies on `location`: 200 trials first (not timed), then 100 new claims each
// followed by a heartbeat and a result, then 50 released trials taken over.
int Claims(const std::string& location) {
  StudyKey key;
  key.space = R"({"parameters":{"x":{"type":"int"}}})";
  key.space_source = "bench";
  key.options = {{"strategy", "bench"}};
  StudyOptions options;
  options.name = "bench-" + std::to_string(getpid());
  Result<std::unique_ptr<StudyStorage>> opened = OpenStudy(location, key, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "study_bench: %s\n", opened.status().message().c_str());
    return 2;
  }
  StudyStorage& study = **opened;
  for (int i = 0; i < 200; ++i) {
    Result<Claim> c = study.ClaimNext(1000, Trivial());
    if (!c.ok()) return Failed("claim", c.status());
    if (Status s = study.Finish(c->trial.number, Done()); !s.ok()) return Failed("finish", s);
  }
  std::vector<double> claim, finish, heartbeat, takeover;
  for (int i = 0; i < 100; ++i) {
    auto t0 = Clock::now();
    Result<Claim> c = study.ClaimNext(1000, Trivial());
    auto t1 = Clock::now();
    if (!c.ok()) return Failed("claim", c.status());
    if (Status s = study.Heartbeat(c->trial.number); !s.ok()) return Failed("heartbeat", s);
    auto t2 = Clock::now();
    if (Status s = study.Finish(c->trial.number, Done()); !s.ok()) return Failed("finish", s);
    auto t3 = Clock::now();
    claim.push_back(Ms(t1 - t0));
    heartbeat.push_back(Ms(t2 - t1));
    finish.push_back(Ms(t3 - t2));
  }
  // 50 trials given back, then taken over.
  std::vector<int> released;
  for (int i = 0; i < 50; ++i) {
    Result<Claim> c = study.ClaimNext(1000, Trivial());
    if (!c.ok()) return Failed("claim", c.status());
    released.push_back(c->trial.number);
  }
  for (int number : released) {
    if (Status s = study.Release(number); !s.ok()) return Failed("release", s);
  }
  for (int i = 0; i < 50; ++i) {
    auto t0 = Clock::now();
    Result<Claim> c = study.ClaimNext(1000, Trivial());
    takeover.push_back(Ms(Clock::now() - t0));
    if (!c.ok()) return Failed("take over", c.status());
    if (!c->rerun) return Failed("take over", Status::Error("a new trial, not a stale one"));
    if (Status s = study.Finish(c->trial.number, Done()); !s.ok()) return Failed("finish", s);
  }
  std::printf("%s (study of 200-350 trials):\n", Redacted(location).c_str());
  Print("claim a new trial (lock, read all, insert)", Summarise(claim));
  Print("take over a stale trial (SKIP LOCKED)", Summarise(takeover));
  Print("heartbeat", Summarise(heartbeat));
  Print("record a result", Summarise(finish));
  return 0;
}

// 200 finished trials of the paper's space with a smooth synthetic accuracy, plus `running`
// trials at random points.
std::vector<Observation> History(const Space& space, int finished, int running) {
  Rng rng(42);
  std::vector<Observation> history;
  std::vector<double> u(space.parameters.size());
  for (int t = 0; t < finished + running; ++t) {
    for (double& x : u) x = rng.Uniform();
    Observation o;
    o.params = FromUnit(space, u);
    o.pending = t >= finished;
    o.ok = !o.pending;
    o.accuracy = o.pending ? 0
                           : 0.9 - 0.2 * std::pow(u[0] - 0.6, 2) - 0.1 * std::pow(u[1] - 0.8, 2) +
                                 0.01 * rng.Normal();
    history.push_back(std::move(o));
  }
  return history;
}

void Proposals() {
  Result<Space> space = ParseSpace(PaperSpaceJson(/*with_beta2=*/true), "bench");
  std::printf("BO proposal, paper space (5 parameters), 10,000 candidates, %ld cores:\n",
              sysconf(_SC_NPROCESSORS_ONLN));
  for (const auto& [running, pending] : std::vector<std::pair<int, std::string>>{
           {0, "kriging-believer"}, {8, "kriging-believer"}, {8, "constant-liar-min"}}) {
    const std::vector<Observation> history = History(*space, 200, running);
    StrategyOptions options;
    options.candidates = 10000;
    options.budget_trials = 300;
    options.pending = pending;
    std::vector<double> ms;
    for (int rep = 0; rep < 5; ++rep) {
      Result<std::unique_ptr<Strategy>> strategy = MakeStrategy(*space, options);
      auto t0 = Clock::now();
      Result<std::optional<Params>> next =
          (*strategy)->Propose(history, static_cast<int>(history.size()), {});
      ms.push_back(Ms(Clock::now() - t0));
      if (!next.ok() || !*next) std::printf("  no proposal\n");
    }
    Print("200 finished + " + std::to_string(running) + " running, " + pending, Summarise(ms));
  }
}

}  // namespace
}  // namespace joulecast::search

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: study_bench POSTGRES_URL [SQLITE_FILE]\n");
    return 2;
  }
  if (int rc = joulecast::search::Claims(argv[1]); rc != 0) return rc;
  if (argc > 2) {
    if (int rc = joulecast::search::Claims(argv[2]); rc != 0) return rc;
  }
  joulecast::search::Proposals();
  return 0;
}
