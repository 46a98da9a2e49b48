// The supervisor's side of worker isolation: the pool behind picklewall::WorkerPool, the batch loop that keeps
// N workers busy, and single requests (one scan, one inspect). The supervisor never reads an input's bytes:
// it opens files read-only and hands the descriptors over.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "convert/output_staging.hpp"
#include "isolation/worker_process.hpp"
#include "picklewall/convert.hpp"
#include "picklewall/batch_scan.hpp"
#include "picklewall/isolation.hpp"
#include "scan/file_walker.hpp"

namespace picklewall {

struct WorkerPool::Impl {
  ScanOptions options;
  WorkerSettings settings;
  nlohmann::json configure;  // what every new worker is told
  std::mutex mutex;
  std::vector<std::unique_ptr<detail::WorkerProcess>> idle;
  std::atomic<bool> started_one{false};  // a worker of this program has started at least once

  // An idle worker, or a new one.
  Result<std::unique_ptr<detail::WorkerProcess>> checkout();
  // Back to the idle list (a worker whose state is unknown, one that timed out say, is not given back).
  void checkin(std::unique_ptr<detail::WorkerProcess> worker);
};

namespace detail {

class VerdictCache;

// What stops a supervisor early: polled at least every 100 ms while it waits for workers.
using StopRequested = std::function<bool()>;
using Clock = std::chrono::steady_clock;

Result<BatchResult> scan_batch_in_workers(WorkerPool& pool, std::vector<WalkedPath> files, VerdictCache* cache,
                                          const BatchOptions& options);

// One request to a worker of `pool` (with `fd`, if >= 0), and its answer; an error says how the worker ended
// if it did, and a stop is ErrorCode::cancelled.
Result<Message> request_in_worker(WorkerPool& pool, const nlohmann::json& body, int fd, Clock::duration limit,
                                  const StopRequested& stop);

// One file in one worker (already open: a descriptor of the caller's, e.g. a memfd of bytes it was handed).
// A worker's death is the report's verdict, as in a batch; only cancellation and a worker that cannot start
// are errors.
Result<FileReport> scan_descriptor_in_worker(WorkerPool& pool, int fd, const std::string& name,
                                             const StopRequested& stop);

// inspect's rendered text for one file, from a worker.
Result<std::string> inspect_in_worker(WorkerPool& pool, int fd, const std::string& name, bool disassembly,
                                      std::size_t max_lines, bool color, const StopRequested& stop);

// A conversion in a worker: every file it asks for is created by `staging` (which the caller commits).
Result<ConvertResult> convert_in_worker(WorkerPool& pool, const std::string& input, bool folder,
                                        const std::string& output_name, OutputSink& staging,
                                        const ConvertOptions& options, std::uint64_t input_bytes);

// The report of a file whose worker died on it: not safe, with the reason.
FileReport worker_died_report(const std::string& path, std::uint64_t size, const WorkerEnding& ending,
                              double seconds_allowed);

// The hard limit for one request on a file of `size` bytes: the engine's own budget (which normally ends the
// work first, with a limit finding), plus time to hash, plus a margin.
std::chrono::steady_clock::duration hard_time_limit(const Limits& limits, std::uint64_t size, bool hashing);

}  // namespace detail
}  // namespace picklewall
