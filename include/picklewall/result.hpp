// Result types for the engine: no exceptions cross the library boundary. A function either returns a value or
// an Error with a code a caller can branch on and a message a person can read.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace picklewall {

enum class ErrorCode {
  io,               // the file system refused (open, read, write, rename)
  not_found,        // a path that does not exist
  invalid_argument, // a caller gave a value the API cannot use
  invalid_policy,   // a policy file that does not parse or says something the engine does not know
  malformed,        // input that is not what it claims to be
  limit_exceeded,   // a budget in Limits was reached
  unsupported,      // input valid in principle but not handled
  refused,          // input that was read but must not be used (convert: a verdict that is not safe)
  cancelled,        // the caller stopped the work (Ctrl-C); nothing it returned is to be used
};

struct Error {
  ErrorCode code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace picklewall
