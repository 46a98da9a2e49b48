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

#include "container/safetensors_header.hpp"
#include "container/torch_legacy.hpp"
#include "container/zip_archive.hpp"
#include "convert/safetensors_writer.hpp"
#include "convert/shared_storage.hpp"
#include "convert/tensor_builder.hpp"
#include "convert/tied_weights.hpp"
#include "io/atomic_file.hpp"
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
  auto archive = detail::read_zip(bytes, limits, "", anomalies);
  if (!archive) return archive.error();
  const auto& entries = archive.value().entries;
  if (entries.empty()) return Error{ErrorCode::malformed, "an empty zip archive"};
  // torch's rule: every record is under the first entry's top folder.
  const std::string top = entries.front().name.substr(0, entries.front().name.find('/'));
  Checkpoint checkpoint;
  const detail::ZipEntry* data_pkl = nullptr;
  bool big_endian = false;
  std::vector<std::uint8_t> scratch;
  for (const detail::ZipEntry& entry : entries) {
    if (entry.name == top + "/data.pkl") data_pkl = &entry;
    if (entry.name == top + "/byteorder" && entry.readable) {
      auto record = detail::read_zip_entry(bytes, entry, limits, scratch);
      if (record) big_endian = std::string_view(reinterpret_cast<const char*>(record.value().data()),
                                                record.value().size()) == "big";
    }
  }
  if (data_pkl == nullptr || !data_pkl->readable)
    return Error{ErrorCode::unsupported, "a zip archive without " + top + "/data.pkl is not a torch checkpoint"};
  for (const detail::ZipEntry& entry : entries) {
    if (entry.name.find("/code/") != std::string::npos || entry.name == top + "/constants.pkl")
      return Error{ErrorCode::unsupported, "a TorchScript archive holds code; convert its weights from a state "
                                           "dict saved with torch.save(model.state_dict())"};
  }
  checkpoint.inflated.emplace_back();
  auto pickle = detail::read_zip_entry(bytes, *data_pkl, limits, checkpoint.inflated.back());
  if (!pickle) return pickle.error();
  checkpoint.pickle = pickle.value();
  const std::string prefix = top + "/data/";
  for (const detail::ZipEntry& entry : entries) {
    if (!entry.name.starts_with(prefix) || !entry.readable) continue;
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
    checkpoint.storage_bytes[entry.name.substr(prefix.size())] = source;
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
  Result<Checkpoint> checkpoint = Error{ErrorCode::unsupported, ""};
  if (report.scan.format == "pytorch-zip") {
    checkpoint = open_torch_zip(bytes, fd.get(), options.limits);
  } else if (report.scan.format == "pytorch-legacy") {
    checkpoint = open_torch_legacy(bytes, fd.get(), options.limits, deadline);
  } else if (report.scan.format == "pickle") {
    // A legacy file whose first pickle was replaced (a payload that also rebuilds the magic number) no longer
    // starts with the magic: it is still the legacy layout when its storage section checks out.
    checkpoint = open_torch_legacy(bytes, fd.get(), options.limits, deadline);
    if (!checkpoint)
      return Error{ErrorCode::unsupported, input + " is a pickle with no torch storages; convert reads PyTorch "
                                                   "checkpoints (torch.save zip or legacy format)"};
  } else {
    return Error{ErrorCode::unsupported, input + " is " + report.scan.format +
                                             "; convert reads PyTorch checkpoints (torch.save zip or legacy format)"};
  }
  if (!checkpoint) return Error{checkpoint.error().code, input + ": " + checkpoint.error().message};

  const detail::MachineOptions full{detail::GraphDetail::full, false};
  const auto stream = detail::read_pickle_stream(checkpoint.value().pickle, 0, options.limits, deadline,
                                                 checkpoint.value().pickles, full);
  const std::size_t index = checkpoint.value().pickle_index;
  if (stream.pickles.size() <= index || !stream.pickles[index].stopped)
    return Error{ErrorCode::malformed, input + ": the pickle holding the tensors cannot be read to its end"};
  detail::BuildOptions build_options;
  build_options.key = options.key;
  build_options.search_dropped_roots = options.strip_code;
  auto built = detail::build_tensors(stream.pickles[index], build_options);
  if (!built) return Error{built.error().code, input + ": " + built.error().message};
  if (built.value().tensors.empty()) return Error{ErrorCode::unsupported, input + ": no tensors found to convert"};
  report.skipped = built.value().skipped;

  // Every storage a tensor uses must exist and hold exactly what its persistent id declares.
  StorageSources sources;
  for (const auto& [key, storage] : built.value().storages) {
    auto found = checkpoint.value().storage_bytes.find(key);
    if (found == checkpoint.value().storage_bytes.end())
      return Error{ErrorCode::malformed, input + ": storage '" + key + "' has no record"};
    if (found->second.bytes.size() != storage.bytes)
      return Error{ErrorCode::malformed, input + ": storage '" + key + "' holds " +
                                             std::to_string(found->second.bytes.size()) + " bytes but is declared as " +
                                             std::to_string(storage.bytes)};
    sources[key] = found->second;
  }
  auto deduplicated = detail::remove_shared_aliases(std::move(built.value().tensors), built.value().storages,
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
