#pragma once
/// Version and the error types of the library: `error`, and `usage_error`, its subclass for command-line misuse; the
/// text of numbers in their messages.

#include <charconv>
#include <stdexcept>
#include <string>

#define NCP_VERSION_MAJOR 0
#define NCP_VERSION_MINOR 1
#define NCP_VERSION_PATCH 0

/// Marks functions that element-wise kernels call, so that a CUDA backend can run them on the device too.
#ifdef __CUDACC__
#define NCP_HOST_DEVICE __host__ __device__
#else
#define NCP_HOST_DEVICE
#endif

namespace ncp {

/// Library version as "major.minor.patch".
inline constexpr const char* version = "0.1.0";

/// Every error ncp reports: the message names the offending input (file, key, position, value).
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Thrown for command-line misuse; programs exit with status 2 instead of 1.
class usage_error : public error {
public:
    using error::error;
};

/// Shortest text that reads back as the same double ("0.1", "1e+300"): numbers in messages and written files.
inline std::string number_text(double v) {
    char buffer[32];
    return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, v).ptr);
}

}  // namespace ncp
