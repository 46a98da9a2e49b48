// `picklewall convert`: pickled PyTorch checkpoints to safetensors without running them. The pickle is read by
// the static engine and a restricted builder that only knows tensor reconstruction; tensor bytes are streamed
// from the source file to the output, which appears atomically.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "picklewall/limits.hpp"
#include "picklewall/policy.hpp"
#include "picklewall/result.hpp"
#include "picklewall/scan.hpp"

namespace picklewall {

struct ConvertOptions {
  Limits limits;
  std::shared_ptr<const Policy> policy;  // null: the built-in policy
  // Convert inputs whose verdict is not safe, keeping only tensor data (the payload never runs, since nothing
  // does, and never reaches the output, which holds only tensors, their names and the metadata).
  bool strip_code = false;
  // Read the output back (its header under the reference reader's rules) and compare every tensor's bytes with
  // the source.
  bool verify = false;
  // Convert this top-level key's value instead of the whole object. Empty: a top-level "state_dict" is
  // unwrapped, as Hugging Face's converter does.
  std::string key;
};

struct ConvertedTensor {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
};

struct ConvertReport {
  std::string input;
  std::string output;
  FileReport scan;                                // the input's scan
  std::vector<ConvertedTensor> tensors;           // in output order
  std::map<std::string, std::string> dropped;     // aliases of shared storage: dropped name -> kept name
  std::vector<std::string> skipped;               // non-tensor leaves left out ("path: what")
  std::uint64_t bytes_written = 0;
  bool verified = false;
};

// One checkpoint (torch zip or legacy format) to one .safetensors file. Errors: unreadable input, an output that
// would overwrite the input, a verdict that is not safe without strip_code (ErrorCode::refused, findings listed),
// hostile or unsupported tensor metadata, I/O. No output file is left behind on error.
Result<ConvertReport> convert_file(const std::string& input, const std::string& output, const ConvertOptions& options);

// A Hugging Face model folder: pytorch_model.bin (or the shards of pytorch_model.bin.index.json) become
// model.safetensors (or model-XXXXX-of-YYYYY.safetensors and model.safetensors.index.json); every other file
// at the top of the folder is copied. `output_dir` is created if needed and must not be `input_dir`.
Result<std::vector<ConvertReport>> convert_folder(const std::string& input_dir, const std::string& output_dir,
                                                  const ConvertOptions& options);

// convert_folder for a directory, convert_file (as a list of one) for anything else: what the command and the
// Python package both take as "convert this".
Result<std::vector<ConvertReport>> convert_path(const std::string& input, const std::string& output,
                                                const ConvertOptions& options);

}  // namespace picklewall
