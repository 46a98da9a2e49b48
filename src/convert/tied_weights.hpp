// transformers architectures' tied-weight names (`_tied_weights_keys`), generated from transformers by
// scripts/generate_tied_weights.py: when tied tensors share storage, these are the names Hugging Face's
// converter drops, keeping their partner (lm_head.weight goes, the input embedding stays).
#pragma once

#include <map>
#include <string_view>
#include <vector>

namespace picklewall::detail {

const std::map<std::string_view, std::vector<std::string_view>>& tied_weights_by_architecture();

}  // namespace picklewall::detail
