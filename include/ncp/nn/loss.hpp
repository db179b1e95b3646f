#pragma once
/// The training losses the config offers (`optimization.criterion`): the kind, its name, and the loss on the tape
/// (autograd's mse_loss, l1_loss and smooth_l1_loss, each a mean over every output of the batch).

#include <string>
#include <string_view>

#include "ncp/autograd/ops.hpp"

namespace ncp::nn {

/// A training loss.
enum class loss_kind { mse, l1, smooth_l1 };

/// "mse", "l1" or "smoothl1" (the config's names); throws naming anything else.
inline loss_kind parse_loss(std::string_view name) {
    if (name == "mse") return loss_kind::mse;
    if (name == "l1") return loss_kind::l1;
    if (name == "smoothl1") return loss_kind::smooth_l1;
    throw error("unknown criterion '" + std::string(name) + "' (expected mse, l1 or smoothl1)");
}

/// The loss `kind` of predictions against targets (same shape), the mean over all their elements.
template <class T, class Backend>
autograd::var<T, Backend> loss(loss_kind kind, const autograd::var<T, Backend>& pred,
                               const autograd::var<T, Backend>& target) {
    switch (kind) {
        case loss_kind::mse: return autograd::mse_loss(pred, target);
        case loss_kind::l1: return autograd::l1_loss(pred, target);
        case loss_kind::smooth_l1: break;
    }
    return autograd::smooth_l1_loss(pred, target);
}

}  // namespace ncp::nn
