#include "io/bounded_cbor.hpp"

#include <string>

namespace picklewall::detail {
namespace {

using Json = nlohmann::json;
using DomParser = nlohmann::detail::json_sax_dom_parser<Json>;

// nlohmann's DOM builder, with a depth count: refusing a level makes the reader return at once, so the
// recursion never goes deeper than the bound.
class DepthBoundedBuilder {
 public:
  DepthBoundedBuilder(Json& result, std::size_t max_depth) : dom_(result, false), max_depth_(max_depth) {}

  bool null() { return dom_.null(); }
  bool boolean(bool value) { return dom_.boolean(value); }
  bool number_integer(Json::number_integer_t value) { return dom_.number_integer(value); }
  bool number_unsigned(Json::number_unsigned_t value) { return dom_.number_unsigned(value); }
  bool number_float(Json::number_float_t value, const std::string& text) { return dom_.number_float(value, text); }
  bool string(std::string& value) { return dom_.string(value); }
  bool binary(Json::binary_t& value) { return dom_.binary(value); }
  bool key(std::string& value) { return dom_.key(value); }
  bool start_object(std::size_t elements) { return enter() && dom_.start_object(elements); }
  bool end_object() { return leave() && dom_.end_object(); }
  bool start_array(std::size_t elements) { return enter() && dom_.start_array(elements); }
  bool end_array() { return leave() && dom_.end_array(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    failed_ = true;
    return false;
  }
  bool failed() const { return failed_; }

 private:
  bool enter() {
    if (++depth_ <= max_depth_) return true;
    failed_ = true;
    return false;
  }
  bool leave() {
    --depth_;
    return true;
  }

  DomParser dom_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  bool failed_ = false;
};

}  // namespace

nlohmann::json parse_bounded_cbor(const std::uint8_t* first, const std::uint8_t* last, std::size_t max_depth) {
  Json result;
  DepthBoundedBuilder builder(result, max_depth);
  bool parsed = false;
  try {
    parsed = Json::sax_parse(first, last, &builder, nlohmann::detail::input_format_t::cbor, true);
  } catch (const Json::exception&) {
    parsed = false;  // a declared array or object size the builder cannot reserve
  } catch (const std::bad_alloc&) {
    parsed = false;
  }
  if (!parsed || builder.failed()) return Json(Json::value_t::discarded);
  return result;
}

}  // namespace picklewall::detail
