#include "cli/torch_backend.h"

#include <dlfcn.h>

#include <cstring>
#include <filesystem>

namespace joulecast::cli {

namespace {

Result<const TorchBackend*> Load() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return Status::Error("cannot read /proc/self/exe: " + ec.message());
  const std::string path = (exe.parent_path() / kTorchModuleFile).string();
  if (!std::filesystem::exists(path, ec)) {
    return Status::Error("the libtorch back end " + path +
                         " is missing: install libtorch-dev and build joulecast with "
                         "-DJOULECAST_WITH_TORCH=ON, which puts it beside the executable");
  }
  // RTLD_LOCAL: libtorch's symbols stay out of the executable's namespace.
  void* module = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!module) {
    const char* why = dlerror();
    return Status::Error("cannot load the libtorch back end " + path + ": " +
                         (why ? why : "unknown error") +
                         " (install the libtorch it was built with, or rebuild joulecast)");
  }
  using Entry = const TorchBackend* (*)(int);
  auto entry = reinterpret_cast<Entry>(dlsym(module, "joulecast_torch_backend"));
  const TorchBackend* backend = entry ? entry(kTorchBackendVersion) : nullptr;
  if (!backend || std::strcmp(backend->joulecast_version, JOULECAST_VERSION) != 0 ||
      backend->layout != TorchBackendLayout()) {
    // The module stays loaded: unloading libtorch is not safe.
    return Status::Error(path +
                         " is from another build of joulecast: rebuild joulecast, or "
                         "install the executable and its libtorch back end together");
  }
  return backend;
}

}  // namespace

Result<const TorchBackend*> LoadTorchBackend() {
  static const Result<const TorchBackend*> loaded = Load();
  return loaded;
}

}  // namespace joulecast::cli
