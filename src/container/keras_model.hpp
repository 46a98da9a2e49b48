// Keras models carry code in Lambda layers: the layer's function is marshalled Python bytecode (base64 in the
// model config), which Keras runs when a model is loaded with safe_mode=False, and Keras 2 always. The config is
// JSON in a .keras zip (config.json) and a JSON string attribute in a legacy .h5 file.
#pragma once

#include <span>
#include <string_view>

namespace picklewall::detail {

// True when a model config (or any bytes holding one) declares a Lambda layer or a serialized lambda function.
bool keras_config_has_lambda(std::string_view config);

}  // namespace picklewall::detail
