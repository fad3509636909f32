// joulecast: predicts how much energy a CNN takes to train, before training it.
// A thin front over the libraries: it picks the subcommand and reports errors.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {

struct Command {
  const char* name;
  const char* help;
  int (*run)(const std::vector<std::string>&);
};

const Command kCommands[] = {
    {"analyze", "per-layer shapes and training-step costs of a .onnx or .json model",
     joulecast::cli::Analyze},
    {"gate", "fail CI when a model's predicted training energy is over a budget or a baseline",
     joulecast::cli::Gate},
    {"search", "search networks and hyperparameters for accuracy per joule (a study database)",
     joulecast::cli::Search},
    {"study", "copy a search's study between SQLite files and PostgreSQL databases",
     joulecast::cli::Study},
    {"measure", "train a model and measure its time and energy per step", joulecast::cli::Measure},
    {"calibrate", "measure this machine and fit a hardware profile", joulecast::cli::Calibrate},
    {"track", "run a training command, measure its energy, compare with the prediction",
     joulecast::cli::Track},
    {"history", "the runs joulecast track measured, and the profile's error on them",
     joulecast::cli::History},
};

// glibc gives freed heap memory back to the kernel as soon as 128 KB are free at the top of the
// heap, and every training step then page-faults its tensors in again. On the 2-core development
// VM that made a small network's step up to 15x slower (13 ms instead of 0.9 ms), noisy, and
// dependent on what the process had run before. Keeping freed memory for reuse measures, in
// `measure` and `calibrate` alike, the steady state a long training run reaches.
void KeepFreedMemory() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit systems
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

void Usage(FILE* out) {
  std::fprintf(out, "usage: joulecast COMMAND [options]  (joulecast COMMAND --help for more)\n\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    Usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("joulecast %s\n", JOULECAST_VERSION);
    return 0;
  }
  KeepFreedMemory();
  for (const Command& c : kCommands) {
    if (!std::strcmp(argv[1], c.name)) {
      int exit_code = 2;
      try {
        exit_code = c.run(std::vector<std::string>(argv + 2, argv + argc));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "joulecast %s: internal error: %s\n", c.name, e.what());
      }
      // The command has closed its files and databases. Ending here skips the static
      // destructors, which only free what the libraries keep for the process's lifetime:
      // ONNX's operator schemas alone take a tenth of an analysis's process time to free.
      std::fflush(nullptr);
      std::_Exit(exit_code);
    }
  }
  std::fprintf(stderr, "joulecast: unknown command '%s'\n", argv[1]);
  Usage(stderr);
  return 2;
}
