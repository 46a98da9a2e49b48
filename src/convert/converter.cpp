// The conversion itself, writing every output through an OutputSink (it never creates a file on its own): in a
// worker process the sink is its supervisor's broker.
#include "convert/converter.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "container/safetensors_header.hpp"
#include "convert/model_tensors.hpp"
#include "convert/safetensors_writer.hpp"
#include "convert/shared_storage.hpp"
#include "convert/tensor_builder.hpp"
#include "convert/tied_weights.hpp"
#include "io/file_writer.hpp"
#include "io/mapped_file.hpp"
#include "io/read_only_fd.hpp"

namespace picklewall::detail {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t verify_chunk = 4u << 20;

// --verify: the output read back under the reference reader's rules, its header equal to what was meant, and
// every tensor's bytes equal to the source's, compared chunk by chunk.
Status verify_output(int fd, const std::string& name, const std::vector<TensorInfo>& tensors,
                     const std::map<std::string, std::string>& metadata, const StorageSources& sources) {
  auto mapped = MappedFile::from_descriptor(fd, name);
  if (!mapped) return mapped.error();
  const auto check = check_safetensors(mapped.value().bytes());
  if (!check.valid) return Error{ErrorCode::malformed, "verify: the output is refused by the reader's rules: " +
                                                           check.error_name + " " + check.message};
  const auto ordered = writer_order(tensors);
  auto header = safetensors_header(ordered, metadata);
  if (!header) return header.error();
  const auto bytes = mapped.value().bytes();
  const std::uint64_t data_start = 8 + header.value().size();
  if (bytes.size() < data_start ||
      std::string_view(reinterpret_cast<const char*>(bytes.data() + 8), header.value().size()) != header.value())
    return Error{ErrorCode::malformed, "verify: the output's header is not the one that was meant"};
  std::uint64_t at = data_start;
  std::vector<std::uint8_t> written(verify_chunk);
  for (const TensorInfo* tensor : ordered) {
    Status compared = stream_tensor_bytes(
        *tensor, sources.at(tensor->storage_key), [&](std::span<const std::uint8_t> expected) -> Status {
          if (Status read = pread_all(fd, written.data(), expected.size(), at); !read) return read;
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
  const auto& table = tied_weights_by_architecture();
  if (auto it = table.find(config["architectures"][0].get<std::string>()); it != table.end())
    for (std::string_view name : it->second) names.emplace(name);
  return names;
}

std::string renamed_shard(const std::string& name) {
  std::string out = name;
  if (out.starts_with("pytorch_model")) out.replace(0, std::string("pytorch_model").size(), "model");
  if (out.ends_with(".bin")) out.replace(out.size() - 4, 4, ".safetensors");
  return out;
}

// How many pickle streams a scan read in a file, with its report: a file whose scan read none holds no pickle.
struct ScannedFile {
  FileReport report;
  std::size_t pickles = 0;
};

ScannedFile scan_counting_pickles(const std::string& path, const ConvertOptions& options) {
  ScanOptions scan_options;
  scan_options.limits = options.limits;
  scan_options.policy = options.policy;
  scan_options.hash_files = false;
  ScannedFile out;
  auto scanner = Scanner::create(scan_options);
  if (!scanner) {
    out.report = unreadable_report(path, scanner.error().message);
    return out;
  }
  out.report = scanner.value().scan_file_visiting(path, [&](const PickleStreamView&) { ++out.pickles; });
  return out;
}

Status copy_into(const fs::path& from, const std::string& name, OutputSink& sink) {
  ReadOnlyFd in(from.string());
  if (in.get() < 0) return Error{ErrorCode::io, "cannot open " + from.string() + ": " + std::strerror(errno)};
  std::error_code error;
  const auto size = fs::file_size(from, error);
  if (error) return Error{ErrorCode::io, "cannot read " + from.string() + ": " + error.message()};
  auto out = sink.create(name);
  if (!out) return out.error();
  FileWriter writer(out.value().get(), name);
  return writer.copy_from(in.get(), 0, size);
}

}  // namespace

Result<ConvertReport> convert_file_into(const std::string& input, const std::string& output_name, OutputSink& sink,
                                        const ConvertOptions& options, bool* created) {
  ConvertReport report;
  report.input = input;
  report.output = output_name;
  auto scanned = scan_before_reading_tensors(input, options.limits, options.policy, options.strip_code);
  if (!scanned) return scanned.error();
  report.scan = std::move(scanned.value());
  auto model = open_model_tensors(input, report.scan.format, {options.limits, options.key, options.strip_code});
  if (!model) return Error{model.error().code, input + ": " + model.error().message};
  BuiltTensors& built = model.value()->built;
  const StorageSources& sources = model.value()->sources;
  if (built.tensors.empty()) return Error{ErrorCode::unsupported, input + ": no tensors found to convert"};
  report.skipped = built.skipped;
  auto deduplicated = remove_shared_aliases(std::move(built.tensors), built.storages, tied_weight_names(fs::path(input)));
  if (!deduplicated) return Error{deduplicated.error().code, input + ": " + deduplicated.error().message};
  std::map<std::string, std::string> metadata{{"format", "pt"}};
  for (const auto& [dropped, kept] : deduplicated.value().dropped) metadata.try_emplace(dropped, kept);
  report.dropped = deduplicated.value().dropped;

  auto out = sink.create(output_name);
  if (!out) return out.error();
  if (created != nullptr) *created = true;
  auto written = write_safetensors(out.value().get(), output_name, deduplicated.value().kept, metadata, sources);
  if (!written) return Error{written.error().code, output_name + ": " + written.error().message};
  report.bytes_written = written.value();
  for (const TensorInfo* tensor : writer_order(deduplicated.value().kept))
    report.tensors.push_back(ConvertedTensor{tensor->name, std::string(tensor->dtype.name), tensor->shape});
  if (options.verify) {
    // A file that fails verification is never committed: the whole conversion fails and its staging is removed.
    if (Status verified = verify_output(out.value().get(), output_name, deduplicated.value().kept, metadata, sources);
        !verified)
      return Error{verified.error().code, output_name + ": " + verified.error().message};
    report.verified = true;
  }
  return report;
}

Result<ConvertResult> convert_folder_into(const std::string& input_dir, OutputSink& sink,
                                          const ConvertOptions& options) {
  std::error_code error;
  if (!fs::is_directory(input_dir, error)) return Error{ErrorCode::not_found, input_dir + " is not a directory"};
  const fs::path in(input_dir);
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
      if (!shard.is_string() || !plain_output_name(shard.get<std::string>()) ||
          !plain_output_name(renamed_shard(shard.get<std::string>())))
        return Error{ErrorCode::malformed, index_path.string() + " names a shard outside the folder: " + shard.dump()};
      shards.insert(shard.get<std::string>());
    }
    weights.assign(shards.begin(), shards.end());
  } else if (fs::exists(in / "pytorch_model.bin", error)) {
    weights.push_back("pytorch_model.bin");
  } else {
    return Error{ErrorCode::not_found, input_dir + " has neither pytorch_model.bin nor pytorch_model.bin.index.json"};
  }

  ConvertResult result;
  std::set<std::string> produced;  // output names taken, so nothing is written twice
  for (const std::string& shard : weights) {
    auto converted = convert_file_into((in / shard).string(), renamed_shard(shard), sink, options);
    if (!converted) return converted.error();
    produced.insert(renamed_shard(shard));
    result.conversions.push_back(std::move(converted.value()));
  }
  if (index) {
    nlohmann::ordered_json renamed = nlohmann::ordered_json::object();
    if (index->contains("metadata")) renamed["metadata"] = (*index)["metadata"];
    nlohmann::ordered_json map = nlohmann::ordered_json::object();
    for (const auto& [name, shard] : (*index)["weight_map"].items()) map[name] = renamed_shard(shard.get<std::string>());
    renamed["weight_map"] = std::move(map);
    const std::string text = renamed.dump(2) + "\n";
    auto out = sink.create("model.safetensors.index.json");
    if (!out) return out.error();
    FileWriter writer(out.value().get(), "model.safetensors.index.json");
    if (Status written = writer.write({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}); !written)
      return written.error();
    produced.insert("model.safetensors.index.json");
  }

  // Every other top-level entry is judged on its own: copied only when it holds no pickle and nothing else
  // that is not safe; a pickle of tensors becomes a safetensors file; the rest stays behind, named.
  const std::set<std::string> consumed(weights.begin(), weights.end());
  std::vector<fs::directory_entry> entries;
  for (const auto& entry : fs::directory_iterator(in, error)) entries.push_back(entry);
  if (error) return Error{ErrorCode::io, "cannot list " + input_dir + ": " + error.message()};
  std::sort(entries.begin(), entries.end());
  for (const fs::directory_entry& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (consumed.contains(name) || name == "pytorch_model.bin.index.json") continue;
    std::error_code kind_error;
    if (entry.is_directory(kind_error)) {
      result.left_out.push_back(name + "/: a folder (only the top level of a model folder is converted)");
      continue;
    }
    if (!entry.is_regular_file(kind_error)) {
      result.left_out.push_back(name + ": not a regular file");
      continue;
    }
    if (!plain_output_name(name)) {
      result.left_out.push_back(name + ": a hidden or unusual name");
      continue;
    }
    const ScannedFile scanned = scan_counting_pickles(entry.path().string(), options);
    const Verdict verdict = scanned.report.verdict;
    if (scanned.pickles == 0 && (verdict == Verdict::safe || verdict == Verdict::not_a_model)) {
      if (produced.contains(name)) {
        result.left_out.push_back(name + ": the conversion writes a file of this name");
        continue;
      }
      if (Status copied = copy_into(entry.path(), name, sink); !copied) return copied.error();
      produced.insert(name);
      result.copied.push_back(name);
      continue;
    }
    if (scanned.pickles == 0) {
      result.left_out.push_back(name + ": its verdict is " + std::string(to_string(verdict)) +
                                " (scan it on its own to see why)");
      continue;
    }
    // A pickle: its tensors are worth keeping when it is data; never the pickle itself.
    const std::string converted_name = entry.path().stem().string() + ".safetensors";
    if (verdict != Verdict::safe && !options.strip_code) {
      result.left_out.push_back(name + ": a pickle whose verdict is " + std::string(to_string(verdict)) +
                                "; a converted folder never carries a pickle");
      continue;
    }
    if (produced.contains(converted_name) || !plain_output_name(converted_name)) {
      result.left_out.push_back(name + ": a pickle; its tensors would be written as " + converted_name +
                                ", a name already taken");
      continue;
    }
    bool created = false;
    auto converted = convert_file_into(entry.path().string(), converted_name, sink, options, &created);
    if (!converted && created) return converted.error();  // the writing failed (a full disk): the whole conversion
    if (!converted) {
      result.left_out.push_back(name + ": a pickle that is not only tensors (" + converted.error().message +
                                "); a converted folder never carries a pickle");
      continue;
    }
    produced.insert(converted_name);
    result.conversions.push_back(std::move(converted.value()));
  }
  return result;
}

}  // namespace picklewall::detail
