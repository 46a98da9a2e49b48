// Preloaded into the picklewall command by the sandbox and isolation tests (LD_PRELOAD) to stand in for an
// attacker who has taken over the process that parses a hostile file, or for a parser bug that kills it: when a
// process maps the file named by PICKLEWALL_PROBE_TARGET (as the scanner maps every input it reads), it first
// does what PICKLEWALL_PROBE_CALL names. A forbidden call (exec, write, connect) in a sandboxed worker must be
// stopped and the file reported; with --no-sandbox it must succeed, which proves the probe really makes it. A
// crash (segv, abort, bus, kill, hang) must cost only that file. The only effect is a marker file in the
// test's temporary folder.
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// The file `fd` is open on ends with the target's name.
bool maps_the_target(int fd) {
  const char* target = std::getenv("PICKLEWALL_PROBE_TARGET");
  if (target == nullptr || fd < 0) return false;
  char link[64], path[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = ::readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  const std::size_t length = std::strlen(target);
  return static_cast<std::size_t>(n) >= length && std::strcmp(path + n - length, target) == 0;
}

void make_the_call() {
  const char* call = std::getenv("PICKLEWALL_PROBE_CALL");
  const char* marker = std::getenv("PICKLEWALL_PROBE_MARKER");
  if (call == nullptr || marker == nullptr) return;
  const std::string which = call;
  if (which == "segv") {
    ::raise(SIGSEGV);
  } else if (which == "abort") {
    ::abort();
  } else if (which == "kill") {
    ::raise(SIGKILL);  // as the kernel's OOM killer ends a process
  } else if (which == "hang") {
    while (true) ::pause();
  } else if (which == "bus") {
    // A real bus error: a page of a mapping whose file has shrunk (not one of the scanner's own mappings,
    // whose reads survive it): the process dies of SIGBUS.
    // (A memfd: a sandboxed worker may not create files.)
    const int fd = ::memfd_create("picklewall-probe", 0);
    if (fd >= 0 && ::ftruncate(fd, 8192) == 0) {
      using Mmap = void* (*)(void*, size_t, int, int, int, off_t);
      static const Mmap real = reinterpret_cast<Mmap>(::dlsym(RTLD_NEXT, "mmap"));
      auto* page = static_cast<volatile char*>(real(nullptr, 8192, PROT_READ, MAP_SHARED, fd, 0));
      if (page != MAP_FAILED && ::ftruncate(fd, 0) == 0) (void)page[4096];
    }
  } else if (which == "exec") {
    const std::string command = std::string("touch '") + marker + "'";
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    const char* no_environment[] = {nullptr};  // the shell must not preload this probe again
    // The process becomes the shell (as a taken-over process would): without the sandbox the scan never ends.
    ::execve("/bin/sh", const_cast<char**>(argv), const_cast<char**>(no_environment));
  } else if (which == "write") {
    const int fd = ::open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) ::close(fd);
  } else if (which == "connect") {
    // A listening socket on loopback is made by the test; reaching it leaves the marker.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(std::getenv("PICKLEWALL_PROBE_PORT"))));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
      const int marker_fd = ::open(marker, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (marker_fd >= 0) ::close(marker_fd);
    }
  }
}

}  // namespace

extern "C" void* mmap(void* address, size_t length, int protection, int flags, int fd, off_t offset) {
  using Mmap = void* (*)(void*, size_t, int, int, int, off_t);
  static const Mmap real = reinterpret_cast<Mmap>(::dlsym(RTLD_NEXT, "mmap"));
  if (protection == PROT_READ && (flags & MAP_PRIVATE) && maps_the_target(fd)) make_the_call();
  return real(address, length, protection, flags, fd, offset);
}

extern "C" void* mmap64(void* address, size_t length, int protection, int flags, int fd, off_t offset) {
  return mmap(address, length, protection, flags, fd, offset);
}
