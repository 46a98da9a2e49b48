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
#include "io/atomic_file.hpp"
#include "io/mapped_file.hpp"
#include "picklewall/convert.hpp"
#include "picklewall/report.hpp"

namespace picklewall {
namespace {

namespace fs = std::filesystem;
using detail::StorageSources;

constexpr std::size_t verify_chunk = 4u << 20;

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
  detail::ReadOnlyFd fd(path);
  if (fd.get() < 0) return Error{ErrorCode::io, "verify: cannot open " + path + ": " + std::strerror(errno)};
  std::uint64_t at = data_start;
  std::vector<std::uint8_t> written(verify_chunk);
  for (const detail::TensorInfo* tensor : ordered) {
    Status compared = detail::stream_tensor_bytes(
        *tensor, sources.at(tensor->storage_key), [&](std::span<const std::uint8_t> expected) -> Status {
          if (Status read = detail::pread_all(fd.get(), written.data(), expected.size(), at); !read) return read;
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

  auto scanned = detail::scan_before_reading_tensors(input, options.limits, options.policy, options.strip_code);
  if (!scanned) return scanned.error();
  report.scan = std::move(scanned.value());
  auto model = detail::open_model_tensors(input, report.scan.format,
                                          {options.limits, options.key, options.strip_code});
  if (!model) return Error{model.error().code, input + ": " + model.error().message};
  detail::BuiltTensors& built = model.value()->built;
  const StorageSources& sources = model.value()->sources;
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
  detail::ReadOnlyFd in(from.string());
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

Result<std::vector<ConvertReport>> convert_path(const std::string& input, const std::string& output,
                                                const ConvertOptions& options) {
  std::error_code error;
  if (fs::is_directory(input, error)) return convert_folder(input, output, options);
  auto report = convert_file(input, output, options);
  if (!report) return report.error();
  return std::vector<ConvertReport>{std::move(report.value())};
}

}  // namespace picklewall
