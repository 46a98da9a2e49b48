#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "container/archive_reader.hpp"
#include "container/numpy_npy.hpp"
#include "container/safetensors_header.hpp"
#include "container/torch_legacy.hpp"
#include "container/torch_zip.hpp"
#include "container/zip_archive.hpp"
#include "convert/safetensors_writer.hpp"
#include "convert/shared_storage.hpp"
#include "convert/tensor_builder.hpp"
#include "convert/tied_weights.hpp"
#include "io/atomic_file.hpp"
#include "io/checked.hpp"
#include "io/mapped_file.hpp"
#include "picklewall/convert.hpp"
#include "picklewall/report.hpp"
#include "pickle/pickle_stream.hpp"

namespace picklewall {
namespace {

namespace fs = std::filesystem;
using detail::StorageSource;
using detail::StorageSources;

constexpr std::size_t verify_chunk = 4u << 20;

class ReadOnlyFd {
 public:
  explicit ReadOnlyFd(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~ReadOnlyFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  ReadOnlyFd(const ReadOnlyFd&) = delete;
  ReadOnlyFd& operator=(const ReadOnlyFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status pread_all(int fd, std::uint8_t* into, std::uint64_t length, std::uint64_t offset) {
  while (length > 0) {
    const ssize_t got = ::pread(fd, into, length, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return Error{ErrorCode::io, got == 0 ? "file ended early" : std::strerror(errno)};
    into += got;
    offset += static_cast<std::uint64_t>(got);
    length -= static_cast<std::uint64_t>(got);
  }
  return Ok{};
}

// The pickle that holds the tensors, and where each storage's bytes are, for the formats torch writes.
struct Checkpoint {
  std::span<const std::uint8_t> pickle;      // data.pkl, or the legacy file from its start
  std::size_t pickle_index = 0;              // legacy: the object is the 4th pickle
  std::size_t pickles = 1;
  std::map<std::string, StorageSource> storage_bytes;  // by storage key
  std::vector<std::vector<std::uint8_t>> inflated;     // owns deflated records' bytes
};

Result<Checkpoint> open_torch_zip(std::span<const std::uint8_t> bytes, int fd, const Limits& limits) {
  std::vector<Finding> anomalies;
  auto archive = detail::read_zip(bytes, limits, "", anomalies, true);
  if (!archive) return archive.error();
  const auto& entries = archive.value().entries;
  const detail::TorchZipLayout layout = detail::torch_zip_layout(entries);
  if (layout.data_pickle == nullptr || !layout.data_pickle->readable)
    return Error{ErrorCode::unsupported,
                 "a zip archive without " + layout.top_folder + "/data.pkl is not a torch checkpoint"};
  if (layout.has_code || layout.constants != nullptr)
    return Error{ErrorCode::unsupported, "a TorchScript archive holds code; convert its weights from a state "
                                         "dict saved with torch.save(model.state_dict())"};
  Checkpoint checkpoint;
  bool big_endian = false;
  if (layout.byteorder != nullptr && layout.byteorder->readable) {
    std::vector<std::uint8_t> scratch;
    auto record = detail::read_zip_entry(bytes, *layout.byteorder, limits, scratch);
    if (record) big_endian = std::string_view(reinterpret_cast<const char*>(record.value().data()),
                                              record.value().size()) == "big";
  }
  checkpoint.inflated.emplace_back();
  auto pickle = detail::read_zip_entry(bytes, *layout.data_pickle, limits, checkpoint.inflated.back());
  if (!pickle) return pickle.error();
  checkpoint.pickle = pickle.value();
  for (const detail::ZipEntry& entry : entries) {
    if (!layout.is_storage_record(entry.name) || !entry.readable) continue;
    StorageSource source;
    source.big_endian = big_endian;
    if (entry.method == 0) {
      source.bytes = bytes.subspan(entry.data_offset, entry.uncompressed_size);
      source.fd = fd;
      source.file_offset = entry.data_offset;
      source.mapped = true;
    } else {
      checkpoint.inflated.emplace_back();
      auto inflated = detail::read_zip_entry(bytes, entry, limits, checkpoint.inflated.back());
      if (!inflated) return inflated.error();
      source.bytes = inflated.value();
    }
    checkpoint.storage_bytes[layout.storage_key(entry.name)] = source;
  }
  return checkpoint;
}

Result<Checkpoint> open_torch_legacy(std::span<const std::uint8_t> bytes, int fd, const Limits& limits,
                                     std::chrono::steady_clock::time_point deadline) {
  const detail::MachineOptions full{detail::GraphDetail::full, false};
  const auto stream = detail::read_pickle_stream(bytes, 0, limits, deadline, 5, full);
  const auto storages = detail::check_legacy_storages(bytes, stream);
  if (!storages.valid) return Error{ErrorCode::malformed, "legacy torch file: " + storages.problem};
  Checkpoint checkpoint;
  checkpoint.pickle = bytes;
  checkpoint.pickle_index = 3;
  checkpoint.pickles = 5;
  for (const auto& range : storages.ranges) {
    StorageSource source;
    source.bytes = bytes.subspan(range.offset, range.length);
    source.fd = fd;
    source.file_offset = range.offset;
    source.mapped = true;
    checkpoint.storage_bytes[range.key] = source;
  }
  return checkpoint;
}

std::string findings_text(const FileReport& report) {
  std::string out;
  for (const Finding& finding : report.findings) {
    if (finding.severity == Severity::info) continue;
    out += "\n  " + std::string(to_string(finding.severity)) + " [" + finding.rule + "]" +
           (finding.member.empty() ? "" : " in " + finding.member) + ": " + finding.message;
  }
  return out;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code error;
  return fs::exists(b, error) && fs::equivalent(a, b, error);
}

// --verify: the output read back under the reference reader's rules, its header equal to what was meant, and
// every tensor's bytes equal to the source's, compared chunk by chunk.
Status verify_output(const std::string& path, const std::vector<detail::TensorInfo>& tensors,
                     const std::map<std::string, std::string>& metadata, const StorageSources& sources) {
  auto mapped = detail::MappedFile::open(path);
  if (!mapped) return mapped.error();
  const auto check = detail::check_safetensors(mapped.value().bytes());
  if (!check.valid) return Error{ErrorCode::malformed, "verify: the output is refused by the reader's rules: " +
                                                           check.error_name + " " + check.message};
  const auto ordered = detail::writer_order(tensors);
  auto header = detail::safetensors_header(ordered, metadata);
  if (!header) return header.error();
  const auto bytes = mapped.value().bytes();
  const std::uint64_t data_start = 8 + header.value().size();
  if (bytes.size() < data_start ||
      std::string_view(reinterpret_cast<const char*>(bytes.data() + 8), header.value().size()) != header.value())
    return Error{ErrorCode::malformed, "verify: the output's header is not the one that was meant"};
  ReadOnlyFd fd(path);
  if (fd.get() < 0) return Error{ErrorCode::io, "verify: cannot open " + path + ": " + std::strerror(errno)};
  std::uint64_t at = data_start;
  std::vector<std::uint8_t> written(verify_chunk);
  for (const detail::TensorInfo* tensor : ordered) {
    Status compared = detail::stream_tensor_bytes(
        *tensor, sources.at(tensor->storage_key), [&](std::span<const std::uint8_t> expected) -> Status {
          if (Status read = pread_all(fd.get(), written.data(), expected.size(), at); !read) return read;
          if (!std::equal(expected.begin(), expected.end(), written.begin()))
            return Error{ErrorCode::malformed, "verify: tensor '" + tensor->name + "' differs from its source"};
          at += expected.size();
          return Ok{};
        });
    if (!compared) return compared;
  }
  if (at != bytes.size()) return Error{ErrorCode::malformed, "verify: the output's size is not the tensors' total"};
  return Ok{};
}

// Hugging Face's converter drops the model's tied-weight names first; the model is named by config.json's first
// architecture, next to the checkpoint.
std::set<std::string> tied_weight_names(const fs::path& checkpoint) {
  std::set<std::string> names;
  std::ifstream stream(checkpoint.parent_path() / "config.json");
  if (!stream) return names;
  const auto config = nlohmann::json::parse(stream, nullptr, false);
  if (config.is_discarded() || !config.is_object() || !config.contains("architectures") ||
      !config["architectures"].is_array() || config["architectures"].empty() || !config["architectures"][0].is_string())
    return names;
  const auto& table = detail::tied_weights_by_architecture();
  if (auto it = table.find(config["architectures"][0].get<std::string>()); it != table.end())
    for (std::string_view name : it->second) names.emplace(name);
  return names;
}

// The tensors of a file, and where each one's bytes are.
struct Prepared {
  detail::BuiltTensors built;
  StorageSources sources;
  Checkpoint checkpoint;                          // torch: owns inflated records
  std::vector<std::vector<std::uint8_t>> buffers;  // decompressed streams and members
};

// A storage that is a view of the mapped input can be copied by the kernel from the file.
StorageSource source_for(std::span<const std::uint8_t> span, std::span<const std::uint8_t> file, int fd,
                         bool big_endian) {
  StorageSource source;
  source.bytes = span;
  source.big_endian = big_endian;
  if (span.data() >= file.data() && span.data() + span.size() <= file.data() + file.size()) {
    source.fd = fd;
    source.file_offset = static_cast<std::uint64_t>(span.data() - file.data());
    source.mapped = true;
  }
  return source;
}

Status check_storage_sizes(const detail::BuiltTensors& built, const std::map<std::string, StorageSource>& found,
                           std::span<const std::uint8_t> file, int fd, StorageSources& sources) {
  for (const auto& [key, storage] : built.storages) {
    if (auto inline_bytes = built.inline_storages.find(key); inline_bytes != built.inline_storages.end()) {
      sources[key] = source_for(inline_bytes->second, file, fd, storage.big_endian);  // a numpy array in the pickle
      continue;
    }
    auto it = found.find(key);
    if (it == found.end()) return Error{ErrorCode::malformed, "storage '" + key + "' has no record"};
    if (it->second.bytes.size() != storage.bytes)
      return Error{ErrorCode::malformed, "storage '" + key + "' holds " + std::to_string(it->second.bytes.size()) +
                                             " bytes but is declared as " + std::to_string(storage.bytes)};
    sources[key] = it->second;
  }
  return Ok{};
}

// A pickle of numpy arrays (or a joblib stream): the arrays' bytes are inside `stream_bytes`.
Status prepare_pickled_arrays(Prepared& out, std::span<const std::uint8_t> stream_bytes,
                              std::span<const std::uint8_t> file, int fd, bool joblib, const ConvertOptions& options,
                              std::chrono::steady_clock::time_point deadline) {
  const detail::MachineOptions full{detail::GraphDetail::full, joblib};
  const auto stream = detail::read_pickle_stream(stream_bytes, 0, options.limits, deadline, 1, full);
  if (stream.pickles.empty() || !stream.pickles.front().stopped)
    return Error{ErrorCode::malformed, "the pickle cannot be read to its end"};
  detail::BuildOptions build_options{options.key, options.strip_code, stream_bytes};
  auto built = detail::build_tensors(stream.pickles.front(), build_options);
  if (!built) return built.error();
  out.built = std::move(built.value());
  for (const auto& [key, span] : out.built.inline_storages)
    out.sources[key] = source_for(span, file, fd, out.built.storages.at(key).big_endian);
  return Ok{};
}

// One .npy (a member of an .npz, or a file): one tensor.
Status add_npy(Prepared& out, const std::string& name, std::span<const std::uint8_t> npy,
               std::span<const std::uint8_t> file, int fd) {
  auto header = detail::read_npy_header(npy);
  if (!header) return Error{header.error().code, name + ": " + header.error().message};
  if (header.value().has_object_dtype) {
    out.built.skipped.push_back(name + ": an object array (its items are a pickle), not converted");
    return Ok{};
  }
  auto layout = detail::read_npy_layout(header.value());
  if (!layout) return Error{layout.error().code, name + ": " + layout.error().message};
  auto dtype = detail::dtype_of_numpy_code(layout.value().descr);
  if (!dtype) {
    out.built.skipped.push_back(name + ": dtype '" + layout.value().descr + "' cannot be stored in safetensors");
    return Ok{};
  }
  std::uint64_t bytes = dtype->bytes;
  for (std::uint64_t size : layout.value().shape) {
    auto product = detail::checked_mul(bytes, size);
    if (!product) return Error{ErrorCode::malformed, name + ": the array's size overflows"};
    bytes = *product;
  }
  const std::uint64_t offset = header.value().data_offset;
  if (!detail::range_fits(offset, bytes, npy.size()) || offset + bytes != npy.size())
    return Error{ErrorCode::malformed, name + ": the data is not the size its header declares"};
  const std::string key = "npy:" + name;
  out.built.tensors.push_back(detail::array_tensor(name, *dtype, layout.value().shape, layout.value().fortran_order, key));
  const bool big_endian = layout.value().descr.starts_with(">");
  out.built.storages[key] = detail::StorageInfo{key, bytes, *dtype, false, big_endian};
  out.sources[key] = source_for(npy.subspan(offset, bytes), file, fd, big_endian);
  return Ok{};
}

Result<Prepared> prepare(const std::string& format, std::span<const std::uint8_t> bytes, int fd,
                         const std::string& stem, const ConvertOptions& options,
                         std::chrono::steady_clock::time_point deadline) {
  Prepared out;
  if (format == "numpy") {
    if (Status added = add_npy(out, stem, bytes, bytes, fd); !added) return added.error();
    return out;
  }
  if (format == "joblib") {
    if (Status done = prepare_pickled_arrays(out, bytes, bytes, fd, true, options, deadline); !done) return done.error();
    return out;
  }
  if (format == "gzip" || format == "bzip2" || format == "xz" || format == "lzma" || format == "zstd" ||
      format == "lz4" || format == "zlib") {
    // A compressed pickle or joblib file: decompressed in memory, within the Limits budgets.
    auto contents = format == "zlib" ? detail::decompress_zlib(bytes, options.limits)
                                     : detail::decompress_stream(bytes, options.limits);
    if (!contents) return contents.error();
    if (contents.value().members.size() != 1 || contents.value().members.front().truncated_by_limit)
      return Error{ErrorCode::limit_exceeded, "the decompressed stream is larger than the Limits budget"};
    out.buffers.push_back(std::move(contents.value().members.front().data));
    const auto& inner = out.buffers.back();
    if (Status done = prepare_pickled_arrays(out, inner, bytes, -1, true, options, deadline); !done) return done.error();
    return out;
  }
  if (format == "zip") {
    // An .npz: every member a .npy.
    std::vector<Finding> anomalies;
    auto archive = detail::read_zip(bytes, options.limits, "", anomalies);
    if (!archive) return archive.error();
    for (const detail::ZipEntry& entry : archive.value().entries) {
      if (!entry.name.ends_with(".npy") || !entry.readable)
        return Error{ErrorCode::unsupported, "a zip that is not a torch checkpoint or an .npz (member " + entry.name + ")"};
      out.buffers.emplace_back();
      auto member = detail::read_zip_entry(bytes, entry, options.limits, out.buffers.back());
      if (!member) return member.error();
      if (Status added = add_npy(out, entry.name.substr(0, entry.name.size() - 4), member.value(), bytes, fd); !added)
        return added.error();
    }
    return out;
  }
  Result<Checkpoint> checkpoint = Error{ErrorCode::unsupported, ""};
  if (format == "pytorch-zip") {
    checkpoint = open_torch_zip(bytes, fd, options.limits);
  } else if (format == "pytorch-legacy") {
    checkpoint = open_torch_legacy(bytes, fd, options.limits, deadline);
  } else if (format == "pickle") {
    // A legacy file whose first pickle was replaced (a payload that also rebuilds the magic number) no longer
    // starts with the magic: it is still the legacy layout when its storage section checks out. Any other
    // pickle is read for numpy arrays.
    checkpoint = open_torch_legacy(bytes, fd, options.limits, deadline);
    if (!checkpoint) {
      if (Status done = prepare_pickled_arrays(out, bytes, bytes, fd, false, options, deadline); !done)
        return done.error();
      return out;
    }
  } else {
    return Error{ErrorCode::unsupported, "this is " + format + "; convert reads PyTorch checkpoints (zip and legacy), "
                                        "pickles and joblib files of numpy arrays, .npy and .npz"};
  }
  if (!checkpoint) return checkpoint.error();
  out.checkpoint = std::move(checkpoint.value());
  const detail::MachineOptions full{detail::GraphDetail::full, false};
  const auto stream = detail::read_pickle_stream(out.checkpoint.pickle, 0, options.limits, deadline,
                                                 out.checkpoint.pickles, full);
  const std::size_t index = out.checkpoint.pickle_index;
  if (stream.pickles.size() <= index || !stream.pickles[index].stopped)
    return Error{ErrorCode::malformed, "the pickle holding the tensors cannot be read to its end"};
  detail::BuildOptions build_options{options.key, options.strip_code, out.checkpoint.pickle};
  auto built = detail::build_tensors(stream.pickles[index], build_options);
  if (!built) return built.error();
  out.built = std::move(built.value());
  if (Status sized = check_storage_sizes(out.built, out.checkpoint.storage_bytes, bytes, fd, out.sources); !sized)
    return sized.error();
  return out;
}

}  // namespace

Result<ConvertReport> convert_file(const std::string& input, const std::string& output, const ConvertOptions& options) {
  ConvertReport report;
  report.input = input;
  report.output = output;
  if (same_file(input, output)) return Error{ErrorCode::invalid_argument, output + " is the input itself"};

  ScanOptions scan_options;
  scan_options.limits = options.limits;
  scan_options.policy = options.policy;
  scan_options.hash_files = false;
  auto scanner = Scanner::create(scan_options);
  if (!scanner) return scanner.error();
  report.scan = scanner.value().scan_file(input);
  if (report.scan.verdict == Verdict::error)
    return Error{ErrorCode::io, input + ": " + (report.scan.findings.empty() ? "cannot be read"
                                                                             : report.scan.findings.front().message)};
  if (report.scan.verdict != Verdict::safe && !options.strip_code)
    return Error{ErrorCode::refused, input + " is " + std::string(to_string(report.scan.verdict)) +
                                         ", so it is not converted (--strip-code converts its tensors anyway, "
                                         "leaving everything else behind):" + findings_text(report.scan)};

  auto mapped = detail::MappedFile::open(input);
  if (!mapped) return mapped.error();
  const auto bytes = mapped.value().bytes();
  ReadOnlyFd fd(input);
  if (fd.get() < 0) return Error{ErrorCode::io, "cannot open " + input + ": " + std::strerror(errno)};
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(options.limits.max_seconds_per_file));
  auto prepared = prepare(report.scan.format, bytes, fd.get(), fs::path(input).stem().string(), options, deadline);
  if (!prepared) return Error{prepared.error().code, input + ": " + prepared.error().message};
  detail::BuiltTensors& built = prepared.value().built;
  const StorageSources& sources = prepared.value().sources;
  if (built.tensors.empty()) return Error{ErrorCode::unsupported, input + ": no tensors found to convert"};
  report.skipped = built.skipped;
  auto deduplicated = detail::remove_shared_aliases(std::move(built.tensors), built.storages,
                                                   tied_weight_names(fs::path(input)));
  if (!deduplicated) return Error{deduplicated.error().code, input + ": " + deduplicated.error().message};
  std::map<std::string, std::string> metadata{{"format", "pt"}};
  for (const auto& [dropped, kept] : deduplicated.value().dropped) metadata.try_emplace(dropped, kept);
  report.dropped = deduplicated.value().dropped;

  auto written = detail::write_safetensors(output, deduplicated.value().kept, metadata, sources);
  if (!written) return Error{written.error().code, output + ": " + written.error().message};
  report.bytes_written = written.value();
  for (const detail::TensorInfo* tensor : detail::writer_order(deduplicated.value().kept))
    report.tensors.push_back(ConvertedTensor{tensor->name, std::string(tensor->dtype.name), tensor->shape});
  if (options.verify) {
    if (Status verified = verify_output(output, deduplicated.value().kept, metadata, sources); !verified) {
      std::error_code ignored;
      fs::remove(output, ignored);  // a file that fails verification is not left looking like a result
      return Error{verified.error().code, output + ": " + verified.error().message};
    }
    report.verified = true;
  }
  return report;
}

namespace {

std::string renamed_shard(const std::string& name) {
  std::string out = name;
  if (out.starts_with("pytorch_model")) out.replace(0, std::string("pytorch_model").size(), "model");
  if (out.ends_with(".bin")) out.replace(out.size() - 4, 4, ".safetensors");
  return out;
}

Status copy_file_atomically(const fs::path& from, const fs::path& to) {
  ReadOnlyFd in(from.string());
  if (in.get() < 0) return Error{ErrorCode::io, "cannot open " + from.string() + ": " + std::strerror(errno)};
  auto out = detail::AtomicFile::create(to.string());
  if (!out) return out.error();
  std::error_code error;
  const auto size = fs::file_size(from, error);
  if (error) return Error{ErrorCode::io, "cannot read " + from.string() + ": " + error.message()};
  if (Status copied = out.value().copy_from(in.get(), 0, size); !copied) return copied;
  return out.value().commit();
}

}  // namespace

Result<std::vector<ConvertReport>> convert_folder(const std::string& input_dir, const std::string& output_dir,
                                                  const ConvertOptions& options) {
  std::error_code error;
  if (!fs::is_directory(input_dir, error)) return Error{ErrorCode::not_found, input_dir + " is not a directory"};
  if (same_file(input_dir, output_dir)) return Error{ErrorCode::invalid_argument, "the output folder is the input folder"};
  const fs::path in(input_dir), out(output_dir);
  // What to convert: the shards an index names, or pytorch_model.bin.
  std::vector<std::string> weights;
  std::optional<nlohmann::json> index;
  const fs::path index_path = in / "pytorch_model.bin.index.json";
  if (fs::exists(index_path, error)) {
    std::ifstream stream(index_path);
    index = nlohmann::json::parse(stream, nullptr, false);
    if (index->is_discarded() || !index->contains("weight_map") || !(*index)["weight_map"].is_object())
      return Error{ErrorCode::malformed, index_path.string() + " is not a weight index (no weight_map)"};
    std::set<std::string> shards;
    for (const auto& [name, shard] : (*index)["weight_map"].items()) {
      if (!shard.is_string() || shard.get<std::string>().find('/') != std::string::npos ||
          shard.get<std::string>().starts_with("."))
        return Error{ErrorCode::malformed, index_path.string() + " names a shard outside the folder: " + shard.dump()};
      shards.insert(shard.get<std::string>());
    }
    weights.assign(shards.begin(), shards.end());
  } else if (fs::exists(in / "pytorch_model.bin", error)) {
    weights.push_back("pytorch_model.bin");
  } else {
    return Error{ErrorCode::not_found, input_dir + " has neither pytorch_model.bin nor pytorch_model.bin.index.json"};
  }
  fs::create_directories(out, error);
  if (error) return Error{ErrorCode::io, "cannot create " + output_dir + ": " + error.message()};

  std::vector<ConvertReport> reports;
  for (const std::string& shard : weights) {
    auto converted = convert_file((in / shard).string(), (out / renamed_shard(shard)).string(), options);
    if (!converted) return converted.error();
    reports.push_back(std::move(converted.value()));
  }
  if (index) {
    nlohmann::ordered_json renamed = nlohmann::ordered_json::object();
    if (index->contains("metadata")) renamed["metadata"] = (*index)["metadata"];
    nlohmann::ordered_json map = nlohmann::ordered_json::object();
    for (const auto& [name, shard] : (*index)["weight_map"].items()) map[name] = renamed_shard(shard.get<std::string>());
    renamed["weight_map"] = std::move(map);
    if (Status written = write_file_atomically((out / "model.safetensors.index.json").string(), renamed.dump(2) + "\n");
        !written)
      return written.error();
  }
  // Everything else at the top of the folder (configs, tokenizer files, README) comes along as it is.
  const std::set<std::string> converted(weights.begin(), weights.end());
  for (const auto& entry : fs::directory_iterator(in, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || converted.contains(name) || name == "pytorch_model.bin.index.json") continue;
    if (Status copied = copy_file_atomically(entry.path(), out / name); !copied) return copied.error();
  }
  if (error) return Error{ErrorCode::io, "cannot list " + input_dir + ": " + error.message()};
  return reports;
}

}  // namespace picklewall
