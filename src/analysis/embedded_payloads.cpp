#include "analysis/embedded_payloads.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <unordered_set>

#include "io/bounded_inflate.hpp"
#include "pickle/pickle_stream.hpp"
#include "pickle/value_text.hpp"

namespace picklewall::detail {
namespace {

// Wraps are peeled at most this deep (base64 of zlib of hex of a pickle is three).
constexpr int max_wrap_layers = 4;
// Shorter constants cannot hold anything worth decoding (and are most of a pickle's strings).
constexpr std::size_t min_candidate_bytes = 8;
constexpr std::size_t min_encoded_bytes = 16;
constexpr std::size_t snippet_chars = 160;

using Bytes = std::vector<std::uint8_t>;

std::string_view as_text(const Bytes& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Strong signs of Python source: every one is a way to import or run code. Plain words ("import", "open")
// alone are common in vocabularies and paths, so each marker carries its own punctuation.
bool looks_like_python_source(std::string_view text) {
  static constexpr std::array<std::string_view, 22> markers = {
      "__import__(", "exec(", "eval(", "compile(", "os.system(", "os.popen(", "subprocess.", "import os",
      "import sys", "import socket", "import subprocess", "import base64", "import pickle", "from os ",
      "socket.socket(", "urllib.request", "__builtins__", "getattr(", "globals()", "lambda ", "def ", "open("};
  int hits = 0;
  for (std::string_view marker : markers) {
    if (text.find(marker) == std::string_view::npos) continue;
    // "def " and "lambda " and "open(" are too ordinary to count alone.
    const bool weak = marker == "def " || marker == "lambda " || marker == "open(";
    hits += weak ? 1 : 2;
    if (hits >= 2) return true;
  }
  return false;
}

std::string rot13(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>('a' + (c - 'a' + 13) % 26);
    else if (c >= 'A' && c <= 'Z') c = static_cast<char>('A' + (c - 'A' + 13) % 26);
  }
  return out;
}

// A marshalled code object (marshal.dumps(code)): TYPE_CODE, with or without the FLAG_REF bit, then small
// argument counts. Checked on bytes only: a str constant is never marshal data.
bool looks_like_marshal_code(const Bytes& bytes) {
  if (bytes.size() < 30 || (bytes[0] != 0x63 && bytes[0] != 0xe3)) return false;
  for (std::size_t field = 0; field < 3; ++field) {  // argcount, posonlyargcount, kwonlyargcount
    const std::size_t at = 1 + 4 * field;
    if (bytes[at + 1] != 0 || bytes[at + 2] != 0 || bytes[at + 3] != 0) return false;
  }
  return true;
}

bool decode_base64(std::string_view text, std::uint64_t cap, Bytes& out) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
                       c == '/' || c == '=';
    if (c == '-') c = '+';  // the URL-safe alphabet
    else if (c == '_') c = '/';
    else if (!plain) return false;
    clean.push_back(c);
  }
  while (clean.size() % 4 != 0) clean.push_back('=');
  if (clean.size() < min_encoded_bytes || clean.size() / 4 * 3 > cap) return false;
  const std::size_t first_pad = clean.find('=');
  if (first_pad != std::string::npos && first_pad + 2 < clean.size()) return false;  // '=' only at the end
  out.resize(clean.size() / 4 * 3);
  const int written = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                                      static_cast<int>(clean.size()));
  if (written < 0) return false;
  // EVP_DecodeBlock counts padding as zero bytes.
  const std::size_t padding = static_cast<std::size_t>(std::count(clean.end() - 2, clean.end(), '='));
  out.resize(static_cast<std::size_t>(written) - padding);
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode_hex(std::string_view text, std::uint64_t cap, Bytes& out) {
  if (text.size() < min_encoded_bytes || text.size() % 2 != 0 || text.size() / 2 > cap) return false;
  out.resize(text.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int high = hex_digit(text[2 * i]), low = hex_digit(text[2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<std::uint8_t>(high * 16 + low);
  }
  return true;
}

bool decode_zlib(const Bytes& bytes, std::uint64_t cap, const Budget& budget, Bytes& out) {
  // RFC 1950 header: deflate method, and the check bits.
  if (bytes.size() < 8 || (bytes[0] & 0x0f) != 8 || ((bytes[0] << 8) | bytes[1]) % 31 != 0) return false;
  return inflate_bounded(bytes, false, cap, out, budget) == InflateStatus::complete;
}

bool is_printable_text(std::string_view text) {
  if (text.size() < min_candidate_bytes) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u >= 0x20 && u < 0x7f) || c == '\n' || c == '\r' || c == '\t';
  });
}

std::string snippet(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, snippet_chars)) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (u >= 0x20 && u < 0x7f) out += c;
    else out += '.';
  }
  if (text.size() > snippet_chars) out += "...";
  return out;
}

class PayloadFinder {
 public:
  PayloadFinder(const PickleProgram& program, const Limits& limits, const Budget& budget,
                const std::string& member, int depth, std::vector<Finding>& findings,
                std::vector<EmbeddedPickle>& pickles)
      : graph_(program.graph), limits_(limits), time_(budget), member_(member), depth_(depth),
        findings_(findings), pickles_(pickles), budget_(limits.max_decompressed_bytes) {}

  void run() {
    std::uint64_t steps = 0;
    for (const Effect& effect : graph_.effects()) {
      if (++steps % 1024 == 0 && time_.expired()) {
        findings_.push_back(Finding{"limit.max_seconds_per_file", Severity::suspicious,
                                    "the file's time budget ran out while constants were searched for hidden "
                                    "payloads; the rest were not searched",
                                    member_, effect.offset, {}});
        return;
      }
      if (effect.kind == EffectKind::call) {
        const CallRecord& call = graph_.call(graph_.node(effect.target.node).index);
        if (!call.args.is_node() || graph_.node(call.args.node).kind != NodeKind::tuple) continue;
        // One argument tuple handed to many calls (a memo GET) is looked through once.
        if (!argument_tuples_.insert(call.args.node).second) continue;
        for (Value argument : graph_.children(graph_.node(call.args.node).index))
          inspect(argument, effect.offset, [&] { return "an argument of " + value_text(graph_, call.callee, 80); });
      } else if (effect.kind == EffectKind::build) {
        inspect(effect.argument, effect.offset,
                [&] { return "the BUILD state of " + value_text(graph_, effect.target, 80); });
      }
    }
  }

 private:
  struct TextHash {
    std::size_t operator()(const std::pair<const char*, std::size_t>& key) const {
      return std::hash<const void*>()(key.first) * 31 + key.second;
    }
  };

  // `describe` names where the constant is, for findings; it is only built for a constant worth a finding.
  template <class Describe>
  void inspect(Value value, std::uint64_t offset, const Describe& describe) {
    const auto text = graph_.text_of(value);
    if (!text || text->size() < min_candidate_bytes || budget_ == 0) return;
    // A constant is looked at once, however many calls the memo hands it to: a 64 KB string passed to ten
    // thousand calls must not cost ten thousand decodings.
    if (!inspected_.insert({text->data(), text->size()}).second) return;
    const std::string where = describe();
    Bytes current(text->begin(), text->end());
    std::string chain;  // the wraps peeled so far, outermost first
    for (int layer = 0; layer <= max_wrap_layers; ++layer) {
      if (classify(current, offset, where, chain)) return;
      if (layer == max_wrap_layers) return;
      Bytes decoded;
      const std::uint64_t cap = std::min<std::uint64_t>(budget_, limits_.max_decompressed_bytes);
      const char* wrap = nullptr;
      if (decode_zlib(current, cap, time_, decoded)) wrap = "zlib";
      else if (decode_hex(as_text(current), cap, decoded)) wrap = "hex";
      else if (decode_base64(as_text(current), cap, decoded)) wrap = "base64";
      if (wrap == nullptr) return;
      budget_ -= std::min<std::uint64_t>(budget_, decoded.size());
      chain += chain.empty() ? wrap : std::string(" -> ") + wrap;
      current = std::move(decoded);
    }
  }

  // True when `bytes` was recognised (and reported or queued).
  bool classify(const Bytes& bytes, std::uint64_t offset, const std::string& where, const std::string& chain) {
    const std::string wrapped = chain.empty() ? "" : " (wrapped: " + chain + ")";
    const bool too_deep = static_cast<std::uint64_t>(depth_) >= limits_.max_archive_depth;
    if (is_pickle(bytes)) {
      if (too_deep) return true;
      add("payload.embedded-pickle", offset,
          where + " is a complete pickle" + wrapped + "; it is analysed below as " + nested_member(offset) +
              ". Whatever unpickles it runs its imports and calls");
      pickles_.push_back(EmbeddedPickle{bytes, nested_member(offset), depth_ + 1});
      return true;
    }
    if (looks_like_marshal_code(bytes)) {
      add("payload.marshal-code", offset,
          where + " is a marshalled Python code object" + wrapped +
              ": bytecode that marshal.loads turns into a function body");
      return true;
    }
    const std::string_view text = as_text(bytes);
    if (looks_like_python_source(text)) {
      add("payload.python-source", offset, where + " is Python source" + wrapped + ": \"" + snippet(text) + "\"");
      return true;
    }
    if (std::string decoded = rot13(text); looks_like_python_source(decoded)) {
      add("payload.python-source", offset,
          where + " is rot13-encoded Python source" + wrapped + ": \"" + snippet(decoded) + "\"");
      return true;
    }
    // Text that had to be unwrapped to be read is hidden on purpose, whatever it says.
    if (!chain.empty() && is_printable_text(text)) {
      add("payload.encoded-text", offset, where + " is text hidden under " + chain + ": \"" + snippet(text) + "\"");
      return true;
    }
    return false;
  }

  bool is_pickle(const Bytes& bytes) {
    PickleProgram probe = run_pickle(bytes, 0, limits_, time_);
    if (!imports_a_module(probe)) return false;
    // Bounded like archives: a pickle in a constant of a pickle in a constant... stops here, and says so.
    if (static_cast<std::uint64_t>(depth_) >= limits_.max_archive_depth) {
      findings_.push_back(Finding{"limit.max_archive_depth", Severity::suspicious,
                                  "a pickle inside a constant, nested deeper than max_archive_depth (" +
                                      std::to_string(limits_.max_archive_depth) + "), was not analysed",
                                  member_, 0, {}});
      return true;  // recognised (it imports something), though not queued
    }
    return true;
  }

  std::string nested_member(std::uint64_t offset) const {
    return (member_.empty() ? "" : member_ + " ") + "[pickle in a constant at offset " + std::to_string(offset) + "]";
  }

  void add(const char* rule, std::uint64_t offset, std::string message) {
    findings_.push_back(Finding{rule, Severity::suspicious, std::move(message), member_, offset, {}});
  }

  const ObjectGraph& graph_;
  const Limits& limits_;
  const Budget& time_;
  const std::string& member_;
  int depth_;
  std::vector<Finding>& findings_;
  std::vector<EmbeddedPickle>& pickles_;
  std::uint64_t budget_;
  std::unordered_set<std::pair<const char*, std::size_t>, TextHash> inspected_;
  std::unordered_set<NodeId> argument_tuples_;
};

}  // namespace

void find_embedded_payloads(const PickleProgram& program, const Limits& limits, const Budget& budget,
                            const std::string& member, int depth, std::vector<Finding>& findings,
                            std::vector<EmbeddedPickle>& pickles) {
  PayloadFinder(program, limits, budget, member, depth, findings, pickles).run();
}

}  // namespace picklewall::detail
