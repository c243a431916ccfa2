#include "intake/signing.hpp"

#include <vector>

namespace dg::intake {

using nlohmann::json;

namespace {

Error bad(const std::string& what, const std::string& message) {
  return make_error(Errc::invalid_argument, what + ": " + message);
}

// The JSON objects of `text`: the whole text as one, or one a line.
Result<std::vector<json>> json_objects(std::string_view text, const std::string& what) {
  json whole = json::parse(text, nullptr, false);
  if (!whole.is_discarded()) {
    if (!whole.is_object()) {
      return bad(what, "not a JSON object");
    }
    return std::vector<json>{std::move(whole)};
  }
  std::vector<json> out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;
    }
    json doc = json::parse(line, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      return bad(what, "line " + std::to_string(line_no) + " is not a JSON object");
    }
    out.push_back(std::move(doc));
  }
  if (out.empty()) {
    return bad(what, "the file holds nothing");
  }
  return out;
}

std::string text_at(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

Result<json> read_cosign_signatures(std::string_view text) {
  const std::string what = "cosign signatures";
  auto objects = json_objects(text, what);
  if (!objects) {
    return objects.error();
  }
  json out = json::array();
  for (std::size_t i = 0; i < objects->size(); ++i) {
    const json& line = (*objects)[i];
    std::string payload = text_at(line, "Payload");
    std::string signature = text_at(line, "Base64Signature");
    if (payload.empty() || signature.empty()) {
      return bad(what, "item " + std::to_string(i + 1) +
                           " lacks Payload or Base64Signature (is this `cosign download "
                           "signature` output?)");
    }
    out.push_back({{"payload", payload}, {"signature", signature}});
  }
  return out;
}

Result<json> read_dsse_envelopes(std::string_view text) {
  const std::string what = "attestations";
  auto objects = json_objects(text, what);
  if (!objects) {
    return objects.error();
  }
  json out = json::array();
  for (std::size_t i = 0; i < objects->size(); ++i) {
    const json& env = (*objects)[i];
    std::string place = "item " + std::to_string(i + 1);
    if (env.contains("mediaType") && env.contains("verificationMaterial")) {
      return bad(what, place + " is a Sigstore bundle: give it with --bundle");
    }
    std::string type = text_at(env, "payloadType");
    std::string payload = text_at(env, "payload");
    auto sigs = env.find("signatures");
    if (type.empty() || payload.empty() || sigs == env.end() || !sigs->is_array() ||
        sigs->empty()) {
      return bad(what, place + " is not a DSSE envelope (payloadType, payload, signatures)");
    }
    json signatures = json::array();
    for (const json& s : *sigs) {
      if (!s.is_object() || text_at(s, "sig").empty()) {
        return bad(what, place + " has a signature without sig");
      }
      signatures.push_back({{"keyid", text_at(s, "keyid")}, {"sig", text_at(s, "sig")}});
    }
    out.push_back(
        {{"envelope", {{"payloadType", type}, {"payload", payload}, {"signatures", signatures}}}});
  }
  return out;
}

Result<json> read_bundles(std::string_view text, const std::optional<std::string>& payload) {
  const std::string what = "bundles";
  auto objects = json_objects(text, what);
  if (!objects) {
    return objects.error();
  }
  json out = json::array();
  for (std::size_t i = 0; i < objects->size(); ++i) {
    const json& bundle = (*objects)[i];
    std::string place = "item " + std::to_string(i + 1);
    std::string media_type = text_at(bundle, "mediaType");
    if (media_type.rfind("application/vnd.dev.sigstore.bundle", 0) != 0) {
      return bad(what, place + " is not a Sigstore bundle (its mediaType is '" + media_type + "')");
    }
    bool is_dsse = bundle.contains("dsseEnvelope");
    if (!is_dsse && !bundle.contains("messageSignature")) {
      return bad(what, place + " has neither dsseEnvelope nor messageSignature");
    }
    json item = {{"bundle", bundle}};
    if (payload) {
      if (is_dsse) {
        return bad(what, place + " signs a DSSE envelope, which carries its own payload");
      }
      item["payload"] = *payload;
    } else if (!is_dsse) {
      return bad(what, place + " is a message signature: give the signed payload with --payload");
    }
    out.push_back(std::move(item));
  }
  return out;
}

} // namespace dg::intake
