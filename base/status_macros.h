// Status propagation macros: Debian 12's abseil ships absl::Status but not its macros.
#ifndef ZEROCELL_BASE_STATUS_MACROS_H_
#define ZEROCELL_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ZC_CONCAT_INNER_(a, b) a##b
#define ZC_CONCAT_(a, b) ZC_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status zc_status_ = (expr);      \
    if (!zc_status_.ok()) return zc_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr())` binds the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ZC_ASSIGN_OR_RETURN_IMPL_(ZC_CONCAT_(zc_statusor_, __LINE__), lhs, expr)
#define ZC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

#endif  // ZEROCELL_BASE_STATUS_MACROS_H_
