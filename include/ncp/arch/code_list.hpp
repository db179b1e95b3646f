#pragma once
/// Lists of codes in text: one code per line (either form), blank lines and `#` comments skipped, as in
/// NAS-Bench-MR's search_list.txt.

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ncp/arch/code.hpp"
#include "ncp/config.hpp"

namespace ncp::arch {

/// One code-bearing line of a list.
struct code_line {
    std::size_t line;       ///< 1-based line number
    std::string_view text;  ///< the line without surrounding whitespace (points into the list's text)
};

/// The lines of `content` that hold a code: not blank, not starting with '#'.
inline std::vector<code_line> code_lines(std::string_view content) {
    std::vector<code_line> lines;
    std::size_t number = 0;
    while (!content.empty()) {
        const std::size_t end = content.find('\n');
        const std::string_view text = detail::trim(content.substr(0, end));
        ++number;
        if (!text.empty() && text.front() != '#') lines.push_back({number, text});
        content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    }
    return lines;
}

/// The whole content of a file, or of standard input for "-"; throws ncp::error naming the file when it cannot
/// be read.
inline std::string read_text(const std::filesystem::path& path) {
    // Closes what it opened, never standard input.
    struct closer {
        void operator()(std::FILE* f) const {
            if (f != stdin) std::fclose(f);
        }
    };
    const std::unique_ptr<std::FILE, closer> file(path == "-" ? stdin : std::fopen(path.c_str(), "rb"));
    if (!file) throw error("cannot open " + path.string());
    std::string content;
    char buffer[1 << 16];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) content.append(buffer, n);
    if (std::ferror(file.get())) throw error("cannot read " + path.string());
    return content;
}

}  // namespace ncp::arch
