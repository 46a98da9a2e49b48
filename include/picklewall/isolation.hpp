// Where hostile bytes are parsed. By default nothing of an input is read in the calling process: each file goes
// to a sandboxed worker process (seccomp: no programs, no sockets, no writes), started from the picklewall
// executable and kept for reuse. The caller is only a supervisor: it walks folders, opens files read-only and
// hands the descriptors over, keeps the cache and the report. A worker that dies (a crash, SIGBUS, the sandbox
// stopping a forbidden call, the kernel's OOM killer, a hard time limit) costs only the file it held, which is
// reported as not safe with the reason; the batch goes on with a new worker.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

namespace picklewall {

enum class Isolation {
  worker_processes,  // the default: sandboxed worker processes under this process as supervisor
  in_process,        // threads of this process, no sandbox: a parser crash is the caller's crash (opt-in)
};

struct WorkerSettings {
  // The executable a worker runs as (`program __worker`): the picklewall command, or the Python package's
  // bundled copy. Empty: this process's own executable (/proc/self/exe), right for the command itself.
  std::string program;
  // Workers enter the seccomp sandbox before they read any input. Off only for debugging the engine.
  bool sandbox = true;
};

// A pool of worker processes for one set of scan options (policy, limits, strict, hashing): started on
// demand, kept while idle, replaced when one dies. Thread-safe: batches on several threads check workers out
// and back in.
class WorkerPool {
 public:
  static Result<std::shared_ptr<WorkerPool>> create(const ScanOptions& options, WorkerSettings settings = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  const ScanOptions& options() const;

  // Polled at least every 100 ms while a request waits for its worker; true stops it (ErrorCode::cancelled).
  using StopRequested = std::function<bool()>;

  // Scans the file `fd` is open on (the caller's descriptor: a file it opened, or a memfd of bytes) in a
  // worker, named `name` in the report. A worker's death is the report's verdict; only a stop and a worker that
  // cannot be started are errors.
  Result<FileReport> scan(int fd, const std::string& name, const StopRequested& stop = {});
  // inspect's text for the file `fd` is open on, made in a worker.
  Result<std::string> inspect(int fd, const std::string& name, bool disassembly, std::size_t max_lines, bool color,
                              const StopRequested& stop = {});

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit WorkerPool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace picklewall
