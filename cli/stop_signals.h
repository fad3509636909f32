// Ctrl-C for long commands (calibrate, search): the first SIGINT/SIGTERM asks for a stop after
// the current unit of work; with a cancellable unit in progress the second cancels it now;
// otherwise a further signal ends the process at once with the signal's default action.
#pragma once

#include <atomic>

namespace joulecast::cli {

/// Installs the handlers for the lifetime of the object and restores the old ones after. One
/// at a time per process.
class StopOnSignals {
 public:
  /// `message` (a string literal: it must outlive the object) is written to standard error on
  /// the first signal.
  explicit StopOnSignals(const char* message);
  ~StopOnSignals();
  StopOnSignals(const StopOnSignals&) = delete;
  StopOnSignals& operator=(const StopOnSignals&) = delete;

  /// Raised by the first signal.
  static const std::atomic<bool>* stop();
  /// Raised by the second signal while cancellable() is set.
  static const std::atomic<bool>* cancel();
  /// Whether the unit in progress can be cancelled (an external trainer's trial).
  static void set_cancellable(bool cancellable);
};

}  // namespace joulecast::cli
