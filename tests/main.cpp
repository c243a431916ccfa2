// The doctest main of the unit and end-to-end tests. With DG_TEST_LEDGER=postgresql (daemons on
// PostgreSQL, see tests/support/daemon.hpp) where PostgreSQL cannot run, the whole run is skipped
// with its reason and exit code 77 (ctest's SKIP_RETURN_CODE), rather than failing every case.
#define DOCTEST_CONFIG_IMPLEMENT
#include "tests/support/daemon.hpp"
#include "tests/support/postgres.hpp"

#include <doctest/doctest.h>

#include <iostream>

int main(int argc, char** argv) {
  if (dg::test::on_postgresql() && !dg::test::Postgres::available()) {
    std::cerr << "skipped: DG_TEST_LEDGER=postgresql, but "
              << dg::test::Postgres::unavailable_reason() << '\n';
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
