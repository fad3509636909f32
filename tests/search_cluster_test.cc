// `joulecast search` workers sharing one PostgreSQL study, end to end through the real
// executable, with a stand-in trainer in python3: eight workers and forty trials each done once
// (and a second run doing nothing) within as many server connections as workers; a worker
// killed with -9 whose trial is redone as attempt 2; a worker stopped past its lease whose late
// result is refused; the server crashed and restarted mid-search; and a server that is gone,
// which ends in a clear error rather than a hang.
//
// The shared server is the ctest fixture's (JOULECAST_TEST_POSTGRES_URL_FILE); the tests that
// crash a server start one of their own with tests/postgres_server.sh. Without a server they
// fail.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/testing/test_util.h"

namespace {

namespace fs = std::filesystem;
using namespace joulecast::testing;
using nlohmann::json;

const std::string kBin = JOULECAST_BIN;
const std::string kSrc = JOULECAST_SOURCE_DIR;
const std::string kServer = "bash " + kSrc + "/tests/postgres_server.sh";

constexpr const char* kSpace = R"({
  "architecture": {"family": "SimpleCNN", "nr_conv_layers": "$nr_conv", "nr_linear_layers": 2,
                   "input": {"shape": [1, 28, 28]}, "classes": 10},
  "parameters": {"learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": true},
                 "nr_conv": {"type": "int", "low": 1, "high": 3}},
  "training": {"dataset": "fashion-mnist", "epochs": 1, "batch_size": 64,
               "train_samples": 1000, "validation_samples": 500}})";

// Appends "TRIAL PID" to RUNS (if set) when it starts and writes its pid to STARTED (if set);
// sleeps SLEEP seconds; reports energy ENERGY (default 10).
constexpr const char* kTrainer = R"(import json, math, os, sys, time
r = json.load(sys.stdin)
if os.environ.get("RUNS"):
    with open(os.environ["RUNS"], "a") as f:
        f.write("%d %d\n" % (r["trial"], os.getpid()))
if os.environ.get("STARTED"):
    with open(os.environ["STARTED"], "w") as f:
        f.write(str(os.getpid()))
time.sleep(float(os.environ.get("SLEEP", "0")))
p = r["params"]
acc = 0.9 - 0.05 * abs(math.log10(p["learning_rate"]) + 2.5) - 0.02 * p["nr_conv"]
print(json.dumps({"accuracy": max(0.0, acc), "energy_j": float(os.environ.get("ENERGY", "10"))}))
)";

std::string SharedUrl() {
  const char* file = std::getenv("JOULECAST_TEST_POSTGRES_URL_FILE");
  std::string url = file ? ReadFile(file) : "";
  while (!url.empty() && url.back() == '\n') url.pop_back();
  return url;
}

// A unique study name per test and run.
std::string StudyName(const std::string& what) {
  return what + "-" + std::to_string(getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000000);
}

struct Cluster {
  TempDir dir;
  std::string url, name;
  fs::path space = dir / "space.json", trainer = dir / "trainer.py", runs = dir / "runs";
  Cluster(const std::string& what, std::string server_url) : url(std::move(server_url)) {
    std::ofstream(space) << kSpace;
    std::ofstream(trainer) << kTrainer;
    name = StudyName(what);
  }
  // One worker's command line (environment first, then extra flags).
  std::string Worker(const std::string& env, int trials, const std::string& flags) const {
    return "RUNS=" + runs.string() + " " + env + " " + kBin + " search " + space.string() +
           " --study " + url + " --study-name " + name + " --trials " + std::to_string(trials) +
           " --trainer '/usr/bin/python3 " + trainer.string() + "' " + flags;
  }
  json Report() const {
    CommandOutput r =
        RunCommand(kBin + " search --report " + url + " --study-name " + name + " --format json");
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j.is_discarded() ? json() : j["studies"][0]["trials"];
  }
  // How many times each trial's trainer started.
  std::map<int, int> Runs() const {
    std::map<int, int> n;
    std::ifstream f(runs);
    int trial = 0, pid = 0;
    while (f >> trial >> pid) ++n[trial];
    return n;
  }
};

// A shell loop that waits (up to a minute) until `path` exists.
std::string WaitFor(const std::string& path) {
  return "n=0; while [ ! -s " + path + " ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done";
}

// Every trial 0..n-1 once and done.
void ExpectAllDone(const json& trials, int n) {
  ASSERT_EQ(trials.size(), static_cast<size_t>(n)) << trials.dump();
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(trials[i]["number"], i);
    EXPECT_EQ(trials[i]["status"], "done") << trials[i].dump();
  }
}

TEST(SearchCluster, EightWorkersRunFortyTrialsEachOnce) {
  Cluster c("eight", SharedUrl());
  ASSERT_FALSE(c.url.empty()) << "no PostgreSQL server: run through ctest";
  // These workers' connections by a name of their own: other tests share the server.
  c.url += "?application_name=" + c.name;
  const std::string worker =
      c.Worker("", 40, "--strategy bo --candidates 500 --lease-s 20 -o /dev/null");
  // The workers, and beside them a sampler of this study's connections to the server.
  std::string script = "(pids=''; ";
  for (int w = 0; w < 8; ++w) {
    script +=
        worker + " 2>" + (c.dir / ("w" + std::to_string(w))).string() + " & pids=\"$pids $!\"; ";
  }
  script +=
      "alive() { for p in $pids; do kill -0 $p 2>/dev/null && return 0; done; return 1; }; "
      "while alive; do psql '" +
      SharedUrl() +
      "' -Atc \"SELECT count(*) FROM pg_stat_activity "
      "WHERE application_name = '" +
      c.name + "'\" >>" + (c.dir / "connections").string() + " 2>/dev/null; sleep 0.1; done; wait)";
  CommandOutput r = RunCommand(script);
  for (int w = 0; w < 8; ++w) {
    const std::string err = ReadFile(c.dir / ("w" + std::to_string(w)));
    EXPECT_EQ(err.find("joulecast search:"), std::string::npos) << "worker " << w << ": " << err;
  }
  const json trials = c.Report();
  ExpectAllDone(trials, 40);
  std::set<std::string> points, workers;
  for (const json& t : trials) {
    EXPECT_EQ(t["runs"], 1);
    points.insert(t["params"].dump());
    workers.insert(t["worker"].get<std::string>());
  }
  EXPECT_EQ(points.size(), 40u) << "a point was proposed twice";
  EXPECT_GE(workers.size(), 4u);
  const std::map<int, int> runs = c.Runs();
  EXPECT_EQ(runs.size(), 40u);
  for (const auto& [trial, n] : runs) EXPECT_EQ(n, 1) << "trial " << trial << " trained " << n;
  int most = 0, samples = 0;
  std::ifstream connections(c.dir / "connections");
  for (int n = 0; connections >> n; ++samples) most = std::max(most, n);
  EXPECT_GT(samples, 0);
  EXPECT_GE(most, 2) << "the sampler never saw the workers' connections";
  EXPECT_LE(most, 8) << "more connections than workers";

  // Running again does nothing.
  CommandOutput again = RunCommand(worker);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(Count(again.err, " done: accuracy "), 0u) << again.err;
  EXPECT_EQ(c.Runs().size(), 40u);
}

TEST(SearchCluster, KilledWorkersTrialIsRedoneAsAttemptTwo) {
  Cluster c("killed", SharedUrl());
  ASSERT_FALSE(c.url.empty()) << "no PostgreSQL server: run through ctest";
  const fs::path started = c.dir / "started";
  // The first worker claims trial 0 and is killed mid-trial (its trainer too).
  RunCommand("(" +
             c.Worker("SLEEP=30 STARTED=" + started.string(), 2, "--strategy random --lease-s 1") +
             " >/dev/null 2>&1 & pid=$!; " + WaitFor(started.string()) +
             "; kill -KILL $pid; kill -KILL $(cat " + started.string() + "); wait $pid)");
  CommandOutput r = RunCommand(c.Worker("", 2, "--strategy random --lease-s 1 --format json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("re-running 0 (left running by a worker that is gone), attempt 2"),
            std::string::npos)
      << r.err;
  const json trials = c.Report();
  ExpectAllDone(trials, 2);
  EXPECT_EQ(trials[0]["runs"], 2);
  EXPECT_EQ(trials[1]["runs"], 1);
}

TEST(SearchCluster, StoppedWorkersLateResultIsRefused) {
  Cluster c("stopped", SharedUrl());
  ASSERT_FALSE(c.url.empty()) << "no PostgreSQL server: run through ctest";
  const fs::path started = c.dir / "started", late = c.dir / "late";
  const std::string flags = "--strategy random --lease-s 1 -o /dev/null";
  // A's trainer finishes while A is stopped; B takes the trial over once A's lease runs out
  // and records its own result; A, resumed, is refused.
  CommandOutput r = RunCommand(
      "(" + c.Worker("SLEEP=1.5 ENERGY=111 STARTED=" + started.string(), 1, flags) + " 2>" +
      late.string() + " & a=$!; " + WaitFor(started.string()) + "; kill -STOP $a; " +
      c.Worker("ENERGY=222", 1, flags) + " 2>" + (c.dir / "b").string() +
      "; b=$?; kill -CONT $a; wait $a; echo \"a $? b $b\" >&2)");
  EXPECT_NE(r.err.find("a 0 b 0"), std::string::npos) << r.err << ReadFile(late);
  const std::string a_err = ReadFile(late);
  EXPECT_NE(a_err.find("trial 0 is no longer this worker's"), std::string::npos) << a_err;
  EXPECT_NE(a_err.find("its result here is not recorded"), std::string::npos) << a_err;
  const json trials = c.Report();
  ExpectAllDone(trials, 1);
  EXPECT_EQ(trials[0]["runs"], 2);
  EXPECT_EQ(trials[0]["energy_j"], 222.0) << "the late result overwrote the new attempt's";
}

// A server of the test's own, crashed (pg_ctl stop -m immediate) while four workers train and
// started again: the workers reconnect and finish, every trial once.
TEST(SearchCluster, ServerCrashAndRestartLosesNoTrial) {
  TempDir state;
  CommandOutput up = RunCommand(kServer + " start " + state.path().string());
  ASSERT_EQ(up.exit_code, 0) << up.err;
  Cluster c("restart", ReadFile(state / "url").substr(0, ReadFile(state / "url").size() - 1));
  const std::string worker =
      c.Worker("SLEEP=0.4", 16, "--strategy random --lease-s 10 -o /dev/null");
  std::string script = "(pids=''; ";
  for (int w = 0; w < 4; ++w) {
    script +=
        worker + " 2>" + (c.dir / ("w" + std::to_string(w))).string() + " & pids=\"$pids $!\"; ";
  }
  script += "n=0; while [ $(cat " + c.runs.string() +
            " 2>/dev/null | wc -l) -lt 5 ] && "
            "[ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done; " +
            kServer + " crash " + state.path().string() + "; sleep 1; " + kServer + " restart " +
            state.path().string() +
            "; fails=0; for j in $pids; do wait $j || "
            "fails=$((fails+1)); done; echo \"failed workers: $fails\" >&2)";
  CommandOutput r = RunCommand(script);
  std::string errors;
  for (int w = 0; w < 4; ++w) errors += ReadFile(c.dir / ("w" + std::to_string(w)));
  EXPECT_NE(r.err.find("failed workers: 0"), std::string::npos) << r.err << errors;
  const json trials = c.Report();
  ExpectAllDone(trials, 16);
  int attempts = 0;
  for (const json& t : trials) attempts += t["runs"].get<int>();
  int trained = 0;
  for (const auto& [trial, n] : c.Runs()) trained += n;
  EXPECT_EQ(trained, attempts) << "a trial trained without its attempt being counted";
  RunCommand(kServer + " stop " + state.path().string());
}

// A server that is not there, and one that goes away mid-trial: a one-line error, exit 2, in
// seconds (the retry window is the lease, at least 5 s), never a hang.
TEST(SearchCluster, UnreachableServerIsAClearErrorNotAHang) {
  TempDir state;
  CommandOutput up = RunCommand(kServer + " start " + state.path().string());
  ASSERT_EQ(up.exit_code, 0) << up.err;
  const std::string url = ReadFile(state / "url").substr(0, ReadFile(state / "url").size() - 1);
  Cluster c("gone", url);
  const fs::path started = c.dir / "started";
  auto t0 = std::chrono::steady_clock::now();
  CommandOutput r = RunCommand(
      "(" + c.Worker("SLEEP=1 STARTED=" + started.string(), 3, "--strategy random --lease-s 2") +
      " & pid=$!; " + WaitFor(started.string()) + "; " + kServer + " crash " +
      state.path().string() + "; wait $pid)");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_LT(seconds, 30) << r.err;
  EXPECT_NE(r.err.find("joulecast search: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gave up after"), std::string::npos) << r.err;
  EXPECT_EQ(Count(r.err, "joulecast search: "), 1u) << r.err;

  // Nothing listens there any more: the first connection fails the same way.
  t0 = std::chrono::steady_clock::now();
  r = RunCommand(c.Worker("", 3, "--strategy random --lease-s 2"));
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_LT(seconds, 30);
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("cannot connect to the study's server"), std::string::npos) << r.err;
  RunCommand(kServer + " stop " + state.path().string());
}

// A search begun in an SQLite file continues in PostgreSQL after `joulecast study copy`, and
// comes back; reports read both alike; a target that holds trials is never overwritten.
TEST(SearchCluster, StudyCopyMovesASearchBothWays) {
  Cluster c("copy", SharedUrl());
  ASSERT_FALSE(c.url.empty()) << "no PostgreSQL server: run through ctest";
  const std::string db = (c.dir / "laptop.db").string(), back = (c.dir / "back.db").string();
  const std::string trainer = " --trainer '/usr/bin/python3 " + c.trainer.string() + "'";
  CommandOutput r = RunCommand(kBin + " search " + c.space.string() +
                               " --strategy bo --candidates 300 --trials 4 --study " + db +
                               trainer + " -o /dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand(kBin + " study copy " + db + " " + c.url + " --to-study-name " + c.name);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("copied study default (4 trials)"), std::string::npos) << r.out;
  r = RunCommand(kBin + " study copy " + db + " " + c.url + " --to-study-name " + c.name);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("already holds a study with 4 trials; nothing was copied"),
            std::string::npos)
      << r.err;
  // The cluster goes on to 7 trials (the same options: the same study).
  r = RunCommand(kBin + " search " + c.space.string() +
                 " --strategy bo --candidates 300 --trials 7 --study " + c.url + " --study-name " +
                 c.name + trainer + " --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming "), std::string::npos) << r.err;
  EXPECT_EQ(Count(r.err, " done: accuracy "), 3u) << r.err;
  const json trials = c.Report();
  ExpectAllDone(trials, 7);
  // And back to a file, whose text and HTML reports show the seven trials.
  r = RunCommand(kBin + " study copy " + c.url + " " + back + " --study-name " + c.name);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = RunCommand(kBin + " search --report " + back + " --study-name " + c.name + " --format json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  ASSERT_EQ(j["studies"][0]["trials"].size(), 7u);
  EXPECT_EQ(j["studies"][0]["trials"], trials);
  r = RunCommand(kBin + " search --report " + c.url + " --study-name " + c.name +
                 " --format html -o " + (c.dir / "r.html").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(ReadFile(c.dir / "r.html").find("<svg"), std::string::npos);
  EXPECT_EQ(ReadFile(c.dir / "r.html").find("password"), std::string::npos);
}

// The cluster flags' bad values: one line naming the flag, exit 2, before anything runs.
TEST(SearchCluster, BadClusterFlagsAreOneLineAndExitTwo) {
  Cluster c("flags", SharedUrl());
  ASSERT_FALSE(c.url.empty()) << "no PostgreSQL server: run through ctest";
  const std::string search = kBin + " search " + c.space.string() + " --trainer true ";
  for (const auto& [args, what] : std::vector<std::pair<std::string, std::string>>{
           {"--lease-s 0", "--lease-s needs a positive number"},
           {"--study-name 'a b'", "--study-name 'a b': use 1 to 64 letters"},
           {"--pending sometimes", "--pending must be kriging-believer"},
           {"--study postgresql://joulecast@127.0.0.1:1/db?nonsense=1",
            "not a usable PostgreSQL URL"}}) {
    CommandOutput r = RunCommand(search + args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  }
  CommandOutput r = RunCommand(kBin + " study copy " + c.url + " " + (c.dir / "x.db").string() +
                               " --study-name no-such-study");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  // (A server no test has written to yet holds no study at all.)
  EXPECT_TRUE(r.err.find("no study named no-such-study") != std::string::npos ||
              r.err.find("holds no joulecast study") != std::string::npos)
      << r.err;
  EXPECT_EQ(Lines(r.err), 1u) << r.err;
  EXPECT_FALSE(fs::exists(c.dir / "x.db"));
}

}  // namespace
