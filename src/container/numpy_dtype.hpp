// What numpy.lib.format.descr_to_dtype makes of an evaluated .npy 'descr' value: a dtype that holds Python
// objects (numpy.load then unpickles the data), a plain one, or an error (numpy.load refuses the file).
#pragma once

#include <cstdint>
#include <string>

#include "container/python_literal.hpp"

namespace picklewall::detail {

struct DtypeReading {
  bool refused = false;  // numpy raises while building the dtype
  bool object = false;   // dtype.hasobject: the data is a pickle
  // Parts this reader does not follow exactly (dict or set field lists, unresolved \N names, exotic tuple
  // forms). The reading then errs towards an object dtype and the file is never safe.
  bool inexact = false;
  std::string why;       // what made it refused or inexact
};

DtypeReading read_numpy_descr(const Literal& literal, std::uint32_t descr);

}  // namespace picklewall::detail
