// Result<T>: a value or an Error, returned at module boundaries instead of throwing.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dg {

// The closed set of things that can go wrong across module boundaries.
enum class Errc {
  invalid_argument, // the caller gave something malformed
  not_found,        // the thing asked for does not exist
  conflict,         // the request contradicts what is already recorded
  io,               // a file or database operation failed
  corrupt,          // stored data failed an integrity check
  crypto,           // a signature or key operation failed
  unavailable,      // the component is shutting down or not ready
  internal,         // a bug: an invariant did not hold
};

const char* to_string(Errc code);

struct Error {
  Errc code;
  std::string message;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
public:
  Result(T value) : m_v(std::move(value)) {}
  Result(Error error) : m_v(std::move(error)) {}

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(m_v); }
  const T& value() const& { return std::get<0>(m_v); }
  T&& value() && { return std::get<0>(std::move(m_v)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(m_v); }

private:
  std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Error error) : m_error(std::move(error)), m_ok(false) {}

  bool ok() const { return m_ok; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return m_error; }

private:
  Error m_error{Errc::internal, {}};
  bool m_ok = true;
};

} // namespace dg

// The helpers' locals get a name of their own per expansion (__COUNTER__), so that a DG_TRY inside
// a lambda inside a DG_TRY's expression shadows nothing.
#define DG_CONCAT_IMPL_(a, b) a##b
#define DG_CONCAT_(a, b) DG_CONCAT_IMPL_(a, b)

// Propagate the error of a Result-returning expression; otherwise evaluate to nothing.
#define DG_TRY(expr) DG_TRY_IMPL_(expr, DG_CONCAT_(dg_try_result_, __COUNTER__))
#define DG_TRY_IMPL_(expr, name)                                                                   \
  do {                                                                                             \
    auto&& name = (expr);                                                                          \
    if (!name.ok()) {                                                                              \
      return name.error();                                                                         \
    }                                                                                              \
  } while (false)

// Assign the value of a Result-returning expression to `target`; otherwise propagate its error.
#define DG_ASSIGN(target, expr)                                                                    \
  DG_ASSIGN_IMPL_(target, expr, DG_CONCAT_(dg_assign_result_, __COUNTER__))
#define DG_ASSIGN_IMPL_(target, expr, name)                                                        \
  do {                                                                                             \
    auto name = (expr);                                                                            \
    if (!name) {                                                                                   \
      return name.error();                                                                         \
    }                                                                                              \
    target = std::move(*name);                                                                     \
  } while (false)
