// gMock matchers for absl::Status, absl::StatusOr<T> (and grpc::Status, protobuf's util::Status)
// that print the status when they fail (Debian 12's abseil ships no absl/status/status_matchers.h),
// and ASSERT_OK_AND_ASSIGN.
#ifndef ZEROCELL_TESTS_TESTING_STATUS_MATCHERS_H_
#define ZEROCELL_TESTS_TESTING_STATUS_MATCHERS_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace zerocell::testing {
namespace internal {

inline absl::Status StatusOf(const absl::Status& status) { return status; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
// grpc::Status (without depending on gRPC): the codes are the same numbers.
template <typename S>
requires requires(const S& s) {
  s.error_code();
  s.error_message();
}
absl::Status StatusOf(const S& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}
// protobuf's util::Status (JSON conversions): the same canonical codes.
template <typename S>
requires requires(const S& s) {
  s.code();
  s.message();
  s.ok();
}
absl::Status StatusOf(const S& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.code()),
                      std::string(status.message().data(), status.message().size()));
}

}  // namespace internal

// EXPECT_THAT(status_or_statusor, IsOk()); on failure prints the status (code and message).
MATCHER(IsOk, negation ? "is not OK" : "is OK") {
  const absl::Status status = internal::StatusOf(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

// StatusIs(absl::StatusCode::kNotFound[, message matcher]): the code, and the message matched by
// a string matcher (HasSubstr("..."), StartsWith("..."), or a string for equality).
MATCHER_P(StatusIs, code,
          std::string(negation ? "has no" : "has") + " status code " +
              absl::StatusCodeToString(code)) {
  const absl::Status status = internal::StatusOf(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code;
}
MATCHER_P2(StatusIs, code, message_matcher,
           std::string(negation ? "does not have" : "has") + " status code " +
               absl::StatusCodeToString(code) + " and a message that " +
               ::testing::DescribeMatcher<const std::string&>(message_matcher)) {
  const absl::Status status = internal::StatusOf(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code && ::testing::Matches(::testing::SafeMatcherCast<const std::string&>(
                                      message_matcher))(std::string(status.message()));
}

// IsOkAndHolds(value matcher) on an absl::StatusOr<T>: OK, and the value matches.
MATCHER_P(IsOkAndHolds, value_matcher,
          negation ? "is not OK or holds a non-matching value"
                   : "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  *result_listener << "whose value is " << ::testing::PrintToString(*arg) << " ";
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace zerocell::testing

#define ZC_TESTING_CONCAT_INNER_(a, b) a##b
#define ZC_TESTING_CONCAT_(a, b) ZC_TESTING_CONCAT_INNER_(a, b)

// `ASSERT_OK_AND_ASSIGN(auto x, StatusOrExpr())`: binds the value, or fails the test (printing
// the status) and returns from it.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ZC_ASSERT_OK_AND_ASSIGN_IMPL_(ZC_TESTING_CONCAT_(zc_test_statusor_, __LINE__), lhs, expr)
#define ZC_ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  ASSERT_THAT(tmp, ::zerocell::testing::IsOk());      \
  lhs = std::move(tmp).value()

#endif  // ZEROCELL_TESTS_TESTING_STATUS_MATCHERS_H_
