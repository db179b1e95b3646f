#pragma once
/// Budgets on exact costs: whether a code meets them, and by how much it misses them.

#include <algorithm>

#include "ncp/arch/count.hpp"

namespace ncp::search {

/// How far a cost exceeds the budgets: max(0, flops / max_flops - 1, params / max_params - 1) over the budgets
/// that are set (> 0); 0 means within budget.
inline double budget_violation(const arch::cost& c, double max_flops_g, double max_params_m) {
    double v = 0;
    if (max_flops_g > 0) v = std::max(v, c.flops_g() / max_flops_g - 1);
    if (max_params_m > 0) v = std::max(v, c.params_m() / max_params_m - 1);
    return v;
}

/// Whether a cost meets the budgets (exactly: integer counts against the budget in G and M).
inline bool within_budget(const arch::cost& c, double max_flops_g, double max_params_m) {
    return (max_flops_g <= 0 || c.flops_g() <= max_flops_g) && (max_params_m <= 0 || c.params_m() <= max_params_m);
}

}  // namespace ncp::search
