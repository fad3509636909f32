#include "analyzer/search/external_trainer.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

extern char** environ;

namespace joulecast::search {

namespace {

using Json = nlohmann::ordered_json;

// Kept of the trainer's output: its last line is all that is read, but a line may be long.
constexpr size_t kKeepOutput = 1 << 20;
constexpr size_t kKeepErrors = 4096;
constexpr size_t kMaxReason = 300;

std::string Trim(std::string s) {
  const char* space = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(space);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(space);
  return s.substr(b, e - b + 1);
}

std::string LastLine(const std::string& text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = text.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    std::string line = Trim(text.substr(start, end - start));
    if (!line.empty()) return line;
    if (start == 0) break;
    end = start - 1;
  }
  return "";
}

std::string Cut(std::string s, size_t max) {
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

TrialOutcome Failed(std::string reason) {
  TrialOutcome o;
  o.ok = false;
  o.error = Cut(std::move(reason), kMaxReason);
  return o;
}

void KeepTail(std::string& kept, const char* data, size_t n, size_t max) {
  kept.append(data, n);
  if (kept.size() > max) kept.erase(0, kept.size() - max);
}

// The pipe ends one spawn uses; whatever is still open is closed on destruction.
struct Fds {
  int v[6] = {-1, -1, -1, -1, -1, -1};  // stdin r/w, stdout r/w, stderr r/w
  ~Fds() {
    for (int& fd : v) Close(fd);
  }
  static void Close(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// Blocks SIGPIPE in this thread while the trainer's standard input is written, so that a trainer
// that exits without reading gives EPIPE instead of killing joulecast; a SIGPIPE raised meanwhile
// is consumed before the old mask returns.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    const struct timespec zero {};
    while (sigtimedwait(&pipe_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_, old_;
};

std::string SignalName(int sig) {
  const char* name = sigabbrev_np(sig);
  return name ? "SIG" + std::string(name) : std::to_string(sig);
}

}  // namespace

std::string TrialRequestJson(const TrialRequest& r) {
  const Training& t = r.training;
  Json j;
  j["trial"] = r.trial;
  j["seed"] = r.seed;
  j["params"] = Json::parse(ParamsJson(r.params));
  j["architecture"] = Json::parse(r.architecture_json);
  j["training"] = {{"dataset", t.dataset},
                   {"epochs", t.epochs},
                   {"batch_size", t.batch_size},
                   {"train_samples", t.train_samples},
                   {"validation_samples", t.validation_samples},
                   {"optimizer", t.optimizer},
                   {"learning_rate", t.learning_rate},
                   {"beta1", t.beta1},
                   {"beta2", t.beta2},
                   {"weight_decay", t.weight_decay}};
  return j.dump();
}

TrialOutcome ParseTrainerOutput(const std::string& output,
                                const std::optional<MeteredEnergy>& metered) {
  const std::string kExample =
      " (its last line must be a JSON object such as {\"accuracy\": 0.9, \"energy_j\": 120})";
  const std::string line = LastLine(output);
  if (line.empty()) return Failed("the trainer printed nothing on standard output" + kExample);
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    return Failed("the trainer's last line is not a JSON object: '" + Cut(line, 80) + "'" +
                  kExample);
  }
  TrialOutcome o;
  auto number = [&](const char* key, double* out) -> std::string {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number()) {
      return std::string("the trainer's last line has no number \"") + key + "\"" + kExample;
    }
    *out = it->get<double>();
    if (!std::isfinite(*out)) return std::string("the trainer's \"") + key + "\" is not finite";
    return "";
  };
  if (std::string e = number("accuracy", &o.accuracy); !e.empty()) return Failed(e);
  const bool use_metered = metered && !j.contains("energy_j");
  if (use_metered) {
    o.energy_j = metered->energy_j;
  } else if (std::string e = number("energy_j", &o.energy_j); !e.empty()) {
    return Failed(e);
  }
  if (o.accuracy < 0 || o.accuracy > 1) {
    return Failed("the trainer's \"accuracy\" " + j["accuracy"].dump() +
                  " is not in [0, 1] (a fraction, not a percentage)");
  }
  if (o.energy_j < 0) return Failed("the trainer's \"energy_j\" is negative");
  o.meter = "external";
  if (use_metered) {
    // What joulecast measured; the trainer's own "meter" and "energy_real" describe its number.
    o.meter = metered->meter;
    o.energy_real = metered->real;
    o.ok = true;
    return o;
  }
  if (auto it = j.find("meter"); it != j.end()) {
    if (!it->is_string()) return Failed("the trainer's \"meter\" is not a string");
    o.meter = Cut(it->get<std::string>(), 64);
  }
  if (auto it = j.find("energy_real"); it != j.end()) {
    if (!it->is_boolean()) return Failed("the trainer's \"energy_real\" is not true or false");
    o.energy_real = it->get<bool>();
  }
  o.ok = true;
  return o;
}

ExternalTrainer::ExternalTrainer(std::string command, const std::atomic<bool>* cancel)
    : command_(std::move(command)), cancel_(cancel) {}

Result<TrialOutcome> ExternalTrainer::Train(const TrialRequest& request) {
  std::string input;
  try {
    input = TrialRequestJson(request) + "\n";
  } catch (const std::exception& e) {
    return Status::Error("trial " + std::to_string(request.trial) +
                         ": cannot write the trainer's input: " + e.what());
  }
  std::unique_ptr<ChildMeter> meter;
  if (open_meter_) {
    std::string error;
    meter = open_meter_(&error);
    if (!meter) return Status::Error("--trainer: cannot measure the trainer's energy: " + error);
  }
  const auto t0 = std::chrono::steady_clock::now();
  Fds fds;
  for (int i = 0; i < 3; ++i) {
    if (pipe2(fds.v + 2 * i, O_CLOEXEC) != 0) {
      return Status::Error(std::string("--trainer: cannot make a pipe: ") + std::strerror(errno));
    }
  }
  enum { kInRead, kInWrite, kOutRead, kOutWrite, kErrRead, kErrWrite };

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds.v[kInRead], 0);
  posix_spawn_file_actions_adddup2(&actions, fds.v[kOutWrite], 1);
  posix_spawn_file_actions_adddup2(&actions, fds.v[kErrWrite], 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaddset(&defaults, sig);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  const std::string trial_env = "JOULECAST_TRIAL=" + std::to_string(request.trial);
  std::vector<char*> env;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "JOULECAST_TRIAL=", 16) != 0) env.push_back(*e);
  }
  env.push_back(const_cast<char*>(trial_env.c_str()));
  env.push_back(nullptr);
  char sh[] = "sh", dash_c[] = "-c";
  std::string command = command_;
  char* argv[] = {sh, dash_c, command.data(), nullptr};
  pid_t pid = -1;
  std::string meter_error = meter ? meter->Arm() : "";
  int rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Status::Error("--trainer: cannot run /bin/sh: " + std::string(std::strerror(rc)));
  }
  Fds::Close(fds.v[kInRead]);
  Fds::Close(fds.v[kOutWrite]);
  Fds::Close(fds.v[kErrWrite]);
  if (meter && meter_error.empty()) meter_error = meter->Start(pid);
  auto last_read = std::chrono::steady_clock::now();
  for (int i : {kInWrite, kOutRead, kErrRead}) {
    fcntl(fds.v[i], F_SETFL, fcntl(fds.v[i], F_GETFL) | O_NONBLOCK);
  }

  std::string out, err;
  size_t written = 0;
  bool cancelled = false;
  std::chrono::steady_clock::time_point kill_at{};
  {
    SigpipeBlock no_sigpipe;
    while (fds.v[kOutRead] >= 0 || fds.v[kErrRead] >= 0) {
      if (cancel_ && cancel_->load() && !cancelled) {
        cancelled = true;
        kill(-pid, SIGTERM);
        kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      }
      if (cancelled && std::chrono::steady_clock::now() > kill_at) {
        kill(-pid, SIGKILL);
        break;
      }
      pollfd p[3];
      int n = 0, in_at = -1, out_at = -1, err_at = -1;
      if (fds.v[kInWrite] >= 0) {
        in_at = n;
        p[n++] = {fds.v[kInWrite], POLLOUT, 0};
      }
      if (fds.v[kOutRead] >= 0) {
        out_at = n;
        p[n++] = {fds.v[kOutRead], POLLIN, 0};
      }
      if (fds.v[kErrRead] >= 0) {
        err_at = n;
        p[n++] = {fds.v[kErrRead], POLLIN, 0};
      }
      // Counters wrap (RAPL within minutes at full load): read them every half second.
      if (meter && meter_error.empty() &&
          std::chrono::steady_clock::now() - last_read > std::chrono::milliseconds(500)) {
        meter_error = meter->Poll(nullptr);
        last_read = std::chrono::steady_clock::now();
      }
      int ready = poll(p, n, 100);
      if (ready < 0 && errno != EINTR) break;
      if (ready <= 0) continue;
      if (in_at >= 0 && p[in_at].revents) {
        ssize_t w = write(fds.v[kInWrite], input.data() + written, input.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        // A trainer that does not read all of its input is allowed to: it may not need it.
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) {
          Fds::Close(fds.v[kInWrite]);
        }
      }
      char buf[8192];
      for (auto [at, index] :
           {std::pair{out_at, int(kOutRead)}, std::pair{err_at, int(kErrRead)}}) {
        if (at < 0 || !p[at].revents) continue;
        ssize_t r = read(fds.v[index], buf, sizeof buf);
        if (r > 0) {
          if (index == kOutRead) {
            KeepTail(out, buf, static_cast<size_t>(r), kKeepOutput);
          } else {
            KeepTail(err, buf, static_cast<size_t>(r), kKeepErrors);
            ssize_t ignored = write(STDERR_FILENO, buf, static_cast<size_t>(r));
            (void)ignored;
          }
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          Fds::Close(fds.v[index]);
        }
      }
    }
    Fds::Close(fds.v[kInWrite]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const double time_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::optional<MeteredEnergy> metered;
  if (meter) {
    if (meter_error.empty()) meter_error = meter->Finish();
    if (!meter_error.empty()) {
      return Status::Error("trial " + std::to_string(request.trial) +
                           ": measuring the trainer's energy: " + meter_error);
    }
    MeteredEnergy m;
    for (const DeviceEnergy& d : meter->devices()) m.energy_j += d.energy_j;
    m.real = meter->real();
    m.meter = meter->kind();
    metered = m;
  }
  if (cancelled) {
    return Status::Error("trial " + std::to_string(request.trial) +
                         ": interrupted: the trainer was stopped");
  }
  TrialOutcome outcome;
  if (WIFSIGNALED(status)) {
    outcome = Failed("the trainer was killed by signal " + SignalName(WTERMSIG(status)));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    std::string why = LastLine(err);
    outcome = Failed("the trainer exited with status " + std::to_string(WEXITSTATUS(status)) +
                     (why.empty() ? "" : ": " + why));
  } else {
    outcome = ParseTrainerOutput(out, metered);
  }
  outcome.time_s = time_s;
  return outcome;
}

}  // namespace joulecast::search
