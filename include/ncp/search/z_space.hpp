#pragma once
/// Where a search's code variable lives: the z-space of its reference model (the first task's first model), as the
/// original keeps `normalized_data`. Every other model z-scores the code with its own statistics, z_m = a_m z + b_m
/// (the identity when the statistics agree), so codes travel in original units between models and each model
/// normalises for itself.

#include <cstddef>
#include <span>
#include <vector>

#include "ncp/autograd/ops.hpp"
#include "ncp/nn/predictor.hpp"

namespace ncp::search {

/// The reference z-space of a set of models over a space's bounds; see the header comment.
template <class T = float, class Backend = default_backend>
class z_space {
public:
    using tensor = Tensor<T, Backend>;
    using var_type = autograd::var<T, Backend>;

    /// The z-space of `models.front()`, with `space`'s bounds mapped into it.
    template <class Space>
    z_space(const Space& space, std::span<nn::predictor<T, Backend>* const> models) : m_models(models) {
        const std::size_t dim = Space::dim;
        const nn::normalisation& ref = models.front()->stats();
        m_zero.assign(ref.input_mean.begin(), ref.input_mean.begin() + static_cast<std::ptrdiff_t>(dim));
        m_scale.assign(ref.input_std.begin(), ref.input_std.begin() + static_cast<std::ptrdiff_t>(dim));
        std::vector<T> lo(dim), hi(dim);
        for (std::size_t i = 0; i < dim; ++i) {
            lo[i] = static_cast<T>((space.lower(i) - m_zero[i]) / m_scale[i]);
            hi[i] = static_cast<T>((space.upper(i) - m_zero[i]) / m_scale[i]);
        }
        const auto d = static_cast<index_t>(dim);
        m_lower = tensor::from_host(lo, 1, d);
        m_upper = tensor::from_host(hi, 1, d);
        for (const auto* m : models) {
            affine a;
            const nn::normalisation& s = m->stats();
            std::vector<T> scale(dim), shift(dim);
            for (std::size_t i = 0; i < dim; ++i) {
                scale[i] = static_cast<T>(m_scale[i] / s.input_std[i]);
                shift[i] = static_cast<T>(s.code_z(i, m_zero[i]));
                a.identity = a.identity && s.input_std[i] == m_scale[i] && s.input_mean[i] == m_zero[i];
            }
            if (!a.identity) {
                a.scale = tensor::from_host(scale, 1, d);
                a.shift = tensor::from_host(shift, 1, d);
            }
            m_affine.push_back(std::move(a));
        }
    }

    /// Values per code.
    std::size_t dim() const { return m_zero.size(); }
    /// Codes in original units (rows x dim, flat) -> reference z-units: (v - mean) / std per dimension.
    std::vector<double> to_z(std::span<const double> values) const {
        std::vector<double> z(values.size());
        for (std::size_t i = 0; i < values.size(); ++i) z[i] = (values[i] - m_zero[i % dim()]) / m_scale[i % dim()];
        return z;
    }
    /// Value `z` of dimension i in original units.
    double from_z(std::size_t i, double z) const { return m_zero[i] + z * m_scale[i]; }
    /// The lower bounds in z-units (1 x dim).
    const tensor& lower() const { return m_lower; }
    /// The upper bounds in z-units (1 x dim).
    const tensor& upper() const { return m_upper; }

    /// Every model's outputs (z-units) for reference z-codes `z` (rows x dim), on z's tape.
    std::vector<var_type> forward(const var_type& z) const {
        std::vector<var_type> outs;
        outs.reserve(m_models.size());
        auto& t = z.owner();
        for (std::size_t m = 0; m < m_models.size(); ++m) {
            const affine& a = m_affine[m];
            outs.push_back(m_models[m]->forward(a.identity ? z : z * t.input(a.scale) + t.input(a.shift)));
        }
        return outs;
    }

private:
    /// z_m = z scale + shift, unless the identity.
    struct affine {
        bool identity = true;  ///< same input statistics as the reference model
        tensor scale, shift;   ///< 1 x dim, otherwise
    };

    std::span<nn::predictor<T, Backend>* const> m_models;  ///< the models, reference first
    std::vector<double> m_zero, m_scale;                   ///< the reference model's input mean and std
    tensor m_lower, m_upper;                               ///< bounds in reference z-units (1 x dim)
    std::vector<affine> m_affine;                          ///< per model
};

}  // namespace ncp::search
