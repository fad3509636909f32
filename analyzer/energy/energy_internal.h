// Shared between profile.cc and time_model.cc; not part of the library's interface.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace joulecast {

/// The value of the first of `keys` that `map` holds, or null when it holds none; `used`
/// (optional) gets that key. How a layer's model class falls back to its kind's model.
template <class T>
const T* FirstFound(const std::map<std::string, T>& map, const std::vector<std::string>& keys,
                    std::string* used) {
  for (const std::string& key : keys) {
    auto it = map.find(key);
    if (it == map.end()) continue;
    if (used) *used = key;
    return &it->second;
  }
  return nullptr;
}

}  // namespace joulecast
