// The joulecast subcommands. Each takes its arguments (after the subcommand name) and returns
// the process exit code: 0 success, 1 a gate or check failed, 2 bad usage or bad input.
#pragma once

#include <string>
#include <vector>

namespace joulecast::cli {

/// `joulecast analyze MODEL [options]`: per-layer costs of one training step.
int Analyze(const std::vector<std::string>& args);

/// `joulecast gate MODEL --budget AMOUNT|--baseline REPORT --max-increase P%`: exit 1 when the
/// predicted training energy is over budget or grew too much over the baseline.
int Gate(const std::vector<std::string>& args);

/// `joulecast measure MODEL [options]`: trains MODEL and measures time and energy per step.
/// Loads the libtorch back end (cli/torch_backend.h); without it, says so and returns 2.
int Measure(const std::vector<std::string>& args);

/// `joulecast calibrate -o PROFILE [options]`: measures this machine and fits a profile.
/// Loads the libtorch back end; without it, says so and returns 2.
int Calibrate(const std::vector<std::string>& args);

/// `joulecast search SPACE.json [options]` or `joulecast search --report A.db ...`: energy-aware
/// search over networks and hyperparameters, kept in a study database. Only the built-in
/// trainer loads the libtorch back end; --trainer CMD and --report never do.
int Search(const std::vector<std::string>& args);

/// `joulecast study copy FROM TO [--study-name NAME]`: copies a search's study between SQLite
/// files and PostgreSQL databases, all or nothing, never over a study that holds trials.
int Study(const std::vector<std::string>& args);

/// `joulecast track [options] -- CMD [ARGS...]`: runs CMD, measures its energy, compares it with
/// a prediction (--predict MODEL) and keeps it in the history; returns CMD's exit code.
int Track(const std::vector<std::string>& args);

/// `joulecast history`: the tracked runs and each profile's error on them.
int History(const std::vector<std::string>& args);

/// The shipped default profile: $JOULECAST_DATA_DIR/profiles/default.json, else the source
/// tree's data/ folder this binary was built from.
std::string DefaultProfilePath();

/// Writes `text` to `path` atomically (temporary file, then rename), or to stdout for "" or
/// "-"; a device or pipe that exists (/dev/null) is written in place. Returns an error line,
/// empty on success.
std::string WriteOutput(const std::string& path, const std::string& text);

/// Fails before any long work if `path` cannot be replaced at the end: WriteOutput's temporary
/// file must be creatable beside it. Returns an error line ending in `not_done` ("nothing was
/// run"), empty when it can (and for "" or "-", standard output).
std::string CheckWritable(const std::string& path, const std::string& not_done);

}  // namespace joulecast::cli
