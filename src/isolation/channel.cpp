#include "isolation/channel.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/bounded_cbor.hpp"

namespace picklewall::detail {
namespace {

// Frame: u32 little-endian payload length, one flag byte (bit 0: a descriptor travels with this frame), the
// CBOR payload.
constexpr std::size_t header_bytes = 5;
constexpr std::uint8_t carries_descriptor = 1;

}  // namespace

Result<std::pair<UniqueFd, UniqueFd>> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    return Error{ErrorCode::io, std::string("cannot create a socket pair: ") + std::strerror(errno)};
  return std::make_pair(UniqueFd(fds[0]), UniqueFd(fds[1]));
}

Status Channel::send(const nlohmann::json& body, int descriptor) {
  const std::vector<std::uint8_t> payload = nlohmann::json::to_cbor(body);
  if (payload.size() > max_frame_bytes) return Error{ErrorCode::limit_exceeded, "message too large to send"};
  std::vector<std::uint8_t> frame(header_bytes + payload.size());
  const auto length = static_cast<std::uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) frame[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (8 * i));
  frame[4] = descriptor >= 0 ? carries_descriptor : 0;
  std::memcpy(frame.data() + header_bytes, payload.data(), payload.size());

  std::size_t sent = 0;
  bool descriptor_sent = descriptor < 0;
  while (sent < frame.size()) {
    struct iovec io {frame.data() + sent, frame.size() - sent};
    struct msghdr message {};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (!descriptor_sent) {
      message.msg_control = control;
      message.msg_controllen = sizeof control;
      struct cmsghdr* header = CMSG_FIRSTHDR(&message);
      header->cmsg_level = SOL_SOCKET;
      header->cmsg_type = SCM_RIGHTS;
      header->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(header), &descriptor, sizeof(int));
    }
    const ssize_t n = ::sendmsg(socket_.get(), &message, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{ErrorCode::io, std::string("the other process is gone: ") + std::strerror(errno)};
    }
    descriptor_sent = true;
    sent += static_cast<std::size_t>(n);
  }
  return Ok{};
}

bool Channel::pump() {
  constexpr int chunks_per_pump = 256;
  for (int i = 0; i < chunks_per_pump; ++i) {
    bool more = false;
    if (!pump_chunk(more)) return false;
    if (!more) break;
  }
  return true;
}

// One recvmsg; `more` is true when it filled its whole chunk (the socket may hold more).
bool Channel::pump_chunk(bool& more) {
  if (broken_) return false;
  std::uint8_t chunk[1 << 16];
  struct iovec io {chunk, sizeof chunk};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  struct msghdr message {};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(socket_.get(), &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
    broken_ = true;
    return false;
  }
  for (struct cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      descriptors_.emplace_back(fd);
    }
  }
  if ((message.msg_flags & MSG_CTRUNC) != 0 || n == 0) {
    broken_ = true;  // descriptors were lost, or the peer closed its end (frames already whole stay takeable)
    return false;
  }
  buffer_.insert(buffer_.end(), chunk, chunk + n);
  more = static_cast<std::size_t>(n) == sizeof chunk;
  if (buffer_.size() >= 4) {
    std::uint32_t length = 0;
    for (int i = 0; i < 4; ++i) length |= static_cast<std::uint32_t>(buffer_[static_cast<std::size_t>(i)]) << (8 * i);
    if (length > max_frame_bytes) {
      broken_ = true;
      return false;
    }
  }
  return true;
}

std::optional<Message> Channel::take() {
  if (buffer_.size() < header_bytes) return std::nullopt;
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i) length |= static_cast<std::uint32_t>(buffer_[static_cast<std::size_t>(i)]) << (8 * i);
  if (buffer_.size() < header_bytes + length) return std::nullopt;
  Message message;
  if (buffer_[4] & carries_descriptor) {
    if (descriptors_.empty()) {
      broken_ = true;
      return std::nullopt;
    }
    message.descriptor = std::move(descriptors_.front());
    descriptors_.pop_front();
  }
  message.body = parse_bounded_cbor(buffer_.data() + header_bytes, buffer_.data() + header_bytes + length);
  buffer_.erase(buffer_.begin(), buffer_.begin() + header_bytes + length);
  if (message.body.is_discarded()) {
    broken_ = true;
    return std::nullopt;
  }
  return message;
}

Result<Message> Channel::receive(std::optional<Clock::time_point> deadline) {
  while (true) {
    if (auto message = take()) return std::move(*message);
    if (broken_) return Error{ErrorCode::io, "the other process broke the connection"};
    int timeout = -1;
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) return Error{ErrorCode::limit_exceeded, "no answer in time"};
      timeout = static_cast<int>(std::min<long long>(left, 1000 * 60 * 60));
    }
    struct pollfd ready {socket_.get(), POLLIN, 0};
    const int polled = ::poll(&ready, 1, timeout);
    if (polled < 0 && errno != EINTR) return Error{ErrorCode::io, std::string("poll: ") + std::strerror(errno)};
    if (polled <= 0) continue;
    if (!pump()) {
      if (auto message = take()) return std::move(*message);
      return Error{ErrorCode::io, "the other process closed the connection"};
    }
  }
}

}  // namespace picklewall::detail
