#pragma once
/// The memory this process may still take, and the refusal of requests that would not fit: a search from a hundred
/// million starts or a network of a hundred million units is refused up front with its estimate, instead of ending
/// in std::bad_alloc (or the kernel's out-of-memory killer) after minutes of work.

#include <cstddef>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <sstream>
#include <string>

#include <unistd.h>

#include "ncp/config.hpp"

namespace ncp::parallel {

/// Memory this process may still take, in bytes: Linux's MemAvailable, else the physical memory.
inline double available_memory() {
    std::ifstream meminfo("/proc/meminfo");
    for (std::string line; std::getline(meminfo, line);) {  // "MemAvailable:   23154432 kB"
        std::istringstream fields(line);
        std::string key;
        double kib = 0;
        if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
    }
    return static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
}

/// `bytes` as "12.3 GiB".
inline std::string bytes_text(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    std::size_t u = 0;
    while (bytes >= 1024 && u + 1 < std::size(units)) {
        bytes /= 1024;
        ++u;
    }
    std::ostringstream s;
    s << std::fixed << std::setprecision(1) << bytes << " " << units[u];
    return s.str();
}

/// Throws ncp::error "<what> need about <bytes> of memory, more than the <available> available (<advice>)" when
/// `bytes` (an estimate, a double so that absurd requests do not overflow) exceed available_memory().
inline void require_memory(double bytes, const std::string& what, const std::string& advice) {
    const double have = available_memory();
    if (bytes > have)
        throw error(what + " need about " + bytes_text(bytes) + " of memory, more than the " + bytes_text(have) +
                    " available (" + advice + ")");
}

}  // namespace ncp::parallel
