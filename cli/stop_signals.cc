#include "cli/stop_signals.h"

#include <signal.h>
#include <unistd.h>

#include <cstring>

namespace joulecast::cli {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_cancel{false};
std::atomic<bool> g_cancellable{false};
static_assert(std::atomic<bool>::is_always_lock_free);
const char* g_message = "";
size_t g_message_size = 0;
struct sigaction g_old_int {}, g_old_term {};

extern "C" void OnStopSignal(int sig) {
  if (g_stop.load()) {
    if (g_cancellable.load() && !g_cancel.load()) {
      g_cancel.store(true);
      return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  g_stop.store(true);
  ssize_t ignored = write(STDERR_FILENO, g_message, g_message_size);
  (void)ignored;
}

}  // namespace

StopOnSignals::StopOnSignals(const char* message) {
  g_message = message;
  g_message_size = std::strlen(message);
  g_stop.store(false);
  g_cancel.store(false);
  g_cancellable.store(false);
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

StopOnSignals::~StopOnSignals() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

const std::atomic<bool>* StopOnSignals::stop() { return &g_stop; }
const std::atomic<bool>* StopOnSignals::cancel() { return &g_cancel; }
void StopOnSignals::set_cancellable(bool cancellable) { g_cancellable.store(cancellable); }

}  // namespace joulecast::cli
