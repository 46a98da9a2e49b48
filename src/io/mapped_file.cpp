#include "io/mapped_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace picklewall::detail {
namespace {

// The mappings the SIGBUS handler may repair. Lock-free, because the handler can run on any thread at any
// moment: a slot is claimed with a compare-and-swap of its start address, and the handler only reads.
struct GuardedRange {
  std::atomic<std::uintptr_t> begin{0};
  std::atomic<std::size_t> length{0};
  std::atomic<bool> faulted{false};
};
constexpr std::size_t guarded_slots = 512;
constexpr std::uintptr_t claiming = 1;  // a slot being filled in: its start address is not there yet
std::array<GuardedRange, guarded_slots> guarded;

struct sigaction previous_bus_action {};

// Replaces the pages from the faulting one to the end of its mapping with zero pages (the part of the file that
// vanished) and returns, so the read that faulted runs again and sees zeros. A fault outside every guarded
// mapping is not ours: the handler that was there before runs (or the default action, which ends the process).
void on_bus_error(int signal, siginfo_t* info, void* context) {
  const auto address = reinterpret_cast<std::uintptr_t>(info->si_addr);
  for (GuardedRange& range : guarded) {
    const std::uintptr_t begin = range.begin.load(std::memory_order_acquire);
    if (begin <= claiming) continue;
    const std::size_t length = range.length.load(std::memory_order_acquire);
    if (address < begin || address >= begin + length) continue;
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const std::uintptr_t from = address & ~(page - 1);
    const std::uintptr_t end = (begin + length + page - 1) & ~(page - 1);
    void* replaced = ::mmap(reinterpret_cast<void*>(from), end - from, PROT_READ,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (replaced == MAP_FAILED) break;  // cannot repair: fall through to the default action
    range.faulted.store(true, std::memory_order_release);
    return;
  }
  if (previous_bus_action.sa_flags & SA_SIGINFO) {
    if (previous_bus_action.sa_sigaction != nullptr) {
      previous_bus_action.sa_sigaction(signal, info, context);
      return;
    }
  } else if (previous_bus_action.sa_handler != SIG_DFL && previous_bus_action.sa_handler != SIG_IGN &&
             previous_bus_action.sa_handler != nullptr) {
    previous_bus_action.sa_handler(signal);
    return;
  }
  // Not a fault of ours and nobody else's handler: the default action, as if there had been no handler.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  ::sigaction(SIGBUS, &default_action, nullptr);
}

void install_bus_handler() {
  static std::once_flag installed;
  std::call_once(installed, [] {
    struct sigaction action {};
    action.sa_sigaction = on_bus_error;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGBUS, &action, &previous_bus_action);
  });
}

int claim_slot(const void* address, std::size_t length) {
  install_bus_handler();
  const auto begin = reinterpret_cast<std::uintptr_t>(address);
  for (std::size_t i = 0; i < guarded.size(); ++i) {
    std::uintptr_t expected = 0;
    if (!guarded[i].begin.compare_exchange_strong(expected, claiming, std::memory_order_acq_rel)) continue;
    guarded[i].length.store(length, std::memory_order_relaxed);
    guarded[i].faulted.store(false, std::memory_order_relaxed);
    guarded[i].begin.store(begin, std::memory_order_release);
    return static_cast<int>(i);
  }
  return -1;  // every slot taken: the mapping works, unguarded (a worker process still contains the damage)
}

void free_slot(int slot) {
  if (slot < 0) return;
  guarded[static_cast<std::size_t>(slot)].begin.store(0, std::memory_order_release);
}

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
         a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

}  // namespace

Result<MappedFile> MappedFile::open(const std::string& path) {
  // O_NONBLOCK: a FIFO put where a file was expected must not stall the open (it is refused below).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    return Error{err == ENOENT ? ErrorCode::not_found : ErrorCode::io,
                 "cannot open " + path + ": " + std::strerror(err)};
  }
  return map(fd, path);
}

Result<MappedFile> MappedFile::from_descriptor(int fd, const std::string& name) {
  const int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return Error{ErrorCode::io, "cannot use the descriptor of " + name + ": " + std::strerror(errno)};
  return map(own, name);
}

Result<MappedFile> MappedFile::map(int fd, const std::string& name) {
  MappedFile file;
  file.fd_ = fd;  // closed by the destructor from here on, whatever happens
  if (::fstat(fd, &file.opened_) != 0) return Error{ErrorCode::io, "cannot stat " + name + ": " + std::strerror(errno)};
  if (!S_ISREG(file.opened_.st_mode)) return Error{ErrorCode::invalid_argument, name + " is not a regular file"};
  file.size_ = static_cast<std::uint64_t>(file.opened_.st_size);
  if (file.size_ > 0) {
    void* address = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (address == MAP_FAILED) {
      file.size_ = 0;
      return Error{ErrorCode::io, "cannot map " + name + ": " + std::strerror(errno)};
    }
    // Pickles are read front to back; tell the kernel so read-ahead helps.
    ::madvise(address, file.size_, MADV_SEQUENTIAL);
    file.data_ = static_cast<const std::uint8_t*>(address);
    file.guard_slot_ = claim_slot(address, file.size_);
  }
  return file;
}

bool MappedFile::changed() const {
  if (guard_slot_ >= 0 && guarded[static_cast<std::size_t>(guard_slot_)].faulted.load(std::memory_order_acquire))
    return true;
  struct stat now {};
  if (fd_ < 0 || ::fstat(fd_, &now) != 0) return true;
  return !same_version(opened_, now);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(other.data_), size_(other.size_), fd_(other.fd_), guard_slot_(other.guard_slot_), opened_(other.opened_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.fd_ = -1;
  other.guard_slot_ = -1;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    fd_ = other.fd_;
    guard_slot_ = other.guard_slot_;
    opened_ = other.opened_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.fd_ = -1;
    other.guard_slot_ = -1;
  }
  return *this;
}

MappedFile::~MappedFile() { release(); }

void MappedFile::release() {
  free_slot(guard_slot_);
  guard_slot_ = -1;
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  size_ = 0;
  fd_ = -1;
}

}  // namespace picklewall::detail
