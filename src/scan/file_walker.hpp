// Expands command-line paths into the regular files to scan, in a deterministic order: arguments as given,
// directory entries sorted by name, walked with an explicit stack. Symlinked directories are followed once.
// Nothing met is dropped: every path that is not a regular file to scan (an unreadable directory, a FIFO, a
// dangling or looping link, the walk's file limit) comes back with the reason, for the report to show as an error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace picklewall::detail {

struct WalkedPath {
  std::string path;   // the given path, or the given directory joined with the relative path
  std::string error;  // non-empty: the path could not be visited (reported as verdict error)
  bool limit = false;  // the error is the walk's max_files limit
  std::uint64_t size = 0;  // bytes, when the file could be stat'ed (for progress and scheduling)
};

std::vector<WalkedPath> walk_paths(const std::vector<std::string>& paths, std::uint64_t max_files);

}  // namespace picklewall::detail
