#include "ledger/batches.hpp"

#include <future>
#include <pthread.h>

namespace dg::ledger::detail {

void Batches::start(Commit commit, std::function<void(const std::string&)> on_error) {
  m_commit = std::move(commit);
  m_on_error = std::move(on_error);
  m_completer = std::thread([this] { run_completions(); });
  m_writer = std::thread([this] { run_writer(); });
}

void Batches::submit(Step step, Done done) {
  {
    std::lock_guard lock(m_mutex);
    if (!m_stopping) {
      m_queue.push_back(Job{std::move(step), std::move(done)});
      m_cv.notify_one();
      return;
    }
  }
  call(done, make_error(Errc::unavailable, "the ledger is closing"));
}

void Batches::close() {
  {
    std::lock_guard lock(m_mutex);
    if (m_stopping) {
      return;
    }
    m_stopping = true;
    m_cv.notify_all();
  }
  if (m_writer.joinable()) {
    m_writer.join();
  }
  // The writer has handed over its last batch: drain the completions, then stop.
  {
    std::lock_guard lock(m_completion_mutex);
    m_completions_closed = true;
    m_completion_cv.notify_all();
  }
  if (m_completer.joinable()) {
    m_completer.join();
  }
}

void Batches::run_writer() {
  pthread_setname_np(pthread_self(), "dg-writer");
  for (;;) {
    std::deque<Job> batch;
    {
      std::unique_lock lock(m_mutex);
      m_cv.wait(lock, [&] { return m_stopping || !m_queue.empty(); });
      if (m_queue.empty()) {
        return; // stopping and drained
      }
      while (!m_queue.empty() && batch.size() < k_max_batch) {
        batch.push_back(std::move(m_queue.front()));
        m_queue.pop_front();
      }
    }
    m_commit(batch);
  }
}

void Batches::fail(std::deque<Job>& batch, const Error& error) {
  std::vector<Completion> failed;
  failed.reserve(batch.size());
  for (auto& job : batch) {
    failed.emplace_back(std::move(job.done), error);
  }
  complete(std::move(failed));
}

// Answering a request (building its response, say) never holds up the next commit.
void Batches::complete(std::vector<Completion> completions, std::function<void()> after) {
  std::lock_guard lock(m_completion_mutex);
  m_completions.push_back(Answers{std::move(completions), std::move(after)});
  m_completion_cv.notify_one();
}

void Batches::run_completions() {
  pthread_setname_np(pthread_self(), "dg-complete");
  for (;;) {
    Answers next;
    {
      std::unique_lock lock(m_completion_mutex);
      m_completion_cv.wait(lock, [&] { return m_completions_closed || !m_completions.empty(); });
      if (m_completions.empty()) {
        return; // closed and drained
      }
      next = std::move(m_completions.front());
      m_completions.pop_front();
    }
    for (auto& [done, result] : next.completions) {
      call(done, std::move(result));
    }
    if (next.after) {
      try {
        next.after();
      } catch (const std::exception& ex) {
        report(std::string("a ledger completion task threw: ") + ex.what());
      } catch (...) {
        report("a ledger completion task threw");
      }
    }
  }
}

void Batches::call(Done& done, Result<std::optional<Committed>> result) {
  std::string problem;
  try {
    done(std::move(result));
    return;
  } catch (const std::exception& ex) {
    problem = ex.what();
  } catch (...) {
    problem = "an exception that is not a std::exception";
  }
  // The entry (if any) is durable whatever the callback did: count it, report it, go on.
  report("a ledger completion callback threw: " + problem);
}

void Batches::report(const std::string& problem) {
  ++m_callback_failures;
  if (m_on_error) {
    try {
      m_on_error(problem);
    } catch (...) {
      // the hook itself failed: the count above still tells
    }
  }
}

Result<Committed> append_and_wait(Ledger& ledger, Draft draft) {
  std::promise<Result<std::optional<Committed>>> promise;
  auto future = promise.get_future();
  ledger.submit(
      [d = std::move(draft)](View&) -> std::optional<Draft> { return d; },
      [&promise](Result<std::optional<Committed>> r) { promise.set_value(std::move(r)); });
  auto r = future.get();
  if (!r) {
    return r.error();
  }
  if (!*r) {
    return make_error(Errc::internal, "nothing was appended");
  }
  return std::move(**r);
}

} // namespace dg::ledger::detail
