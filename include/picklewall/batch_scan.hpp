// Scanning many files at once: a pool of worker threads, an optional verdict cache, and progress reports.
// The reports are the ones Scanner::scan_paths gives, in the same order, whatever the number of workers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

namespace picklewall {

struct BatchProgress {
  std::uint64_t files_done = 0;
  std::uint64_t files_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
  std::uint64_t cache_hits = 0;
};

struct BatchOptions {
  unsigned jobs = 0;  // worker threads; 0: one per core
  // SQLite file of earlier verdicts, keyed by content hash and by everything else a verdict depends on (policy
  // content, limits, --strict, engine version). Empty: no cache. Needs ScanOptions::hash_files.
  std::string cache_path;
  // Called after each file, from whichever thread finished it, never from two threads at once.
  std::function<void(const BatchProgress&)> on_progress;
  // Called once the cache is open and before the first input is touched: where the command enters its sandbox.
  // An error stops the batch.
  std::function<Status()> before_scanning;
};

struct BatchResult {
  std::vector<FileReport> reports;  // arguments in order, directory entries sorted by name
  BatchProgress totals;
  // Non-empty: new verdicts could not be written to the cache (locked too long, disk full). The reports are
  // complete all the same; only the next run is slower.
  std::string cache_error;
};

// Walks `paths` and scans every file. Fails only for what stops the whole batch (a cache file that cannot be
// opened or is not a picklewall cache, a cache without hashing); unreadable files are reports with verdict error.
Result<BatchResult> scan_batch(const Scanner& scanner, const std::vector<std::string>& paths,
                               const BatchOptions& options);

}  // namespace picklewall
