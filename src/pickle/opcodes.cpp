#include "pickle/opcodes.hpp"

#include <array>

namespace picklewall::detail {
namespace {

struct Entry {
  Opcode opcode;
  OpcodeInfo info;
};

constexpr Entry entries[] = {
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

constexpr std::array<OpcodeInfo, 256> build_table() {
  std::array<OpcodeInfo, 256> table{};
  for (auto& slot : table) slot = OpcodeInfo{"", ArgumentKind::invalid, 0};
  for (const auto& entry : entries) table[static_cast<std::uint8_t>(entry.opcode)] = entry.info;
  return table;
}

constexpr std::array<OpcodeInfo, 256> table = build_table();

}  // namespace

const OpcodeInfo& opcode_info(std::uint8_t byte) { return table[byte]; }

}  // namespace picklewall::detail
