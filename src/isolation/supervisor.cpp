#include "isolation/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <numeric>
#include <thread>

#include "cache/verdict_cache.hpp"
#include "io/file_stamp.hpp"
#include "isolation/worker_protocol.hpp"
#include "report/report_codec.hpp"

namespace picklewall {

using detail::Channel;
using detail::Message;
using detail::UniqueFd;
using detail::WorkerEnding;
using detail::WorkerProcess;
using Clock = std::chrono::steady_clock;

namespace {

// How long a new worker may take to start and read its policy, and how many times one is tried.
constexpr auto worker_start_time = std::chrono::seconds(30);
constexpr int worker_start_attempts = 3;
// The longest a supervisor waits without looking at its stop flag.
constexpr auto stop_poll_interval = std::chrono::milliseconds(100);

// The kernel refuses a worker private memory past this: both of the engine's memory budgets (the machine's
// and the decompression budget of a file) twice over, and room for the pickle machine's reserved arrays.
std::uint64_t worker_memory_limit(const Limits& limits) {
  const std::uint64_t budgets = limits.max_memory_per_file + limits.max_total_decompressed_bytes;
  return std::max<std::uint64_t>(2 * budgets + (2ull << 30), 4ull << 30);
}

nlohmann::json configure_message(const ScanOptions& options, const WorkerSettings& settings) {
  nlohmann::json policies = nlohmann::json::array();
  for (const PolicySource& source : options.policy->sources())
    policies.push_back({nlohmann::json::binary({source.name.begin(), source.name.end()}),
                        nlohmann::json::binary({source.text.begin(), source.text.end()})});
  return {{"op", "configure"},
          {"policies", std::move(policies)},
          {"limits", detail::limits_to_json(options.limits)},
          {"strict", options.strict},
          {"hash", options.hash_files},
          {"sandbox", settings.sandbox},
          {"memory_limit", worker_memory_limit(options.limits)}};
}

nlohmann::json binary_text(const std::string& text) { return nlohmann::json::binary({text.begin(), text.end()}); }

// Opens an input for a worker: read-only, never blocking (a FIFO swapped in for a file must not stall the
// supervisor), and only a regular file.
Result<UniqueFd> open_input(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) return Error{errno == ENOENT ? ErrorCode::not_found : ErrorCode::io,
                        path + ": cannot open: " + std::strerror(errno)};
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return Error{ErrorCode::io, path + ": cannot stat: " + std::strerror(errno)};
  if (!S_ISREG(info.st_mode)) return Error{ErrorCode::io, path + ": not a regular file (it changed since the walk)"};
  return fd;
}

}  // namespace

// ---- the pool ---------------------------------------------------------------------------------------------

WorkerPool::WorkerPool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WorkerPool::~WorkerPool() = default;
const ScanOptions& WorkerPool::options() const { return impl_->options; }

Result<FileReport> WorkerPool::scan(int fd, const std::string& name, const StopRequested& stop) {
  return detail::scan_descriptor_in_worker(*this, fd, name, stop);
}

Result<std::string> WorkerPool::inspect(int fd, const std::string& name, bool disassembly, std::size_t max_lines,
                                        bool color, const StopRequested& stop) {
  return detail::inspect_in_worker(*this, fd, name, disassembly, max_lines, color, stop);
}

Result<std::shared_ptr<WorkerPool>> WorkerPool::create(const ScanOptions& options, WorkerSettings settings) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!impl->options.policy) {
    auto policy = Policy::builtin();
    if (!policy) return policy.error();
    impl->options.policy = policy.value();
  }
  if (settings.program.empty()) settings.program = detail::own_executable();
  if (settings.program.empty() || ::access(settings.program.c_str(), X_OK) != 0)
    return Error{ErrorCode::not_found, "no worker program to run (" +
                                           (settings.program.empty() ? std::string("/proc/self/exe unreadable")
                                                                     : settings.program) + ")"};
  impl->settings = settings;
  impl->configure = configure_message(impl->options, settings);
  return std::shared_ptr<WorkerPool>(new WorkerPool(std::move(impl)));
}

Result<std::unique_ptr<WorkerProcess>> WorkerPool::Impl::checkout() {
  {
    std::lock_guard lock(mutex);
    while (!idle.empty()) {
      std::unique_ptr<WorkerProcess> worker = std::move(idle.back());
      idle.pop_back();
      if (worker->owned_by_this_process()) return worker;
      worker->disown();  // this is a forked copy of the caller: the parent's workers are not ours to use
    }
  }
  // A worker can die while it starts (something killed it, the machine is short of memory): a few attempts
  // before the pool gives up, which stops the batch (a program that never starts is an install error).
  Error last{ErrorCode::io, "no worker started"};
  for (int attempt = 0; attempt < worker_start_attempts; ++attempt) {
    auto worker = WorkerProcess::start(settings.program, configure, Clock::now() + worker_start_time);
    if (worker) {
      started_one.store(true);
      return worker;
    }
    last = worker.error();
    if (last.code != ErrorCode::io) break;  // refused its configuration: no second try would differ
  }
  return last;
}

void WorkerPool::Impl::checkin(std::unique_ptr<WorkerProcess> worker) {
  if (!worker) return;
  std::lock_guard lock(mutex);
  idle.push_back(std::move(worker));
}

namespace detail {

// ---- reports of what went wrong ----------------------------------------------------------------------------

std::chrono::steady_clock::duration hard_time_limit(const Limits& limits, std::uint64_t size, bool hashing) {
  // Hashing reads every byte: allow 50 MB/s, a slow disk. The engine's own budget (checked every few thousand
  // steps) normally ends the work well before this.
  const double hash_seconds = hashing ? static_cast<double>(size) / 50e6 : 0.0;
  const double seconds = limits.max_seconds_per_file * 1.25 + 5.0 + hash_seconds;
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

FileReport worker_died_report(const std::string& path, std::uint64_t size, const WorkerEnding& ending,
                              double seconds_allowed) {
  FileReport report;
  report.path = path;
  report.size = size;
  report.format = "not-analysed";
  Finding finding;
  switch (ending.kind) {
    case WorkerEnding::Kind::sandbox:
      finding = {"scan.sandbox-violation", Severity::malicious,
                 "while this file was read, " + ending.description +
                     ". Nothing legitimate makes a parser try that: the file is treated as an attack on the scanner "
                     "and was not analysed",
                 {}, std::nullopt, {}};
      break;
    case WorkerEnding::Kind::overtime:
      finding = {"limit.max_seconds_per_file", Severity::suspicious,
                 "the scan did not end within its time budget (" + std::to_string(static_cast<long>(seconds_allowed)) +
                     " s and a margin); its worker was stopped and the file was not analysed",
                 {}, std::nullopt, {}};
      break;
    case WorkerEnding::Kind::memory:
      finding = {"limit.max_memory_per_file", Severity::suspicious,
                 "the scanning worker ran out of memory on this file (" + ending.description +
                     "); the file was not analysed",
                 {}, std::nullopt, {}};
      break;
    case WorkerEnding::Kind::crashed:
      finding = {"scan.worker-crashed", Severity::suspicious,
                 "the scanning worker stopped on this file: " + ending.description +
                     ". The file was not analysed; a file that crashes a parser is broken or built to attack it "
                     "(please report it)",
                 {}, std::nullopt, {}};
      break;
  }
  report.findings.push_back(std::move(finding));
  report.verdict = verdict_of(report.findings);
  return report;
}

namespace {

// ---- one request at a time ----------------------------------------------------------------------------------

// Sends `body` (with `fd`) to a worker and waits for its answer, looking at `stop` every 100 ms. On a death
// the worker is ended and `ending` says how; on `stop` the worker is ended and the error is `cancelled`.
Result<Message> exchange(std::unique_ptr<WorkerProcess>& worker, const nlohmann::json& body, int fd,
                         Clock::duration limit, const StopRequested& stop, WorkerEnding& ending, bool& died) {
  died = false;
  const auto deadline = Clock::now() + limit;
  if (!worker->channel().send(body, fd)) {
    ending = worker->end(false);
    died = true;
    return Error{ErrorCode::io, ending.description};
  }
  while (true) {
    const auto slice = std::min(deadline, Clock::now() + stop_poll_interval);
    auto answer = worker->channel().receive(slice);
    if (answer) {
      if (answer.value().body.contains("sandbox")) {
        ending = worker->end(false, &answer.value().body);
        died = true;
        return Error{ErrorCode::io, ending.description};
      }
      return answer;
    }
    if (answer.error().code != ErrorCode::limit_exceeded) {
      ending = worker->end(false);
      died = true;
      return Error{ErrorCode::io, ending.description};
    }
    if (stop && stop()) {
      worker->end(false);
      worker.reset();
      return Error{ErrorCode::cancelled, "stopped"};
    }
    if (Clock::now() >= deadline) {
      ending = worker->end(true);
      died = true;
      return Error{ErrorCode::limit_exceeded, ending.description};
    }
  }
}

}  // namespace

Result<Message> request_in_worker(WorkerPool& pool, const nlohmann::json& body, int fd, Clock::duration limit,
                                  const StopRequested& stop) {
  auto worker = pool.impl().checkout();
  if (!worker) return worker.error();
  WorkerEnding ending;
  bool died = false;
  auto answer = exchange(worker.value(), body, fd, limit, stop, ending, died);
  if (died) return Error{ErrorCode::malformed, "the worker stopped: " + ending.description};
  if (!answer) return answer.error();
  pool.impl().checkin(std::move(worker.value()));
  return answer;
}

Result<FileReport> scan_descriptor_in_worker(WorkerPool& pool, int fd, const std::string& name,
                                             const StopRequested& stop) {
  struct stat info {};
  const std::uint64_t size = ::fstat(fd, &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
  auto worker = pool.impl().checkout();
  if (!worker) return worker.error();
  const Limits& limits = pool.options().limits;
  WorkerEnding ending;
  bool died = false;
  auto answer = exchange(worker.value(), {{"op", "scan"}, {"name", binary_text(name)}}, fd,
                         hard_time_limit(limits, size, pool.options().hash_files), stop, ending, died);
  if (died) return worker_died_report(name, size, ending, limits.max_seconds_per_file);
  if (!answer) return answer.error();
  std::optional<FileReport> report;
  if (auto it = answer.value().body.find("report"); it != answer.value().body.end()) report = detail::report_from_json(*it);
  if (!report) {
    worker.value()->end(false);
    return worker_died_report(name, size, {WorkerEnding::Kind::crashed, "it sent an answer that is not a report"},
                              limits.max_seconds_per_file);
  }
  pool.impl().checkin(std::move(worker.value()));
  report->path = name;
  return std::move(*report);
}

Result<std::string> inspect_in_worker(WorkerPool& pool, int fd, const std::string& name, bool disassembly,
                                      std::size_t max_lines, bool color, const StopRequested& stop) {
  struct stat info {};
  const std::uint64_t size = ::fstat(fd, &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
  auto worker = pool.impl().checkout();
  if (!worker) return worker.error();
  WorkerEnding ending;
  bool died = false;
  const nlohmann::json body = {{"op", "inspect"},           {"name", binary_text(name)},
                               {"view", disassembly ? "disassembly" : "decompiled"},
                               {"max_lines", max_lines},    {"color", color}};
  auto answer = exchange(worker.value(), body, fd, hard_time_limit(pool.options().limits, size, false), stop, ending,
                         died);
  if (died) return Error{ErrorCode::malformed, name + ": not inspected: the inspecting worker stopped: " + ending.description};
  if (!answer) return answer.error();
  const nlohmann::json& reply = answer.value().body;
  pool.impl().checkin(std::move(worker.value()));
  if (reply.contains("error")) return error_from_json(reply);
  if (!reply.contains("text") || !reply["text"].is_binary()) return Error{ErrorCode::io, "the worker sent no text"};
  return std::string(reply["text"].get_binary().begin(), reply["text"].get_binary().end());
}

Result<ConvertResult> convert_in_worker(WorkerPool& pool, const std::string& input, bool folder,
                                        const std::string& output_name, OutputSink& staging,
                                        const ConvertOptions& options, std::uint64_t input_bytes) {
  auto checked_out = pool.impl().checkout();
  if (!checked_out) return checked_out.error();
  std::unique_ptr<WorkerProcess> worker = std::move(checked_out.value());
  const nlohmann::json request = {{"op", "convert"},          {"input", binary_text(input)},
                                  {"folder", folder},         {"name", binary_text(output_name)},
                                  {"strip_code", options.strip_code}, {"verify", options.verify},
                                  {"key", binary_text(options.key)}};
  // Writing is part of converting: the hard limit grows with the input (20 MB/s, a slow disk) on top of the
  // budget of each file's parsing.
  const double seconds = pool.options().limits.max_seconds_per_file * 4 + 30.0 + static_cast<double>(input_bytes) / 20e6;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const auto stopped = [&](const std::string& why) -> Error {
    const WorkerEnding ending = worker->end(false);
    return Error{ErrorCode::malformed, input + ": not converted: the converting worker stopped: " +
                                           (why.empty() ? ending.description : why)};
  };
  if (!worker->channel().send(request)) return stopped("");
  while (true) {
    auto answer = worker->channel().receive(std::min(deadline, Clock::now() + stop_poll_interval));
    if (!answer) {
      if (answer.error().code != ErrorCode::limit_exceeded) return stopped("");
      if (options.should_stop && options.should_stop()) {
        worker->end(false);
        return Error{ErrorCode::cancelled, "the conversion was stopped"};
      }
      if (Clock::now() >= deadline) {
        worker->end(true);
        return Error{ErrorCode::limit_exceeded, input + ": not converted: the conversion ran past its time limit"};
      }
      continue;
    }
    const nlohmann::json& body = answer.value().body;
    if (body.contains("sandbox")) {
      const WorkerEnding ending = worker->end(false, &body);
      return Error{ErrorCode::malformed, input + ": not converted: " + ending.description +
                                             "; nothing legitimate makes a converter try that"};
    }
    if (body.contains("create")) {
      const auto& name = body["create"];
      const std::string wanted = name.is_binary() ? std::string(name.get_binary().begin(), name.get_binary().end())
                                                  : std::string();
      auto file = staging.create(wanted);
      const bool sent = file ? static_cast<bool>(worker->channel().send({{"ok", true}}, file.value().get()))
                             : static_cast<bool>(worker->channel().send(error_to_json(file.error())));
      if (!sent) return stopped("");
      continue;
    }
    if (body.contains("error")) {
      pool.impl().checkin(std::move(worker));
      return error_from_json(body);
    }
    std::optional<ConvertResult> result;
    if (body.contains("result")) result = convert_result_from_json(body["result"]);
    if (!result) return stopped("it sent an answer that is not a conversion result");
    pool.impl().checkin(std::move(worker));
    return std::move(*result);
  }
}

// ---- a batch -----------------------------------------------------------------------------------------------

namespace {

class SupervisedBatch {
 public:
  SupervisedBatch(WorkerPool& pool, std::vector<WalkedPath> files, VerdictCache* cache, const BatchOptions& options)
      : pool_(pool), files_(std::move(files)), cache_(cache), options_(options), limits_(pool.options().limits) {
    result_.reports.resize(files_.size());
    result_.totals.files_total = files_.size();
    for (const auto& file : files_) result_.totals.bytes_total += file.size;
    // Biggest files first, so a multi-GB checkpoint does not start last and leave the other workers idle.
    std::vector<std::size_t> order(files_.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return files_[a].size > files_[b].size; });
    pending_.assign(order.begin(), order.end());
    send_failures_.assign(files_.size(), 0);
  }

  Result<BatchResult> run(unsigned jobs) {
    slots_.resize(std::max(1u, jobs));
    in_flight_budget_ = std::max(slots_.size(), descriptor_budget());
    while (done_ < files_.size()) {
      if (Status fed = feed_all(); !fed) return abandon(fed.error());
      if (done_ >= files_.size()) break;
      if (Status waited = wait(); !waited) return abandon(waited.error());
    }
    for (Slot& slot : slots_) pool_.impl().checkin(std::move(slot.worker));
    return std::move(result_);
  }

 private:
  enum class Phase { hashing, scanning };
  // One request sent to a worker and not answered yet. A worker answers in order, one file at a time.
  struct InFlight {
    std::size_t file;
    Phase phase;
    UniqueFd input;
    std::optional<FileStamp> stamp;
  };
  struct Slot {
    std::unique_ptr<WorkerProcess> worker;
    std::deque<InFlight> flight;  // oldest first: the front is the file the worker is on
    Clock::time_point deadline;   // the front's
    // A request could not be sent: the worker is gone or going. It gets nothing more; the answers it sent are
    // still read, so a death is blamed on the file it was really on (see wait()).
    bool hung_up = false;
  };
  // Requests queued per worker: the next files wait in the worker's socket while it scans this one, so neither
  // side idles for the other (with one worker the supervisor's work overlaps the scan instead of adding to it).
  // Small files queue deeper, so that the supervisor can take their answers in bunches (see wait()); the queue
  // behind a worker holds little work, so a worker stuck on a slow file keeps little from the others.
  static constexpr std::size_t in_flight_per_worker = 2;
  static constexpr std::size_t in_flight_small_files = 16;
  static constexpr std::uint64_t small_queue_bytes = 4u << 20;
  // While every busy worker has files queued behind its current one, the supervisor naps this long before it
  // looks for answers: a worker that answers while nobody waits on its socket wakes nobody, and one wake-up
  // takes a bunch of answers (a wake-up per file cost a tenth of a small file's scan).
  static constexpr std::chrono::microseconds nap_while_queued{400};

  // Descriptors queued in sockets count against the sender's RLIMIT_NOFILE (past it sendmsg fails), and each is
  // open here too: all workers together keep a quarter of the limit in flight, and each worker at least one.
  static std::size_t descriptor_budget() {
    struct rlimit limit {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 256;
    return static_cast<std::size_t>(limit.rlim_cur / 4);
  }

  std::size_t total_in_flight() const {
    std::size_t total = 0;
    for (const Slot& slot : slots_) total += slot.flight.size();
    return total;
  }

  bool wants_more(const Slot& slot) const {
    if (slot.hung_up) return false;
    if (slot.flight.empty()) return true;
    if (total_in_flight() >= in_flight_budget_) return false;
    if (slot.flight.size() < in_flight_per_worker) return true;
    if (slot.flight.size() >= in_flight_small_files) return false;
    std::uint64_t queued = 0;
    for (std::size_t i = 1; i < slot.flight.size(); ++i) queued += files_[slot.flight[i].file].size;
    return queued + files_[pending_.front()].size <= small_queue_bytes;
  }

  Result<BatchResult> abandon(const Error& error) {
    for (Slot& slot : slots_)
      if (slot.worker) slot.worker->end(false);
    return error;
  }

  void finish(std::size_t index, FileReport report, bool hit) {
    result_.totals.files_done += 1;
    result_.totals.bytes_done += files_[index].size;
    result_.totals.cache_hits += hit ? 1 : 0;
    report.path = files_[index].path;
    result_.reports[index] = std::move(report);
    ++done_;
    if (options_.on_progress) options_.on_progress(result_.totals);
  }

  // Sends the workers files until each has its share in flight, one file to each in turn, so that the first
  // worker does not take a whole run of small files while the others wait.
  Status feed_all() {
    bool any = true;
    while (any && !pending_.empty()) {
      // A long run of cache hits or unreadable files is finished here without a wait(): look at the stop flag.
      if (options_.should_stop && options_.should_stop()) return Error{ErrorCode::cancelled, "the scan was stopped"};
      any = false;
      for (Slot& slot : slots_) {
        auto sent = feed(slot);
        if (!sent) return sent.error();
        any = any || sent.value();
      }
    }
    return Ok{};
  }

  // Sends the slot's worker its next file, if it wants one; true when a request went out. Files that need no
  // worker (walk errors, cache hits, files that cannot be opened) are finished on the way.
  Result<bool> feed(Slot& slot) {
    retire_if_hung_up(slot);
    while (!pending_.empty() && wants_more(slot)) {
      const std::size_t index = pending_.front();
      pending_.pop_front();
      const WalkedPath& file = files_[index];
      if (!file.error.empty()) {
        finish(index, unreadable_report(file.path, file.path + ": " + file.error,
                                        file.limit ? "limit.max_files" : "io.error"), false);
        continue;
      }
      auto input = open_input(file.path);
      if (!input) {
        finish(index, unreadable_report(file.path, input.error().message), false);
        continue;
      }
      InFlight item{index, Phase::scanning, std::move(input.value()), {}};
      item.stamp = detail::stamp_of_descriptor(item.input.get());
      std::optional<std::string> sha256;
      if (cache_ != nullptr && item.stamp) {
        sha256 = cache_->known_hash(file.path, *item.stamp);
        if (sha256) {
          if (auto cached = cache_->find(*sha256)) {
            finish(index, std::move(*cached), true);
            continue;
          }
        }
      }
      if (!slot.worker) {
        auto worker = pool_.impl().checkout();
        if (!worker) {
          // Workers of this program have started before: this one was lost while starting (killed, out of
          // memory), which costs this file, not the batch. A program that never starts stops the batch.
          if (!pool_.impl().started_one.load()) return worker.error();
          finish(index, detail::worker_died_report(file.path, file.size, {WorkerEnding::Kind::crashed,
                                                                          "no worker could be started for it: " +
                                                                              worker.error().message},
                                                   limits_.max_seconds_per_file),
                 false);
          continue;
        }
        slot.worker = std::move(worker.value());
      }
      nlohmann::json request = {{"op", "scan"}, {"name", binary_text(file.path)}};
      if (cache_ != nullptr && !sha256) {
        item.phase = Phase::hashing;
        request = {{"op", "hash"}};
      } else if (sha256) {
        request["sha256"] = *sha256;
      }
      // False when the worker is gone (its files were settled): the next round starts a new one.
      return send(slot, std::move(item), request);
    }
    return false;
  }

  // Queues the request; false when it could not be sent. Then the file goes back to be sent again (it never
  // reached this worker, so nothing is blamed on it) and the worker is hung up on: its answers to what it had
  // are still read and a death is blamed by them (wait()). A file that no worker could be handed, time after
  // time, is reported as such rather than tried for ever.
  bool send(Slot& slot, InFlight item, const nlohmann::json& request) {
    const int fd = item.input.get();
    if (slot.worker->channel().send(request, fd)) {
      slot.flight.push_back(std::move(item));
      if (slot.flight.size() == 1) start_clock(slot);
      return true;
    }
    slot.hung_up = true;
    const std::size_t index = item.file;
    if (++send_failures_[index] < send_attempts) {
      pending_.push_front(index);
    } else {
      finish(index, detail::worker_died_report(files_[index].path, files_[index].size,
                                               {WorkerEnding::Kind::crashed,
                                                "no worker could be handed the file (" +
                                                    std::to_string(send_attempts) + " tries)"},
                                               limits_.max_seconds_per_file),
             false);
    }
    retire_if_hung_up(slot);
    return false;
  }
  static constexpr std::uint8_t send_attempts = 3;

  // A hung-up worker with nothing left to answer is ended (it may be alive: its socket could not take more).
  void retire_if_hung_up(Slot& slot) {
    if (!slot.hung_up || !slot.flight.empty()) return;
    if (slot.worker) slot.worker->end(false);
    slot.worker.reset();
    slot.hung_up = false;
  }

  // The front request's hard time limit runs from when the worker starts on it (when the one before it ended).
  void start_clock(Slot& slot) {
    const InFlight& front = slot.flight.front();
    const WalkedPath& file = files_[front.file];
    const bool hashing = front.phase == Phase::hashing || (cache_ == nullptr && pool_.options().hash_files);
    slot.deadline = Clock::now() + hard_time_limit(limits_, file.size, hashing);
  }

  // The worker is gone: the file it was on is reported with how it ended; the files queued behind it never
  // reached it and go back to be sent to another worker.
  void died(Slot& slot, const nlohmann::json* note, bool overtime) {
    const WorkerEnding ending = slot.worker->end(overtime, note);
    settle_after_death(slot, ending);
  }

  void settle_after_death(Slot& slot, const WorkerEnding& ending) {
    slot.worker.reset();
    slot.hung_up = false;
    if (slot.flight.empty()) return;
    const std::size_t index = slot.flight.front().file;
    finish(index, detail::worker_died_report(files_[index].path, files_[index].size, ending,
                                             limits_.max_seconds_per_file),
           false);
    slot.flight.pop_front();
    while (!slot.flight.empty()) {
      pending_.push_front(slot.flight.back().file);
      slot.flight.pop_back();
    }
  }

  void done_with_front(Slot& slot) {
    slot.flight.pop_front();
    if (!slot.flight.empty()) start_clock(slot);
  }

  // One answer from a slot's worker: about the front request.
  void answered(Slot& slot, Message& message) {
    const nlohmann::json& body = message.body;
    if (body.contains("sandbox")) return died(slot, &body, false);
    InFlight& front = slot.flight.front();
    const std::size_t index = front.file;
    const WalkedPath& file = files_[index];
    if (body.contains("error")) {
      const Error error = detail::error_from_json(body);
      if (error.code == ErrorCode::limit_exceeded) return died_of_memory(slot, error.message);
      finish(index, unreadable_report(file.path, file.path + ": " + error.message), false);
      return done_with_front(slot);
    }
    if (front.phase == Phase::hashing) {
      if (!body.contains("sha256") || !body["sha256"].is_string()) return died(slot, nullptr, false);
      const std::string sha256 = body["sha256"].get<std::string>();
      if (auto cached = cache_->find(sha256);
          cached && front.stamp && detail::stamp_of_descriptor(front.input.get()) == front.stamp) {
        cache_->remember_stamp(file.path, *front.stamp, sha256);  // so the next run does not hash it
        finish(index, std::move(*cached), true);
        return done_with_front(slot);
      }
      // Scanned after what is queued behind it: the worker answers in the order it is asked.
      InFlight again{index, Phase::scanning, std::move(front.input), front.stamp};
      done_with_front(slot);
      (void)send(slot, std::move(again), {{"op", "scan"}, {"name", binary_text(file.path)}, {"sha256", sha256}});
      return;
    }
    std::optional<FileReport> report;
    if (auto it = body.find("report"); it != body.end()) report = detail::report_from_json(*it);
    if (!report) return died(slot, nullptr, false);
    // A file rewritten while it was hashed and scanned may not be what the hash says: report it, store nothing.
    if (cache_ != nullptr && front.stamp && detail::worth_caching(*report) &&
        detail::stamp_of_descriptor(front.input.get()) == front.stamp)
      cache_->store(file.path, *front.stamp, *report);
    finish(index, std::move(*report), false);
    done_with_front(slot);
  }

  // The worker said it ran out of memory on the front file: it is not trusted with another.
  void died_of_memory(Slot& slot, const std::string& reason) {
    slot.worker->end(false);
    settle_after_death(slot, {WorkerEnding::Kind::memory, reason});
  }

  // Waits up to 100 ms for answers, then looks at deadlines and the stop flag.
  Status wait() {
    std::vector<pollfd> ready;
    std::vector<Slot*> waiting;
    auto soonest = Clock::now() + stop_poll_interval;
    for (Slot& slot : slots_) {
      if (slot.flight.empty()) continue;
      ready.push_back({slot.worker->channel().fd(), POLLIN, 0});
      waiting.push_back(&slot);
      soonest = std::min(soonest, slot.deadline);
    }
    const auto timeout = std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(soonest - Clock::now()).count() + 1);
    const bool all_queued = !waiting.empty() && std::all_of(waiting.begin(), waiting.end(), [](const Slot* slot) {
      return slot->flight.size() >= in_flight_per_worker;
    });
    if (all_queued && soonest - Clock::now() > nap_while_queued) std::this_thread::sleep_for(nap_while_queued);
    if (!ready.empty()) {
      const int polled = ::poll(ready.data(), ready.size(), static_cast<int>(timeout));
      if (polled < 0 && errno != EINTR) return Error{ErrorCode::io, std::string("poll: ") + std::strerror(errno)};
    }
    if (options_.should_stop && options_.should_stop()) return Error{ErrorCode::cancelled, "the scan was stopped"};
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      Slot& slot = *waiting[i];
      if (ready[i].revents != 0) {
        const bool alive = slot.worker->channel().pump();
        while (slot.worker && !slot.flight.empty()) {
          auto message = slot.worker->channel().take();
          if (!message) break;
          answered(slot, *message);
        }
        // Gone, or it sent something that is not a frame (a worker taken over): the front is what it was on.
        if (slot.worker && (!alive || slot.worker->channel().broken())) died(slot, nullptr, false);
      }
      retire_if_hung_up(slot);
      if (slot.worker && !slot.flight.empty() && Clock::now() >= slot.deadline) died(slot, nullptr, true);
    }
    return Ok{};
  }

  WorkerPool& pool_;
  std::vector<WalkedPath> files_;
  VerdictCache* cache_;
  const BatchOptions& options_;
  const Limits& limits_;
  std::size_t in_flight_budget_ = 0;
  std::vector<std::uint8_t> send_failures_;  // per file: requests for it that could not be sent
  std::deque<std::size_t> pending_;  // files not yet sent, biggest first (and files a dead worker never began)
  std::size_t done_ = 0;
  std::vector<Slot> slots_;
  BatchResult result_;
};

}  // namespace

Result<BatchResult> scan_batch_in_workers(WorkerPool& pool, std::vector<WalkedPath> files, VerdictCache* cache,
                                          const BatchOptions& options) {
  unsigned jobs = options.jobs != 0 ? options.jobs : std::max(1u, std::thread::hardware_concurrency());
  jobs = static_cast<unsigned>(std::min<std::size_t>(jobs, std::max<std::size_t>(files.size(), 1)));
  return SupervisedBatch(pool, std::move(files), cache, options).run(jobs);
}

}  // namespace detail
}  // namespace picklewall
