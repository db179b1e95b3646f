#pragma once
/// The block graph of a whole network, built from a network setting under a convention (input side, head form,
/// classes), with the shape of every tensor inferred. It is the one description of the network: counting, the
/// describe table and the exporters (export/: PyTorch, JSON, ONNX) all read it.

#include <string>
#include <string_view>

#include "ncp/arch/blocks.hpp"
#include "ncp/arch/code.hpp"

namespace ncp::arch {

/// Largest input side accepted (keeps every count far from overflow).
inline constexpr int max_input_side = 16384;
/// Largest class count accepted.
inline constexpr int max_classes = 1'000'000;

/// What a FLOPs/params count depends on besides the architecture. The defaults are NAS-Bench-MR's.
struct convention {
    int input_side = 128;                          ///< square input of 3 x side x side; a multiple of 32
    head_kind head = head_kind::classification;    ///< head form
    int classes = 50;                              ///< classifier outputs
    friend constexpr bool operator==(const convention&, const convention&) = default;
};

/// "cls" or "seg".
constexpr std::string_view head_name(head_kind k) { return k == head_kind::classification ? "cls" : "seg"; }

/// The head form named "cls" or "seg"; throws ncp::error otherwise.
constexpr head_kind parse_head_kind(std::string_view name) {
    if (name == "cls") return head_kind::classification;
    if (name == "seg") return head_kind::segmentation;
    throw error("unknown head '" + std::string(name) + "' (expected cls or seg)");
}

/// "input 128, head cls, classes 50".
inline std::string to_string(const convention& c) {
    return "input " + std::to_string(c.input_side) + ", head " + std::string(head_name(c.head)) + ", classes " +
           std::to_string(c.classes);
}

/// Throws ncp::error unless the input side is a positive multiple of 32 (so every branch halves exactly) up to
/// max_input_side and the classes are 1..max_classes.
constexpr void validate(const convention& c) {
    if (c.input_side <= 0 || c.input_side % 32 != 0 || c.input_side > max_input_side)
        throw error("input side " + std::to_string(c.input_side) + " is not a multiple of 32 in 32.." +
                    std::to_string(max_input_side));
    if (c.classes < 1 || c.classes > max_classes)
        throw error("class count " + std::to_string(c.classes) + " is not in 1.." + std::to_string(max_classes));
}

/// A whole network: stem, modules, head. Each part is a template argument, so a variant network (another block,
/// another head) is a different type built by the same code.
template <class Stem = stem<>, class Module = module_block<>, class Head = head<>>
struct basic_network {
    /// Its name in tables.
    static constexpr std::string_view name = "network";
    convention convention_used;                          ///< what it was built for
    Stem stem;                                           ///< from the image to branch 0
    detail::static_vector<Module, max_modules> modules;  ///< in order
    Head head;                                           ///< to the classes

    /// The network of setting `s` (validated) under `c` (validated).
    static constexpr basic_network make(const network_setting& s, const convention& c) {
        validate(s);
        validate(c);
        basic_network n;
        n.convention_used = c;
        n.stem = Stem::make({3, c.input_side, c.input_side}, s.input_channel);
        branch_shapes current{n.stem.out()};
        for (std::size_t m = 0; m < s.modules.size(); ++m) {
            n.modules.emplace_back().assign(static_cast<int>(m), current, s.modules[m]);
            current = n.modules.back().out();
        }
        n.head = Head::make(current, s.last_channel, c.head, c.classes);
        return n;
    }
    /// The image's shape.
    constexpr shape in() const { return stem.in(); }
    /// The prediction's shape.
    constexpr shape out() const { return head.out(); }
    /// Calls `f` on each child in forward order.
    template <class F>
    constexpr void for_each_child(F&& f) const {
        f(stem);
        for (const auto& m : modules) f(m);
        f(head);
    }
};

/// The network of NAS-Bench-MR.
using network = basic_network<>;

/// The network of setting `s` under convention `c`.
constexpr network build_network(const network_setting& s, const convention& c = {}) { return network::make(s, c); }

/// The network of code `k` under convention `c`.
constexpr network build_network(const code& k, const convention& c = {}) { return network::make(to_setting(k), c); }

}  // namespace ncp::arch
