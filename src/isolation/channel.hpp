// The line between a supervisor and a sandboxed worker: one Unix stream socket carrying framed CBOR messages,
// each optionally with one file descriptor (SCM_RIGHTS). The supervisor hands files over as descriptors it
// opened read-only, so a worker never needs to open anything, and a reply can hand back a descriptor (a memfd
// of tensor bytes). Everything read from a worker is hostile in principle: frames have a size cap, and a
// message that does not parse is the same as a dead worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/unique_fd.hpp"
#include "picklewall/result.hpp"

namespace picklewall::detail {

struct Message {
  nlohmann::json body;
  UniqueFd descriptor;  // what came with it, if anything
};

class Channel {
 public:
  using Clock = std::chrono::steady_clock;
  // Frames larger than this are a broken or hostile peer (a report of a million findings is a few hundred MB).
  static constexpr std::uint32_t max_frame_bytes = 1u << 30;

  explicit Channel(UniqueFd socket) : socket_(std::move(socket)) {}
  int fd() const { return socket_.get(); }
  // Hangs up: the other side's next receive sees end-of-file.
  void close() { socket_.reset(); }

  // Sends one message (and `descriptor`, if >= 0). Blocks until written; fails if the peer is gone.
  Status send(const nlohmann::json& body, int descriptor = -1);
  // Waits for the next message until `deadline` (none: forever). limit_exceeded when the deadline passed,
  // io when the peer closed the socket or broke the framing.
  Result<Message> receive(std::optional<Clock::time_point> deadline = std::nullopt);

  // For an event loop over many channels: reads what the socket has now (up to 16 MiB) without blocking, so a
  // big answer arrives in a few calls, not one per 64 KiB. Returns false when
  // the peer is gone or sent something that is not a frame; frames that were whole before that are still
  // returned by take().
  bool pump();
  std::optional<Message> take();
  // The peer sent something that is not a frame (seen by pump() or take()): nothing more will come.
  bool broken() const { return broken_; }

 private:
  bool pump_chunk(bool& more);

  UniqueFd socket_;
  std::vector<std::uint8_t> buffer_;  // bytes received, not yet a whole frame
  std::deque<UniqueFd> descriptors_;  // received with the frames in buffer_, in order
  bool broken_ = false;
};

// A connected pair of sockets (close-on-exec): one end for each side.
Result<std::pair<UniqueFd, UniqueFd>> socket_pair();

}  // namespace picklewall::detail
