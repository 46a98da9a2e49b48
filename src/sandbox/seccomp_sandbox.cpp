// A seccomp filter built with libseccomp. It denies classes of calls rather than allowing a list: an allowlist
// of system calls breaks with each new libc, kernel, SQLite or sanitizer runtime that uses a different call for
// the same job, and the capabilities an attacker needs are few and well known.
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <string>

#include "isolation/worker_protocol.hpp"
#include "picklewall/sandbox.hpp"
#include "sandbox/sanitizer_runtime.hpp"

namespace picklewall {
namespace {

// Calls stopped with a report (SIGSYS). Names are kept here, not resolved in the signal handler, because the
// handler may only use async-signal-safe functions.
struct TrappedCall {
  int number;
  const char* name;
};
#define PICKLEWALL_CALL(name) {SCMP_SYS(name), #name}
const TrappedCall trapped_calls[] = {
    // Starting programs.
    PICKLEWALL_CALL(execve), PICKLEWALL_CALL(execveat), PICKLEWALL_CALL(fork), PICKLEWALL_CALL(vfork),
    PICKLEWALL_CALL(clone),
    // Network (and local sockets).
    PICKLEWALL_CALL(socket), PICKLEWALL_CALL(socketpair), PICKLEWALL_CALL(connect), PICKLEWALL_CALL(bind),
    PICKLEWALL_CALL(listen), PICKLEWALL_CALL(accept), PICKLEWALL_CALL(accept4),
    // Opening files to write, and changing the file system.
    PICKLEWALL_CALL(open), PICKLEWALL_CALL(openat), PICKLEWALL_CALL(creat), PICKLEWALL_CALL(truncate),
    PICKLEWALL_CALL(rename), PICKLEWALL_CALL(renameat), PICKLEWALL_CALL(renameat2), PICKLEWALL_CALL(unlink),
    PICKLEWALL_CALL(unlinkat), PICKLEWALL_CALL(mkdir), PICKLEWALL_CALL(mkdirat), PICKLEWALL_CALL(rmdir),
    PICKLEWALL_CALL(link), PICKLEWALL_CALL(linkat), PICKLEWALL_CALL(symlink), PICKLEWALL_CALL(symlinkat),
    PICKLEWALL_CALL(mknod), PICKLEWALL_CALL(mknodat), PICKLEWALL_CALL(chmod), PICKLEWALL_CALL(fchmod),
    PICKLEWALL_CALL(fchmodat), PICKLEWALL_CALL(chown), PICKLEWALL_CALL(fchown), PICKLEWALL_CALL(lchown),
    PICKLEWALL_CALL(fchownat), PICKLEWALL_CALL(utime), PICKLEWALL_CALL(utimes), PICKLEWALL_CALL(utimensat),
    PICKLEWALL_CALL(futimesat), PICKLEWALL_CALL(setxattr), PICKLEWALL_CALL(lsetxattr), PICKLEWALL_CALL(fsetxattr),
    PICKLEWALL_CALL(removexattr), PICKLEWALL_CALL(lremovexattr), PICKLEWALL_CALL(fremovexattr),
    // Other processes: signals, memory; and io_uring, whose operations the filter would never see.
    PICKLEWALL_CALL(kill), PICKLEWALL_CALL(tgkill), PICKLEWALL_CALL(tkill), PICKLEWALL_CALL(pidfd_send_signal),
    PICKLEWALL_CALL(ptrace), PICKLEWALL_CALL(process_vm_writev), PICKLEWALL_CALL(process_vm_readv),
    PICKLEWALL_CALL(io_uring_setup), PICKLEWALL_CALL(io_uring_enter), PICKLEWALL_CALL(io_uring_register),
};
#undef PICKLEWALL_CALL

void write_all(const char* text) {
  std::size_t length = std::strlen(text);
  while (length > 0) {
    const ssize_t n = ::write(STDERR_FILENO, text, length);
    if (n <= 0) return;
    text += n;
    length -= static_cast<std::size_t>(n);
  }
}

// A worker's connection to its supervisor: the handler tells it which call was stopped, so the file's report
// can name it. -1: only stderr is told.
int violation_channel = -1;

// The frame a worker's Channel would send for {"sandbox": name}, written by hand because the handler may not
// allocate: u32 length, a flag byte, then CBOR (a one-pair map, the key, the name as a text string).
void tell_supervisor(const char* name) {
  if (violation_channel < 0) return;
  unsigned char frame[64];
  const std::size_t name_length = std::min<std::size_t>(std::strlen(name), 23);
  const std::size_t payload = 1 + 8 + 1 + name_length;
  frame[0] = static_cast<unsigned char>(payload);
  frame[1] = frame[2] = frame[3] = 0;
  frame[4] = 0;
  frame[5] = 0xA1;
  frame[6] = 0x67;
  std::memcpy(frame + 7, "sandbox", 7);
  frame[14] = static_cast<unsigned char>(0x60 | name_length);
  std::memcpy(frame + 15, name, name_length);
  const std::size_t total = 5 + payload;
  std::size_t sent = 0;
  while (sent < total) {
    const ssize_t n = ::send(violation_channel, frame + sent, total - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<std::size_t>(n);
  }
}

void on_forbidden_call(int, siginfo_t* info, void*) {
  const char* name = "a system call";
  for (const auto& call : trapped_calls)
    if (call.number == info->si_syscall) name = call.name;
  tell_supervisor(name);
  write_all("picklewall: sandbox: stopped a forbidden system call (");
  write_all(name);
  write_all("); the process is abandoned and its report is not to be trusted\n");
  ::_exit(2);
}

class Filter {
 public:
  Filter() : context_(seccomp_init(SCMP_ACT_ALLOW)) {}
  ~Filter() { seccomp_release(context_); }
  Filter(const Filter&) = delete;
  Filter& operator=(const Filter&) = delete;

  bool ok() const { return context_ != nullptr && error_ == 0; }
  int error() const { return error_ != 0 ? error_ : -ENOMEM; }
  scmp_filter_ctx context() const { return context_; }

  template <class... Conditions>
  void trap(int call, Conditions... conditions) {
    add(SCMP_ACT_TRAP, call, conditions...);
  }
  // For calls whose arguments a filter cannot read (they pass a struct): "not implemented", so libc falls back
  // to the older call, which the filter can judge.
  void not_implemented(int call) { add(SCMP_ACT_ERRNO(ENOSYS), call); }

 private:
  template <class... Conditions>
  void add(std::uint32_t action, int call, Conditions... conditions) {
    if (context_ == nullptr || error_ != 0) return;
    const int result = seccomp_rule_add(context_, action, call, sizeof...(Conditions), conditions...);
    if (result != 0) error_ = result;
  }
  scmp_filter_ctx context_;
  int error_ = 0;
};

// Opening with any of these flags writes, creates or truncates.
constexpr unsigned write_flags[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND};

void build_rules(Filter& filter) {
  for (int call : {SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(fork), SCMP_SYS(vfork)}) filter.trap(call);
  filter.not_implemented(SCMP_SYS(clone3));
  // The sanitizer runtimes' leak checker stops the world at exit from a helper task made with clone (not a
  // thread) that ptraces the process's threads: sanitizer builds keep those two.
  if (!detail::sanitizer_runtime) {
    // Threads (the scan's workers) are clones that share everything; any other clone is a new process.
    filter.trap(SCMP_SYS(clone), SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    filter.trap(SCMP_SYS(ptrace));
  }
  for (int call : {SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
                   SCMP_SYS(accept), SCMP_SYS(accept4)})
    filter.trap(call);

  for (unsigned flag : write_flags) {
    filter.trap(SCMP_SYS(open), SCMP_A1(SCMP_CMP_MASKED_EQ, flag, flag));
    filter.trap(SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, flag, flag));
  }
  filter.not_implemented(SCMP_SYS(openat2));
  for (int call : {SCMP_SYS(creat), SCMP_SYS(truncate), SCMP_SYS(rename), SCMP_SYS(unlink), SCMP_SYS(mkdir),
                   SCMP_SYS(mkdirat), SCMP_SYS(rmdir), SCMP_SYS(link), SCMP_SYS(linkat), SCMP_SYS(symlink),
                   SCMP_SYS(symlinkat), SCMP_SYS(mknod), SCMP_SYS(mknodat), SCMP_SYS(chmod), SCMP_SYS(fchmod),
                   SCMP_SYS(fchmodat), SCMP_SYS(chown), SCMP_SYS(fchown), SCMP_SYS(lchown), SCMP_SYS(fchownat),
                   SCMP_SYS(utime), SCMP_SYS(utimes), SCMP_SYS(utimensat), SCMP_SYS(futimesat),
                   SCMP_SYS(setxattr), SCMP_SYS(lsetxattr), SCMP_SYS(fsetxattr), SCMP_SYS(removexattr),
                   SCMP_SYS(lremovexattr), SCMP_SYS(fremovexattr), SCMP_SYS(process_vm_writev),
                   SCMP_SYS(process_vm_readv), SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter),
                   SCMP_SYS(io_uring_register)})
    filter.trap(call);

  for (int call : {SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlinkat)}) filter.trap(call);

  // Signals to this process only (abort() and the sanitizers signal themselves with tgkill).
  const auto self = static_cast<scmp_datum_t>(::getpid());
  filter.trap(SCMP_SYS(kill), SCMP_A0(SCMP_CMP_NE, self));
  filter.trap(SCMP_SYS(tgkill), SCMP_A0(SCMP_CMP_NE, self));
  filter.trap(SCMP_SYS(tkill));
  filter.trap(SCMP_SYS(pidfd_send_signal));
}

}  // namespace

namespace detail {
void report_sandbox_violations_to(int channel) { violation_channel = channel; }
}  // namespace detail

Status enter_sandbox() {
  struct sigaction action {};
  action.sa_sigaction = on_forbidden_call;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  if (::sigaction(SIGSYS, &action, nullptr) != 0)
    return Error{ErrorCode::io, std::string("sandbox: cannot handle SIGSYS: ") + std::strerror(errno)};

  Filter filter;
  build_rules(filter);
  // Without no_new_privs the kernel only lets privileged processes filter themselves; it also stops a set-user-ID
  // program from gaining privileges, which the filter forbids starting anyway.
  if (filter.ok()) seccomp_attr_set(filter.context(), SCMP_FLTATR_CTL_NNP, 1);
  // Every thread: the batch's workers may already exist in a library caller's process.
  if (filter.ok()) seccomp_attr_set(filter.context(), SCMP_FLTATR_CTL_TSYNC, 1);
  const int loaded = filter.ok() ? seccomp_load(filter.context()) : filter.error();
  if (loaded != 0)
    return Error{ErrorCode::io, std::string("sandbox: the kernel refused the seccomp filter (") +
                                    std::strerror(-loaded) + "); run with --no-sandbox to scan without it"};
  return Ok{};
}

}  // namespace picklewall
