#include "calibrate/meters/child_meter.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "calibrate/meters/fake_nvml.h"
#include "common/testing/test_util.h"

namespace joulecast {
namespace {

using testing::TempDir;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A child that burns `cpu_s` of CPU time, or that waits for its pipe to close (cpu_s < 0).
pid_t Child(double cpu_s, int* release_fd = nullptr) {
  int fds[2] = {-1, -1};
  if (release_fd && pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    if (release_fd) {
      close(fds[1]);
      char c;
      while (read(fds[0], &c, 1) > 0) {
      }
      _exit(0);
    }
    volatile double x = 0;
    while (ThreadCpuSeconds() < cpu_s) x = x + 1;
    _exit(0);
  }
  if (release_fd) {
    close(fds[0]);
    *release_fd = fds[1];
  }
  return pid;
}

TEST(CudaVisibleDevices, IndicesOnly) {
  EXPECT_EQ(*ParseCudaVisibleDevices("0,2"), (std::vector<int>{0, 2}));
  EXPECT_EQ(*ParseCudaVisibleDevices(" 1 "), (std::vector<int>{1}));
  EXPECT_TRUE(ParseCudaVisibleDevices("")->empty());
  EXPECT_EQ(*ParseCudaVisibleDevices("1,-1,3"), (std::vector<int>{1}));
  Result<std::vector<int>> uuid = ParseCudaVisibleDevices("GPU-8f3c");
  ASSERT_FALSE(uuid.ok());
  EXPECT_NE(uuid.status().message().find("GPU-8f3c"), std::string::npos);
}

TEST(ProcessTreeCpu, CountsABurningChildAndNothingForAGoneOne) {
  const pid_t pid = Child(0.4);
  ASSERT_GT(pid, 0);
  double seen = 0;
  for (int i = 0; i < 200 && seen < 0.2; ++i) {
    usleep(10000);
    seen = ProcessTreeCpuSeconds(pid);
  }
  EXPECT_GE(seen, 0.2);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(ProcessTreeCpuSeconds(pid), 0);
}

TEST(ChildMeter, EstimateIsTheChildsCpuTimeTimesWatts) {
  ChildMeterOptions o;
  o.meter.kind = "estimate";
  o.meter.cpu_watts = 10;
  std::string why;
  Result<std::unique_ptr<ChildMeter>> meter = OpenChildMeter(o, &why);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ((*meter)->kind(), "estimate");
  EXPECT_FALSE((*meter)->real());
  const pid_t pid = Child(0.5);
  ASSERT_EQ((*meter)->Start(pid), "");
  int status = 0;
  double polled = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    usleep(50000);
    ASSERT_EQ((*meter)->Poll(&polled), "");
  }
  ASSERT_EQ((*meter)->Finish(), "");
  const double j = (*meter)->devices()[0].energy_j;
  EXPECT_NEAR(j, 0.5 * 10, 0.5) << "within 10% of 0.5 CPU s x 10 W";
  EXPECT_GE(j, polled);
  EXPECT_NE((*meter)->devices()[0].description.find("process tree"), std::string::npos);
}

TEST(ChildMeter, RaplAcrossAWrapDuringTheRun) {
  TempDir root;
  const uint64_t max_uj = 1000000000;  // 1 kJ
  root.Write("intel-rapl:0/name", "package-0\n");
  root.Write("intel-rapl:0/max_energy_range_uj", std::to_string(max_uj) + "\n");
  root.Write("intel-rapl:0/energy_uj", std::to_string(max_uj - 2000000) + "\n");
  root.Write("intel-rapl:0:0/name", "dram\n");
  root.Write("intel-rapl:0:0/max_energy_range_uj", std::to_string(max_uj) + "\n");
  root.Write("intel-rapl:0:0/energy_uj", "100\n");
  ChildMeterOptions o;
  o.meter.powercap_root = root.path().string();
  o.meter.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  Result<std::unique_ptr<ChildMeter>> meter = OpenChildMeter(o);  // auto: RAPL, no NVML
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  EXPECT_EQ((*meter)->kind(), "rapl");
  EXPECT_TRUE((*meter)->real());
  int release = -1;
  const pid_t pid = Child(-1, &release);
  ASSERT_EQ((*meter)->Start(pid), "");
  // 1.5 J then the counter wraps: 2 J to the top, 3 J after it; DRAM 0.5 J.
  root.Write("intel-rapl:0/energy_uj", std::to_string(max_uj - 500000) + "\n");
  double j = 0;
  ASSERT_EQ((*meter)->Poll(&j), "");
  EXPECT_NEAR(j, 1.5, 1e-9);
  root.Write("intel-rapl:0/energy_uj", "2999999\n");
  root.Write("intel-rapl:0:0/energy_uj", "500100\n");
  close(release);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ((*meter)->Finish(), "");
  double total = 0;
  for (const DeviceEnergy& d : (*meter)->devices()) total += d.energy_j;
  EXPECT_NEAR(total, 5.5, 1e-9);
  EXPECT_EQ((*meter)->devices()[0].device, "cpu");
}

TEST(ChildMeter, ArmedBeforeTheSpawnCountsTheChildsFirstMoments) {
  TempDir root;
  root.Write("intel-rapl:0/name", "package-0\n");
  root.Write("intel-rapl:0/max_energy_range_uj", "1000000000\n");
  root.Write("intel-rapl:0/energy_uj", "5000000\n");
  ChildMeterOptions o;
  o.meter.powercap_root = root.path().string();
  o.meter.nvml_library = "/nonexistent/libnvidia-ml.so.1";
  Result<std::unique_ptr<ChildMeter>> meter = OpenChildMeter(o);
  ASSERT_TRUE(meter.ok()) << meter.status().message();
  ASSERT_EQ((*meter)->Arm(), "");
  // The child starts and draws 1 J before Start is called: it counts.
  int release = -1;
  const pid_t pid = Child(-1, &release);
  root.Write("intel-rapl:0/energy_uj", "6000000\n");
  ASSERT_EQ((*meter)->Start(pid), "");
  double j = 0;
  ASSERT_EQ((*meter)->Poll(&j), "");
  EXPECT_NEAR(j, 1, 1e-9);
  close(release);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ((*meter)->Finish(), "");
}

TEST(ChildMeter, NvmlForEveryVisibleGpu) {
  void* handle = dlopen(JOULECAST_FAKE_NVML, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto state = reinterpret_cast<testing::FakeNvml* (*)()>(dlsym(handle, "fake_nvml_state"));
  ASSERT_NE(state, nullptr);
  testing::FakeNvml* fake = state();
  fake->Reset();
  fake->device_count = 3;
  fake->energy_mj = 1000;
  ChildMeterOptions o;
  o.meter.kind = "nvml";
  o.meter.nvml_library = JOULECAST_FAKE_NVML;
  Result<std::unique_ptr<ChildMeter>> all = OpenChildMeter(o);
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ((*all)->devices().size(), 3u);
  o.cuda_visible_devices = "2,0";
  Result<std::unique_ptr<ChildMeter>> two = OpenChildMeter(o);
  ASSERT_TRUE(two.ok()) << two.status().message();
  ASSERT_EQ((*two)->devices().size(), 2u);
  EXPECT_EQ((*two)->devices()[0].device, "gpu:2");
  ASSERT_EQ((*two)->Start(getpid()), "");
  fake->energy_mj = 4000;  // every fake GPU shares the counter: 3 J each
  double j = 0;
  ASSERT_EQ((*two)->Poll(&j), "");
  EXPECT_NEAR(j, 6, 1e-9);
  o.cuda_visible_devices = "";
  EXPECT_FALSE(OpenChildMeter(o).ok()) << "every GPU hidden";
  o.cuda_visible_devices = "7";
  EXPECT_FALSE(OpenChildMeter(o).ok()) << "no GPU 7";
  o.cuda_visible_devices = "GPU-8f3c";
  EXPECT_FALSE(OpenChildMeter(o).ok()) << "nvml: a UUID is an error";
  o.meter.kind = "auto";
  o.meter.powercap_root = "/nonexistent";
  std::string why;
  Result<std::unique_ptr<ChildMeter>> fallback = OpenChildMeter(o, &why);
  ASSERT_TRUE(fallback.ok()) << "auto: the GPUs are left out, with the reason";
  EXPECT_EQ((*fallback)->kind(), "estimate");
  EXPECT_NE(why.find("GPU-8f3c"), std::string::npos) << why;
  all->reset();
  two->reset();
  dlclose(handle);
}

}  // namespace
}  // namespace joulecast
