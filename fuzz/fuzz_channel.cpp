// The supervisor's side of the worker channel: whatever bytes a taken-over worker writes to its socket, framed
// or not, reading them and decoding what they say (reports, conversion results, errors, a sandbox note, a
// request for an output file) fails cleanly. The input is written to one end of a socket pair in chunks, and
// the other end is pumped as the supervisor pumps it.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <span>

#include "isolation/channel.hpp"
#include "isolation/worker_protocol.hpp"
#include "report/report_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace picklewall::detail;
  auto sockets = socket_pair();
  if (!sockets) return 0;
  UniqueFd writer = std::move(sockets.value().second);
  Channel reader(std::move(sockets.value().first));
  std::size_t written = 0;
  while (written < size) {
    const std::size_t chunk = std::min<std::size_t>(size - written, 1 + (data[written] % 97) * 64);
    const ssize_t n = ::send(writer.get(), data + written, chunk, MSG_NOSIGNAL);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
    bool alive = reader.pump();
    while (auto message = reader.take()) {
      const nlohmann::json& body = message->body;
      if (auto it = body.find("report"); it != body.end()) (void)report_from_json(*it);
      if (auto it = body.find("result"); it != body.end()) (void)convert_result_from_json(*it);
      if (body.contains("error")) (void)error_from_json(body);
      if (auto it = body.find("limits"); it != body.end()) (void)limits_from_json(*it);
      if (body.is_object()) (void)report_from_json(body);
    }
    if (!alive) break;
  }
  writer.reset();
  while (reader.pump()) (void)reader.take();
  return 0;
}
