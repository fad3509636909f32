// The current time as people and databases read it.
#pragma once

#include <string>

namespace joulecast {

/// The current UTC time as ISO 8601, e.g. "2025-11-23T06:30:00Z".
std::string UtcNow();

}  // namespace joulecast
