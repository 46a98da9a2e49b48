#include "convert/model_tensors.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "container/archive_reader.hpp"
#include "container/numpy_npy.hpp"
#include "container/torch_legacy.hpp"
#include "container/torch_zip.hpp"
#include "container/zip_archive.hpp"
#include "io/checked.hpp"
#include "pickle/pickle_stream.hpp"

namespace picklewall::detail {
namespace {


// The pickle that holds a checkpoint's tensors, and where each storage's bytes are, for the formats torch writes.
struct Checkpoint {
  std::span<const std::uint8_t> pickle;  // data.pkl, or the legacy file from its start
  std::size_t pickle_index = 0;          // legacy: the object is the 4th pickle
  std::size_t pickles = 1;
  std::map<std::string, StorageSource> storage_bytes;  // by storage key
};

Result<Checkpoint> open_torch_zip(ModelTensors& model, const Limits& limits, const Budget& budget) {
  const auto bytes = model.bytes();
  std::vector<Finding> anomalies;
  auto archive = read_zip(bytes, limits, budget, "", anomalies, true);
  if (!archive) return archive.error();
  const auto& entries = archive.value().entries;
  const TorchZipLayout layout = torch_zip_layout(entries);
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
    auto record = read_zip_entry(bytes, *layout.byteorder, limits, budget, scratch);
    if (record) big_endian = std::string_view(reinterpret_cast<const char*>(record.value().data()),
                                              record.value().size()) == "big";
  }
  model.buffers().emplace_back();
  auto pickle = read_zip_entry(bytes, *layout.data_pickle, limits, budget, model.buffers().back());
  if (!pickle) return pickle.error();
  checkpoint.pickle = pickle.value();
  for (const ZipEntry& entry : entries) {
    if (!layout.is_storage_record(entry.name) || !entry.readable) continue;
    StorageSource source;
    source.big_endian = big_endian;
    if (entry.method == 0) {
      source.bytes = bytes.subspan(entry.data_offset, entry.uncompressed_size);
      source.fd = model.fd();
      source.file_offset = entry.data_offset;
      source.mapped = true;
    } else {
      model.buffers().emplace_back();
      auto inflated = read_zip_entry(bytes, entry, limits, budget, model.buffers().back());
      if (!inflated) return inflated.error();
      source.bytes = inflated.value();
    }
    checkpoint.storage_bytes[layout.storage_key(entry.name)] = source;
  }
  return checkpoint;
}

Result<Checkpoint> open_torch_legacy(const ModelTensors& model, const Limits& limits, const Budget& budget) {
  const auto bytes = model.bytes();
  const MachineOptions full{GraphDetail::full, false};
  const auto stream = read_pickle_stream(bytes, 0, limits, budget, 5, full);
  const auto storages = check_legacy_storages(bytes, stream);
  if (!storages.valid) return Error{ErrorCode::malformed, "legacy torch file: " + storages.problem};
  Checkpoint checkpoint;
  checkpoint.pickle = bytes;
  checkpoint.pickle_index = 3;
  checkpoint.pickles = 5;
  for (const auto& range : storages.ranges) {
    StorageSource source;
    source.bytes = bytes.subspan(range.offset, range.length);
    source.fd = model.fd();
    source.file_offset = range.offset;
    source.mapped = true;
    checkpoint.storage_bytes[range.key] = source;
  }
  return checkpoint;
}

// A storage that is a view of the mapped input can be copied by the kernel from the file.
StorageSource source_for(std::span<const std::uint8_t> span, const ModelTensors& model, bool big_endian) {
  StorageSource source;
  source.bytes = span;
  source.big_endian = big_endian;
  const auto file = model.bytes();
  if (span.data() >= file.data() && span.data() + span.size() <= file.data() + file.size()) {
    source.fd = model.fd();
    source.file_offset = static_cast<std::uint64_t>(span.data() - file.data());
    source.mapped = true;
  }
  return source;
}

Status check_storage_sizes(ModelTensors& model, const std::map<std::string, StorageSource>& found) {
  for (const auto& [key, storage] : model.built.storages) {
    if (auto inline_bytes = model.built.inline_storages.find(key); inline_bytes != model.built.inline_storages.end()) {
      model.sources[key] = source_for(inline_bytes->second, model, storage.big_endian);  // a numpy array in the pickle
      continue;
    }
    auto it = found.find(key);
    if (it == found.end()) return Error{ErrorCode::malformed, "storage '" + key + "' has no record"};
    if (it->second.bytes.size() != storage.bytes)
      return Error{ErrorCode::malformed, "storage '" + key + "' holds " + std::to_string(it->second.bytes.size()) +
                                             " bytes but is declared as " + std::to_string(storage.bytes)};
    model.sources[key] = it->second;
  }
  return Ok{};
}

// A pickle of numpy arrays (or a joblib stream): the arrays' bytes are inside `stream_bytes`.
Status add_pickled_arrays(ModelTensors& model, std::span<const std::uint8_t> stream_bytes, bool joblib,
                          const ModelTensorOptions& options, const Budget& budget) {
  const MachineOptions full{GraphDetail::full, joblib};
  const auto stream = read_pickle_stream(stream_bytes, 0, options.limits, budget, 1, full);
  if (stream.pickles.empty() || !stream.pickles.front().stopped)
    return Error{ErrorCode::malformed, "the pickle cannot be read to its end"};
  BuildOptions build_options{options.key, options.search_dropped_roots, stream_bytes,
                             options.limits.max_tensor_name_bytes};
  auto built = build_tensors(stream.pickles.front(), build_options);
  if (!built) return built.error();
  model.built = std::move(built.value());
  for (const auto& [key, span] : model.built.inline_storages)
    model.sources[key] = source_for(span, model, model.built.storages.at(key).big_endian);
  return Ok{};
}

// One .npy (a member of an .npz, or a file): one tensor.
Status add_npy(ModelTensors& model, const std::string& name, std::span<const std::uint8_t> npy,
               const Limits& limits) {
  auto header = read_npy_header(npy, limits);
  if (!header) return Error{header.error().code, name + ": " + header.error().message};
  if (!header.value().refusal.empty()) return Error{ErrorCode::malformed, name + ": " + header.value().refusal};
  if (header.value().has_object_dtype) {
    model.built.skipped.push_back(name + ": an object array (its items are a pickle), not converted");
    return Ok{};
  }
  auto layout = read_npy_layout(header.value());
  if (!layout) return Error{layout.error().code, name + ": " + layout.error().message};
  auto dtype = dtype_of_numpy_code(layout.value().descr);
  if (!dtype) {
    model.built.skipped.push_back(name + ": dtype '" + layout.value().descr + "' cannot be stored in safetensors");
    return Ok{};
  }
  std::uint64_t bytes = dtype->bytes;
  for (std::uint64_t size : layout.value().shape) {
    auto product = checked_mul(bytes, size);
    if (!product) return Error{ErrorCode::malformed, name + ": the array's size overflows"};
    bytes = *product;
  }
  const std::uint64_t offset = header.value().data_offset;
  if (!range_fits(offset, bytes, npy.size()) || offset + bytes != npy.size())
    return Error{ErrorCode::malformed, name + ": the data is not the size its header declares"};
  const std::string key = "npy:" + name;
  model.built.tensors.push_back(array_tensor(name, *dtype, layout.value().shape, layout.value().fortran_order, key));
  const bool big_endian = layout.value().descr.starts_with(">");
  model.built.storages[key] = StorageInfo{key, bytes, *dtype, false, big_endian};
  model.sources[key] = source_for(npy.subspan(offset, bytes), model, big_endian);
  return Ok{};
}

bool is_compressed_stream(const std::string& format) {
  return format == "gzip" || format == "bzip2" || format == "xz" || format == "lzma" || format == "zstd" ||
         format == "lz4" || format == "zlib";
}

Status add_tensors(ModelTensors& model, const std::string& format, const std::string& stem,
                   const ModelTensorOptions& options, const Budget& budget) {
  const auto bytes = model.bytes();
  if (format == "numpy") return add_npy(model, stem, bytes, options.limits);
  if (format == "joblib") return add_pickled_arrays(model, bytes, true, options, budget);
  if (is_compressed_stream(format)) {
    // A compressed pickle or joblib file: decompressed in memory, within the Limits budgets.
    auto contents = format == "zlib" ? decompress_zlib(bytes, options.limits, budget)
                                      : decompress_stream(bytes, options.limits, budget);
    if (!contents) return contents.error();
    if (contents.value().members.size() != 1 || contents.value().members.front().truncated_by_limit)
      return Error{ErrorCode::limit_exceeded, "the decompressed stream is larger than the Limits budget"};
    model.buffers().push_back(std::move(contents.value().members.front().data));
    return add_pickled_arrays(model, model.buffers().back(), true, options, budget);
  }
  if (format == "zip") {
    // An .npz: every member a .npy.
    std::vector<Finding> anomalies;
    auto archive = read_zip(bytes, options.limits, budget, "", anomalies);
    if (!archive) return archive.error();
    for (const ZipEntry& entry : archive.value().entries) {
      if (!entry.name.ends_with(".npy") || !entry.readable)
        return Error{ErrorCode::unsupported, "a zip that is not a torch checkpoint or an .npz (member " + entry.name + ")"};
      model.buffers().emplace_back();
      auto member = read_zip_entry(bytes, entry, options.limits, budget, model.buffers().back());
      if (!member) return member.error();
      if (Status added = add_npy(model, entry.name.substr(0, entry.name.size() - 4), member.value(), options.limits); !added)
        return added;
    }
    return Ok{};
  }
  Result<Checkpoint> checkpoint = Error{ErrorCode::unsupported, ""};
  if (format == "pytorch-zip") {
    checkpoint = open_torch_zip(model, options.limits, budget);
  } else if (format == "pytorch-legacy") {
    checkpoint = open_torch_legacy(model, options.limits, budget);
  } else if (format == "pickle") {
    // A legacy file whose first pickle was replaced (a payload that also rebuilds the magic number) no longer
    // starts with the magic: it is still the legacy layout when its storage section checks out. Any other
    // pickle is read for numpy arrays.
    checkpoint = open_torch_legacy(model, options.limits, budget);
    if (!checkpoint) return add_pickled_arrays(model, bytes, false, options, budget);
  } else {
    return Error{ErrorCode::unsupported, "this is " + format + "; picklewall reads tensors from PyTorch checkpoints "
                                         "(zip and legacy), pickles and joblib files of numpy arrays, .npy and .npz"};
  }
  if (!checkpoint) return checkpoint.error();
  const MachineOptions full{GraphDetail::full, false};
  const Checkpoint& opened = checkpoint.value();
  const auto stream = read_pickle_stream(opened.pickle, 0, options.limits, budget, opened.pickles, full);
  if (stream.pickles.size() <= opened.pickle_index || !stream.pickles[opened.pickle_index].stopped)
    return Error{ErrorCode::malformed, "the pickle holding the tensors cannot be read to its end"};
  BuildOptions build_options{options.key, options.search_dropped_roots, opened.pickle,
                             options.limits.max_tensor_name_bytes};
  auto built = build_tensors(stream.pickles[opened.pickle_index], build_options);
  if (!built) return built.error();
  model.built = std::move(built.value());
  return check_storage_sizes(model, opened.storage_bytes);
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

}  // namespace

Result<FileReport> scan_before_reading_tensors(const std::string& path, const Limits& limits,
                                               std::shared_ptr<const Policy> policy, bool strip_code) {
  std::error_code missing;
  if (!std::filesystem::exists(path, missing)) return Error{ErrorCode::not_found, path + ": no such file"};
  ScanOptions scan_options;
  scan_options.limits = limits;
  scan_options.policy = std::move(policy);
  scan_options.hash_files = false;
  auto scanner = Scanner::create(scan_options);
  if (!scanner) return scanner.error();
  FileReport report = scanner.value().scan_file(path);
  if (report.verdict == Verdict::error)
    return Error{ErrorCode::io, path + ": " + (report.findings.empty() ? "cannot be read" : report.findings.front().message)};
  if (report.verdict != Verdict::safe && !strip_code)
    return Error{ErrorCode::refused, path + " is " + std::string(to_string(report.verdict)) +
                                         ", so its tensors are not read (strip-code takes the tensors anyway and "
                                         "leaves everything else behind):" + findings_text(report)};
  return report;
}

Result<std::unique_ptr<ModelTensors>> open_model_tensors(const std::string& path, const std::string& format,
                                                         const ModelTensorOptions& options) {
  auto mapped = MappedFile::open(path);
  if (!mapped) return mapped.error();
  auto model = std::make_unique<ModelTensors>(std::move(mapped.value()), path);
  if (model->fd() < 0) return Error{ErrorCode::io, "cannot open " + path + ": " + std::strerror(errno)};
  const Budget budget(options.limits);
  const std::string stem = std::filesystem::path(path).stem().string();
  if (Status added = add_tensors(*model, format, stem, options, budget); !added) return added.error();
  return model;
}

}  // namespace picklewall::detail
