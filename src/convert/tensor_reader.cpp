#include <algorithm>
#include <cstring>

#include "convert/model_tensors.hpp"
#include "io/checked.hpp"
#include "io/page_release.hpp"
#include "picklewall/load.hpp"

namespace picklewall {

struct TensorReader::State {
  FileReport scan;
  std::unique_ptr<detail::ModelTensors> model;
  std::vector<TensorSpec> specs;
};

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
const std::vector<std::string>& TensorReader::skipped() const { return state_->model->built.skipped; }

Status TensorReader::read(std::size_t index, std::span<std::uint8_t> into) const {
  if (index >= state_->specs.size()) return Error{ErrorCode::invalid_argument, "no tensor number " + std::to_string(index)};
  const TensorSpec& spec = state_->specs[index];
  if (into.size() != spec.bytes)
    return Error{ErrorCode::invalid_argument, "tensor '" + spec.name + "' needs " + std::to_string(spec.bytes) +
                                                  " bytes, the buffer has " + std::to_string(into.size())};
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
