// The writer's queue and its two threads, shared by every backend: one writer thread takes the
// queued steps in batches and hands each batch to the backend's commit (group commit); one
// completion thread answers each batch's steps, in commit order, while the writer goes on with the
// next batch. Completion callbacks are guarded: one that throws is counted and reported through
// the `on_callback_error` hook, and the writer and the other completions go on. Private to the
// ledger room.
#pragma once

#include "ledger/ledger.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace dg::ledger::detail {

struct Job {
  Step step;
  Done done;
};

using Completion = std::pair<Done, Result<std::optional<Committed>>>;

class Batches {
public:
  // Commits one batch; must answer every job of it through complete() or fail().
  using Commit = std::function<void(std::deque<Job>& batch)>;

  Batches() = default;
  Batches(const Batches&) = delete;
  Batches& operator=(const Batches&) = delete;
  ~Batches() { close(); }

  // Start both threads. `on_error` (may be empty) hears of every completion that threw.
  void start(Commit commit, std::function<void(const std::string&)> on_error);
  // Queue a step; answered with `unavailable` once closing.
  void submit(Step step, Done done);
  // Hand one batch's answers to the completion thread; `after` (may be empty) runs there once
  // they are answered, in commit order too (the SQLite ledger rewrites its witness file there).
  void complete(std::vector<Completion> completions, std::function<void()> after = {});
  // Answer every job of `batch` with `error`.
  void fail(std::deque<Job>& batch, const Error& error);
  // Stop accepting work, commit what is queued, answer everything, and stop both threads.
  void close();
  // How many completion callbacks (and tasks run after them) threw.
  std::uint64_t callback_failures() const { return m_callback_failures.load(); }

private:
  void run_writer();
  void run_completions();
  void call(Done& done, Result<std::optional<Committed>> result);
  void report(const std::string& problem);

  struct Answers {
    std::vector<Completion> completions;
    std::function<void()> after;
  };

  static constexpr std::size_t k_max_batch = 4096;

  Commit m_commit;
  std::function<void(const std::string&)> m_on_error;
  std::atomic<std::uint64_t> m_callback_failures{0};

  std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<Job> m_queue;
  bool m_stopping = false;
  std::thread m_writer;

  std::mutex m_completion_mutex;
  std::condition_variable m_completion_cv;
  std::deque<Answers> m_completions;
  bool m_completions_closed = false;
  std::thread m_completer;
};

// Submit `draft` through `ledger` and wait until it is durable.
Result<Committed> append_and_wait(Ledger& ledger, Draft draft);

} // namespace dg::ledger::detail
