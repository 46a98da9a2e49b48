#include "picklewall/batch_scan.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <numeric>
#include <thread>

#include "cache/verdict_cache.hpp"
#include "io/big_array_allocator.hpp"
#include "io/file_stamp.hpp"
#include "io/sha256.hpp"
#include "isolation/supervisor.hpp"
#include "scan/file_walker.hpp"

namespace picklewall {
namespace {

// Threads of this process (Isolation::in_process): the scan's own code, with no process boundary.
class ThreadBatch {
 public:
  ThreadBatch(const Scanner& scanner, std::vector<detail::WalkedPath> files, detail::VerdictCache* cache,
              const BatchOptions& options, std::atomic<bool>& stop)
      : scanner_(scanner), files_(std::move(files)), cache_(cache), options_(options), cancel_(stop) {
    result_.reports.resize(files_.size());
    result_.totals.files_total = files_.size();
    for (const auto& file : files_) result_.totals.bytes_total += file.size;
    // Biggest files first, so a multi-GB checkpoint does not start last and leave the other workers idle.
    order_.resize(files_.size());
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    std::stable_sort(order_.begin(), order_.end(),
                     [&](std::size_t a, std::size_t b) { return files_[a].size > files_[b].size; });
  }

  Result<BatchResult> run(unsigned jobs) {
    {
      std::vector<std::jthread> workers;
      for (unsigned i = 0; i < std::max(1u, jobs); ++i) workers.emplace_back([this] { work(); });
      // This thread watches the caller's stop flag while the workers scan; a stop reaches every stage of every
      // scan through the budget's cancel flag (ScanOptions::cancel).
      std::unique_lock lock(progress_mutex_);
      while (finished_ < workers.size()) {
        all_done_.wait_for(lock, std::chrono::milliseconds(100));
        if (options_.should_stop && !cancel_.load() && options_.should_stop()) cancel_.store(true);
      }
    }
    if (cancel_.load()) return Error{ErrorCode::cancelled, "the scan was stopped"};
    return std::move(result_);
  }

 private:
  void work() {
    const detail::BigArrayReuse reuse;  // this worker's next file reuses the pages of the previous one
    while (!cancel_.load()) {
      const std::size_t next = next_.fetch_add(1);
      if (next >= order_.size()) break;
      const std::size_t index = order_[next];
      bool hit = false;
      FileReport report = scan_one(files_[index], hit);
      std::lock_guard lock(progress_mutex_);
      result_.totals.files_done += 1;
      result_.totals.bytes_done += files_[index].size;
      result_.totals.cache_hits += hit ? 1 : 0;
      result_.reports[index] = std::move(report);
      if (options_.on_progress) options_.on_progress(result_.totals);
    }
    std::lock_guard lock(progress_mutex_);
    ++finished_;
    all_done_.notify_all();
  }

  FileReport scan_one(const detail::WalkedPath& file, bool& hit) {
    if (!file.error.empty())
      return unreadable_report(file.path, file.path + ": " + file.error, file.limit ? "limit.max_files" : "io.error");
    try {
      if (cache_ == nullptr) return scanner_.scan_file(file.path);
      return scan_through_cache(file.path, hit);
    } catch (const std::bad_alloc&) {
      // The limits keep a file's working memory bounded; this is the machine itself running out.
      return unreadable_report(file.path, file.path + ": out of memory while scanning; retry with fewer jobs (-j)");
    }
  }

  FileReport scan_through_cache(const std::string& path, bool& hit) {
    const auto before = detail::stamp_of(path);
    if (!before) return scanner_.scan_file(path);  // reports why it cannot be read
    std::optional<std::string> sha256 = cache_->known_hash(path, *before);
    if (sha256) {
      if (auto cached = cache_->find(*sha256)) {
        hit = true;
        cached->path = path;
        return std::move(*cached);
      }
    } else {
      sha256 = detail::sha256_file_hex(path);
      if (sha256->empty()) return scanner_.scan_file(path);
      if (auto cached = cache_->find(*sha256); cached && detail::stamp_of(path) == before) {
        hit = true;
        cached->path = path;
        cache_->remember_stamp(path, *before, *sha256);  // so the next run does not hash it
        return std::move(*cached);
      }
    }
    FileReport report = scanner_.scan_file_hashed(path, *sha256);
    // A file rewritten while it was hashed and scanned may not be what the hash says: report it, store nothing.
    if (detail::worth_caching(report) && detail::stamp_of(path) == before) cache_->store(path, *before, report);
    return report;
  }

  const Scanner& scanner_;
  std::vector<detail::WalkedPath> files_;
  detail::VerdictCache* cache_;
  const BatchOptions& options_;
  std::vector<std::size_t> order_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool>& cancel_;
  std::mutex progress_mutex_;
  std::condition_variable all_done_;
  std::size_t finished_ = 0;
  BatchResult result_;
};

Result<BatchResult> scan_in_this_process(const Scanner& scanner, std::vector<detail::WalkedPath> files,
                                         detail::VerdictCache* cache, const BatchOptions& options) {
  unsigned jobs = options.jobs != 0 ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
  jobs = static_cast<unsigned>(std::min<std::size_t>(jobs, std::max<std::size_t>(files.size(), 1)));
  // Every scan of this batch reads the batch's stop flag, wherever it is (ScanOptions::cancel).
  std::atomic<bool> stop{false};
  ScanOptions cancellable = scanner.options();
  cancellable.cancel = &stop;
  auto batch_scanner = Scanner::create(cancellable);
  if (!batch_scanner) return batch_scanner.error();
  return ThreadBatch(batch_scanner.value(), std::move(files), cache, options, stop).run(jobs);
}

}  // namespace

Result<BatchResult> scan_batch(const Scanner& scanner, const std::vector<std::string>& paths,
                               const BatchOptions& options) {
  std::unique_ptr<detail::VerdictCache> cache;
  if (!options.cache_path.empty()) {
    if (!scanner.options().hash_files)
      return Error{ErrorCode::invalid_argument, "the verdict cache is keyed by content hash, so it needs hashing on"};
    auto opened = detail::VerdictCache::open(options.cache_path, detail::verdict_context(scanner.options()));
    if (!opened) return opened.error();
    cache = std::move(opened.value());
  }
  Result<BatchResult> result = Error{ErrorCode::io, "no scan"};
  if (options.isolation == Isolation::worker_processes) {
    std::shared_ptr<WorkerPool> pool = options.workers;
    if (!pool) {
      auto created = WorkerPool::create(scanner.options(), options.worker_settings);
      if (!created) return created.error();
      pool = created.value();
    }
    result = detail::scan_batch_in_workers(*pool, detail::walk_paths(paths, scanner.options().limits.max_files),
                                           cache.get(), options);
  } else {
    if (options.before_scanning) {
      if (Status ready = options.before_scanning(); !ready) return ready.error();
    }
    result = scan_in_this_process(scanner, detail::walk_paths(paths, scanner.options().limits.max_files), cache.get(),
                                  options);
  }
  if (result && cache) {
    if (Status flushed = cache->flush(); !flushed) result.value().cache_error = flushed.error().message;
  }
  return result;
}

}  // namespace picklewall
