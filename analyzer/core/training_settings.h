// How a network is trained: what an architecture file's optional "training" object says, and
// the settings an analysis resolves from the command line, that file and the defaults (a flag
// wins over the file, the file over the default), each with where it came from.
// Standard library only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace joulecast {

/// Where a resolved training setting's value came from.
enum class SettingSource {
  default_value,  ///< Neither a flag nor the file set it.
  file,           ///< The model file: a JSON "training" object, or an ONNX model's fixed batch.
  flag,           ///< The command line.
};

/// "default", "file" or "flag", as reports print it.
inline const char* SettingSourceName(SettingSource source) {
  switch (source) {
    case SettingSource::default_value:
      return "default";
    case SettingSource::file:
      return "file";
    case SettingSource::flag:
      return "flag";
  }
  return "default";
}

/// A JSON architecture's "training" object (docs/json-architecture.md). Every field is
/// optional; an ONNX model leaves them all unset.
struct TrainingSettings {
  std::optional<int64_t> batch;          ///< Samples per step, >= 1.
  std::optional<int64_t> epochs;         ///< Passes over the training samples, >= 1.
  std::optional<int64_t> samples;        ///< Training samples per epoch, >= 1.
  std::optional<std::string> optimizer;  ///< "adam" or "sgd".
  std::optional<std::string> precision;  ///< "fp32", "bf16" or "fp16".
};

/// One resolved setting and where its value came from.
template <class T>
struct Setting {
  T value{};                                            ///< The value used.
  SettingSource source = SettingSource::default_value;  ///< Where it came from.
};

/// The training settings an analysis used.
struct ResolvedTraining {
  Setting<int64_t> batch;          ///< The batch the shapes were evaluated at.
  Setting<int64_t> epochs;         ///< Epochs in the whole run.
  Setting<int64_t> samples;        ///< Training samples per epoch.
  Setting<std::string> optimizer;  ///< Reported and used by training; the prediction's
                                   ///< optimizer step is the profile's.
  Setting<std::string> precision;
};

/// `flag` if set, else `file` if set, else `fallback`, with its source.
template <class T>
Setting<T> ResolveSetting(const std::optional<T>& flag, const std::optional<T>& file, T fallback) {
  if (flag) return {*flag, SettingSource::flag};
  if (file) return {*file, SettingSource::file};
  return {std::move(fallback), SettingSource::default_value};
}

}  // namespace joulecast
