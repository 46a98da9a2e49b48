// `picklewall convert`: pickled PyTorch checkpoints to safetensors without running them. The pickle is read by
// the static engine and a restricted builder that only knows tensor reconstruction; tensor bytes are streamed
// from the source file to the output, which appears atomically. The conversion runs in a sandboxed worker
// process: it asks its supervisor for each output file by name, and the supervisor creates it, inside a
// staging area beside the output only, then renames the whole output into place.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "picklewall/isolation.hpp"
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
  Isolation isolation = Isolation::worker_processes;
  WorkerSettings worker_settings;
  // Polled at least every 100 ms; true stops the conversion (ErrorCode::cancelled) and leaves no output.
  std::function<bool()> should_stop;
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

// What one conversion produced.
struct ConvertResult {
  std::vector<ConvertReport> conversions;  // the safetensors files written, in order
  std::vector<std::string> copied;         // folder: other files copied as they are (none holds a pickle)
  // folder: files not in the output, each "name: why" (a pickle that is not only tensors, a file whose verdict
  // is not safe, a subfolder): a converted folder never carries code.
  std::vector<std::string> left_out;
};

// A folder (a Hugging Face save_pretrained folder) to a new folder: pytorch_model.bin (or the shards of
// pytorch_model.bin.index.json) become model.safetensors (or model-XXXXX-of-YYYYY.safetensors and
// model.safetensors.index.json); every other top-level file is scanned: a pickle of tensors is converted to
// NAME.safetensors, a file that holds no pickle and is safe (or no model at all) is copied, anything else is
// left out with a note. The output folder must not exist or be empty; it appears whole, or not at all.
// Anything else: one checkpoint (torch zip or legacy format, a pickle or joblib file of arrays, .npy, .npz) to
// one .safetensors file. Errors: unreadable input, an output that would overwrite the input, a verdict that is
// not safe without strip_code (ErrorCode::refused, findings listed), hostile or unsupported tensor metadata,
// I/O, a stop. No output is left behind on error.
Result<ConvertResult> convert_path(const std::string& input, const std::string& output, const ConvertOptions& options);

}  // namespace picklewall
