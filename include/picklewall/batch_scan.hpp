// Scanning many files at once: sandboxed worker processes (or, opted into, threads of this process), an
// optional verdict cache, and progress reports. The reports come in walk order, whatever the number of workers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "picklewall/isolation.hpp"
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
  unsigned jobs = 0;  // files scanned at once (workers); 0: one per core
  Isolation isolation = Isolation::worker_processes;
  // Worker processes to use (kept between batches by a caller that scans often, such as the Python package);
  // null: a pool is made for this batch from the scanner's options and `worker_settings`.
  std::shared_ptr<WorkerPool> workers;
  WorkerSettings worker_settings;
  // Polled at least every 100 ms while the batch runs; true stops it (Ctrl-C): scan_batch then fails with
  // ErrorCode::cancelled and its workers are stopped.
  std::function<bool()> should_stop;
  // SQLite file of earlier verdicts, keyed by content hash and by everything else a verdict depends on (policy
  // content, limits, --strict, engine version). Empty: no cache. Needs ScanOptions::hash_files.
  std::string cache_path;
  // Called after each file, from whichever thread finished it, never from two threads at once.
  std::function<void(const BatchProgress&)> on_progress;
  // In-process batches only: called once the cache is open and before the first input is touched (where a
  // caller can enter a sandbox of its own). An error stops the batch.
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
// opened or is not a picklewall cache, a cache without hashing, workers that cannot be started, a stop); an
// unreadable file is a report with verdict error, and a file whose worker died is a report that says why.
Result<BatchResult> scan_batch(const Scanner& scanner, const std::vector<std::string>& paths,
                               const BatchOptions& options);

}  // namespace picklewall
