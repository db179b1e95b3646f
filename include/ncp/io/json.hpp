#pragma once
/// A small streaming JSON writer for result files (metrics.json, ncp.json) and program output.

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <ostream>
#include <ranges>
#include <string>
#include <string_view>
#include <vector>

#include "ncp/config.hpp"

namespace ncp::io {

/// Writes one JSON value to a stream: containers are opened and closed explicitly; commas, indentation and
/// escaping are automatic. Misuse (a value where a key is due, unbalanced ends, a non-finite number, a second
/// top-level value) throws ncp::error. Strings are written as given, so they must be UTF-8.
class json_writer {
public:
    /// Writes to `out`; `pretty` puts each member on its own line, indented by two spaces per level.
    explicit json_writer(std::ostream& out, bool pretty = true) : m_out(out), m_pretty(pretty) {}

    /// Opens an object; members follow as key() then a value.
    json_writer& begin_object() { return open('{', container::object); }
    /// Closes the innermost object.
    json_writer& end_object() { return close('}', container::object); }
    /// Opens an array.
    json_writer& begin_array() { return open('[', container::array); }
    /// Closes the innermost array.
    json_writer& end_array() { return close(']', container::array); }

    /// The name of the next object member.
    json_writer& key(std::string_view name) {
        if (m_stack.empty() || m_stack.back().kind != container::object || m_key_pending)
            throw error("json: key '" + std::string(name) + "' outside an object or after another key");
        separate();
        write_string(name);
        m_out << (m_pretty ? ": " : ":");
        m_key_pending = true;
        m_last_key = name;
        return *this;
    }

    /// A string value.
    json_writer& value(std::string_view s) {
        return scalar([&] { write_string(s); });
    }
    /// A string value (keeps string literals from converting to bool).
    json_writer& value(const char* s) { return value(std::string_view(s)); }
    /// A boolean value.
    json_writer& value(bool b) {
        return scalar([&] { m_out << (b ? "true" : "false"); });
    }
    /// An integer value, exactly.
    template <std::integral I>
        requires(!std::same_as<I, bool>)
    json_writer& value(I x) {
        char buf[48];
        return scalar([&] { m_out.write(buf, std::to_chars(buf, buf + sizeof buf, x).ptr - buf); });
    }
    /// A finite number, in the shortest form that reads back as the same double.
    json_writer& value(double x) {
        if (!std::isfinite(x))
            throw error("json: non-finite number " + std::to_string(x) +
                        (m_last_key.empty() ? std::string() : " at key '" + m_last_key + "'"));
        char buf[32];
        return scalar([&] { m_out.write(buf, std::to_chars(buf, buf + sizeof buf, x).ptr - buf); });
    }
    /// null.
    json_writer& null() {
        return scalar([&] { m_out << "null"; });
    }

    /// key(name) then value(v).
    template <class T>
    json_writer& member(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }
    /// An array holding each element of `values` (strings, numbers or bools).
    template <std::ranges::input_range R>
        requires(!std::convertible_to<const R&, std::string_view>)
    json_writer& array(const R& values) {
        begin_array();
        for (const auto& v : values) value(v);
        return end_array();
    }

    /// True once one complete top-level value has been written.
    bool done() const { return m_done; }

private:
    enum class container { object, array };
    struct level {
        container kind;
        bool empty = true;
    };

    template <class Emit>
    json_writer& scalar(Emit&& emit) {
        before_value();
        emit();
        m_done = m_stack.empty();
        return *this;
    }

    json_writer& open(char bracket, container kind) {
        before_value();
        m_out << bracket;
        m_stack.push_back({kind});
        return *this;
    }

    json_writer& close(char bracket, container kind) {
        if (m_stack.empty() || m_stack.back().kind != kind || m_key_pending)
            throw error(std::string("json: unbalanced '") + bracket + "'");
        const bool empty = m_stack.back().empty;
        m_stack.pop_back();
        if (!empty) newline();
        m_out << bracket;
        m_done = m_stack.empty();
        return *this;
    }

    // Puts the comma and line break an element needs; a value after a key needs neither.
    void before_value() {
        if (m_done) throw error("json: a second top-level value");
        if (m_key_pending) {
            m_key_pending = false;
            return;
        }
        if (!m_stack.empty() && m_stack.back().kind == container::object)
            throw error("json: value without a key inside an object");
        separate();
    }

    void separate() {
        if (m_stack.empty()) return;
        if (!m_stack.back().empty) m_out << ',';
        m_stack.back().empty = false;
        newline();
    }

    void newline() {
        if (!m_pretty) return;
        m_out << '\n';
        for (std::size_t i = 0; i < m_stack.size(); ++i) m_out << "  ";
    }

    void write_string(std::string_view s) {
        static constexpr char hex[] = "0123456789abcdef";
        m_out << '"';
        for (char c : s) {
            switch (c) {
                case '"': m_out << "\\\""; break;
                case '\\': m_out << "\\\\"; break;
                case '\n': m_out << "\\n"; break;
                case '\r': m_out << "\\r"; break;
                case '\t': m_out << "\\t"; break;
                case '\b': m_out << "\\b"; break;
                case '\f': m_out << "\\f"; break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20)
                        m_out << "\\u00" << hex[(c >> 4) & 0xF] << hex[c & 0xF];
                    else
                        m_out << c;
            }
        }
        m_out << '"';
    }

    std::ostream& m_out;
    bool m_pretty;
    std::vector<level> m_stack;
    bool m_key_pending = false;
    bool m_done = false;
    std::string m_last_key;
};

}  // namespace ncp::io
