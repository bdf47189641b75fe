// Rank-prefixed logging: "[r1 2026-11-26 10:38:12.345 WARN] message".
// info/debug print on rank 0 only (every rank does the same work); warn/error print on any rank.
#pragma once

#include <string>
#include <string_view>

#include "grlm/core/error.hpp"

namespace grlm::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

Level parse_level(std::string_view name);  // "debug" | "info" | "warn" | "error"
void init(int rank, Level threshold);
int rank();
bool enabled(Level level);
// The time now in UTC, ISO 8601 to the second: "2026-11-26T10:38:12Z" (records, lock holders);
// or in another strftime format (e.g. "%Y%m%dT%H%M%SZ" for file names).
std::string utc_now(const char* format = "%Y-%m-%dT%H:%M:%SZ");
// Writes one line to stderr atomically (one write call), whatever the rank.
void write(Level level, std::string_view message);

template <class... Parts>
void debug(Parts&&... parts) {
  if (rank() == 0 && enabled(Level::Debug)) write(Level::Debug, cat(std::forward<Parts>(parts)...));
}
template <class... Parts>
void info(Parts&&... parts) {
  if (rank() == 0 && enabled(Level::Info)) write(Level::Info, cat(std::forward<Parts>(parts)...));
}
// Like info, but from every rank (per-rank facts such as the device a rank uses).
template <class... Parts>
void info_all(Parts&&... parts) {
  if (enabled(Level::Info)) write(Level::Info, cat(std::forward<Parts>(parts)...));
}
template <class... Parts>
void warn(Parts&&... parts) {
  if (enabled(Level::Warn)) write(Level::Warn, cat(std::forward<Parts>(parts)...));
}
template <class... Parts>
void error(Parts&&... parts) {
  write(Level::Error, cat(std::forward<Parts>(parts)...));
}

}  // namespace grlm::log
