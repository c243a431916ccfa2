// A database error with its message, thrown inside the ledger room by every backend and caught at
// its boundary (where it becomes an Error). Private to the ledger room.
#pragma once

#include <string>

namespace dg::ledger {

struct StoreFailure {
  int code = 0;
  std::string message;
};

} // namespace dg::ledger
