#include "calibrate/meters/rapl_meter.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace joulecast {
namespace {

// "intel-rapl:N" -> {N, -1}; "intel-rapl:N:M" -> {N, M}; anything else -> false.
bool ParseZoneDir(const std::string& dir, int* package, int* sub) {
  constexpr std::string_view kPrefix = "intel-rapl:";
  if (dir.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  const char* p = dir.data() + kPrefix.size();
  const char* end = dir.data() + dir.size();
  auto [after_pkg, ec] = std::from_chars(p, end, *package);
  if (ec != std::errc() || after_pkg == p) return false;
  *sub = -1;
  if (after_pkg == end) return true;
  if (*after_pkg != ':') return false;
  const char* q = after_pkg + 1;
  auto [after_sub, ec2] = std::from_chars(q, end, *sub);
  return ec2 == std::errc() && after_sub != q && after_sub == end;
}

std::string Trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::string RootOnlyMessage(const std::string& root, const std::string& path) {
  return "RAPL: " + path +
         " is readable by root only (Linux restricts RAPL counters since 2020, CVE-2020-8694); "
         "grant read access with `sudo chmod o+r " +
         root + "/intel-rapl:*/energy_uj " + root +
         "/intel-rapl:*/max_energy_range_uj` (until reboot; docs/meters.md has a udev rule), "
         "or run as root";
}

bool IsPackage(const RaplZone& zone) { return zone.label.rfind("package", 0) == 0; }

Status AboveRange(const std::string& root, const RaplZone& zone, uint64_t value) {
  return Status::Error("RAPL: " + root + "/" + zone.dir + "/energy_uj reads " +
                       std::to_string(value) + ", above its max_energy_range_uj " +
                       std::to_string(zone.max_range_uj));
}

Status ReadFileStatus(const ReadFileFn& read, const std::string& root, const std::string& path,
                      std::string* text) {
  const int err = read(path, text);
  if (err == 0) return Status();
  if (err == EACCES || err == EPERM) return Status::Error(RootOnlyMessage(root, path));
  if (err == ENOENT) return Status::Error("RAPL: " + path + " is missing");
  return Status::Error("RAPL: cannot read " + path + ": " + std::strerror(err));
}

}  // namespace

int ReadSmallFile(const std::string& path, std::string* text) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  text->clear();
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      close(fd);
      return err;
    }
    if (n == 0) break;
    text->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return 0;
}

uint64_t RaplDeltaUj(uint64_t prev_uj, uint64_t cur_uj, uint64_t max_range_uj) {
  if (cur_uj >= prev_uj) return cur_uj - prev_uj;
  // The counter went prev -> max_range (max_range - prev), max_range -> 0 (one more step) and
  // 0 -> cur. Written in this order it cannot overflow when prev, cur <= max_range.
  return (max_range_uj - prev_uj) + cur_uj + 1;
}

Status RaplMeter::ReadCounter(const RaplZone& zone, const std::string& file,
                              uint64_t* value) const {
  const std::string path = root_ + "/" + zone.dir + "/" + file;
  std::string text;
  Status s = ReadFileStatus(read_, root_, path, &text);
  if (!s.ok()) return s;
  const std::string trimmed = Trim(text);
  const char* end = trimmed.data() + trimmed.size();
  auto [ptr, ec] = std::from_chars(trimmed.data(), end, *value);
  if (trimmed.empty() || ec != std::errc() || ptr != end) {
    return Status::Error("RAPL: " + path + " holds '" + trimmed.substr(0, 40) +
                         "', not a number of microjoules");
  }
  return Status();
}

Result<std::unique_ptr<RaplMeter>> RaplMeter::Open(const std::string& root, ReadFileFn read) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return Status::Error("RAPL: no powercap tree at " + root +
                         " (no intel_rapl driver: usual in VMs and containers; on bare metal "
                         "try `sudo modprobe intel_rapl_msr`)");
  }
  struct Found {
    int package, sub;
    std::string dir;
  };
  std::vector<Found> found;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string dir = it->path().filename().string();
    Found f{0, 0, dir};
    if (ParseZoneDir(dir, &f.package, &f.sub)) found.push_back(std::move(f));
  }
  if (ec) return Status::Error("RAPL: cannot list " + root + ": " + ec.message());
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
    return a.package != b.package ? a.package < b.package : a.sub < b.sub;
  });

  std::unique_ptr<RaplMeter> meter(new RaplMeter(root, std::move(read)));
  for (const Found& f : found) {
    std::string name;
    Status s = ReadFileStatus(meter->read_, root, root + "/" + f.dir + "/name", &name);
    if (!s.ok()) return s;
    name = Trim(name);
    RaplZone zone;
    zone.dir = f.dir;
    if (f.sub < 0 && name.rfind("package", 0) == 0) {
      zone.label = name;
    } else if (name == "dram") {
      zone.label = f.sub < 0 ? "dram" : "dram-" + std::to_string(f.package);
    } else {
      // psys contains the packages; core and uncore are parts of one. Anything else is unknown
      // and left out rather than risk counting joules twice.
      if (std::find(meter->skipped_.begin(), meter->skipped_.end(), name) ==
          meter->skipped_.end()) {
        meter->skipped_.push_back(name);
      }
      continue;
    }
    meter->zones_.push_back(std::move(zone));
  }
  if (std::none_of(meter->zones_.begin(), meter->zones_.end(), IsPackage)) {
    std::string seen;
    for (const std::string& n : meter->skipped_) seen += (seen.empty() ? "" : ", ") + n;
    return Status::Error("RAPL: no package zone (intel-rapl:N named package-N) under " + root +
                         (seen.empty() ? "" : " (found only: " + seen + ")"));
  }

  for (RaplZone& zone : meter->zones_) {
    Status s = meter->ReadCounter(zone, "max_energy_range_uj", &zone.max_range_uj);
    if (!s.ok()) return s;
    if (zone.max_range_uj == 0) {
      return Status::Error("RAPL: " + root + "/" + zone.dir +
                           "/max_energy_range_uj is 0: wraparound cannot be handled");
    }
    s = meter->ReadCounter(zone, "energy_uj", &zone.last_uj);
    if (!s.ok()) return s;
    if (zone.last_uj > zone.max_range_uj) return AboveRange(root, zone, zone.last_uj);
  }
  return meter;
}

std::string RaplMeter::description() const {
  std::string out = "RAPL (" + root_ + "): ";
  for (size_t i = 0; i < zones_.size(); ++i) out += (i ? " + " : "") + zones_[i].label;
  if (!skipped_.empty()) {
    out += "; ";
    for (size_t i = 0; i < skipped_.size(); ++i) out += (i ? ", " : "") + skipped_[i];
    out += " skipped (they overlap the packages)";
  }
  return out;
}

Result<double> RaplMeter::EnergyJ() {
  std::vector<uint64_t> now(zones_.size());
  for (size_t i = 0; i < zones_.size(); ++i) {
    Status s = ReadCounter(zones_[i], "energy_uj", &now[i]);
    if (!s.ok()) return s;
    if (now[i] > zones_[i].max_range_uj) return AboveRange(root_, zones_[i], now[i]);
  }
  uint64_t total_uj = 0;
  for (size_t i = 0; i < zones_.size(); ++i) {
    RaplZone& z = zones_[i];
    z.total_uj += RaplDeltaUj(z.last_uj, now[i], z.max_range_uj);
    z.last_uj = now[i];
    total_uj += z.total_uj;
  }
  return static_cast<double>(total_uj) * 1e-6;
}

}  // namespace joulecast
