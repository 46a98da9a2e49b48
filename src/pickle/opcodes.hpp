// The pickle opcodes of protocols 0-5 (CPython Lib/pickle.py) and how each one's argument is encoded.
#pragma once

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

const OpcodeInfo& opcode_info(std::uint8_t byte);

}  // namespace picklewall::detail
