// The conversion, wherever it runs (a sandboxed worker, or the caller's process with --no-sandbox): every output
// file is asked of an OutputSink by name.
#pragma once

#include <string>

#include "convert/output_staging.hpp"
#include "picklewall/convert.hpp"

namespace picklewall::detail {

// One checkpoint to one safetensors file named `output_name`. `created` is set once the output file exists in
// the sink: a failure after that is the conversion's, not the input's.
Result<ConvertReport> convert_file_into(const std::string& input, const std::string& output_name, OutputSink& sink,
                                        const ConvertOptions& options, bool* created = nullptr);

// A model folder, file by file (see convert_path).
Result<ConvertResult> convert_folder_into(const std::string& input_dir, OutputSink& sink, const ConvertOptions& options);

}  // namespace picklewall::detail
