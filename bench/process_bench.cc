// A whole command as the user pays for it: wall time, CPU time, peak RSS and page faults of each
// run, each a fresh process, with medians. For `joulecast analyze` as a process, start-up and
// dynamic linking included (bench/README.md).
//
//   process_bench [--runs N] [--warmup N] -- COMMAND [ARGS...]
//
// Prints one JSON line: the command, the runs, and min/median/max of wall_ms, user_ms, sys_ms,
// peak_rss_kb (the kernel's ru_maxrss of the child) and minor_faults. The command's output goes
// to /dev/null. A child's ru_maxrss also counts what it shared with this small launcher before
// exec; `process_bench -- /bin/true` shows that floor.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Run {
  double wall_ms, user_ms, sys_ms, peak_rss_kb, minor_faults;
};

double Ms(const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; }

// Runs argv once; false (with a message) if it could not start or did not exit 0.
bool RunOnce(char** argv, Run* run) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("process_bench: fork");
    return false;
  }
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    execvp(argv[0], argv);
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid) {
    std::perror("process_bench: wait4");
    return false;
  }
  const auto end = std::chrono::steady_clock::now();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "process_bench: %s exited with %d (127: could not run it)\n", argv[0],
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return false;
  }
  run->wall_ms = std::chrono::duration<double, std::milli>(end - start).count();
  run->user_ms = Ms(usage.ru_utime);
  run->sys_ms = Ms(usage.ru_stime);
  run->peak_rss_kb = static_cast<double>(usage.ru_maxrss);
  run->minor_faults = static_cast<double>(usage.ru_minflt);
  return true;
}

std::string Stats(std::vector<Run>& runs, double Run::*field) {
  std::vector<double> v;
  for (const Run& r : runs) v.push_back(r.*field);
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  char buf[128];
  std::snprintf(buf, sizeof buf, "{\"min\": %.3f, \"median\": %.3f, \"max\": %.3f}", v.front(),
                median, v.back());
  return buf;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 10, warmup = 1, i = 1;
  for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
    if (i + 1 < argc && !std::strcmp(argv[i], "--runs")) {
      runs = std::atoi(argv[++i]);
    } else if (i + 1 < argc && !std::strcmp(argv[i], "--warmup")) {
      warmup = std::atoi(argv[++i]);
    } else {
      break;
    }
  }
  if (i >= argc || std::strcmp(argv[i], "--") != 0 || i + 1 >= argc || runs < 1 || warmup < 0) {
    std::fprintf(stderr, "usage: process_bench [--runs N] [--warmup N] -- COMMAND [ARGS...]\n");
    return 2;
  }
  char** command = argv + i + 1;
  std::vector<Run> measured;
  for (int r = 0; r < warmup + runs; ++r) {
    Run run{};
    if (!RunOnce(command, &run)) return 1;
    if (r >= warmup) measured.push_back(run);
  }
  std::string cmd;
  for (char** a = command; *a; ++a) cmd += (cmd.empty() ? "" : " ") + std::string(*a);
  std::printf(
      "{\"command\": %s, \"runs\": %d, \"wall_ms\": %s, \"user_ms\": %s, \"sys_ms\": %s, "
      "\"peak_rss_kb\": %s, \"minor_faults\": %s}\n",
      JsonString(cmd).c_str(), runs, Stats(measured, &Run::wall_ms).c_str(),
      Stats(measured, &Run::user_ms).c_str(), Stats(measured, &Run::sys_ms).c_str(),
      Stats(measured, &Run::peak_rss_kb).c_str(), Stats(measured, &Run::minor_faults).c_str());
  return 0;
}
