// The tensors of one model file and where each one's bytes are, for every format the restricted builder reads:
// PyTorch checkpoints (zip and legacy), pickles and joblib files of numpy arrays (plain or compressed), .npy and
// .npz. Shared by `convert` (which writes them to safetensors) and `load` (which reads them into memory). The
// file is mapped read-only; nothing in it is ever run.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "convert/safetensors_writer.hpp"
#include "convert/tensor_builder.hpp"
#include "io/mapped_file.hpp"
#include "io/read_only_fd.hpp"
#include "picklewall/limits.hpp"
#include "picklewall/policy.hpp"
#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

namespace picklewall::detail {

struct ModelTensorOptions {
  Limits limits;
  std::string key;                    // see ConvertOptions::key
  bool search_dropped_roots = false;  // --strip-code: the model may sit under a payload's call
};

// Owns everything the tensors' byte spans point into: the mapping, the descriptor, inflated records and
// decompressed streams. Not movable: `sources` holds views of its own members.
class ModelTensors {
 public:
  BuiltTensors built;
  StorageSources sources;  // by storage key, one for every storage in `built`

  ModelTensors(MappedFile file, const std::string& path) : file_(std::move(file)), fd_(path) {}
  ModelTensors(const ModelTensors&) = delete;
  ModelTensors& operator=(const ModelTensors&) = delete;
  std::span<const std::uint8_t> bytes() const { return file_.bytes(); }
  int fd() const { return fd_.get(); }
  std::vector<std::vector<std::uint8_t>>& buffers() { return buffers_; }

 private:
  MappedFile file_;
  ReadOnlyFd fd_;
  std::vector<std::vector<std::uint8_t>> buffers_;  // inflated records, decompressed streams, .npz members
};

// The scan that decides whether a file's tensors may be read: an unreadable file is an io error, and a verdict
// that is not safe is refused (its findings listed) unless `strip_code`, which takes the tensors and nothing else.
Result<FileReport> scan_before_reading_tensors(const std::string& path, const Limits& limits,
                                               std::shared_ptr<const Policy> policy, bool strip_code);

// `format` is the scanner's name for the file's format. Errors: formats that hold no tensors the builder
// knows, hostile or unsupported tensor metadata, storages whose records are missing or the wrong size.
Result<std::unique_ptr<ModelTensors>> open_model_tensors(const std::string& path, const std::string& format,
                                                         const ModelTensorOptions& options);

}  // namespace picklewall::detail
