// The one-line progress display of `picklewall scan` on a terminal: files, bytes, rate, ETA. It writes to
// stderr and only when stderr is a terminal, so reports on stdout and logs of CI jobs never contain it.
#pragma once

#include <chrono>
#include <cstdio>

#include "picklewall/batch_scan.hpp"

namespace picklewall::cli {

class ProgressDisplay {
 public:
  // `enabled` false: every call does nothing.
  explicit ProgressDisplay(bool enabled);
  ProgressDisplay(const ProgressDisplay&) = delete;
  ProgressDisplay& operator=(const ProgressDisplay&) = delete;
  ~ProgressDisplay() { finish(); }

  void update(const BatchProgress& progress);
  // Replaces the line with what the scan took (files, bytes, time, rate), ending it.
  void finish();

 private:
  bool enabled_;
  bool drawn_ = false;
  BatchProgress last_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace picklewall::cli
