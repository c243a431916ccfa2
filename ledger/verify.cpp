#include "ledger/verify.hpp"

#include "ledger/failure.hpp"

namespace dg::ledger::detail {

namespace {

// True when stored checkpoint `cp`'s note parses and is over the row's own size and root.
bool note_matches_row(const StoredCheckpoint& cp) {
  auto parsed = parse_checkpoint(cp.note);
  return parsed && static_cast<std::int64_t>(parsed->size) == cp.size && parsed->root == cp.root;
}

std::string mismatched_note(std::int64_t size) {
  return "checkpoint at size " + std::to_string(size) + " does not match its stored root and size";
}

std::string untrusted_note(std::int64_t size) {
  return "checkpoint at size " + std::to_string(size) + " is not signed by a trusted ledger key";
}

// One pass over the entries with the checkpoints streamed alongside (one per commit: there may be
// as many as entries), so memory stays flat whatever the ledger's size.
class Scan {
public:
  Scan(Stored& stored,
       const NoteCheck& verify_note,
       bool all_signatures,
       const std::function<void(const StoredCheckpoint&)>& on_checkpoint)
      : m_stored(stored), m_verify_note(verify_note), m_all_signatures(all_signatures),
        m_on_checkpoint(on_checkpoint) {}

  VerifyReport run() {
    m_newest = m_stored.latest_checkpoint();
    advance();
    std::int64_t expected = 1;
    while (auto row = m_stored.next_entry()) {
      if (row->seq != expected) {
        bad(expected, "entry " + std::to_string(expected) + " is missing (next stored entry is " +
                          std::to_string(row->seq) + ")");
        break;
      }
      check_entry(*row);
      check_checkpoints_at(row->seq);
      ++expected;
    }
    while (m_on_checkpoint && m_next) {
      advance(); // rows beyond the entries (the report then fails) are seen too
    }
    m_report.entries = expected - 1;
    m_report.root_hex = to_hex(m_range.root());
    check_head();
    check_tree();
    return m_report;
  }

private:
  void bad(std::int64_t seq, std::string message) {
    if (m_report.ok) {
      m_report.ok = false;
      m_report.first_bad_seq = seq;
      m_report.message = std::move(message);
    }
  }

  void advance() {
    m_next = m_stored.next_checkpoint();
    if (m_next) {
      ++m_report.checkpoints;
      if (m_on_checkpoint) {
        m_on_checkpoint(*m_next);
      }
    }
  }

  void check_entry(const EntryRow& row) {
    const std::int64_t seq = row.seq;
    Hash leaf = leaf_hash(row.bytes);
    if (leaf != row.leaf) {
      bad(seq, "entry " + std::to_string(seq) + ": its bytes do not hash to its stored leaf hash");
    }
    // Canonical bytes end with ,"seq":N,"time":"..."} (keys sorted): the last ,"seq": is the
    // entry's own.
    std::string expected_seq = ",\"seq\":" + std::to_string(seq) + ",\"time\":\"";
    auto at = row.bytes.rfind(",\"seq\":");
    if (at == std::string::npos || row.bytes.compare(at, expected_seq.size(), expected_seq) != 0) {
      bad(seq,
          "entry " + std::to_string(seq) + ": its bytes do not name seq " + std::to_string(seq));
    }
    m_range.append(leaf);
  }

  void check_checkpoints_at(std::int64_t size) {
    while (m_next && m_next->size <= size) {
      const auto& cp = *m_next;
      if (cp.size == size) {
        bool is_newest = m_newest && m_newest->size == cp.size;
        bool check_note = m_all_signatures || is_newest;
        if (check_note && !note_matches_row(cp)) {
          bad(cp.size, mismatched_note(cp.size));
        } else if (cp.root != m_range.root()) {
          bad(cp.size, "entry " + std::to_string(cp.size) + ": the tree over entries 1.." +
                           std::to_string(cp.size) +
                           " does not match the signed checkpoint at that size");
        } else if (check_note && !m_verify_note(cp.note)) {
          bad(cp.size, untrusted_note(cp.size));
        }
      }
      advance();
    }
  }

  void check_head() {
    const std::int64_t entries = m_report.entries;
    if (m_report.ok && m_newest && m_newest->size != entries) {
      if (m_newest->size > entries) {
        bad(entries + 1, "the newest checkpoint covers " + std::to_string(m_newest->size) +
                             " entries but only " + std::to_string(entries) +
                             " are stored (entries were removed)");
      } else {
        bad(m_newest->size + 1,
            "entry " + std::to_string(m_newest->size + 1) +
                ": entries after the newest checkpoint were added outside the daemon");
      }
    }
    if (m_report.ok && !m_newest && entries > 0) {
      bad(1, "the ledger has entries but no checkpoint");
    }
  }

  void check_tree() {
    if (!m_report.ok || m_report.entries == 0) {
      return;
    }
    try {
      if (root_at(m_stored.nodes(), static_cast<std::uint64_t>(m_report.entries)) !=
          m_range.root()) {
        bad(0, "the stored Merkle tree does not match the entries");
      }
    } catch (const StoreFailure& f) {
      bad(0, "the stored Merkle tree is incomplete: " + f.message);
    }
  }

  Stored& m_stored;
  const NoteCheck& m_verify_note;
  bool m_all_signatures;
  const std::function<void(const StoredCheckpoint&)>& m_on_checkpoint;
  VerifyReport m_report;
  std::optional<StoredCheckpoint> m_newest;
  std::optional<StoredCheckpoint> m_next;
  CompactRange m_range;
};

} // namespace

VerifyReport scan(Stored& stored,
                  const NoteCheck& verify_note,
                  bool all_signatures,
                  const std::function<void(const StoredCheckpoint&)>& on_checkpoint) {
  return Scan(stored, verify_note, all_signatures, on_checkpoint).run();
}

void check_every_note(Stored& stored, const NoteCheck& verify_note, VerifyReport& report) {
  stored.each_checkpoint(report.entries, [&](const StoredCheckpoint& cp) {
    if (!note_matches_row(cp)) {
      report = VerifyReport{false,   report.entries,           report.checkpoints,
                            cp.size, mismatched_note(cp.size), report.root_hex};
    } else if (!verify_note(cp.note)) {
      report = VerifyReport{false,   report.entries,          report.checkpoints,
                            cp.size, untrusted_note(cp.size), report.root_hex};
    }
    return report.ok;
  });
}

bool note_verifies(const std::string& note, const std::vector<Bytes>& keys) {
  auto parsed = parse_checkpoint(note);
  if (!parsed) {
    return false;
  }
  for (const Bytes& key : keys) {
    NoteVerifier v{parsed->origin, key, note_key_hash(parsed->origin, key)};
    if (open_checkpoint(note, v)) {
      return true;
    }
  }
  return false;
}

Hash report_root(const VerifyReport& report) {
  auto root = hash_from_hex(report.root_hex);
  return root ? *root : Hash{};
}

} // namespace dg::ledger::detail
