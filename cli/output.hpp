// Human-readable rendering of digestgated's answers. Every function tolerates missing or
// unexpected fields: it prints what is there and never throws.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <string_view>

namespace dg::cli {

using json = nlohmann::json;

// `object[key]` as text: a string as is, a number or boolean in JSON form, anything else empty.
std::string text_of(const json& object, std::string_view key);

// POST /v1/validations, 201.
void print_record(std::ostream& out, const json& response);

// A promotion or rollback decision, approved or refused, without the pinned references (see
// print_pinned). `bundle` adds each reason's reference.
void print_decision(std::ostream& out, const json& response, bool rollback, bool bundle);

// The pinned references of an approval, one alone on each line, so that `| tail -1` yields the
// reference of a single promotion.
void print_pinned(std::ostream& out, const json& response);

// POST /v1/environments/{env}/deployments.
void print_deployment(std::ostream& out, const json& response);

// POST /v1/revocations.
void print_revocation(std::ostream& out, const json& response);

// GET /v1/digests/{digest}.
void print_digest_status(std::ostream& out, const json& response);

// GET /v1/environments.
void print_environments(std::ostream& out, const json& response);

// GET /v1/environments/{env}.
void print_environment(std::ostream& out, const json& response);

// GET /v1/entries: one line per entry, "seq  time  kind  actor  summary".
void print_entries(std::ostream& out, const json& response);

// GET /v1/entries/{seq}, once its inclusion proof has been verified.
void print_entry(std::ostream& out, const json& response);

// One line that says what a ledger entry recorded.
std::string entry_summary(const json& entry);

} // namespace dg::cli
