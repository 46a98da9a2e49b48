// Preloaded into the picklewall command by tests/e2e/test_sandbox.py (LD_PRELOAD) to stand in for an attacker
// who has taken over the process: when the process exits, after the scan, it makes the forbidden call named by
// PICKLEWALL_PROBE_CALL. Sandboxed, the call must be stopped and reported; with --no-sandbox it must succeed,
// which proves the probe really makes it. The only effect is a marker file in the test's temporary folder.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace {

// True when this process runs under a seccomp filter (/proc/self/status: "Seccomp: 2").
bool filtered() {
  const int fd = ::open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buffer[8192];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return false;
  buffer[n] = '\0';
  return std::strstr(buffer, "\nSeccomp:\t2") != nullptr;
}

void make_the_call() {
  const char* call = std::getenv("PICKLEWALL_PROBE_CALL");
  const char* marker = std::getenv("PICKLEWALL_PROBE_MARKER");
  if (call == nullptr || marker == nullptr) return;
  // With --output the scan runs in a sandboxed child and the parent, which reads no input, only renames the
  // report: an attacker could only ever be in the child, so the probe can be told to stand in there only.
  if (std::getenv("PICKLEWALL_PROBE_ONLY_SANDBOXED") != nullptr && !filtered()) return;
  const std::string which = call;
  if (which == "exec") {
    const std::string command = std::string("touch '") + marker + "'";
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    const char* no_environment[] = {nullptr};  // the shell must not preload this probe again
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

struct ProbeAtExit {
  ~ProbeAtExit() { make_the_call(); }
} probe_at_exit;

}  // namespace
