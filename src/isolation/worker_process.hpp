// One worker process: started with posix_spawn (safe in a threaded caller, such as a Python interpreter), in
// its own process group (a terminal's Ctrl-C reaches the supervisor, which decides), configured, and ended by
// the supervisor. How it ended is what the report of the file it held says.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "isolation/channel.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

// How a worker ended while it held a file.
struct WorkerEnding {
  enum class Kind {
    sandbox,   // the sandbox stopped a forbidden system call
    overtime,  // the supervisor stopped it at the hard time limit
    memory,    // it ran out of memory (its own report, or the kernel's SIGKILL)
    crashed,   // a signal (SIGSEGV, SIGBUS, SIGABRT...) or an exit without an answer
  };
  Kind kind = Kind::crashed;
  std::string description;  // "died of SIGSEGV (segmentation fault)", "the sandbox stopped execve", ...
};

class WorkerProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts `program __worker` and sends it `configure`; ready when it answered ok (by `deadline`).
  static Result<std::unique_ptr<WorkerProcess>> start(const std::string& program, const nlohmann::json& configure,
                                                      Clock::time_point deadline);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  Channel& channel() { return channel_; }
  pid_t pid() const { return pid_; }

  // Kills it if it still runs, waits for it, and says how it ended. `stopped_for_time`: the supervisor killed
  // it for running past its hard time limit. `note`: the last message it managed to send, if any.
  WorkerEnding end(bool stopped_for_time, const nlohmann::json* note = nullptr);

  // After fork() in the caller (Python's multiprocessing): the worker belongs to the parent; this copy only
  // closes its descriptor and never signals or waits for it.
  void disown() { owner_ = 0; }
  bool owned_by_this_process() const;

 private:
  WorkerProcess(pid_t pid, UniqueFd socket);
  pid_t pid_;
  pid_t owner_;
  Channel channel_;
  bool reaped_ = false;
};

// What /proc/self/exe names: the default worker program.
std::string own_executable();

}  // namespace picklewall::detail
