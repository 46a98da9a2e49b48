// The pickle opcodes of protocols 0-5 (CPython Lib/pickle.py) and how each one's argument is encoded.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace picklewall::detail {

enum class Opcode : std::uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I', BININT = 'J',
  BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P', BINPERSID = 'Q', REDUCE = 'R',
  STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U', UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a',
  BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i',
  LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
  SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  // protocol 2
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
  // protocol 3
  BINBYTES = 'B', SHORT_BINBYTES = 'C',
  // protocol 4
  SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90,
  FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  // protocol 5
  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};

// How the bytes after the opcode byte are laid out.
enum class ArgumentKind : std::uint8_t {
  none,
  uint1, uint2, int4, uint4, uint8,  // little-endian fixed-width integers
  float8_be,                         // BINFLOAT
  decimal_line,                      // GET / PUT: one line, base-10 integer
  int_line, long_line, float_line,   // INT, LONG, FLOAT
  quoted_line,                       // STRING: quoted, backslash escapes
  raw_unicode_line,                  // UNICODE: raw-unicode-escape
  ascii_line,                        // PERSID
  module_and_name_utf8,              // GLOBAL: two lines
  module_and_name_ascii,             // INST: two lines
  counted_bytes1, counted_bytes4_signed, counted_bytes4, counted_bytes8,  // length prefix then payload
  long1, long4,                      // LONG1 / LONG4: length prefix then little-endian two's complement
  invalid,
};

struct OpcodeInfo {
  std::string_view name;  // empty for bytes that are not opcodes
  ArgumentKind argument;
  std::uint8_t protocol;  // protocol that introduced it
};

namespace opcode_table_detail {
struct Entry {
  Opcode opcode;
  OpcodeInfo info;
};

inline constexpr Entry opcode_entries[] = {
    {Opcode::MARK, {"MARK", ArgumentKind::none, 0}},
    {Opcode::STOP, {"STOP", ArgumentKind::none, 0}},
    {Opcode::POP, {"POP", ArgumentKind::none, 0}},
    {Opcode::POP_MARK, {"POP_MARK", ArgumentKind::none, 1}},
    {Opcode::DUP, {"DUP", ArgumentKind::none, 0}},
    {Opcode::FLOAT, {"FLOAT", ArgumentKind::float_line, 0}},
    {Opcode::INT, {"INT", ArgumentKind::int_line, 0}},
    {Opcode::BININT, {"BININT", ArgumentKind::int4, 1}},
    {Opcode::BININT1, {"BININT1", ArgumentKind::uint1, 1}},
    {Opcode::LONG, {"LONG", ArgumentKind::long_line, 0}},
    {Opcode::BININT2, {"BININT2", ArgumentKind::uint2, 1}},
    {Opcode::NONE, {"NONE", ArgumentKind::none, 0}},
    {Opcode::PERSID, {"PERSID", ArgumentKind::ascii_line, 0}},
    {Opcode::BINPERSID, {"BINPERSID", ArgumentKind::none, 1}},
    {Opcode::REDUCE, {"REDUCE", ArgumentKind::none, 0}},
    {Opcode::STRING, {"STRING", ArgumentKind::quoted_line, 0}},
    {Opcode::BINSTRING, {"BINSTRING", ArgumentKind::counted_bytes4_signed, 1}},
    {Opcode::SHORT_BINSTRING, {"SHORT_BINSTRING", ArgumentKind::counted_bytes1, 1}},
    {Opcode::UNICODE, {"UNICODE", ArgumentKind::raw_unicode_line, 0}},
    {Opcode::BINUNICODE, {"BINUNICODE", ArgumentKind::counted_bytes4, 1}},
    {Opcode::APPEND, {"APPEND", ArgumentKind::none, 0}},
    {Opcode::BUILD, {"BUILD", ArgumentKind::none, 0}},
    {Opcode::GLOBAL, {"GLOBAL", ArgumentKind::module_and_name_utf8, 0}},
    {Opcode::DICT, {"DICT", ArgumentKind::none, 0}},
    {Opcode::EMPTY_DICT, {"EMPTY_DICT", ArgumentKind::none, 1}},
    {Opcode::APPENDS, {"APPENDS", ArgumentKind::none, 1}},
    {Opcode::GET, {"GET", ArgumentKind::decimal_line, 0}},
    {Opcode::BINGET, {"BINGET", ArgumentKind::uint1, 1}},
    {Opcode::INST, {"INST", ArgumentKind::module_and_name_ascii, 0}},
    {Opcode::LONG_BINGET, {"LONG_BINGET", ArgumentKind::uint4, 1}},
    {Opcode::LIST, {"LIST", ArgumentKind::none, 0}},
    {Opcode::EMPTY_LIST, {"EMPTY_LIST", ArgumentKind::none, 1}},
    {Opcode::OBJ, {"OBJ", ArgumentKind::none, 1}},
    {Opcode::PUT, {"PUT", ArgumentKind::decimal_line, 0}},
    {Opcode::BINPUT, {"BINPUT", ArgumentKind::uint1, 1}},
    {Opcode::LONG_BINPUT, {"LONG_BINPUT", ArgumentKind::uint4, 1}},
    {Opcode::SETITEM, {"SETITEM", ArgumentKind::none, 0}},
    {Opcode::TUPLE, {"TUPLE", ArgumentKind::none, 0}},
    {Opcode::EMPTY_TUPLE, {"EMPTY_TUPLE", ArgumentKind::none, 1}},
    {Opcode::SETITEMS, {"SETITEMS", ArgumentKind::none, 1}},
    {Opcode::BINFLOAT, {"BINFLOAT", ArgumentKind::float8_be, 1}},
    {Opcode::PROTO, {"PROTO", ArgumentKind::uint1, 2}},
    {Opcode::NEWOBJ, {"NEWOBJ", ArgumentKind::none, 2}},
    {Opcode::EXT1, {"EXT1", ArgumentKind::uint1, 2}},
    {Opcode::EXT2, {"EXT2", ArgumentKind::uint2, 2}},
    {Opcode::EXT4, {"EXT4", ArgumentKind::int4, 2}},
    {Opcode::TUPLE1, {"TUPLE1", ArgumentKind::none, 2}},
    {Opcode::TUPLE2, {"TUPLE2", ArgumentKind::none, 2}},
    {Opcode::TUPLE3, {"TUPLE3", ArgumentKind::none, 2}},
    {Opcode::NEWTRUE, {"NEWTRUE", ArgumentKind::none, 2}},
    {Opcode::NEWFALSE, {"NEWFALSE", ArgumentKind::none, 2}},
    {Opcode::LONG1, {"LONG1", ArgumentKind::long1, 2}},
    {Opcode::LONG4, {"LONG4", ArgumentKind::long4, 2}},
    {Opcode::BINBYTES, {"BINBYTES", ArgumentKind::counted_bytes4, 3}},
    {Opcode::SHORT_BINBYTES, {"SHORT_BINBYTES", ArgumentKind::counted_bytes1, 3}},
    {Opcode::SHORT_BINUNICODE, {"SHORT_BINUNICODE", ArgumentKind::counted_bytes1, 4}},
    {Opcode::BINUNICODE8, {"BINUNICODE8", ArgumentKind::counted_bytes8, 4}},
    {Opcode::BINBYTES8, {"BINBYTES8", ArgumentKind::counted_bytes8, 4}},
    {Opcode::EMPTY_SET, {"EMPTY_SET", ArgumentKind::none, 4}},
    {Opcode::ADDITEMS, {"ADDITEMS", ArgumentKind::none, 4}},
    {Opcode::FROZENSET, {"FROZENSET", ArgumentKind::none, 4}},
    {Opcode::NEWOBJ_EX, {"NEWOBJ_EX", ArgumentKind::none, 4}},
    {Opcode::STACK_GLOBAL, {"STACK_GLOBAL", ArgumentKind::none, 4}},
    {Opcode::MEMOIZE, {"MEMOIZE", ArgumentKind::none, 4}},
    {Opcode::FRAME, {"FRAME", ArgumentKind::uint8, 4}},
    {Opcode::BYTEARRAY8, {"BYTEARRAY8", ArgumentKind::counted_bytes8, 5}},
    {Opcode::NEXT_BUFFER, {"NEXT_BUFFER", ArgumentKind::none, 5}},
    {Opcode::READONLY_BUFFER, {"READONLY_BUFFER", ArgumentKind::none, 5}},
};

constexpr std::array<OpcodeInfo, 256> build_opcode_table() {
  std::array<OpcodeInfo, 256> table{};
  for (auto& slot : table) slot = OpcodeInfo{"", ArgumentKind::invalid, 0};
  for (const auto& entry : opcode_entries) table[static_cast<std::uint8_t>(entry.opcode)] = entry.info;
  return table;
}

}  // namespace opcode_table_detail

// A compile-time table, inline: the decoder asks once per opcode.
inline constexpr std::array<OpcodeInfo, 256> opcode_table = opcode_table_detail::build_opcode_table();
inline const OpcodeInfo& opcode_info(std::uint8_t byte) { return opcode_table[byte]; }

}  // namespace picklewall::detail
