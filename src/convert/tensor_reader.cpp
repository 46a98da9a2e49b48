#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "convert/model_tensors.hpp"
#include "io/checked.hpp"
#include "io/page_release.hpp"
#include "isolation/supervisor.hpp"
#include "isolation/worker_protocol.hpp"
#include "picklewall/load.hpp"
#include "report/report_codec.hpp"

namespace picklewall {

struct TensorReader::State {
  FileReport scan;
  std::unique_ptr<detail::ModelTensors> model;  // read here (open)
  std::vector<TensorSpec> specs;
  // open_in_worker: the worker's shared memory file of packed tensors, mapped read-only, and where each starts.
  const std::uint8_t* packed = nullptr;
  std::uint64_t packed_size = 0;
  std::vector<std::uint64_t> offsets;
  std::vector<std::string> skipped;
  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (packed != nullptr) ::munmap(const_cast<std::uint8_t*>(packed), packed_size);
  }
};

namespace {

std::uint64_t aligned(std::uint64_t at) {
  return (at + TensorReader::alignment - 1) / TensorReader::alignment * TensorReader::alignment;
}

}  // namespace

std::uint64_t TensorReader::packed_bytes() const {
  std::uint64_t total = 0;
  for (const TensorSpec& spec : state_->specs) total = aligned(total) + spec.bytes;
  return total;
}

Result<TensorReader> TensorReader::open_in_worker(WorkerPool& pool, const std::string& path, bool strip_code,
                                                  const std::string& key, const WorkerPool::StopRequested& stop) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return Error{ErrorCode::not_found, path + ": no such file"};
  const nlohmann::json request = {{"op", "tensors"},
                                  {"path", nlohmann::json::binary({path.begin(), path.end()})},
                                  {"strip_code", strip_code},
                                  {"key", nlohmann::json::binary({key.begin(), key.end()})}};
  auto answer = detail::request_in_worker(pool, request, -1,
                                          detail::hard_time_limit(pool.options().limits,
                                                                  static_cast<std::uint64_t>(info.st_size), true) * 2,
                                          stop);
  if (!answer) return Error{answer.error().code, path + ": " + answer.error().message};
  const nlohmann::json& body = answer.value().body;
  if (body.contains("error")) return detail::error_from_json(body);
  auto state = std::make_unique<State>();
  try {
    auto scan = detail::report_from_json(body.at("scan"));
    if (!scan) return Error{ErrorCode::io, path + ": the worker sent no scan"};
    state->scan = std::move(*scan);
    state->scan.path = path;
    for (const auto& item : body.at("tensors")) {
      const auto& name = item.at(0).get_binary();
      state->specs.push_back(TensorSpec{std::string(name.begin(), name.end()), item.at(1).get<std::string>(),
                                        item.at(2).get<std::vector<std::uint64_t>>(), item.at(3).get<std::uint64_t>()});
      state->offsets.push_back(item.at(4).get<std::uint64_t>());
    }
    for (const auto& line : body.at("skipped")) state->skipped.emplace_back(line.get_binary().begin(), line.get_binary().end());
  } catch (const nlohmann::json::exception&) {
    return Error{ErrorCode::io, path + ": the worker sent a tensor table that does not parse"};
  }
  // The table comes from a process that read hostile bytes: every tensor must lie inside the shared file.
  struct stat shared {};
  if (!answer.value().descriptor || ::fstat(answer.value().descriptor.get(), &shared) != 0)
    return Error{ErrorCode::io, path + ": the worker sent no tensor bytes"};
  state->packed_size = static_cast<std::uint64_t>(shared.st_size);
  for (std::size_t i = 0; i < state->specs.size(); ++i)
    if (!detail::range_fits(state->offsets[i], state->specs[i].bytes, state->packed_size))
      return Error{ErrorCode::io, path + ": the worker's tensor table points outside its bytes"};
  if (state->packed_size > 0) {
    void* mapped = ::mmap(nullptr, state->packed_size, PROT_READ, MAP_SHARED, answer.value().descriptor.get(), 0);
    if (mapped == MAP_FAILED) return Error{ErrorCode::io, path + ": cannot map the tensors the worker read"};
    state->packed = static_cast<const std::uint8_t*>(mapped);
  }
  return TensorReader(std::move(state));
}

TensorReader::TensorReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
TensorReader::TensorReader(TensorReader&&) noexcept = default;
TensorReader& TensorReader::operator=(TensorReader&&) noexcept = default;
TensorReader::~TensorReader() = default;

Result<TensorReader> TensorReader::open(const std::string& path, const LoadOptions& options) {
  auto state = std::make_unique<State>();
  auto scanned = detail::scan_before_reading_tensors(path, options.limits, options.policy, options.strip_code);
  if (!scanned) return scanned.error();
  state->scan = std::move(scanned.value());
  auto model = detail::open_model_tensors(path, state->scan.format, {options.limits, options.key, options.strip_code});
  if (!model) return Error{model.error().code, path + ": " + model.error().message};
  state->model = std::move(model.value());
  const auto& built = state->model->built;
  if (built.tensors.empty()) return Error{ErrorCode::unsupported, path + ": no tensors found"};
  for (const detail::TensorInfo& tensor : built.tensors)
    state->specs.push_back(TensorSpec{tensor.name, std::string(tensor.dtype.name), tensor.shape,
                                      tensor.numel() * tensor.dtype.bytes});
  return TensorReader(std::move(state));
}

const FileReport& TensorReader::scan() const { return state_->scan; }
const std::vector<TensorSpec>& TensorReader::tensors() const { return state_->specs; }
const std::vector<std::string>& TensorReader::skipped() const {
  return state_->model ? state_->model->built.skipped : state_->skipped;
}

Status TensorReader::read(std::size_t index, std::span<std::uint8_t> into) const {
  if (index >= state_->specs.size()) return Error{ErrorCode::invalid_argument, "no tensor number " + std::to_string(index)};
  const TensorSpec& spec = state_->specs[index];
  if (into.size() != spec.bytes)
    return Error{ErrorCode::invalid_argument, "tensor '" + spec.name + "' needs " + std::to_string(spec.bytes) +
                                                  " bytes, the buffer has " + std::to_string(into.size())};
  if (!state_->model) {
    if (spec.bytes > 0) std::memcpy(into.data(), state_->packed + state_->offsets[index], spec.bytes);
    return Ok{};
  }
  const detail::TensorInfo& tensor = state_->model->built.tensors[index];
  const detail::StorageSource& source = state_->model->sources.at(tensor.storage_key);
  if (tensor.contiguous() && (!source.big_endian || tensor.dtype.bytes == 1)) {
    // Already the bytes the caller wants: one copy from the mapping, then the mapping's pages are let go as
    // convert lets them go. The builder checked the view against its storage; checked again here because the
    // copy trusts it.
    if (!detail::range_fits(tensor.first_byte(), spec.bytes, source.bytes.size()))
      return Error{ErrorCode::malformed, "tensor '" + spec.name + "' reaches outside its storage"};
    const auto bytes = source.bytes.subspan(tensor.first_byte(), spec.bytes);
    constexpr std::size_t chunk = 8u << 20;  // pages released as the copy moves on: resident mapping stays small
    for (std::size_t at = 0; at < bytes.size(); at += chunk) {
      const auto part = bytes.subspan(at, std::min(chunk, bytes.size() - at));
      std::memcpy(into.data() + at, part.data(), part.size());
      if (source.mapped) detail::release_mapped_pages(part);
    }
    return Ok{};
  }
  std::size_t at = 0;
  return detail::stream_tensor_bytes(tensor, source,
                                     [&](std::span<const std::uint8_t> chunk) -> Status {
                                       if (chunk.size() > into.size() - at)
                                         return Error{ErrorCode::malformed, "tensor '" + spec.name + "' overran its size"};
                                       std::memcpy(into.data() + at, chunk.data(), chunk.size());
                                       at += chunk.size();
                                       return Ok{};
                                     });
}

}  // namespace picklewall
