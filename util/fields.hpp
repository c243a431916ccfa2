// FieldReader: reads the fields of a JSON object by name, and refuses every field nobody read.
//
// The one strict reader of configuration, policy, evidence records and request bodies.
// - `FieldReader::read(value, path, fn)` runs `fn` over the object `value`, then refuses the first
//   field (in key order) that `fn` did not read: "<path>: unknown field". Nested objects are read
//   through `object`, `optional_object` and `objects`, which do the same at their level, so a
//   document is strict at every level its reader describes. `raw` takes a field as it is, without
//   looking inside: that is how a map open by nature (labels, severities) stays open.
// - `string`, `integer`, ... require their field; `optional_*` give std::nullopt (or false) when it
//   is absent. A present field of the wrong type is an error either way. When a required field is
//   missing and an unread field of the object is a likely misspelling of it (edit distance at most
//   2, or one a prefix of the other), the error names the misspelling: "environmentz: unknown field
//   (environments is required)".
// - Every error is Errc::invalid_argument with the message "<path>: <what is wrong>", the path
//   being the field's full path from the document's root: `dryrun`, `gates[0].finding`,
//   `environments.production.require_gates`, `limits.max_body_bytes`, `after[2]`. A prefix such as
//   "config: " is the caller's to add. `error(key, message)` builds such an error for a check of
//   the caller's own (a bad glob, an unknown key name).
// - JSON null is a value of the wrong type, unless the reader was opened with Nulls::absent: then
//   a null field reads as if it were absent (and still counts as read).
// - Nothing throws but std::bad_alloc. A reader refers to `value` and lives for one parse; it is
//   not shared between threads.
#pragma once

#include "util/result.hpp"
#include "util/time.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace dg {

class FieldReader {
public:
  enum class Nulls { refused, absent };
  // Unknown::kept reads documents written under another version of a shape (a ledgered record):
  // fields nobody read are left alone instead of refused.
  enum class Unknown { refused, kept };
  using Body = std::function<Result<void>(FieldReader&)>;

  // Read the object `value`, whose own path is `path` ("" for a document's root), with `fn`, then
  // refuse the fields `fn` did not read. Fails when `value` is not an object ("<path>: must be an
  // object"), with the first error of `fn`, or with "<path>.<field>: unknown field".
  static Result<void> read(const nlohmann::json& value,
                           std::string path,
                           const Body& fn,
                           Nulls nulls = Nulls::refused,
                           Unknown unknown = Unknown::refused);

  // The path of this object ("" at the root) and of its field `key` ("gates[0].target").
  const std::string& path() const { return m_path; }
  std::string path_of(std::string_view key) const;
  // An Errc::invalid_argument error "<path of key>: <message>"; `key` may carry an index
  // ("after[2]"), and an empty `key` names this object itself.
  Error error(std::string_view key, std::string_view message) const;

  // The error for the required field `key`, absent: "<path>: is required (<what>)", or, when an
  // unread field is a likely misspelling of `key`, "<its path>: unknown field (<path> is
  // required)".
  Error missing(std::string_view key, std::string_view what = {}) const;

  // True when the field is present (and, under Nulls::absent, not null). Does not mark it read.
  bool has(std::string_view key) const;
  // The names of every field of this object, read or not (for maps keyed by name).
  std::vector<std::string> keys() const;

  Result<std::string> string(std::string_view key);
  Result<std::optional<std::string>> optional_string(std::string_view key);
  // An integer that fits std::int64_t.
  Result<std::int64_t> integer(std::string_view key);
  Result<std::optional<std::int64_t>> optional_integer(std::string_view key);
  Result<bool> boolean(std::string_view key);
  Result<std::optional<bool>> optional_boolean(std::string_view key);
  // A list of strings; an element of another type fails as "<key>[i]: must be a string".
  Result<std::vector<std::string>> strings(std::string_view key);
  Result<std::optional<std::vector<std::string>>> optional_strings(std::string_view key);
  // An RFC 3339 timestamp string (util/time.hpp).
  Result<TimeNs> time(std::string_view key);
  Result<std::optional<TimeNs>> optional_time(std::string_view key);

  // Read the object field `key` with `fn`, strictly (as `read` does). The optional form returns
  // whether the field was present.
  Result<void> object(std::string_view key, const Body& fn);
  Result<bool> optional_object(std::string_view key, const Body& fn);
  // Read every element of the list field `key` as an object with `fn`, strictly; an element's
  // path is "<key>[i]". The optional form returns whether the field was present.
  Result<void> objects(std::string_view key, const Body& fn);
  Result<bool> optional_objects(std::string_view key, const Body& fn);

  // The field as it is, unchecked, or nullptr when absent (or null under Nulls::absent). Marks it
  // read.
  const nlohmann::json* raw(std::string_view key);

private:
  FieldReader(const nlohmann::json& object, std::string path, Nulls nulls, Unknown unknown);
  // The field, marked read; nullptr when absent or (under Nulls::absent) null.
  const nlohmann::json* take(std::string_view key);
  Result<void> refuse_unread() const;
  template <class T>
  Result<T> required(std::string_view key, Result<std::optional<T>> r) const;
  Result<void> each_object(std::string_view key, const nlohmann::json& list, const Body& fn);

  const nlohmann::json* m_object;
  std::string m_path;
  Nulls m_nulls;
  Unknown m_unknown;
  std::set<std::string, std::less<>> m_read;
};

// The string field `key` of `object`, or "" when `object` is not an object or the field is absent
// or not a string. For documents already read strictly (ledgered records, merged facts), never
// for input.
std::string string_or_empty(const nlohmann::json& object, std::string_view key);

} // namespace dg
