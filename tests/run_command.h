// Runs a command line in a shell for end-to-end tests of the joulecast executable, capturing
// its exit code, standard output and standard error.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace joulecast::testing {

struct CommandOutput {
  int exit_code = -1;
  std::string out, err;
};

/// Runs `command` (a trusted test string) with /bin/sh; output goes through temporary files.
inline CommandOutput RunCommand(const std::string& command) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("joulecast_cmd_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path out = dir / "out", err = dir / "err";
  int status = std::system((command + " >" + out.string() + " 2>" + err.string()).c_str());
  auto slurp = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  CommandOutput r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove_all(dir);
  return r;
}

}  // namespace joulecast::testing
