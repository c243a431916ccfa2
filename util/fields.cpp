#include "util/fields.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <utility>

namespace dg {

using nlohmann::json;

FieldReader::FieldReader(const json& object, std::string path, Nulls nulls, Unknown unknown)
    : m_object(&object), m_path(std::move(path)), m_nulls(nulls), m_unknown(unknown) {}

Result<void> FieldReader::read(
    const json& value, std::string path, const Body& fn, Nulls nulls, Unknown unknown) {
  FieldReader reader(value, std::move(path), nulls, unknown);
  if (!value.is_object()) {
    return reader.error("", "must be an object");
  }
  DG_TRY(fn(reader));
  return reader.refuse_unread();
}

std::string FieldReader::path_of(std::string_view key) const {
  if (m_path.empty() || key.empty()) {
    return m_path + std::string(key);
  }
  return m_path + "." + std::string(key);
}

Error FieldReader::error(std::string_view key, std::string_view message) const {
  std::string path = path_of(key);
  return make_error(Errc::invalid_argument,
                    path.empty() ? std::string(message) : path + ": " + std::string(message));
}

bool FieldReader::has(std::string_view key) const {
  auto it = m_object->find(key);
  return it != m_object->end() && !(m_nulls == Nulls::absent && it->is_null());
}

std::vector<std::string> FieldReader::keys() const {
  std::vector<std::string> out;
  for (const auto& [key, value] : m_object->items()) {
    out.push_back(key);
  }
  return out;
}

const json* FieldReader::take(std::string_view key) {
  m_read.emplace(key);
  auto it = m_object->find(key);
  if (it == m_object->end() || (m_nulls == Nulls::absent && it->is_null())) {
    return nullptr;
  }
  return &*it;
}

const json* FieldReader::raw(std::string_view key) {
  return take(key);
}

Result<void> FieldReader::refuse_unread() const {
  if (m_unknown == Unknown::kept) {
    return {};
  }
  for (const auto& [key, value] : m_object->items()) {
    if (!m_read.count(key)) {
      return error(key, "unknown field");
    }
  }
  return {};
}

Result<std::optional<std::string>> FieldReader::optional_string(std::string_view key) {
  const json* v = take(key);
  if (!v) {
    return std::optional<std::string>();
  }
  if (!v->is_string()) {
    return error(key, "must be a string");
  }
  return std::optional<std::string>(v->get<std::string>());
}

Result<std::optional<std::int64_t>> FieldReader::optional_integer(std::string_view key) {
  const json* v = take(key);
  if (!v) {
    return std::optional<std::int64_t>();
  }
  if (!v->is_number_integer()) {
    return error(key, "must be an integer");
  }
  if (v->is_number_unsigned() &&
      v->get<std::uint64_t>() >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return error(key, "is out of range");
  }
  return std::optional<std::int64_t>(v->get<std::int64_t>());
}

Result<std::optional<bool>> FieldReader::optional_boolean(std::string_view key) {
  const json* v = take(key);
  if (!v) {
    return std::optional<bool>();
  }
  if (!v->is_boolean()) {
    return error(key, "must be true or false");
  }
  return std::optional<bool>(v->get<bool>());
}

Result<std::optional<std::vector<std::string>>>
FieldReader::optional_strings(std::string_view key) {
  const json* v = take(key);
  if (!v) {
    return std::optional<std::vector<std::string>>();
  }
  if (!v->is_array()) {
    return error(key, "must be a list of strings");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      return error(std::string(key) + "[" + std::to_string(i) + "]", "must be a string");
    }
    out.push_back((*v)[i].get<std::string>());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

Result<std::optional<TimeNs>> FieldReader::optional_time(std::string_view key) {
  const json* v = take(key);
  if (!v) {
    return std::optional<TimeNs>();
  }
  if (!v->is_string()) {
    return error(key, "must be an RFC 3339 timestamp string");
  }
  auto t = parse_rfc3339(v->get_ref<const std::string&>());
  if (!t) {
    return error(key, t.error().message);
  }
  return std::optional<TimeNs>(*t);
}

namespace {

// The edit distance of `a` and `b`, or more than `limit` when it exceeds `limit`.
std::size_t distance(std::string_view a, std::string_view b, std::size_t limit) {
  if ((a.size() > b.size() ? a.size() - b.size() : b.size() - a.size()) > limit) {
    return limit + 1;
  }
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

} // namespace

Error FieldReader::missing(std::string_view key, std::string_view what) const {
  // A field that is missing is most often misspelt: name the misspelling first, as the unknown
  // field it is, since the reader stops at the first error and would never reach it.
  for (const auto& [name, value] : m_object->items()) {
    const bool prefix =
        name.size() >= 4 && key.size() >= 4 && (name.starts_with(key) || key.starts_with(name));
    if (!m_read.count(name) && name.size() >= 4 && (prefix || distance(name, key, 2) <= 2)) {
      return error(name, "unknown field (" + path_of(key) + " is required)");
    }
  }
  return error(key, what.empty() ? std::string("is required")
                                 : "is required (" + std::string(what) + ")");
}

template <class T>
Result<T> FieldReader::required(std::string_view key, Result<std::optional<T>> r) const {
  if (!r) {
    return r.error();
  }
  if (!r->has_value()) {
    return missing(key);
  }
  return std::move(**r);
}

Result<std::string> FieldReader::string(std::string_view key) {
  return required(key, optional_string(key));
}

Result<std::int64_t> FieldReader::integer(std::string_view key) {
  return required(key, optional_integer(key));
}

Result<bool> FieldReader::boolean(std::string_view key) {
  return required(key, optional_boolean(key));
}

Result<std::vector<std::string>> FieldReader::strings(std::string_view key) {
  return required(key, optional_strings(key));
}

Result<TimeNs> FieldReader::time(std::string_view key) {
  return required(key, optional_time(key));
}

Result<bool> FieldReader::optional_object(std::string_view key, const Body& fn) {
  const json* v = take(key);
  if (!v) {
    return false;
  }
  DG_TRY(read(*v, path_of(key), fn, m_nulls, m_unknown));
  return true;
}

Result<void> FieldReader::object(std::string_view key, const Body& fn) {
  auto present = optional_object(key, fn);
  if (!present) {
    return present.error();
  }
  if (!*present) {
    return missing(key);
  }
  return {};
}

Result<void> FieldReader::each_object(std::string_view key, const json& list, const Body& fn) {
  if (!list.is_array()) {
    return error(key, "must be a list of objects");
  }
  for (std::size_t i = 0; i < list.size(); ++i) {
    DG_TRY(read(list[i], path_of(key) + "[" + std::to_string(i) + "]", fn, m_nulls, m_unknown));
  }
  return {};
}

Result<bool> FieldReader::optional_objects(std::string_view key, const Body& fn) {
  const json* v = take(key);
  if (!v) {
    return false;
  }
  DG_TRY(each_object(key, *v, fn));
  return true;
}

Result<void> FieldReader::objects(std::string_view key, const Body& fn) {
  auto present = optional_objects(key, fn);
  if (!present) {
    return present.error();
  }
  if (!*present) {
    return missing(key);
  }
  return {};
}

std::string string_or_empty(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return {};
  }
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace dg
