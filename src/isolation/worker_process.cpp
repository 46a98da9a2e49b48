#include "isolation/worker_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "isolation/worker_protocol.hpp"

extern char** environ;

namespace picklewall::detail {
namespace {

std::string signal_name(int signal) {
  const char* name = ::sigabbrev_np(signal);
  const char* description = ::sigdescr_np(signal);
  std::string out = name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(signal);
  if (description != nullptr) out += std::string(" (") + description + ")";
  return out;
}

// Posix_spawn's own attributes: a process group of its own, no blocked signals, every signal at its default.
struct SpawnAttributes {
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_t actions;
  SpawnAttributes() {
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
};

}  // namespace

std::string own_executable() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return {};
  return std::string(path, static_cast<std::size_t>(n));
}

WorkerProcess::WorkerProcess(pid_t pid, UniqueFd socket) : pid_(pid), owner_(::getpid()), channel_(std::move(socket)) {}

bool WorkerProcess::owned_by_this_process() const { return owner_ == ::getpid(); }

Result<std::unique_ptr<WorkerProcess>> WorkerProcess::start(const std::string& program,
                                                             const nlohmann::json& configure,
                                                             Clock::time_point deadline) {
  auto sockets = socket_pair();
  if (!sockets) return sockets.error();
  // The worker's end goes to descriptor 3 in the child; above 3 here, so dup2 always makes a new descriptor
  // (which clears close-on-exec on it and on nothing else).
  UniqueFd child_end(::fcntl(sockets.value().second.get(), F_DUPFD_CLOEXEC, 10));
  if (!child_end) return Error{ErrorCode::io, std::string("cannot prepare a worker: ") + std::strerror(errno)};
  sockets.value().second.reset();

  SpawnAttributes spawn;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&spawn.attributes, &none);
  posix_spawnattr_setsigdefault(&spawn.attributes, &all);
  posix_spawnattr_setpgroup(&spawn.attributes, 0);
  posix_spawnattr_setflags(&spawn.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  posix_spawn_file_actions_adddup2(&spawn.actions, child_end.get(), worker_channel_descriptor);
  std::string argument0 = program, argument1 = worker_argument;
  char* argv[] = {argument0.data(), argument1.data(), nullptr};
  pid_t pid = 0;
  const int spawned = ::posix_spawn(&pid, program.c_str(), &spawn.actions, &spawn.attributes, argv, environ);
  child_end.reset();
  if (spawned != 0)
    return Error{ErrorCode::io, "cannot start the worker program " + program + ": " + std::strerror(spawned)};
  std::unique_ptr<WorkerProcess> worker(new WorkerProcess(pid, std::move(sockets.value().first)));
  if (Status sent = worker->channel_.send(configure); !sent)
    return Error{ErrorCode::io, "the worker program " + program + " did not start: " + worker->end(false).description};
  auto answer = worker->channel_.receive(deadline);
  if (!answer)
    return Error{ErrorCode::io, "the worker program " + program + " did not start: " + worker->end(false).description};
  if (answer.value().body.contains("error")) {
    const Error error = error_from_json(answer.value().body);
    worker->end(false);
    return Error{error.code, "the worker could not be set up: " + error.message};
  }
  return worker;
}

WorkerEnding WorkerProcess::end(bool stopped_for_time, const nlohmann::json* note) {
  WorkerEnding ending;
  int status = 0;
  if (!reaped_ && owned_by_this_process()) {
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  if (note != nullptr && note->contains("sandbox") && (*note)["sandbox"].is_string()) {
    ending.kind = WorkerEnding::Kind::sandbox;
    ending.description = "the sandbox stopped a forbidden system call (" + (*note)["sandbox"].get<std::string>() + ")";
    return ending;
  }
  if (stopped_for_time) {
    ending.kind = WorkerEnding::Kind::overtime;
    ending.description = "it ran past its hard time limit and was stopped";
    return ending;
  }
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    if (signal == SIGSYS) {
      // A forbidden call made with signals blocked (libc's spawn path blocks them): the kernel kills at once.
      ending.kind = WorkerEnding::Kind::sandbox;
      ending.description = "the sandbox stopped a forbidden system call made with signals blocked (SIGSYS)";
    } else if (signal == SIGKILL) {
      // Nobody here sent it (a kill for time is reported above): the kernel's OOM killer, as a rule.
      ending.kind = WorkerEnding::Kind::memory;
      ending.description = "it was killed (SIGKILL), most likely by the kernel for running out of memory";
    } else {
      ending.kind = WorkerEnding::Kind::crashed;
      ending.description = "it died of " + signal_name(signal);
      if (signal == SIGBUS) ending.description += ": the file changed or shrank under the mapping";
    }
  } else if (WIFEXITED(status)) {
    ending.description = "it exited with code " + std::to_string(WEXITSTATUS(status)) + " without an answer";
  } else {
    ending.description = "it ended without an answer";
  }
  return ending;
}

WorkerProcess::~WorkerProcess() {
  if (!owned_by_this_process()) return;  // the channel closes; the process is its real owner's
  if (reaped_) return;
  // An idle worker ends on its own when its channel closes (its next receive sees end-of-file), and runs its
  // exit path: in sanitizer builds that is where LeakSanitizer looks at it. One that does not end soon is killed.
  channel_.close();
  int status = 0;
  for (int waited = 0; waited < 200; ++waited) {
    const pid_t ended = ::waitpid(pid_, &status, WNOHANG);
    if (ended == pid_ || (ended < 0 && errno != EINTR)) return;
    ::usleep(10'000);
  }
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace picklewall::detail
