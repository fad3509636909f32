#include "calibrate/meters/child_meter.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "calibrate/meters/estimate_meter.h"
#include "calibrate/meters/nvml_meter.h"
#include "calibrate/meters/rapl_meter.h"

namespace joulecast {

namespace {

constexpr int kMaxGpus = 64;

// ppid and utime + stime + cutime + cstime (clock ticks) from a /proc/<pid>/stat line.
bool ParseStat(const std::string& line, pid_t* ppid, long long* ticks) {
  // The command name is in parentheses and may hold spaces and ')': fields follow the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(line.substr(close + 1));
  std::string state;
  long long f[15] = {};
  in >> state;
  for (long long& v : f) in >> v;  // fields 4 to 18: ppid ... cstime
  if (!in) return false;
  *ppid = static_cast<pid_t>(f[0]);
  *ticks = f[10] + f[11] + f[12] + f[13];  // utime, stime, cutime, cstime (fields 14 to 17)
  return true;
}

double ChildrenCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

// What the estimate counts: the tree of `pid` while it lives, then the kernel's accounting of
// reaped children (exact, and what is left when the tree has gone).
struct TreeClock {
  pid_t pid = 0;
  std::string proc_root;
  double children_at_start = 0;
  double peak = 0;  // the counter never goes back when an orphan leaves the tree
  bool finished = false;
  double finished_s = 0;

  double Seconds() {
    double now = finished ? finished_s : pid > 0 ? ProcessTreeCpuSeconds(pid, proc_root) : 0;
    peak = std::max(peak, now);
    return peak;
  }
};

class MetersAroundChild final : public ChildMeter {
 public:
  struct Slot {
    std::unique_ptr<EnergyMeter> meter;
    DeviceEnergy reading;
    double start_j = 0;
    bool started = false;  ///< start_j read (by Arm, for a hardware counter).
  };

  MetersAroundChild(std::vector<Slot> slots, std::shared_ptr<TreeClock> clock)
      : slots_(std::move(slots)), clock_(std::move(clock)) {
    for (const Slot& s : slots_) devices_.push_back(s.reading);
  }

  std::string Arm() override {
    // Hardware counters only: the estimate counts the child's own CPU time, from Start.
    for (Slot& s : slots_) {
      if (!s.reading.real) continue;
      Result<double> j = s.meter->EnergyJ();
      if (!j.ok()) return j.status().message();
      s.start_j = *j;
      s.started = true;
    }
    return "";
  }

  std::string Start(pid_t pid) override {
    if (clock_) {
      clock_->pid = pid;
      clock_->children_at_start = ChildrenCpuSeconds();
    }
    for (Slot& s : slots_) {
      if (s.started) continue;
      Result<double> j = s.meter->EnergyJ();
      if (!j.ok()) return j.status().message();
      s.start_j = *j;
      s.started = true;
    }
    return "";
  }

  std::string Poll(double* energy_j) override {
    double total = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      Result<double> j = slots_[i].meter->EnergyJ();
      if (!j.ok()) return j.status().message();
      devices_[i].energy_j = *j - slots_[i].start_j;
      total += devices_[i].energy_j;
    }
    if (energy_j) *energy_j = total;
    return "";
  }

  std::string Finish() override {
    if (clock_) {
      clock_->finished_s = ChildrenCpuSeconds() - clock_->children_at_start;
      clock_->finished = true;
    }
    return Poll(nullptr);
  }

  const std::vector<DeviceEnergy>& devices() const override { return devices_; }

  std::string kind() const override {
    std::vector<std::string> kinds;
    for (const DeviceEnergy& d : devices_) {
      if (std::find(kinds.begin(), kinds.end(), d.kind) == kinds.end()) kinds.push_back(d.kind);
    }
    std::string out;
    for (const std::string& k : kinds) out += (out.empty() ? "" : "+") + k;
    return out;
  }

  bool real() const override {
    for (const DeviceEnergy& d : devices_) {
      if (!d.real) return false;
    }
    return !devices_.empty();
  }

 private:
  std::vector<Slot> slots_;
  std::vector<DeviceEnergy> devices_;
  std::shared_ptr<TreeClock> clock_;
};

MetersAroundChild::Slot SlotOf(std::unique_ptr<EnergyMeter> meter, std::string device) {
  MetersAroundChild::Slot s;
  s.reading.device = std::move(device);
  s.reading.kind = meter->kind();
  s.reading.real = meter->real();
  s.reading.description = meter->description();
  s.meter = std::move(meter);
  return s;
}

// NVML meters for the visible GPUs; `errors` gets why none opened.
std::vector<MetersAroundChild::Slot> OpenGpus(const ChildMeterOptions& options,
                                              const std::vector<int>* visible,
                                              std::vector<std::string>* errors) {
  std::vector<MetersAroundChild::Slot> slots;
  const int count = visible ? static_cast<int>(visible->size()) : kMaxGpus;
  for (int i = 0; i < count; ++i) {
    MeterOptions o = options.meter;
    o.gpu = true;
    o.gpu_index = visible ? (*visible)[i] : i;
    Result<std::unique_ptr<NvmlMeter>> nvml = NvmlMeter::Open(o);
    if (!nvml.ok()) {
      // Without CUDA_VISIBLE_DEVICES the GPUs are 0, 1, ... up to the first index that fails.
      if (visible || i == 0) errors->push_back(nvml.status().message());
      if (visible) return {};
      break;
    }
    slots.push_back(SlotOf(std::move(*nvml), "gpu:" + std::to_string(o.gpu_index)));
  }
  return slots;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

}  // namespace

Result<std::vector<int>> ParseCudaVisibleDevices(const std::string& value) {
  std::vector<int> out;
  std::stringstream in(value);
  std::string item;
  while (std::getline(in, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item == "-1") break;
    const bool digits =
        !item.empty() && item.size() < 5 && std::all_of(item.begin(), item.end(), ::isdigit);
    if (!digits) {
      return Status::Error("CUDA_VISIBLE_DEVICES entry '" + item +
                           "' is not a GPU index; joulecast maps only indices to NVML (use "
                           "--meter rapl or estimate, or list indices)");
    }
    out.push_back(std::stoi(item));
  }
  return out;
}

double ProcessTreeCpuSeconds(pid_t pid, const std::string& proc_root) {
  std::multimap<pid_t, pid_t> children;
  std::map<pid_t, long long> ticks;
  DIR* dir = opendir(proc_root.c_str());
  if (!dir) return 0;
  while (dirent* e = readdir(dir)) {
    char* end = nullptr;
    const long p = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || p <= 0) continue;
    std::ifstream f(proc_root + "/" + e->d_name + "/stat");
    std::string line;
    pid_t ppid = 0;
    long long t = 0;
    if (!std::getline(f, line) || !ParseStat(line, &ppid, &t)) continue;  // it just exited
    children.emplace(ppid, static_cast<pid_t>(p));
    ticks[static_cast<pid_t>(p)] = t;
  }
  closedir(dir);
  long long total = 0;
  std::vector<pid_t> todo = {pid};
  while (!todo.empty()) {
    const pid_t p = todo.back();
    todo.pop_back();
    auto t = ticks.find(p);
    if (t == ticks.end()) continue;
    total += t->second;
    auto [first, last] = children.equal_range(p);
    for (auto it = first; it != last; ++it) todo.push_back(it->second);
  }
  return static_cast<double>(total) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Result<std::unique_ptr<ChildMeter>> OpenChildMeter(const ChildMeterOptions& options,
                                                   std::string* why) {
  std::string ignored;
  std::string& line = why ? *why : ignored;
  const std::string& kind = options.meter.kind;
  if (kind != "auto" && kind != "rapl" && kind != "nvml" && kind != "estimate") {
    return Status::Error("unknown meter '" + kind + "': expected auto, rapl, nvml or estimate");
  }
  if (Result<CpuWatts> watts = ChooseCpuWatts(options.meter); !watts.ok()) return watts.status();
  std::vector<int> visible_list;
  const std::vector<int>* visible = nullptr;
  std::string visible_error;
  if (options.cuda_visible_devices) {
    Result<std::vector<int>> v = ParseCudaVisibleDevices(*options.cuda_visible_devices);
    if (!v.ok() && kind == "nvml") return v.status();
    if (v.ok()) {
      visible_list = *v;
      visible = &visible_list;
    } else {
      visible_error = "NVML: " + v.status().message();
    }
  }

  std::vector<MetersAroundChild::Slot> slots;
  std::vector<std::string> errors;
  if (kind == "auto" || kind == "rapl") {
    Result<std::unique_ptr<RaplMeter>> rapl = RaplMeter::Open(options.meter.powercap_root);
    if (rapl.ok()) {
      slots.push_back(SlotOf(std::move(*rapl), "cpu"));
    } else if (kind == "rapl") {
      return rapl.status();
    } else {
      errors.push_back(rapl.status().message());
    }
  }
  if (!visible_error.empty()) {
    errors.push_back(visible_error);  // auto: the GPUs are not counted, and the report says why
  } else if (kind == "auto" || kind == "nvml") {
    if (visible && visible->empty()) {
      if (kind == "nvml") return Status::Error("NVML: CUDA_VISIBLE_DEVICES hides every GPU");
    } else {
      std::vector<std::string> gpu_errors;
      for (auto& s : OpenGpus(options, visible, &gpu_errors)) slots.push_back(std::move(s));
      if (kind == "nvml" && slots.empty()) return Status::Error(Join(gpu_errors));
      for (std::string& e : gpu_errors) errors.push_back(std::move(e));
    }
  }
  std::shared_ptr<TreeClock> clock;
  if (slots.empty()) {
    clock = std::make_shared<TreeClock>();
    clock->proc_root = options.proc_root;
    MeterOptions o = options.meter;
    o.cpu_seconds = [clock] { return clock->Seconds(); };
    Result<std::unique_ptr<EstimateMeter>> estimate = EstimateMeter::Open(o);
    if (!estimate.ok()) return estimate.status();
    char watts[32];
    std::snprintf(watts, sizeof watts, "%.2f", (*estimate)->watts_per_thread());
    const std::string source = (*estimate)->source();
    MetersAroundChild::Slot s = SlotOf(std::move(*estimate), "cpu");
    s.reading.description = std::string(
                                "estimate, not a counter: CPU time of the command's "
                                "process tree x ") +
                            watts + " W per busy thread (" + source +
                            (source == "--cpu-watts" ? "" : "; --cpu-watts overrides") + ")";
    slots.push_back(std::move(s));
    line = kind == "estimate" ? "estimate, as asked"
                              : "auto picked the estimate (not a measurement), no hardware "
                                "counter being usable: " +
                                    Join(errors);
  } else {
    line = kind == "auto" ? "auto picked " + std::to_string(slots.size()) + " hardware counter" +
                                (slots.size() > 1 ? "s" : "") +
                                (errors.empty() ? "" : "; not counted: " + Join(errors))
                          : kind + ", as asked";
  }
  return std::unique_ptr<ChildMeter>(new MetersAroundChild(std::move(slots), std::move(clock)));
}

}  // namespace joulecast
