#include "container/keras_model.hpp"

namespace picklewall::detail {

bool keras_config_has_lambda(std::string_view config) {
  // Both spellings Keras writes: the layer class and the serialized function object.
  for (std::string_view needle : {std::string_view("\"class_name\": \"Lambda\""), std::string_view("\"class_name\":\"Lambda\""),
                                  std::string_view("\"__lambda__\"")})
    if (config.find(needle) != std::string_view::npos) return true;
  return false;
}

}  // namespace picklewall::detail
