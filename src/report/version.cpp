#include "picklewall/report.hpp"

namespace picklewall {

const char* version() { return PICKLEWALL_VERSION; }

}  // namespace picklewall
