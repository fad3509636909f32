// `joulecast track` and `joulecast history` end to end through the real executable: the
// estimate around a CPU-burning command tree, exit codes kept, Ctrl-C (SIGINT) passed on, a fake
// powercap tree that wraps during the run, the fake NVML library, a real Fashion-MNIST training
// run beside its prediction, and --region.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/testing/test_util.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using namespace joulecast::testing;
using nlohmann::json;

const std::string kBin = JOULECAST_BIN;
const std::string kSrc = JOULECAST_SOURCE_DIR;

// Burns argv[1] seconds of CPU and writes the CPU time it used to argv[2].
constexpr const char* kBurner = R"(import os, sys, time
while time.process_time() < float(sys.argv[1]):
    pass
t = os.times()
open(sys.argv[2], "w").write(str(t.user + t.system))
)";

double ReadNumber(const fs::path& p) { return std::stod(ReadFile(p)); }

json History(const fs::path& db) {
  CommandOutput h = RunCommand(kBin + " history --format json --history " + db.string());
  EXPECT_EQ(h.exit_code, 0) << h.err;
  return json::parse(h.out);
}

TEST(TrackCli, EstimateOfACpuBurningProcessTreeIsItsCpuTimeTimesWatts) {
  TempDir dir;
  const fs::path db = dir / "h.db";
  // Two burners at once under a shell: the estimate counts the whole tree.
  dir.Write("burn.py", kBurner);
  const std::string burn = "/usr/bin/python3 " + (dir / "burn.py").string();
  dir.Write("cmd.sh", burn + " 1.0 " + (dir / "a").string() + " & " + burn + " 1.5 " +
                          (dir / "b").string() + "\nwait\n");
  CommandOutput r = RunCommand(kBin + " track --meter estimate --cpu-watts 10 --format json " +
                               "--history " + db.string() + " -- sh " + (dir / "cmd.sh").string());
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  json j = json::parse(r.out);
  const double cpu_s = ReadNumber(dir / "a") + ReadNumber(dir / "b");
  EXPECT_GE(cpu_s, 2.4);  // os.times() counts in clock ticks
  EXPECT_NEAR(j["energy_j"].get<double>(), cpu_s * 10, cpu_s * 10 * 0.1) << r.out;
  EXPECT_EQ(j["meter"]["kind"], "estimate");
  EXPECT_EQ(j["meter"]["real"], false);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["carbon"]["from"], "world_default");
  json h = History(db);
  ASSERT_EQ(h["runs"].size(), 1u);
  EXPECT_EQ(h["runs"][0]["status"], "ok");
  EXPECT_EQ(h["runs"][0]["meter"], "estimate");
  EXPECT_DOUBLE_EQ(h["runs"][0]["energy_j"].get<double>(), j["energy_j"].get<double>());
}

TEST(TrackCli, AFailingCommandKeepsItsExitCodeAndItsHistoryRow) {
  TempDir dir;
  const fs::path db = dir / "h.db";
  CommandOutput r = RunCommand(kBin + " track --history " + db.string() + " -- sh -c 'exit 7'");
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.out.find("status    failed, exit code 7"), std::string::npos) << r.out;
  CommandOutput missing =
      RunCommand(kBin + " track --history " + db.string() + " -- /nonexistent/train");
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_NE(missing.err.find("/nonexistent/train"), std::string::npos);
  CommandOutput killed =
      RunCommand(kBin + " track --history " + db.string() + " -- sh -c 'kill -KILL $$'");
  EXPECT_EQ(killed.exit_code, 128 + 9);
  json h = History(db);
  ASSERT_EQ(h["runs"].size(), 3u);
  EXPECT_EQ(h["runs"][0]["exit_code"], 7);
  EXPECT_EQ(h["runs"][0]["status"], "failed");
  EXPECT_EQ(h["runs"][1]["exit_code"], 127);
  EXPECT_EQ(h["runs"][2]["status"], "failed");
}

TEST(TrackCli, SigintReachesTheCommandAndThePartialRunIsInterrupted) {
  TempDir dir;
  const fs::path db = dir / "h.db", started = dir / "started";
  std::vector<std::string> args = {
      kBin,       "track", "--history", db.string(),
      "--format", "json",  "-o",        (dir / "report.json").string(),
      "--",       "sh",    "-c",        "touch " + started.string() + "; exec sleep 60"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  for (int i = 0; i < 600 && !fs::exists(started); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(fs::exists(started));
  const auto sent = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_LT(std::chrono::steady_clock::now() - sent, std::chrono::seconds(30))
      << "the command ended on the signal, not after its 60 s";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT);
  json report = json::parse(ReadFile(dir / "report.json"));
  EXPECT_EQ(report["status"], "interrupted");
  json h = History(db);
  ASSERT_EQ(h["runs"].size(), 1u);
  EXPECT_EQ(h["runs"][0]["status"], "interrupted");
  EXPECT_EQ(h["runs"][0]["exit_code"], 130);
}

TEST(TrackCli, RaplFromAFakePowercapTreeAcrossAWrap) {
  TempDir dir;
  const fs::path zone = dir / "powercap/intel-rapl:0";
  dir.Write("powercap/intel-rapl:0/name", "package-0\n");
  dir.Write("powercap/intel-rapl:0/max_energy_range_uj", "1000000000\n");
  dir.Write("powercap/intel-rapl:0/energy_uj", "998000000\n");
  // The command moves the counter (renames, so that a reading never sees half a file): +1 J,
  // then past the top of its range to 500000: +1.500001 J.
  const std::string set = "echo %s > " + (zone / "e.tmp").string() + " && mv " +
                          (zone / "e.tmp").string() + " " + (zone / "energy_uj").string();
  auto Set = [&](const std::string& v) { return std::string(set).replace(set.find("%s"), 2, v); };
  dir.Write("cmd.sh", Set("999000000") + "\nsleep 1.2\n" + Set("500000") + "\nsleep 1.2\n");
  CommandOutput r = RunCommand("JOULECAST_POWERCAP_ROOT=" + (dir / "powercap").string() + " " +
                               kBin + " track --meter rapl --no-history --format json -- sh " +
                               (dir / "cmd.sh").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_NEAR(j["energy_j"].get<double>(), 2.500001, 1e-9) << r.out;
  EXPECT_EQ(j["meter"]["kind"], "rapl");
  EXPECT_EQ(j["meter"]["real"], true);
  EXPECT_EQ(j["devices"][0]["device"], "cpu");
}

TEST(TrackCli, NvmlForEveryVisibleGpuThroughTheFakeLibrary) {
  const std::string env = std::string("JOULECAST_NVML_LIBRARY=") + JOULECAST_FAKE_NVML +
                          " JOULECAST_FAKE_NVML_GPUS=3 JOULECAST_FAKE_NVML_MJ_PER_READ=100 ";
  CommandOutput all =
      RunCommand(env + kBin + " track --meter nvml --no-history --format json " + "-- sleep 1.2");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  json j = json::parse(all.out);
  ASSERT_EQ(j["devices"].size(), 3u);
  EXPECT_EQ(j["devices"][2]["device"], "gpu:2");
  EXPECT_GT(j["energy_j"].get<double>(), 0);
  EXPECT_EQ(j["meter"]["kind"], "nvml");
  CommandOutput some = RunCommand(env + "CUDA_VISIBLE_DEVICES=1 " + kBin +
                                  " track --meter nvml --no-history --format json -- true");
  ASSERT_EQ(some.exit_code, 0) << some.err;
  json s = json::parse(some.out);
  ASSERT_EQ(s["devices"].size(), 1u);
  EXPECT_EQ(s["devices"][0]["device"], "gpu:1");
}

TEST(TrackCli, PredictSetsARealFashionMnistTrainingBesideItsPrediction) {
  TempDir dir;
  const fs::path db = dir / "h.db";
  dir.Write("small.json", R"({"name": "small", "input": {"shape": [1, 28, 28]},
    "layers": [{"op": "conv2d", "out_channels": 8, "kernel": 3, "padding": 1}, {"op": "relu"},
               {"op": "maxpool2d", "kernel": 2}, {"op": "flatten"},
               {"op": "linear", "out_features": 10}],
    "training": {"batch": 64, "epochs": 2, "samples": 640, "optimizer": "adam"}})");
  CommandOutput r = RunCommand(
      kBin + " track --predict " + (dir / "small.json").string() + " --region DE --format json " +
      "--history " + db.string() + " -- /usr/bin/python3 " + kSrc +
      "/tests/track/fashion_mnist_train.py " + (dir / "small.json").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("trained 20 steps, last loss ", 0), 0u) << r.err << r.out;
  json j = json::parse(r.out.substr(r.out.find('{')));
  const json& p = j["prediction"];
  EXPECT_EQ(p["training"]["batch"]["value"], 64);
  EXPECT_EQ(p["training"]["batch"]["source"], "file");
  EXPECT_EQ(p["training"]["epochs"]["value"], 2);
  EXPECT_GT(p["energy_j"].get<double>(), 0);
  const double measured = j["energy_j"], predicted = p["energy_j"];
  EXPECT_NEAR(p["difference"].get<double>(), measured / predicted - 1, 1e-9);
  EXPECT_EQ(p["outside_interval"], measured < p["energy_j_low"].get<double>() ||
                                       measured > p["energy_j_high"].get<double>());
  EXPECT_EQ(j["carbon"]["region"], "DE");
  json h = History(db);
  ASSERT_EQ(h["runs"].size(), 1u);
  EXPECT_DOUBLE_EQ(h["runs"][0]["predicted_j"].get<double>(), predicted);
  ASSERT_EQ(h["profiles"].size(), 1u);
  EXPECT_NEAR(h["profiles"][0]["mean_abs_error"].get<double>(), std::abs(measured / predicted - 1),
              1e-9);
  // Flags win over the file.
  CommandOutput flags = RunCommand(kBin + " track --no-history --format json --predict " +
                                   (dir / "small.json").string() + " --epochs 5 -- true");
  ASSERT_EQ(flags.exit_code, 0) << flags.err;
  json f = json::parse(flags.out);
  EXPECT_EQ(f["prediction"]["training"]["epochs"]["value"], 5);
  EXPECT_EQ(f["prediction"]["training"]["epochs"]["source"], "flag");
}

TEST(TrackCli, LiveLineOnlyOnATerminal) {
  TempDir dir;
  // script(1) from util-linux gives the command a terminal.
  CommandOutput tty = RunCommand("script -qec '" + kBin + " track --no-history -o " +
                                 (dir / "a.txt").string() + " -- sleep 1.2' /dev/null");
  ASSERT_EQ(tty.exit_code, 0) << tty.err;
  EXPECT_NE(tty.out.find("\r\033[Kjoulecast track: "), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find(" mean"), std::string::npos) << tty.out;
  CommandOutput pipe = RunCommand(kBin + " track --no-history -o " + (dir / "b.txt").string() +
                                  " -- sleep 1.2");
  ASSERT_EQ(pipe.exit_code, 0) << pipe.err;
  EXPECT_EQ(pipe.err, "");
}

TEST(TrackCli, BadUsageIsOneLineAndRunsNothing) {
  TempDir dir;
  const fs::path marker = dir / "ran";
  const std::string cmd = " -- touch " + marker.string();
  for (const std::string& args :
       {std::string(" --no-history"), std::string(" --no-history --"),
        " --region XX --no-history" + cmd, " --batch 8 --no-history" + cmd,
        " --meter joulemeter --no-history" + cmd, " --predict /nonexistent.json --no-history" + cmd,
        " --history " + (dir / "h.db").string() + " --no-history" + cmd}) {
    CommandOutput r = RunCommand(kBin + " track" + args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_EQ(Lines(r.err), 1u) << args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(marker)) << args;
  }
  CommandOutput none = RunCommand(kBin + " history --history " + (dir / "none.db").string());
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("none.db"), std::string::npos);
}

}  // namespace
