/// Budgets on exact costs: the limit itself is within budget, one count more is not; the violation measure.

#include <doctest/doctest.h>

#include "ncp/search/budget.hpp"

namespace search = ncp::search;
namespace arch = ncp::arch;

TEST_CASE("budgets are exact: integer counts against the budget in G and M") {
    const arch::cost c{1'500'000'000, 4'000'000};
    CHECK(search::within_budget(c, 1.5, 0));
    CHECK_FALSE(search::within_budget(c, 1.499999999, 0));
    CHECK(search::within_budget(c, 0, 4.0));
    CHECK_FALSE(search::within_budget(c, 2, 3.999999));
    CHECK(search::budget_violation(c, 1.0, 2.0) == doctest::Approx(1.0));
    CHECK(search::budget_violation(c, 3.0, 0) == 0);
}
