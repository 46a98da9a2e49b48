#include "convert/safetensors_writer.hpp"

#include <algorithm>
#include <functional>

#include <nlohmann/json.hpp>
#include <unordered_set>

#include "io/file_writer.hpp"
#include "io/page_release.hpp"

namespace picklewall::detail {
namespace {

constexpr std::size_t chunk_bytes = 4u << 20;

// Gathered bytes come from a mapped file: its pages are released as the gather moves on (from the last release
// up to the furthest byte read), so resident memory stays at about one chunk whatever the tensor's size. They
// stay in the page cache, shared, and fault back in if a strided view reads them again.
class PageReleaser {
 public:
  explicit PageReleaser(const StorageSource& source) : source_(source), released_(source.bytes.data()) {}
  void read_up_to(const std::uint8_t* end) {
    if (end > furthest_) furthest_ = end;
  }
  void release() {
    if (!source_.mapped || furthest_ <= released_) return;
    release_mapped_pages({released_, static_cast<std::size_t>(furthest_ - released_)});
    released_ = furthest_;
  }

 private:
  const StorageSource& source_;
  const std::uint8_t* released_;
  const std::uint8_t* furthest_ = released_;
};

}  // namespace

std::vector<const TensorInfo*> writer_order(const std::vector<TensorInfo>& tensors) {
  std::vector<const TensorInfo*> ordered;
  for (const TensorInfo& tensor : tensors) ordered.push_back(&tensor);
  std::sort(ordered.begin(), ordered.end(), [](const TensorInfo* a, const TensorInfo* b) {
    if (a->dtype.rank != b->dtype.rank) return a->dtype.rank > b->dtype.rank;
    return a->name < b->name;
  });
  return ordered;
}

Result<std::string> safetensors_header(const std::vector<const TensorInfo*>& ordered,
                                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json values = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) values[key] = value;  // sorted: the reference's order is a hash map's
    header["__metadata__"] = std::move(values);
  }
  // nlohmann's ordered map finds keys by a linear scan, so inserting n tensors through it is n^2 string
  // comparisons (a pickle of 32,000 small arrays: most of convert's time). Names are checked for duplicates in a
  // hash set and the entries appended to the map's vector directly, in the same order.
  std::unordered_set<std::string_view> names;
  if (!metadata.empty()) names.insert("__metadata__");
  auto& entries = header.get_ref<nlohmann::ordered_json::object_t&>();
  using Entries = std::vector<nlohmann::ordered_json::object_t::value_type, nlohmann::ordered_json::object_t::allocator_type>;
  std::uint64_t offset = 0;
  for (const TensorInfo* tensor : ordered) {
    if (!names.insert(tensor->name).second)
      return Error{ErrorCode::malformed, "two tensors would be named '" + tensor->name + "'"};
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = std::string(tensor->dtype.name);
    entry["shape"] = tensor->shape;
    const std::uint64_t size = tensor->numel() * tensor->dtype.bytes;
    entry["data_offsets"] = {offset, offset + size};
    offset += size;
    static_cast<Entries&>(entries).emplace_back(tensor->name, std::move(entry));
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& error) {
    return Error{ErrorCode::malformed, std::string("tensor names are not valid UTF-8: ") + error.what()};
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

Status stream_tensor_bytes(const TensorInfo& tensor, const StorageSource& source, const ChunkSink& sink) {
  const std::uint64_t element = tensor.dtype.bytes;
  const std::uint64_t total = tensor.numel() * element;
  if (total == 0) return Ok{};
  std::vector<std::uint8_t> buffer;
  buffer.reserve(std::min<std::uint64_t>(total, chunk_bytes));
  PageReleaser pages(source);
  auto flush = [&]() -> Status {
    if (buffer.empty()) return Ok{};
    if (source.big_endian && element > 1)
      for (std::size_t at = 0; at < buffer.size(); at += element) std::reverse(buffer.begin() + at, buffer.begin() + at + element);
    Status status = sink(buffer);
    buffer.clear();
    pages.release();
    return status;
  };
  // Runs of consecutive elements: the innermost dimension when its stride is 1, else single elements.
  const std::size_t rank = tensor.shape.size();
  const bool inner_run = rank > 0 && tensor.stride[rank - 1] == 1;
  const std::uint64_t run = inner_run ? tensor.shape[rank - 1] : 1;
  const std::size_t outer_rank = inner_run ? rank - 1 : rank;
  std::vector<std::uint64_t> index(outer_rank, 0);
  while (true) {
    std::uint64_t first = tensor.offset;
    for (std::size_t d = 0; d < outer_rank; ++d) first += index[d] * tensor.stride[d];
    const std::uint8_t* from = source.bytes.data() + first * element;
    std::uint64_t left = run * element;
    while (left > 0) {
      const std::uint64_t take = std::min<std::uint64_t>(left, chunk_bytes - buffer.size());
      buffer.insert(buffer.end(), from, from + take);
      from += take;
      pages.read_up_to(from);
      left -= take;
      if (buffer.size() == chunk_bytes)
        if (Status status = flush(); !status) return status;
    }
    std::size_t d = outer_rank;
    while (d > 0 && ++index[d - 1] == tensor.shape[d - 1]) index[--d] = 0;
    if (d == 0) break;
  }
  return flush();
}

Result<std::uint64_t> write_safetensors(int fd, const std::string& name, const std::vector<TensorInfo>& tensors,
                                        const std::map<std::string, std::string>& metadata,
                                        const StorageSources& sources) {
  const auto ordered = writer_order(tensors);
  auto header = safetensors_header(ordered, metadata);
  if (!header) return header.error();
  FileWriter out(fd, name);
  std::uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<std::uint8_t>(header.value().size() >> (8 * i));
  if (Status status = out.write(length); !status) return status.error();
  if (Status status = out.write({reinterpret_cast<const std::uint8_t*>(header.value().data()), header.value().size()});
      !status)
    return status.error();
  // Each tensor's place in the output is known from the header; the tensors are copied in the order their bytes
  // sit in the source, so a checkpoint that is not in the page cache is read front to back (readahead works)
  // instead of in the output's dtype-then-name order.
  struct Placement {
    const TensorInfo* tensor;
    std::uint64_t at;
  };
  std::vector<Placement> placements;
  std::uint64_t at = out.size();
  for (const TensorInfo* tensor : ordered) {
    placements.push_back({tensor, at});
    at += tensor->numel() * tensor->dtype.bytes;
  }
  std::stable_sort(placements.begin(), placements.end(), [&](const Placement& a, const Placement& b) {
    const StorageSource& x = sources.at(a.tensor->storage_key);
    const StorageSource& y = sources.at(b.tensor->storage_key);
    return std::make_pair(x.file_offset, a.tensor->first_byte()) < std::make_pair(y.file_offset, b.tensor->first_byte());
  });
  for (const Placement& placement : placements) {
    const TensorInfo& tensor = *placement.tensor;
    const StorageSource& source = sources.at(tensor.storage_key);
    Status status = Ok{};
    if (tensor.contiguous() && !source.big_endian && source.fd >= 0) {
      status = out.copy_from(source.fd, source.file_offset + tensor.first_byte(), tensor.numel() * tensor.dtype.bytes,
                             placement.at);
    } else {
      std::uint64_t next = placement.at;
      status = stream_tensor_bytes(tensor, source, [&](std::span<const std::uint8_t> chunk) {
        Status written = out.write_at(chunk, next);
        next += chunk.size();
        return written;
      });
    }
    if (!status) return status.error();
  }
  return out.size();
}

}  // namespace picklewall::detail
